import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from './errors.js';
import { fsyncFolders, removeDroppedFiles, writeFileAtomic } from './materialize.js';
import type { RunState } from './run-state.js';
import type { BuildEvent } from './events.js';
import type { AttemptRecord, FileStat, Store } from '../store/store.js';

export interface RecoveryOptions {
  runId: string;
  runDir: string;
  store: Store;
  /** Durability `full`: written files and their folders are fsynced before the attempt is marked complete. */
  fsync: boolean;
  emit: (event: BuildEvent) => void;
}

/**
 * What a killed build left `persisted` (its content committed, its files perhaps not all written) gets what
 * materialize would have given it, file by file, without running anything:
 * - a file on disk with the persisted bytes is only marked complete;
 * - a missing file is written from the database;
 * - a file holding a version the store already has (the one this attempt replaces) is overwritten;
 * - any other file is a person's edit (a kill right after the files were written leaves the attempt
 *   `persisted`, since complete marks ride on the next commit): it is stored as a version and kept — unless
 *   it is empty or a strict prefix of the persisted bytes, which is what power loss leaves of a file being
 *   written (torn), and is rewritten from the database;
 * - extra files the task's previous build wrote and this attempt no longer writes are removed.
 * Returns how many attempts were recovered.
 */
export async function recoverPersistedAttempts<S extends object>(state: RunState<S>, options: RecoveryOptions): Promise<number> {
  let recovered = 0;
  for (const attempt of state.snapshot.unmaterialized) {
    if (!state.graph.tasks.has(attempt.taskId)) continue;
    if (await recoverAttempt(state, attempt, options)) recovered++;
  }
  return recovered;
}

async function recoverAttempt<S extends object>(state: RunState<S>, attempt: AttemptRecord, options: RecoveryOptions): Promise<boolean> {
  const { runId, runDir, store, emit } = options;
  const outputs = attempt.outputs ?? {};
  const written: string[] = [];
  const stats: FileStat[] = [];
  for (const [filePath, sha] of Object.entries(outputs)) {
    const onDisk = state.hasher.state(filePath);
    // A directory or symlink in the way: left for the decision, which fails the task and says what to remove.
    if (onDisk.kind === 'invalid') return false;
    if (onDisk.kind === 'file' && onDisk.sha256 === sha) continue;
    const stored = await store.readContentBySha(runId, filePath, sha);
    if (stored === null) throw new UsageError(`database lacks the content of ${filePath} persisted by attempt ${attempt.id}`);
    // Bytes the store has seen (the version this attempt replaces) are the build's own, not a person's.
    const known = onDisk.kind === 'file' && (await store.readContentBySha(runId, filePath, onDisk.sha256)) !== null;
    if (onDisk.kind === 'file' && !known) {
      const bytes = fs.readFileSync(path.join(runDir, filePath));
      if (!isTorn(bytes, stored)) {
        const edit = await store.recordEdit(runId, attempt.taskId, filePath, bytes);
        // Hashed again next time: the stat and the bytes just read may not be of one moment.
        state.hasher.forget(filePath);
        if (edit !== null) {
          state.snapshot.latestContent.set(filePath, edit.sha256);
          emit({ type: 'file-edited', taskId: attempt.taskId, path: filePath, sha256: edit.sha256 });
        }
        continue;
      }
    }
    stats.push(state.hasher.learn(filePath, sha, writeFileAtomic(runDir, filePath, stored, { fsync: options.fsync })));
    written.push(filePath);
  }
  // Extra files of the task's previous build that this attempt does not write, and no other task declares.
  const previous = state.snapshot.previousOutputs.get(attempt.id) ?? {};
  const dropped = removeDroppedFiles(
    runDir,
    previous,
    outputs,
    (p) => state.hasher.forget(p),
    (p) => state.graph.ownerOf.has(p),
  );
  if (options.fsync) fsyncFolders(runDir, [...written, ...dropped]);
  await store.completeAttempt(attempt.id, stats);
  attempt.status = 'complete';
  emit({ type: 'task-recovered', taskId: attempt.taskId, attemptId: attempt.id, files: written });
  return true;
}

/** Empty, or a strict prefix of the stored bytes: what a crash leaves of a file being written. */
export function isTorn(onDisk: Buffer, stored: Buffer): boolean {
  if (onDisk.length === 0) return stored.length > 0;
  return onDisk.length < stored.length && stored.subarray(0, onDisk.length).equals(onDisk);
}
