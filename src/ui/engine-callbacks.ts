import type { RunRecord } from '../store/store.js';

/**
 * What the dashboard needs from the engine, handed in by whoever starts it (`plan ui`): src/ui reads the store
 * itself but never imports the engine or the pipelines, so it can be tested with a fake of these callbacks.
 */

/** A task's state as the next build would decide it (the engine's TaskState). */
export type DecidedState = 'fresh' | 'missing' | 'stale' | 'blocked' | 'pinned';

export interface Decision {
  state: DecidedState;
  reason: string;
}

/** One task of a run's graph: what it requires and the files it declares. */
export interface GraphTask {
  id: string;
  requires: readonly string[];
  outputs: readonly string[];
}

/** A run's status as `plan list` shows it: `interrupted` for a `running` run whose build is gone. */
export interface ShownStatus {
  status: RunRecord['status'] | 'interrupted';
  statusReason: string | null;
}

export interface UiEngine {
  /** Each run's status as `plan list` shows it, in the order given. */
  shownStatuses(runs: readonly RunRecord[]): Promise<ShownStatus[]>;
  /** The run's task graph, dependencies first; null when its pipeline cannot be loaded on this machine. */
  graph(run: RunRecord): Promise<readonly GraphTask[] | null>;
  /**
   * Each task's state and reason as the next build would decide them (a dry run: nothing written); null when
   * the run dir is not on this machine (a run built elsewhere, on a shared PostgreSQL).
   */
  decide(run: RunRecord): Promise<ReadonlyMap<string, Decision> | null>;
  /** `plan explain`'s text for one task; null when the run dir is not here or the task is not in the graph. */
  explain(run: RunRecord, taskId: string): Promise<string | null>;
}
