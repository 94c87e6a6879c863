/**
 * The one stream of build events. The scheduler only emits; the terminal view, `--json`, the dashboard and
 * the run history only consume. Fields are stable: `--json` prints these objects as they are.
 */

/** `pinned`: an output is pinned (`plan pin`), so the task does not run; what reads it reads the pinned file. */
export type TaskState = 'fresh' | 'missing' | 'stale' | 'blocked' | 'pinned';

export type BuildEvent =
  | { type: 'build-started'; runId: string; runDir: string; tasks: number; at: number }
  | { type: 'task-decided'; taskId: string; state: TaskState; reason: string }
  | { type: 'task-recovered'; taskId: string; attemptId: number; files: string[] }
  | { type: 'file-edited'; taskId: string; path: string; sha256: string }
  | { type: 'file-restored'; taskId: string; path: string }
  /** The task is about to run and write over a person's edit of one of its outputs (kept as `version`). */
  | { type: 'edit-replaced'; taskId: string; path: string; version: number | null }
  | { type: 'task-started'; taskId: string; attemptId: number; try: number; reason: string }
  | { type: 'task-log'; taskId: string; attemptId: number; message: string }
  | { type: 'task-persisted'; taskId: string; attemptId: number }
  | { type: 'task-complete'; taskId: string; attemptId: number; durationMs: number; changed: string[] }
  | { type: 'task-failed'; taskId: string; attemptId: number; error: string; retryInMs: number | null }
  | { type: 'task-cancelled'; taskId: string; attemptId: number }
  | { type: 'task-blocked'; taskId: string; by: string }
  | {
      type: 'interaction-started';
      taskId: string;
      attemptId: number;
      interactionId: number;
      model: string;
      itemKey: string | null;
    }
  | {
      type: 'interaction-finished';
      taskId: string;
      attemptId: number;
      interactionId: number;
      model: string;
      status: string;
      inputTokens: number | null;
      outputTokens: number | null;
      costUsd: number | null;
      durationMs: number | null;
    }
  | { type: 'build-stopping'; reason: 'interrupted' | 'failure' | 'cancel-requested' | 'budget' }
  | { type: 'build-finished'; status: BuildStatus; summary: BuildSummary; at: number };

export type BuildStatus = 'success' | 'failed' | 'cancelled';

export interface BuildSummary {
  tasks: number;
  fresh: number;
  ran: number;
  recovered: number;
  failed: string[];
  blocked: string[];
  cancelled: string[];
  /** Tasks that were never started because the build stopped early. */
  notStarted: number;
  durationMs: number;
}

export type BuildListener = (event: BuildEvent) => void;

export class EventBus {
  private readonly listeners: BuildListener[] = [];

  on(listener: BuildListener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  emit(event: BuildEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}
