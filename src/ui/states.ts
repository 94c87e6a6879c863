import type { AttemptRecord } from '../store/store.js';
import type { Decision, DecidedState, WorkerTaskView } from './engine-callbacks.js';

/**
 * What a node of the graph shows. With the run dir on this machine it is the next build's decision (as
 * `plan graph` and `plan status` give it), with what the store says is happening now laid over it: a task
 * whose attempt runs in a live build is `running`; one whose newest attempt failed or was cancelled, and
 * that is not fresh, is `failed` or `cancelled`. Without the run dir (a run built elsewhere, on a shared
 * database) it comes from the store alone: for a run handed to workers, the workers' row of each task (the
 * schedule knows what is ready, waiting or blocked); else the newest attempt of each task.
 */
export type ShownState = DecidedState | 'running' | 'failed' | 'cancelled';

export interface TaskActivity {
  /** The newest attempt of the task, if any. */
  newest: AttemptRecord | null;
  /** How long its newest complete attempt took (as `plan graph` reports it). */
  durationMs: number | null;
  /** Attempts of the task, all statuses. */
  attempts: number;
}

export function activityByTask(attempts: readonly AttemptRecord[]): Map<string, TaskActivity> {
  const byTask = new Map<string, TaskActivity>();
  for (const attempt of attempts) {
    const entry = byTask.get(attempt.taskId) ?? { newest: null, durationMs: null, attempts: 0 };
    entry.newest = attempt;
    entry.attempts++;
    if (attempt.status === 'complete' && attempt.finishedAt !== null) entry.durationMs = attempt.finishedAt - attempt.startedAt;
    byTask.set(attempt.taskId, entry);
  }
  return byTask;
}

/** The node's state and the reason shown with it. `live`: a build of the run is alive now. */
export function shownState(decision: Decision | null, activity: TaskActivity | undefined, live: boolean): { state: ShownState; reason: string } {
  const newest = activity?.newest ?? null;
  if (newest !== null && newest.status === 'running' && live) return { state: 'running', reason: `attempt ${newest.id} is running` };
  if (decision === null) return fromStore(newest);
  const settled = decision.state === 'fresh' || decision.state === 'pinned';
  if (!settled && newest !== null && (newest.status === 'failed' || newest.status === 'cancelled')) {
    return { state: newest.status, reason: `attempt ${newest.id} ${newest.status}${newest.error ? `: ${newest.error}` : ''}; ${decision.reason}` };
  }
  return decision;
}

function fromStore(newest: AttemptRecord | null): { state: ShownState; reason: string } {
  if (newest === null) return { state: 'missing', reason: 'never built' };
  switch (newest.status) {
    case 'complete':
    case 'persisted':
      return { state: 'fresh', reason: `built by attempt ${newest.id}` };
    case 'failed':
    case 'cancelled':
      return { state: newest.status, reason: `attempt ${newest.id} ${newest.status}${newest.error ? `: ${newest.error}` : ''}` };
    case 'running':
      return { state: 'missing', reason: `attempt ${newest.id} was left running by a build that is gone` };
    case 'abandoned':
      return { state: 'missing', reason: `attempt ${newest.id} was abandoned` };
  }
}

/** A task of a run the workers build, as their schedule has it. */
export function workerShownState(row: WorkerTaskView): { state: ShownState; reason: string } {
  const on = row.workerId === null ? '' : ` on worker ${row.workerId}`;
  switch (row.state) {
    case 'done':
      if (row.outcome === 'pinned') return { state: 'pinned', reason: 'pinned: kept as it is' };
      return { state: 'fresh', reason: row.outcome === 'fresh' ? `found up to date${on}` : `built${on}` };
    case 'running':
      return { state: 'running', reason: `running${on}` };
    case 'ready':
      return { state: 'missing', reason: 'ready: waiting for a free worker' };
    case 'waiting':
      return { state: 'missing', reason: 'waiting for the tasks it requires' };
    case 'failed':
      return { state: 'failed', reason: `failed${on}${row.error ? `: ${row.error}` : ''}` };
    case 'blocked':
      return { state: 'blocked', reason: row.error ?? 'a task it requires failed' };
    case 'cancelled':
      return { state: 'cancelled', reason: row.error ?? 'the run was cancelled' };
  }
}
