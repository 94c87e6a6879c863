import { AttemptContext } from './task-context.js';
import { backoffDelay, raceAbort, sleep, type BackoffPolicy } from './backoff.js';
import { sha256, type FileHasher } from './hasher.js';
import { folderEscape, fsyncFolders, removeDroppedFiles, writeFileAtomic } from './materialize.js';
import { errorMessage } from './errors.js';
import { isRetryable, type Task } from './task.js';
import { testHook } from './test-hooks.js';
import type { ServiceFactory, TaskContext } from './context.js';
import type { BuildEvent } from './events.js';
import type { AttemptRecord, OutputContent, Store } from '../store/store.js';

export type AttemptOutcome =
  | { kind: 'complete'; attempt: AttemptRecord }
  | { kind: 'failed'; error: string; unpersistedAttempts: number[] }
  | { kind: 'cancelled' };

export interface AttemptArgs<S extends object> {
  task: Task<S>;
  taskId: string;
  reason: string;
  runId: string;
  runDir: string;
  store: Store;
  services: ServiceFactory<S> | undefined;
  declared: readonly string[];
  ownerOf: ReadonlyMap<string, string>;
  /** Claims the undeclared files the task wrote; returns a file another task owns, with that task. */
  claimExtras: (paths: readonly string[]) => { path: string; owner: string } | null;
  releaseClaims: () => void;
  /** Files the previous build of this task wrote: extra ones it no longer writes are removed. */
  previousOutputs: Readonly<Record<string, string>>;
  /** Earlier attempts that never persisted, whose finished work may be replayed. */
  replayable: readonly number[];
  /** The run-dir files the task may read (what its stamp holds). */
  inputs: () => Iterable<string>;
  /** The stamp's text as of now (inputs are final: every dependency has finished). */
  stampText: () => string;
  hasher: FileHasher;
  stopSignal: AbortSignal;
  isStopping: () => boolean;
  backoff: BackoffPolicy;
  /** fsync each written file and its folder before the attempt is marked complete. */
  fsync: boolean;
  emit: (event: BuildEvent) => void;
}

/**
 * The life of one task (steps 3–5 of ARCHITECTURE.md), with retries: run it with a buffering ctx, persist
 * every output and the stamp in one transaction, then write the files atomically and mark it complete.
 */
export async function runAttempt<S extends object>(args: AttemptArgs<S>): Promise<AttemptOutcome> {
  const { task, taskId, store } = args;
  const unpersisted = [...args.replayable];
  for (let tryNumber = 1; ; tryNumber++) {
    if (args.stopSignal.aborted) return { kind: 'cancelled' };
    const attemptId = await store.startAttempt(args.runId, taskId);
    args.emit({ type: 'task-started', taskId, attemptId, try: tryNumber, reason: args.reason });
    const started = Date.now();
    const ctx = new AttemptContext(task as Task, args.runId, args.runDir, attemptId, args.stopSignal, args.emit, args.inputs);
    let persisted = false;
    try {
      const services = args.services?.({
        runId: args.runId,
        taskId,
        attemptId,
        replayableAttemptIds: [...unpersisted],
        signal: args.stopSignal,
        store,
        emit: args.emit,
      });
      const fullCtx = Object.assign(ctx, services ?? {}) as unknown as TaskContext & S;
      await raceAbort(task.run(fullCtx), args.stopSignal);
      const outputs = collectOutputs(args, ctx.written);
      const stamp = args.stampText();
      await store.persistAttempt(attemptId, stamp, outputs);
      persisted = true;
      args.emit({ type: 'task-persisted', taskId, attemptId });
      testHook('after-persist', taskId);

      const fsync = args.fsync;
      const stats = outputs.map((output) =>
        args.hasher.learn(output.path, output.sha256, writeFileAtomic(args.runDir, output.path, output.bytes, { fsync })),
      );
      // An extra (per-item) file the previous build wrote and this one did not is no longer part of the run.
      const dropped = removeDroppedFiles(args.runDir, args.previousOutputs, shasOf(outputs), (p) => args.hasher.forget(p));
      if (fsync) fsyncFolders(args.runDir, [...outputs.map((o) => o.path), ...dropped]);
      testHook('after-materialize', taskId);
      await store.completeAttempt(attemptId, stats);
      const shas = shasOf(outputs);
      const changed = outputs.filter((o) => args.previousOutputs[o.path] !== o.sha256).map((o) => o.path);
      args.emit({ type: 'task-complete', taskId, attemptId, durationMs: Date.now() - started, changed });
      return {
        kind: 'complete',
        attempt: {
          id: attemptId,
          runId: args.runId,
          taskId,
          status: 'complete',
          stamp,
          outputs: shas,
          error: null,
          startedAt: started,
          finishedAt: Date.now(),
        },
      };
    } catch (error) {
      if (persisted) return failedAfterPersist(args, attemptId, error, unpersisted);
      args.releaseClaims();
      if (args.stopSignal.aborted) {
        await store.endAttempt(attemptId, 'cancelled', 'the build was interrupted');
        args.emit({ type: 'task-cancelled', taskId, attemptId });
        return { kind: 'cancelled' };
      }
      const message = errorMessage(error);
      await store.endAttempt(attemptId, 'failed', message);
      unpersisted.push(attemptId);
      const retry = isRetryable(error) && tryNumber <= task.retries && !args.isStopping();
      const delay = retry ? backoffDelay(tryNumber, args.backoff) : null;
      args.emit({ type: 'task-failed', taskId, attemptId, error: message, retryInMs: delay });
      if (delay === null) return { kind: 'failed', error: message, unpersistedAttempts: unpersisted };
      try {
        await sleep(delay, args.stopSignal);
      } catch {
        return { kind: 'cancelled' };
      }
    }
  }
}

/**
 * The content is committed but its files could not all be written (a full disk, a folder in the way): the
 * error is stored on the attempt, which stays `persisted`, so the next build writes the files from the
 * database. It is not run again here (its model calls are paid and stored), nor replayed from.
 */
async function failedAfterPersist<S extends object>(
  args: AttemptArgs<S>,
  attemptId: number,
  error: unknown,
  unpersisted: number[],
): Promise<AttemptOutcome> {
  const message = `its output was stored, but writing its files failed: ${errorMessage(error)}`;
  await args.store.recordAttemptError(attemptId, message);
  args.emit({ type: 'task-failed', taskId: args.taskId, attemptId, error: message, retryInMs: null });
  return { kind: 'failed', error: message, unpersistedAttempts: unpersisted };
}

/** Every declared output must be written; a file belongs to one task, so no file may be another task's. */
function collectOutputs<S extends object>(args: AttemptArgs<S>, written: ReadonlyMap<string, Buffer>): OutputContent[] {
  const notWritten = args.declared.filter((filePath) => !written.has(filePath));
  if (notWritten.length > 0) throw new Error(`did not write its declared output ${notWritten.join(', ')}`);
  const outputs: OutputContent[] = [];
  const extras: string[] = [];
  for (const [filePath, bytes] of written) {
    const owner = args.ownerOf.get(filePath);
    if (owner !== undefined && owner !== args.taskId) throw new Error(`wrote ${filePath}, which is an output of ${owner}`);
    if (owner === undefined) extras.push(filePath);
    // Refused before persisting: a file that cannot be written inside the run dir must not get a row either.
    const leadsOut = folderEscape(args.runDir, filePath);
    if (leadsOut !== null) throw new Error(`cannot write ${filePath}: ${leadsOut}`);
    outputs.push({ path: filePath, sha256: sha256(bytes), bytes });
  }
  const taken = extras.length === 0 ? null : args.claimExtras(extras);
  if (taken !== null) throw new Error(`wrote ${taken.path}, which belongs to ${taken.owner} (a file is the output of one task)`);
  return outputs;
}

function shasOf(outputs: readonly OutputContent[]): Record<string, string> {
  return Object.fromEntries(outputs.map((o) => [o.path, o.sha256]));
}
