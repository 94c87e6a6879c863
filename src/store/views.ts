import type { RunRecord, RunTotals, SpendGrouping, SpendRow } from './store.js';

/**
 * Views of stored records that more than one front end shows — `plan list` / `plan costs` and the dashboard —
 * made in one place so that both show the same figures.
 */

export function isoTime(epochMs: number | null | undefined): string | null {
  return epochMs === null || epochMs === undefined ? null : new Date(epochMs).toISOString();
}

export function promptOf(run: Pick<RunRecord, 'params'>): string | null {
  return typeof run.params.prompt === 'string' ? run.params.prompt : null;
}

/** Wall-clock span of a run's work: first attempt started to last attempt or call ended. */
export function runDurationMs(totals: RunTotals): number | null {
  return totals.firstActivityAt === null || totals.lastActivityAt === null ? null : totals.lastActivityAt - totals.firstActivityAt;
}

/** A run as `plan list --json` and the runs page give it. */
export interface RunListing<S extends string = string> {
  id: string;
  runDir: string;
  pipeline: string;
  status: S;
  statusReason: string | null;
  prompt: string | null;
  createdAt: string | null;
  updatedAt: string | null;
  tasks: { built: number; failed: number; total: number | null };
  attempts: number;
  calls: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  unpricedCalls: number;
  models: string[];
  durationMs: number | null;
}

/** `shown`: the status as it is shown (`interrupted` for a running row whose build is gone); `total`: tasks in its graph. */
export function runListing<S extends string>(
  run: Omit<RunRecord, 'status'>,
  shown: { status: S; statusReason: string | null },
  totals: RunTotals,
  total: number | null,
): RunListing<S> {
  return {
    id: run.id,
    runDir: run.runDir,
    pipeline: run.pipeline,
    status: shown.status,
    statusReason: shown.statusReason,
    prompt: promptOf(run),
    createdAt: isoTime(run.createdAt),
    updatedAt: isoTime(run.updatedAt),
    tasks: { built: totals.tasksBuilt, failed: totals.tasksFailed, total },
    attempts: totals.attempts,
    calls: totals.calls,
    inputTokens: totals.inputTokens,
    outputTokens: totals.outputTokens,
    costUsd: totals.costUsd,
    unpricedCalls: totals.unpricedCalls,
    models: totals.models,
    durationMs: runDurationMs(totals),
  };
}

export type SpendFigures = Omit<SpendRow, 'key'>;

/** Spend rows as `plan costs` orders them (runs and days in time order, tasks and models by cost), and their total. */
export function spendReport(by: SpendGrouping, rows: SpendRow[]): { rows: SpendRow[]; total: SpendFigures } {
  if (by === 'task' || by === 'model') rows.sort((a, b) => b.costUsd - a.costUsd || b.calls - a.calls || a.key.localeCompare(b.key));
  const total: SpendFigures = { calls: 0, failedCalls: 0, inputTokens: 0, outputTokens: 0, costUsd: 0, unpricedCalls: 0, durationMs: 0 };
  for (const row of rows) {
    total.calls += row.calls;
    total.failedCalls += row.failedCalls;
    total.inputTokens += row.inputTokens;
    total.outputTokens += row.outputTokens;
    total.costUsd += row.costUsd;
    total.unpricedCalls += row.unpricedCalls;
    total.durationMs += row.durationMs;
  }
  return { rows, total };
}
