import { hostname } from 'node:os';
import { StoreError } from '../store/store-error.js';
import type { RunLease, Store } from '../store/store.js';
import { LockedError } from './errors.js';
import path from 'node:path';
import { LOCK_FILE, isAlive, processStartTime, readHolder, type LockHolder } from './lock.js';

/**
 * One build of a run at a time, wherever it runs: the run dir's lock file guards one machine's dir, the
 * lease in the database guards the run across machines (each with its own run dir) sharing one store.
 *
 * The holder renews the lease every third of its time to live; one that stops (killed, machine gone, paused)
 * is taken over once the lease expires — at once when it is a dead process on this host. Its writes are fenced
 * by the store (see Store.acquireRunLease): a paused builder that wakes after a takeover stores nothing more.
 */

/** `PLAN_LEASE_TTL_MS`, else 20 s: how long a silent holder keeps the run. */
export function leaseTtlFromEnv(): number {
  const text = process.env.PLAN_LEASE_TTL_MS;
  if (text === undefined || text.trim() === '') return 20_000;
  const ms = Number(text);
  if (!Number.isInteger(ms) || ms < 100) throw new LockedError(`PLAN_LEASE_TTL_MS must be a whole number of milliseconds ≥ 100 (got '${text}')`);
  return ms;
}

export interface HeldLease {
  readonly lease: RunLease;
  /** The holder it replaced, if one held it without releasing (a crashed or silent build). */
  readonly replaced: RunLease | null;
  /** Set once a renewal found the lease taken over; the build must stop and store nothing more. */
  readonly lost: string | null;
  release(): Promise<void>;
}

export async function acquireRunLease(store: Store, runId: string, onLost: (why: string) => void, ttlMs = leaseTtlFromEnv()): Promise<HeldLease> {
  const holder = { host: hostname(), pid: process.pid, startTime: processStartTime(process.pid) ?? null };
  let outcome = await store.acquireRunLease({ runId, holder, ttlMs });
  if (!outcome.acquired && isDeadHereAndNow(outcome.current)) {
    // Its holder died on this host: no need to wait for the lease to run out.
    outcome = await store.acquireRunLease({ runId, holder, ttlMs, replaceToken: outcome.current.token });
  }
  if (!outcome.acquired) {
    const { current } = outcome;
    const left = Math.max(0, Math.ceil((current.expiresAt - current.now) / 1000));
    throw new LockedError(
      `run ${runId} is being built by pid ${current.pid} on ${current.host} since ${new Date(current.acquiredAt).toISOString()}` +
        ` (its lease runs ${left} s more; a builder that stops renewing is taken over after at most ${Math.ceil(ttlMs / 1000)} s)`,
    );
  }
  const { lease, replaced } = outcome;
  let lost: string | null = null;
  let lastRenewed = Date.now();
  let renewing = false;
  const timer = setInterval(
    () => {
      if (renewing || lost !== null) return;
      renewing = true;
      store
        .renewRunLease(runId, lease.token, ttlMs)
        .then(
          (held) => {
            if (held) lastRenewed = Date.now();
            else lose(`the run's lease was taken over by another build`);
          },
          (error: unknown) => {
            // A database away for longer than the lease: another builder may have taken the run meanwhile.
            if (Date.now() - lastRenewed >= ttlMs) lose(`the run's lease could not be renewed for ${Math.round(ttlMs / 1000)} s (${String(error)})`);
          },
        )
        .finally(() => {
          renewing = false;
        });
    },
    Math.max(50, Math.floor(ttlMs / 3)),
  );
  timer.unref();
  const lose = (why: string): void => {
    if (lost !== null) return;
    lost = why;
    clearInterval(timer);
    onLost(why);
  };
  return {
    lease,
    replaced,
    get lost() {
      return lost;
    },
    release: async () => {
      clearInterval(timer);
      // Also when lost: it changes nothing in the database then, and ends the store's fencing of the run.
      await store.releaseRunLease(runId, lease.token);
    },
  };
}

function isDeadHereAndNow(current: RunLease): boolean {
  if (current.host !== hostname()) return false;
  return !isAlive({ pid: current.pid, host: current.host, since: '', token: '', startTime: current.startTime ?? undefined });
}

/** The error a build ends with when it lost its lease: exit 1, and the run's row is left to its new holder. */
export function leaseLostError(runId: string, why: string): StoreError {
  return new StoreError(`run ${runId}: ${why}; this build stopped and stored nothing more`, 'LEASE_LOST');
}

/**
 * How the run dir's lock judges a holder on another host, which it cannot check (a volume shared by machines,
 * or kept across a container restart that changed the hostname): gone once the run's lease has ended —
 * expired, released, or passed to another build. With no lease on record the holder is respected: it may be
 * between taking the lock and taking the lease.
 */
export async function foreignLockJudge(store: Store, runDir: string, runId: string): Promise<(holder: LockHolder) => boolean> {
  const holder = readHolder(path.join(runDir, LOCK_FILE));
  if (holder === null || holder.host === hostname()) return () => false;
  const lease = await store.getRunLease(runId);
  return (found) => {
    if (lease === null) return false;
    if (lease.expiresAt <= lease.now) return true;
    return lease.host !== found.host || lease.pid !== found.pid;
  };
}
