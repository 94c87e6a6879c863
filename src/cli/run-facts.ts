import path from 'node:path';
import { LOCK_FILE, isAlive, readHolder } from '../engine/lock.js';
import type { RunRecord, RunStatus, RunTotals } from '../store/store.js';

/** Small facts about a run that several commands print. */

export const RUN_STATUSES: readonly RunStatus[] = ['created', 'running', 'complete', 'failed', 'cancelled', 'stopped'];

/** A run's status as commands show it: `interrupted` is a `running` run whose build is gone. */
export type ShownRunStatus = RunStatus | 'interrupted';

export const SHOWN_RUN_STATUSES: readonly ShownRunStatus[] = [...RUN_STATUSES, 'interrupted'];

/** A run record with its status as commands show it. */
export type ShownRun = Omit<RunRecord, 'status'> & { status: ShownRunStatus };

/**
 * The run with its status as a person should read it. A build records `running` once it holds the run dir's
 * lock and records how it ended before it lets the lock go, so a build killed with `kill -9` (or by a power
 * cut) leaves `running` behind for good: `running` with no lock, or a lock whose holder is dead, is
 * `interrupted`. `runDir` is where to look for the lock when the caller knows better than the path the
 * database remembers.
 */
export function withShownStatus(run: RunRecord, runDir: string = run.runDir): ShownRun {
  if (run.status !== 'running') return run;
  const holder = readHolder(path.join(runDir, LOCK_FILE));
  if (holder !== null && isAlive(holder)) return run;
  const why = holder === null ? 'no build holds the run dir' : `build pid ${holder.pid} on ${holder.host} ended without finishing`;
  return { ...run, status: 'interrupted', statusReason: `${why}; plan build resumes it` };
}

export function promptOf(run: Pick<RunRecord, 'params'>): string | null {
  return typeof run.params.prompt === 'string' ? run.params.prompt : null;
}

/** Wall-clock span of a run's work: first attempt started to last attempt or call ended. */
export function runDurationMs(totals: RunTotals): number | null {
  return totals.firstActivityAt === null || totals.lastActivityAt === null ? null : totals.lastActivityAt - totals.firstActivityAt;
}
