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
  /**
   * The stage the task belongs to, when its pipeline groups its tasks so (the plan pipeline: setup, levers,
   * scenarios, …); the run page can collapse a stage into one node.
   */
  stage?: string;
}

/** A run's status as `plan list` shows it: `interrupted` for a `running` run whose build is gone. */
export interface ShownStatus {
  status: RunRecord['status'] | 'interrupted';
  statusReason: string | null;
}

export interface UiEngine extends UiRebuildEngine {
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
  /**
   * Each task as the workers have it, for a run handed to them (`plan submit`, `plan build --workers`); null
   * for a run never handed over, or a store without workers (SQLite).
   */
  workerStates(run: RunRecord): Promise<ReadonlyMap<string, WorkerTaskView> | null>;
}

/** One task's row of the workers' schedule (plan status --run shows the same). */
export interface WorkerTaskView {
  state: 'waiting' | 'ready' | 'running' | 'done' | 'failed' | 'blocked' | 'cancelled';
  /** How a `done` task ended: ran, fresh or pinned. */
  outcome: string | null;
  workerId: string | null;
  error: string | null;
}

/** Which rebuild: the task alone (`--force T --until T`), or the task and everything downstream of it (`--from T`). */
export type RebuildScope = 'task' | 'downstream';

export interface RebuildRequest {
  taskId: string;
  scope: RebuildScope;
}

/** What `plan build <run-dir> … --dry-run` says a rebuild would do: its text, and the figures read from it. */
export interface RebuildPreview {
  /** The dry run's command, as a person would type it. */
  command: string;
  exitCode: number | null;
  /** Its standard output: each task's state and reason, then the estimate of model calls and cost. */
  output: string;
  /** Its standard error: the `dry run: N tasks would run …` line, and any warning or error. */
  messages: string;
  /** The tasks it would run (neither fresh nor pinned), with their states and reasons, in build order. */
  wouldRun: { taskId: string; state: string; reason: string }[];
  /** How many tasks it decided in all. */
  decided: number;
  /** The estimate line (`model calls: ~N (…), ~$X on M …`). */
  estimate: string | null;
  /** The `dry run: …` line. */
  summary: string | null;
}

/** Where a running rebuild's output goes, line by line. */
export interface RebuildSink {
  /** One build event of `--json` (a line of its standard output). */
  event(event: Record<string, unknown>): void;
  /** A line that is no event: standard error, or output that is not JSON. */
  line(stream: 'stdout' | 'stderr', text: string): void;
  exit(code: number | null, signal: string | null): void;
}

export interface RebuildProcess {
  pid: number;
  /** The build's command, as a person would type it. */
  command: string;
  /** Asks the build to stop (SIGTERM: it cancels its running tasks and exits 130). */
  stop(): void;
}

/** What the dashboard's one engine action needs: a dry run, and a real build in a child process. */
export interface UiRebuildEngine {
  /** The dry run of the rebuild; null when the run dir is not on this machine. */
  previewRebuild(run: RunRecord, request: RebuildRequest): Promise<RebuildPreview | null>;
  /**
   * Starts `plan build <run-dir> …` of the rebuild with `--json`, as a child process of the dashboard (the same
   * node and bin/plan.js, the same database); null when the run dir is not on this machine.
   */
  startRebuild(run: RunRecord, request: RebuildRequest, sink: RebuildSink): Promise<RebuildProcess | null>;
}
