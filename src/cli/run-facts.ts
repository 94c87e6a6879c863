import { hostname } from 'node:os';
import path from 'node:path';
import { LOCK_FILE, isAlive, readHolder } from '../engine/lock.js';
import type { RunLease, RunRecord, RunStatus, RunTotals, Store } from '../store/store.js';

/** Small facts about a run that several commands print. */

export const RUN_STATUSES: readonly RunStatus[] = ['created', 'running', 'complete', 'failed', 'cancelled', 'stopped'];

/** A run's status as commands show it: `interrupted` is a `running` run whose build is gone. */
export type ShownRunStatus = RunStatus | 'interrupted';

export const SHOWN_RUN_STATUSES: readonly ShownRunStatus[] = [...RUN_STATUSES, 'interrupted'];

/** A run record with its status as commands show it. */
export type ShownRun = Omit<RunRecord, 'status'> & { status: ShownRunStatus };

/**
 * The run with its status as a person should read it. A build records `running` once it holds the run dir's
 * lock and the run's lease, and records how it ended before it lets them go, so a build killed with `kill -9`
 * (or by a power cut) leaves `running` behind for good. It is `running` while its lease is live — held by a
 * live process when that process is on this host, or not yet expired when it is on another machine sharing
 * the database (the run dir may be there, not here) — or while a live process holds the run dir's lock;
 * otherwise `interrupted`. `runDir` is where to look for the lock when the caller knows better than the path
 * the database remembers; `lease` is the run's lease as the store has it (see shownRunsOf).
 */
export function withShownStatus(run: RunRecord, runDir: string = run.runDir, lease: RunLease | null = null): ShownRun {
  if (run.status !== 'running') return run;
  if (lease !== null && lease.expiresAt > lease.now) {
    const here = lease.host === hostname();
    if (!here || isAlive({ pid: lease.pid, host: lease.host, since: '', token: '', startTime: lease.startTime ?? undefined })) return run;
  }
  const holder = readHolder(path.join(runDir, LOCK_FILE));
  if (holder !== null && isAlive(holder)) return run;
  const why =
    holder !== null
      ? `build pid ${holder.pid} on ${holder.host} ended without finishing`
      : lease !== null
        ? `build pid ${lease.pid} on ${lease.host} ended without finishing`
        : 'no build holds the run dir';
  return { ...run, status: 'interrupted', statusReason: `${why}; plan build resumes it` };
}

/** withShownStatus for runs read from `store`, asking it for the lease of each run that says `running`. */
export async function shownRunsOf(
  store: Store,
  runs: readonly RunRecord[],
  runDirOf: (run: RunRecord) => string = (run) => run.runDir,
): Promise<ShownRun[]> {
  return Promise.all(runs.map(async (run) => withShownStatus(run, runDirOf(run), run.status === 'running' ? await store.getRunLease(run.id) : null)));
}

export function promptOf(run: Pick<RunRecord, 'params'>): string | null {
  return typeof run.params.prompt === 'string' ? run.params.prompt : null;
}

/** Wall-clock span of a run's work: first attempt started to last attempt or call ended. */
export function runDurationMs(totals: RunTotals): number | null {
  return totals.firstActivityAt === null || totals.lastActivityAt === null ? null : totals.lastActivityAt - totals.firstActivityAt;
}
