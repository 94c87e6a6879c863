import type { RunRecord, RunStatus, RunTotals } from '../store/store.js';

/** Small facts about a run that several commands print. */

export const RUN_STATUSES: readonly RunStatus[] = ['created', 'running', 'complete', 'failed', 'cancelled', 'stopped'];

export function promptOf(run: RunRecord): string | null {
  return typeof run.params.prompt === 'string' ? run.params.prompt : null;
}

/** Wall-clock span of a run's work: first attempt started to last attempt or call ended. */
export function runDurationMs(totals: RunTotals): number | null {
  return totals.firstActivityAt === null || totals.lastActivityAt === null ? null : totals.lastActivityAt - totals.firstActivityAt;
}
