import type { FileTarget } from './target.js';
import type { Task } from './task.js';
import type { Store } from '../store/store.js';
import type { BuildEvent } from './events.js';

/**
 * What a task sees while it runs. Reads come from the run dir; writes only buffer: the engine persists
 * them to the database and then writes the files, once the task has returned.
 */
export interface TaskContext {
  readonly task: Task;
  readonly runId: string;
  readonly runDir: string;
  readonly attemptId: number;
  /** Aborted when the build is cancelled (SIGINT/SIGTERM, `plan cancel`) or the task times out. */
  readonly signal: AbortSignal;
  /** Text of an input (or any file in the run dir), UTF-8. */
  read(target: FileTarget | string): Promise<string>;
  readBytes(target: FileTarget | string): Promise<Buffer>;
  /**
   * Buffers an output. Declared outputs must all be written; a task may also write extra files of its own
   * (per-item files whose number is known only at run time): they are stored and tracked like declared ones.
   */
  write(target: FileTarget | string, content: string | Uint8Array): void;
  /** A line of progress for the event stream (shown by `--json` and verbose views). */
  log(message: string): void;
}

/** What a service factory gets: enough to record work against this attempt and to replay earlier ones. */
export interface AttemptScope {
  readonly runId: string;
  readonly taskId: string;
  readonly attemptId: number;
  /**
   * Earlier attempts of this task in this run that never reached `persisted` (abandoned, failed, cancelled),
   * since its last persisted attempt, oldest first. Work they completed (e.g. model calls) may be replayed.
   */
  readonly replayableAttemptIds: readonly number[];
  readonly signal: AbortSignal;
  readonly store: Store;
  emit(event: BuildEvent): void;
}

/** Builds the services merged into each task's ctx (e.g. `{ llm }`), once per attempt. */
export type ServiceFactory<S extends object> = (scope: AttemptScope) => S;
