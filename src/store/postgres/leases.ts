import { StoreError } from '../store-error.js';
import type { LeaseOutcome, LeaseRequest, RunLease } from '../store.js';
import type { PgContext, Queryable } from './context.js';
import type { Row } from './rows.js';

/** The database's clock in epoch ms: every machine sharing the store judges expiry by the same clock. */
const NOW_MS = '(extract(epoch from clock_timestamp()) * 1000)::bigint';

/** The leases this store holds, by run: its writes of those runs are fenced by them. */
export class LeaseFence {
  private readonly held = new Map<string, string>();

  tokenFor(runId: string): string | null {
    return this.held.get(runId) ?? null;
  }

  hold(runId: string, token: string): void {
    this.held.set(runId, token);
  }

  drop(runId: string): void {
    this.held.delete(runId);
  }

  /** Task claims of a worker (`worker_tasks.claim_token`): its writes of that task's attempts are fenced by them. */
  private readonly claims = new Map<string, string>();

  claimFor(runId: string, taskId: string): string | null {
    return this.claims.get(`${runId}\0${taskId}`) ?? null;
  }

  holdClaim(runId: string, taskId: string, token: string): void {
    this.claims.set(`${runId}\0${taskId}`, token);
  }

  dropClaim(runId: string, taskId: string, token: string): void {
    if (this.claimFor(runId, taskId) === token) this.claims.delete(`${runId}\0${taskId}`);
  }

  async claimLost(client: Queryable, runId: string, taskId: string, token: string): Promise<StoreError> {
    const now = await client.query('SELECT worker_id, claim_token::text AS token, state FROM worker_tasks WHERE run_id = $1 AND task_id = $2', [
      runId,
      taskId,
    ]);
    const row = now.rows[0];
    const who = row === undefined ? 'nobody' : row.worker_id === null ? `nobody (it is ${String(row.state)})` : `worker ${String(row.worker_id)}`;
    return new StoreError(
      `the claim of ${taskId} of run ${runId} was taken over by ${who}: this worker (claim ${token}) no longer holds it and stored nothing`,
      'LEASE_LOST',
    );
  }

  /** Inside a write's transaction: throws LEASE_LOST unless the run's lease still has this token (held FOR SHARE until commit). */
  async check(client: Queryable, runId: string, token: string): Promise<void> {
    const found = await client.query('SELECT 1 FROM run_leases WHERE run_id = $1 AND token = $2::bigint FOR SHARE', [runId, token]);
    if (found.rows.length === 0) throw await this.lost(client, runId, token);
  }

  async lost(client: Queryable, runId: string, token: string): Promise<StoreError> {
    const now = await client.query('SELECT host, pid, token::text AS token FROM run_leases WHERE run_id = $1', [runId]);
    const holder = now.rows[0];
    const who = holder === undefined ? 'nobody (it was released)' : `pid ${String(holder.pid)} on ${String(holder.host)}`;
    return new StoreError(
      `the lease of run ${runId} was taken over by ${who}: this build (lease ${token}) no longer holds it and stored nothing`,
      'LEASE_LOST',
    );
  }
}

/** `run_leases`: one build of a run at a time across every machine sharing the database. */
export class Leases {
  constructor(
    private readonly context: PgContext,
    private readonly fence: LeaseFence,
  ) {}

  async acquireRunLease(request: LeaseRequest): Promise<LeaseOutcome> {
    const outcome = await this.context.transaction(async (client): Promise<LeaseOutcome> => {
      const before = await client.query(`SELECT *, token::text AS token, ${NOW_MS} AS now FROM run_leases WHERE run_id = $1 FOR UPDATE`, [
        request.runId,
      ]);
      const taken = await client.query(
        `INSERT INTO run_leases (run_id, token, host, pid, start_time, acquired_at, renewed_at, expires_at)
         VALUES ($1, 1, $2, $3, $4, ${NOW_MS}, ${NOW_MS}, ${NOW_MS} + $5)
         ON CONFLICT (run_id) DO UPDATE SET token = run_leases.token + 1, host = excluded.host, pid = excluded.pid,
           start_time = excluded.start_time, acquired_at = excluded.acquired_at, renewed_at = excluded.renewed_at,
           expires_at = excluded.expires_at
         WHERE run_leases.expires_at <= ${NOW_MS} OR run_leases.token = $6::bigint
         RETURNING *, token::text AS token, ${NOW_MS} AS now`,
        [
          request.runId,
          request.holder.host,
          request.holder.pid,
          request.holder.startTime,
          request.ttlMs,
          request.replaceToken === undefined ? null : tokenValue(request.replaceToken),
        ],
      );
      const previous = before.rows[0] === undefined ? null : toLease(before.rows[0]);
      if (taken.rows.length === 0) {
        // Live, and not ours to replace; read again when another caller created it since our first read.
        if (previous !== null) return { acquired: false, current: previous };
        const current = await client.query(`SELECT *, token::text AS token, ${NOW_MS} AS now FROM run_leases WHERE run_id = $1`, [request.runId]);
        return { acquired: false, current: toLease(current.rows[0]!) };
      }
      return { acquired: true, lease: toLease(taken.rows[0]!), replaced: previous !== null && previous.expiresAt > 0 ? previous : null };
    });
    if (outcome.acquired) this.fence.hold(request.runId, outcome.lease.token);
    return outcome;
  }

  async renewRunLease(runId: string, token: string, ttlMs: number): Promise<boolean> {
    const result = await this.context.query(
      `UPDATE run_leases SET renewed_at = ${NOW_MS}, expires_at = ${NOW_MS} + $3 WHERE run_id = $1 AND token = $2::bigint AND expires_at > 0`,
      [runId, tokenValue(token), ttlMs],
    );
    // A lost lease stays in the fence: the build's writes keep failing until it releases.
    return result.rowCount === 1;
  }

  async releaseRunLease(runId: string, token: string): Promise<void> {
    this.fence.drop(runId);
    // The row stays (expired), so the next holder's token is greater than every token ever given for the run.
    await this.context.query('UPDATE run_leases SET expires_at = 0 WHERE run_id = $1 AND token = $2::bigint', [runId, tokenValue(token)]);
  }

  async getRunLease(runId: string): Promise<RunLease | null> {
    const result = await this.context.query(`SELECT *, token::text AS token, ${NOW_MS} AS now FROM run_leases WHERE run_id = $1`, [runId]);
    return result.rows[0] === undefined ? null : toLease(result.rows[0]);
  }
}

function toLease(row: Row): RunLease {
  return {
    runId: row.run_id as string,
    token: row.token as string,
    host: row.host as string,
    pid: row.pid as number,
    startTime: (row.start_time as number | null) ?? null,
    acquiredAt: row.acquired_at as number,
    expiresAt: row.expires_at as number,
    now: row.now as number,
  };
}

/** A token is a whole number; anything else never matches a lease (NULL compares to nothing). */
function tokenValue(token: string): string | null {
  return /^[0-9]{1,18}$/.test(token) ? token : null;
}
