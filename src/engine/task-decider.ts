import fs from 'node:fs';
import path from 'node:path';
import { decideTaskState, withReplacedEdits, type Decision, type ReplacedEdit } from './decide.js';
import { replacedEdits } from './replaced-edits.js';
import { sha256, type FileState } from './hasher.js';
import { writeFileAtomic } from './materialize.js';
import type { RunState } from './run-state.js';
import type { BuildEvent } from './events.js';
import type { AttemptRecord, FileStat, Store } from '../store/store.js';

export interface DeciderOptions {
  runId: string;
  runDir: string;
  store: Store;
  forced: ReadonlySet<string>;
  /** `--restore`: write missing outputs back from the database instead of regenerating them. */
  restore: boolean;
  emit: (event: BuildEvent) => void;
}

/**
 * Decides a task when the build reaches it (its dependencies have finished), against the files on disk now.
 * On the way it records what it finds: a person's edit of an output becomes a stored version (and the file is
 * kept), files a never-built task finds in place are adopted as its output, and with `--restore` missing
 * outputs are written back from the database. Every sha256 stored is that of the bytes stored.
 */
export class TaskDecider<S extends object> {
  constructor(
    private readonly state: RunState<S>,
    private readonly options: DeciderOptions,
  ) {}

  async decide(taskId: string, blockedBy: string | null): Promise<Decision> {
    const { state } = this;
    const built = state.snapshot.built.get(taskId);
    const pinned = state.pinnedOutputs(taskId);
    let outputs = state.outputStates(taskId, built);
    if (pinned.length > 0) outputs = await this.restorePinned(taskId, pinned, outputs);
    let decision = this.decideFrom(taskId, built, outputs, this.options.forced.has(taskId), blockedBy, pinned);
    if (decision.state === 'blocked' || decision.invalid !== null) return decision;

    if (this.hasEdits(outputs)) outputs = await this.recordEdits(taskId, outputs);
    if (decision.adopt) await this.adopt(taskId, outputs);
    if (decision.state === 'missing' && this.options.restore && decision.missing.length > 0 && built) {
      await this.restoreFiles(taskId, built, decision.missing);
      outputs = state.outputStates(taskId, built);
      decision = this.decideFrom(taskId, built, outputs, false, null);
    }
    for (const [filePath, fileState] of outputs) if (fileState.kind === 'file') state.currentSha.set(filePath, fileState.sha256);
    if (decision.state === 'fresh' || decision.state === 'pinned') return decision;
    const unseen = await this.storeUnseenFiles(taskId, outputs);
    const edited = state.editedOutputs(taskId);
    const replaced = [...(edited.length === 0 ? [] : await replacedEdits(this.options.store, this.options.runId, edited)), ...unseen];
    return replaced.length === 0 ? decision : withReplacedEdits(decision, replaced);
  }

  /**
   * Outputs already on disk that the database has never seen (a copied or foreign run dir, a file put there by
   * hand) are stored as a version before the task runs and writes over them: nothing in a run dir is lost.
   */
  private async storeUnseenFiles(taskId: string, outputs: ReadonlyMap<string, FileState>): Promise<ReplacedEdit[]> {
    const { snapshot } = this.state;
    const stored: ReplacedEdit[] = [];
    for (const [filePath, fileState] of outputs) {
      if (fileState.kind !== 'file' || snapshot.latestContent.has(filePath)) continue;
      const bytes = fs.readFileSync(path.join(this.options.runDir, filePath));
      const edit = await this.options.store.recordEdit(this.options.runId, taskId, filePath, bytes);
      if (edit === null) continue;
      snapshot.latestContent.set(filePath, edit.sha256);
      stored.push({ path: filePath, version: edit.version });
    }
    return stored;
  }

  private decideFrom(
    taskId: string,
    built: AttemptRecord | undefined,
    outputs: ReadonlyMap<string, FileState>,
    forced: boolean,
    blockedBy: string | null,
    pinned: readonly string[] = [],
  ): Decision {
    const { state } = this;
    return decideTaskState({
      built,
      stamp: () => state.currentStamp(taskId),
      stampText: state.stampText(taskId),
      outputs,
      forced,
      blockedBy,
      pinned,
    });
  }

  /** A pinned file that is gone is written back at its pinned content: a build never loses what is pinned. */
  private async restorePinned(taskId: string, pinned: readonly string[], outputs: Map<string, FileState>): Promise<Map<string, FileState>> {
    const { store, runId, runDir } = this.options;
    for (const filePath of pinned) {
      if (outputs.get(filePath)?.kind !== 'missing') continue;
      const sha = this.state.snapshot.pinned.get(filePath)!;
      const bytes = await store.readContentBySha(runId, filePath, sha);
      if (bytes === null) continue;
      await store.saveFileStats(runId, [this.state.hasher.learn(filePath, sha, writeFileAtomic(runDir, filePath, bytes))]);
      outputs.set(filePath, { kind: 'file', sha256: sha });
      this.options.emit({ type: 'file-restored', taskId, path: filePath });
    }
    return outputs;
  }

  /** A file that differs from its newest stored version was edited by a person. */
  private hasEdits(outputs: ReadonlyMap<string, FileState>): boolean {
    for (const [filePath, fileState] of outputs) {
      if (fileState.kind !== 'file') continue;
      const latest = this.state.snapshot.latestContent.get(filePath);
      if (latest !== undefined && latest !== fileState.sha256) return true;
    }
    return false;
  }

  /** Keeps each edited file and stores it as a new version; returns the outputs with the sha of what was stored. */
  private async recordEdits(taskId: string, outputs: Map<string, FileState>): Promise<Map<string, FileState>> {
    const { snapshot, hasher } = this.state;
    for (const [filePath, fileState] of outputs) {
      if (fileState.kind !== 'file') continue;
      const latest = snapshot.latestContent.get(filePath);
      if (latest === undefined || latest === fileState.sha256) continue;
      // The bytes are read again to be stored: hash exactly those (the file may have changed since it was hashed).
      const bytes = fs.readFileSync(path.join(this.options.runDir, filePath));
      const sha = sha256(bytes);
      if (sha !== fileState.sha256) {
        hasher.forget(filePath);
        outputs.set(filePath, { kind: 'file', sha256: sha });
      }
      if (sha === latest) continue;
      await this.options.store.recordEdit(this.options.runId, taskId, filePath, bytes);
      snapshot.latestContent.set(filePath, sha);
      this.options.emit({ type: 'file-edited', taskId, path: filePath, sha256: sha });
    }
    return outputs;
  }

  /** Files a task never built are already there: record them as its output, as if it had written them. */
  private async adopt(taskId: string, outputs: Map<string, FileState>): Promise<void> {
    const { store, runId, runDir } = this.options;
    const contents = [...outputs.keys()].map((filePath) => {
      const bytes = fs.readFileSync(path.join(runDir, filePath));
      const sha = sha256(bytes);
      const known = outputs.get(filePath);
      if (known?.kind === 'file' && known.sha256 !== sha) this.state.hasher.forget(filePath);
      outputs.set(filePath, { kind: 'file', sha256: sha });
      return { path: filePath, sha256: sha, bytes };
    });
    const attemptId = await store.startAttempt(runId, taskId);
    const stamp = this.state.stampText(taskId);
    await store.persistAttempt(attemptId, stamp, contents);
    const stats = contents.flatMap((c) => {
      const entry = this.state.hasher.entry(c.path);
      return entry !== undefined && entry.sha256 === c.sha256 ? [entry] : [];
    });
    await store.completeAttempt(attemptId, stats);
    const now = Date.now();
    this.state.noteBuilt(taskId, {
      id: attemptId,
      runId,
      taskId,
      status: 'complete',
      stamp,
      outputs: Object.fromEntries(contents.map((c) => [c.path, c.sha256])),
      error: null,
      startedAt: now,
      finishedAt: now,
    });
  }

  private async restoreFiles(taskId: string, built: AttemptRecord, missing: readonly string[]): Promise<void> {
    const { store, runId, runDir } = this.options;
    const stats: FileStat[] = [];
    for (const filePath of missing) {
      const sha = this.state.snapshot.latestContent.get(filePath) ?? built.outputs?.[filePath];
      const bytes = sha === undefined ? null : await store.readContentBySha(runId, filePath, sha);
      if (bytes === null || sha === undefined) continue;
      stats.push(this.state.hasher.learn(filePath, sha, writeFileAtomic(runDir, filePath, bytes)));
      this.options.emit({ type: 'file-restored', taskId, path: filePath });
    }
    await store.saveFileStats(runId, stats);
  }
}
