import { StoreError } from '../store-error.js';
import type { LeaseOutcome, LeaseRequest, RunLease } from '../store.js';
import type { SqliteContext } from './context.js';

type LeaseRow = [runId: string, token: number, host: string, pid: number, startTime: number | null, acquiredAt: number, expiresAt: number];

const COLUMNS = 'run_id, token, host, pid, start_time, acquired_at, expires_at';

/**
 * `run_leases`: who builds a run now. One row per run ever leased; a release keeps the row (expires_at = 0), so
 * the token only grows and a holder of an old token never matches a later lease.
 *
 * While this store holds a run's lease, its writes of that run's attempts and edits are fenced: `checkFence`,
 * called inside their transaction, refuses them once the row holds another token.
 */
export class Leases {
  /** The leases this store holds: run id → token. */
  private readonly held = new Map<string, string>();

  constructor(private readonly context: SqliteContext) {}

  async acquireRunLease(request: LeaseRequest): Promise<LeaseOutcome> {
    const now = Date.now();
    const { runId, holder, ttlMs } = request;
    const replaceToken = tokenValue(request.replaceToken);
    const outcome = await this.context.write((): LeaseOutcome => {
      const previous = this.context.sql(`SELECT ${COLUMNS} FROM run_leases WHERE run_id = ?`).raw().get(runId) as LeaseRow | undefined;
      const taken = this.context
        .sql(
          `INSERT INTO run_leases (run_id, token, host, pid, start_time, acquired_at, renewed_at, expires_at)
           VALUES (@runId, 1, @host, @pid, @startTime, @now, @now, @expiresAt)
           ON CONFLICT (run_id) DO UPDATE SET token = run_leases.token + 1, host = excluded.host, pid = excluded.pid,
             start_time = excluded.start_time, acquired_at = excluded.acquired_at, renewed_at = excluded.renewed_at,
             expires_at = excluded.expires_at
           WHERE run_leases.expires_at <= @now OR run_leases.token = @replaceToken
           RETURNING ${COLUMNS}`,
        )
        .raw()
        .get({ runId, host: holder.host, pid: holder.pid, startTime: holder.startTime, now, expiresAt: now + ttlMs, replaceToken }) as
        | LeaseRow
        | undefined;
      // Not taken: the row was there and live (the read above is of this same transaction).
      if (taken === undefined) return { acquired: false, current: toLease(previous!, now) };
      const replaced = previous !== undefined && previous[6] > 0 ? toLease(previous, now) : null;
      return { acquired: true, lease: toLease(taken, now), replaced };
    });
    if (outcome.acquired) this.held.set(runId, outcome.lease.token);
    return outcome;
  }

  async renewRunLease(runId: string, token: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    const changes = await this.context.write(
      () =>
        this.context
          .sql('UPDATE run_leases SET renewed_at = ?, expires_at = ? WHERE run_id = ? AND token = ? AND expires_at > 0')
          .run(now, now + ttlMs, runId, tokenValue(token)).changes,
      { oneStatement: true },
    );
    // A lost lease stays in the fence: the build's writes keep failing until it releases.
    return changes === 1;
  }

  async releaseRunLease(runId: string, token: string): Promise<void> {
    try {
      await this.context.write(
        () => this.context.sql('UPDATE run_leases SET expires_at = 0 WHERE run_id = ? AND token = ?').run(runId, tokenValue(token)),
        { oneStatement: true },
      );
    } finally {
      this.forget(runId, token);
    }
  }

  async getRunLease(runId: string): Promise<RunLease | null> {
    const row = this.context.sql(`SELECT ${COLUMNS} FROM run_leases WHERE run_id = ?`).raw().get(runId) as LeaseRow | undefined;
    return row === undefined ? null : toLease(row, Date.now());
  }

  /**
   * Inside a write's transaction, before it stores anything of the run: throws `LEASE_LOST` when this store
   * holds the run's lease but the row holds another token now. One read by primary key, only while a lease is held.
   */
  checkFence(runId: string): void {
    if (this.held.size === 0) return;
    const token = this.held.get(runId);
    if (token === undefined) return;
    const row = this.context.sql('SELECT token, host, pid FROM run_leases WHERE run_id = ?').raw().get(runId) as [number, string, number] | undefined;
    if (row !== undefined && String(row[0]) === token) return;
    const message =
      row === undefined
        ? `the lease of run ${runId} is gone: this build no longer holds it`
        : `the lease of run ${runId} was taken over by pid ${row[2]} on ${row[1]}: this build no longer holds it`;
    throw new StoreError(message, 'LEASE_LOST');
  }

  /** Stops fencing the run's writes, if this store held its lease under this token. */
  private forget(runId: string, token: string): void {
    if (this.held.get(runId) === token) this.held.delete(runId);
  }
}

/** A token as SQLite compares it (an integer); one that is not a whole number never matches a row. */
function tokenValue(token: string | undefined): number | null {
  if (token === undefined || !/^\d+$/.test(token)) return null;
  const value = Number(token);
  return Number.isSafeInteger(value) ? value : null;
}

function toLease([runId, token, host, pid, startTime, acquiredAt, expiresAt]: LeaseRow, now: number): RunLease {
  return { runId, token: String(token), host, pid, startTime, acquiredAt, expiresAt, now };
}
