import { hostname } from 'node:os';
import path from 'node:path';
import { LOCK_FILE, isAlive, readHolder } from '../engine/lock.js';
import type { RunLease, RunRecord, RunStatus, Store } from '../store/store.js';
import { HANDED_TO_WORKERS } from '../store/postgres/worker-tasks.js';
import { workerTasksOf } from '../workers/job-queue.js';

/** Small facts about a run that several commands print. */

export const RUN_STATUSES: readonly RunStatus[] = ['created', 'running', 'complete', 'failed', 'cancelled', 'stopped'];

/** A run's status as commands show it: `interrupted` is a `running` run whose build is gone. */
export type ShownRunStatus = RunStatus | 'interrupted';

export const SHOWN_RUN_STATUSES: readonly ShownRunStatus[] = [...RUN_STATUSES, 'interrupted'];

/** A run record with its status as commands show it. */
export type ShownRun = Omit<RunRecord, 'status'> & { status: ShownRunStatus };

/** The build holding a run right now: where it runs, as its lease or the run dir's lock names it. */
export interface LiveBuild {
  pid: number;
  host: string;
}

/**
 * The build of a run that is alive now, or null. A build holds the run dir's lock and the run's lease while it
 * runs, and records how it ended before it lets them go, so a `running` row alone says nothing after a
 * `kill -9` or a power cut. Alive: a live lease — held by a live process when that process is on this host,
 * or not yet expired when it is on another machine sharing the database (whose run dir is there, not here) —
 * or a live process holding the run dir's lock. `runDir` is where to look for the lock when the caller knows
 * better than the path the database remembers; `lease` is the run's lease as the store has it.
 */
export function liveBuild(run: RunRecord, runDir: string = run.runDir, lease: RunLease | null = null): LiveBuild | null {
  if (lease !== null && lease.expiresAt > lease.now) {
    const here = lease.host === hostname();
    const alive = !here || isAlive({ pid: lease.pid, host: lease.host, since: '', token: '', startTime: lease.startTime ?? undefined });
    if (alive) return { pid: lease.pid, host: lease.host };
  }
  const holder = readHolder(path.join(runDir, LOCK_FILE));
  return holder !== null && isAlive(holder) ? { pid: holder.pid, host: holder.host } : null;
}

/** liveBuild, asking the store for the run's lease. */
export async function liveBuildOf(store: Store, run: RunRecord, runDir: string = run.runDir): Promise<LiveBuild | null> {
  return liveBuild(run, runDir, await store.getRunLease(run.id));
}

/** The run with its status as a person should read it: `running` with no live build (see liveBuild) is `interrupted`. */
export function withShownStatus(run: RunRecord, runDir: string = run.runDir, lease: RunLease | null = null): ShownRun {
  if (run.status !== 'running' || liveBuild(run, runDir, lease) !== null) return run;
  const holder = readHolder(path.join(runDir, LOCK_FILE)) ?? lease;
  const why = holder !== null ? `build pid ${holder.pid} on ${holder.host} ended without finishing` : 'no build holds the run dir';
  return { ...run, status: 'interrupted', statusReason: `${why}; plan build resumes it` };
}

/** withShownStatus for runs read from `store`, asking it for the lease of each run that says `running`. */
export async function shownRunsOf(
  store: Store,
  runs: readonly RunRecord[],
  runDirOf: (run: RunRecord) => string = (run) => run.runDir,
): Promise<ShownRun[]> {
  return Promise.all(
    runs.map(async (run) => {
      if (run.status !== 'running') return run;
      // A run the workers build has no one holder: it runs while its hand-over is not finished.
      if (run.statusReason === HANDED_TO_WORKERS && (await workerTasksOf(store)?.building(run.id))) return run;
      return withShownStatus(run, runDirOf(run), await store.getRunLease(run.id));
    }),
  );
}

/** shownRunsOf for one run. */
export async function shownRunOf(store: Store, run: RunRecord, runDir: string = run.runDir): Promise<ShownRun> {
  return (await shownRunsOf(store, [run], () => runDir))[0]!;
}

export { promptOf, runDurationMs } from '../store/views.js';
