import fs from 'node:fs';
import path from 'node:path';
import { sha256 } from '../engine/hasher.js';
import { parseStamp, type Stamp } from '../engine/stamp.js';
import { isoTime } from './format.js';
import type { TaskGraph } from '../engine/graph.js';
import type { TaskState } from '../engine/events.js';
import type { AttemptRecord, AttemptStatus, ContentSource, ContentVersion } from '../store/store.js';
import type { Decisions } from './run-graph.js';

/**
 * Why a task would (or would not) run, in more detail than the one-line reason the engine gives: the whole
 * stamp difference, where each changed input came from (a person's edit or a rebuild), the upstream tasks
 * that will run first, and the ones that failed last time. Plain data: `plan explain` prints it or `--json`s it.
 */

export type FileCondition = 'present' | 'missing' | 'edited' | 'invalid';

/** What made an input's new content: a recorded edit, an edit still only on disk, a rebuild, a restore. */
export type InputCause = 'edit' | 'unrecorded-edit' | 'rebuild' | 'restore';

export type StampChange =
  | { kind: 'version'; before: string; after: string }
  | { kind: 'parameter'; name: string; before: unknown; after: unknown }
  | {
      kind: 'input';
      path: string;
      change: 'changed' | 'added' | 'removed';
      before: string | null;
      after: string | null;
      /** The task that writes this input. */
      owner: string | null;
      cause: InputCause | null;
      /** The stored version holding the new content, when there is one. */
      version: number | null;
      at: string | null;
    };

export interface TaskRef {
  id: string;
  state: TaskState;
  reason: string;
}

export interface OutputCondition {
  path: string;
  state: FileCondition;
  sha256: string | null;
  /** sha256 of the newest stored version. */
  storedSha256: string | null;
}

export interface TaskExplanation {
  id: string;
  state: TaskState;
  reason: string;
  wouldRun: boolean;
  version: string;
  changes: StampChange[];
  /** Required tasks that will run first. */
  upstream: TaskRef[];
  /** Where a chain of "upstream … will run" ends: the tasks that will run for a reason of their own. */
  causes: TaskRef[];
  /** Upstream tasks (at any depth) whose newest attempt failed: a build waits on them and is blocked if they fail again. */
  failedUpstream: { id: string; attemptId: number; status: AttemptStatus; error: string | null }[];
  outputs: OutputCondition[];
  lastBuilt: { attemptId: number; at: string | null } | null;
  lastAttempt: { attemptId: number; status: AttemptStatus; error: string | null; at: string | null } | null;
}

export interface FileExplanation {
  path: string;
  owner: string | null;
  /** Declared by its task's `output()`, rather than an extra file the task wrote. */
  declared: boolean;
  onDisk: FileCondition;
  sha256: string | null;
  versions: number;
  newest: { version: number; source: ContentSource; sha256: string; size: number; createdAt: string | null } | null;
}

type DiskState = { kind: 'missing' } | { kind: 'invalid' } | { kind: 'file'; sha256: string };

/** Everything explain reads, once: the graph, the dry-run decisions, the run's attempts and content versions. */
export class RunExplainer {
  private readonly disk = new Map<string, DiskState>();
  private readonly versionsByPath = new Map<string, ContentVersion[]>();
  private readonly attemptsByTask = new Map<string, AttemptRecord[]>();

  constructor(
    private readonly runDir: string,
    private readonly graph: TaskGraph,
    private readonly decisions: Decisions,
    attempts: readonly AttemptRecord[],
    versions: readonly ContentVersion[],
  ) {
    for (const version of versions) this.versionsByPath.set(version.path, [...(this.versionsByPath.get(version.path) ?? []), version]);
    for (const attempt of attempts) this.attemptsByTask.set(attempt.taskId, [...(this.attemptsByTask.get(attempt.taskId) ?? []), attempt]);
  }

  /** Paths known to the run: declared outputs and every stored file. */
  knowsFile(relativePath: string): boolean {
    return this.graph.ownerOf.has(relativePath) || this.versionsByPath.has(relativePath);
  }

  explainFile(filePath: string): FileExplanation {
    const versions = this.versionsByPath.get(filePath) ?? [];
    const newest = versions.at(-1) ?? null;
    const declaredOwner = this.graph.ownerOf.get(filePath);
    const owner = declaredOwner ?? (newest !== null && this.graph.tasks.has(newest.taskId) ? newest.taskId : null);
    const disk = this.diskState(filePath);
    return {
      path: filePath,
      owner,
      declared: declaredOwner !== undefined,
      onDisk: this.condition(disk, newest?.sha256 ?? null),
      sha256: disk.kind === 'file' ? disk.sha256 : null,
      versions: versions.length,
      newest:
        newest === null
          ? null
          : { version: newest.version, source: newest.source, sha256: newest.sha256, size: newest.size, createdAt: isoTime(newest.createdAt) },
    };
  }

  explainTask(taskId: string): TaskExplanation {
    const task = this.graph.tasks.get(taskId)!;
    const decision = this.decisions.get(taskId) ?? { state: 'missing' as const, reason: 'not decided' };
    const built = this.builtAttempt(taskId);
    const attempts = this.attemptsByTask.get(taskId) ?? [];
    const last = attempts.at(-1);
    const current: Stamp = { version: task.version, params: task.stampParams(), inputs: this.currentInputs(taskId) };
    return {
      id: taskId,
      state: decision.state,
      reason: decision.reason,
      wouldRun: decision.state !== 'fresh',
      version: task.version,
      changes: built?.stamp ? this.stampChanges(parseStamp(built.stamp), current) : [],
      upstream: this.graph.requires
        .get(taskId)!
        .filter((dep) => this.decisions.get(dep)?.state !== 'fresh')
        .map((dep) => this.ref(dep)),
      causes: this.rootCauses(taskId),
      failedUpstream: this.failedUpstream(taskId),
      outputs: this.outputPaths(taskId, built).map((filePath) => {
        const disk = this.diskState(filePath);
        const stored = this.versionsByPath.get(filePath)?.at(-1)?.sha256 ?? null;
        return { path: filePath, state: this.condition(disk, stored), sha256: disk.kind === 'file' ? disk.sha256 : null, storedSha256: stored };
      }),
      lastBuilt: built ? { attemptId: built.id, at: isoTime(built.finishedAt ?? built.startedAt) } : null,
      lastAttempt: last ? { attemptId: last.id, status: last.status, error: last.error, at: isoTime(last.finishedAt ?? last.startedAt) } : null,
    };
  }

  private ref(taskId: string): TaskRef {
    const decision = this.decisions.get(taskId);
    return { id: taskId, state: decision?.state ?? 'missing', reason: decision?.reason ?? 'not decided' };
  }

  private builtAttempt(taskId: string): AttemptRecord | undefined {
    return (this.attemptsByTask.get(taskId) ?? []).filter((a) => a.status === 'persisted' || a.status === 'complete').at(-1);
  }

  private outputPaths(taskId: string, built: AttemptRecord | undefined): string[] {
    return [...new Set([...this.graph.outputs.get(taskId)!, ...Object.keys(built?.outputs ?? {})])];
  }

  /** What the task would be built from now, as the engine computes it: the outputs of its requirements on disk. */
  private currentInputs(taskId: string): Record<string, string> {
    const inputs: Record<string, string> = {};
    for (const dep of this.graph.requires.get(taskId)!) {
      for (const filePath of this.outputPaths(dep, this.builtAttempt(dep))) {
        const disk = this.diskState(filePath);
        if (disk.kind === 'file') inputs[filePath] = disk.sha256;
      }
    }
    return inputs;
  }

  private stampChanges(built: Stamp, current: Stamp): StampChange[] {
    const changes: StampChange[] = [];
    if (built.version !== current.version) changes.push({ kind: 'version', before: built.version, after: current.version });
    for (const name of unionKeys(built.params, current.params)) {
      if (built.params[name] !== current.params[name]) {
        changes.push({ kind: 'parameter', name, before: built.params[name] ?? null, after: current.params[name] ?? null });
      }
    }
    for (const filePath of unionKeys(built.inputs, current.inputs)) {
      const before = built.inputs[filePath] ?? null;
      const after = current.inputs[filePath] ?? null;
      if (before === after) continue;
      const change = before === null ? 'added' : after === null ? 'removed' : 'changed';
      changes.push({ kind: 'input', path: filePath, change, before, after, owner: this.ownerOf(filePath), ...this.causeOf(filePath, after) });
    }
    return changes;
  }

  private ownerOf(filePath: string): string | null {
    return this.graph.ownerOf.get(filePath) ?? this.versionsByPath.get(filePath)?.at(-1)?.taskId ?? null;
  }

  /**
   * Who made an input's new content. The newest stored version says (an edit, a rebuild, a restore); content
   * no stored newest version has was changed on disk by someone since the last build, which will record it.
   */
  private causeOf(filePath: string, sha: string | null): { cause: InputCause | null; version: number | null; at: string | null } {
    if (sha === null) return { cause: null, version: null, at: null };
    const newest = this.versionsByPath.get(filePath)?.at(-1);
    if (newest === undefined || newest.sha256 !== sha) return { cause: 'unrecorded-edit', version: null, at: null };
    const cause: InputCause = newest.source === 'edit' ? 'edit' : newest.source === 'restore' ? 'restore' : 'rebuild';
    return { cause, version: newest.version, at: isoTime(newest.createdAt) };
  }

  /** Follows "upstream … will run" back to the tasks that will run for a reason of their own. */
  private rootCauses(taskId: string): TaskRef[] {
    const seen = new Set<string>();
    const causes: TaskRef[] = [];
    const queue = this.graph.requires.get(taskId)!.filter((dep) => this.decisions.get(dep)?.state !== 'fresh');
    while (queue.length > 0) {
      const id = queue.shift()!;
      if (seen.has(id)) continue;
      seen.add(id);
      const deps = this.graph.requires.get(id)!.filter((dep) => this.decisions.get(dep)?.state !== 'fresh');
      const own = this.decisions.get(id)?.cause.kind !== 'upstream-will-run';
      if (own || deps.length === 0) causes.push(this.ref(id));
      else queue.push(...deps);
    }
    return causes;
  }

  private failedUpstream(taskId: string): TaskExplanation['failedUpstream'] {
    const failed: TaskExplanation['failedUpstream'] = [];
    const seen = new Set<string>();
    const queue = [...this.graph.requires.get(taskId)!];
    while (queue.length > 0) {
      const id = queue.shift()!;
      if (seen.has(id)) continue;
      seen.add(id);
      const last = this.attemptsByTask.get(id)?.at(-1);
      if (last && (last.status === 'failed' || last.status === 'cancelled' || last.status === 'abandoned')) {
        failed.push({ id, attemptId: last.id, status: last.status, error: last.error });
      }
      queue.push(...this.graph.requires.get(id)!);
    }
    return failed;
  }

  private condition(disk: DiskState, storedSha: string | null): FileCondition {
    if (disk.kind !== 'file') return disk.kind;
    return storedSha !== null && storedSha !== disk.sha256 ? 'edited' : 'present';
  }

  private diskState(relativePath: string): DiskState {
    let state = this.disk.get(relativePath);
    if (state === undefined) {
      state = readDiskState(path.join(this.runDir, relativePath));
      this.disk.set(relativePath, state);
    }
    return state;
  }
}

function readDiskState(absolute: string): DiskState {
  try {
    if (!fs.statSync(absolute).isFile()) return { kind: 'invalid' };
    return { kind: 'file', sha256: sha256(fs.readFileSync(absolute)) };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'missing' };
    return { kind: 'invalid' };
  }
}

function unionKeys(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
}
