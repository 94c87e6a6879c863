import type pg from 'pg';
import { StoreError } from '../store-error.js';
import { codeOf, describePgError, isTransient } from './connection.js';

/** A connection inside a transaction, or the pool for one statement: both answer `query`. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

const FIRST_PAUSE_MS = 50;
const LONGEST_PAUSE_MS = 2_000;

/**
 * What every table module of the PostgreSQL store shares: the pool, and the one way to run work on it.
 *
 * A passing fault (the server restarting, a backend terminated, a serialization conflict) is retried with
 * backoff for up to the retry budget, then reported naming the database. Work is retried only when it cannot
 * have committed: a statement outside a transaction that failed, or a transaction that failed before COMMIT
 * was sent (the server rolls back a transaction whose connection died). A COMMIT whose answer was lost is
 * not retried — it may have committed — and fails the write; the engine's recovery treats such an attempt
 * like one of a dead process.
 */
export class PgContext {
  constructor(
    readonly pool: pg.Pool,
    readonly location: string,
    private readonly retryBudgetMs: number,
    private readonly lockTimeoutMs: number,
  ) {}

  /** One statement, atomic by itself. `retryOn`: as for `transaction`. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values: unknown[] = [],
    options: { retryOn?: readonly string[] } = {},
  ): Promise<pg.QueryResult<R>> {
    return this.retrying(() => this.pool.query<R>(text, values), options.retryOn ?? []);
  }

  /**
   * `work` in one transaction on one connection. `retryOn`: error codes (beyond passing faults) for which the
   * whole transaction runs again, e.g. a unique violation from two writers numbering the same version.
   */
  transaction<T>(work: (client: Queryable) => Promise<T>, options: { retryOn?: readonly string[] } = {}): Promise<T> {
    return this.retrying(async () => {
      const client = await this.pool.connect();
      let broken: unknown;
      try {
        await client.query('BEGIN');
        let value: T;
        try {
          value = await work(client);
        } catch (error) {
          await client.query('ROLLBACK').catch((rollbackError: unknown) => {
            broken = rollbackError;
          });
          throw error;
        }
        try {
          await client.query('COMMIT');
        } catch (error) {
          broken = error;
          // Its outcome is unknown: never run the work again.
          throw new CommitUnknown(error);
        }
        return value;
      } catch (error) {
        if (broken === undefined && isTransient(error)) broken = error;
        throw error;
      } finally {
        // A connection that failed is destroyed, not handed to the next caller.
        client.release(broken instanceof Error ? broken : broken === undefined ? undefined : true);
      }
    }, options.retryOn ?? []);
  }

  private async retrying<T>(attempt: () => Promise<T>, retryOn: readonly string[] = []): Promise<T> {
    const started = Date.now();
    let pause = FIRST_PAUSE_MS;
    for (;;) {
      try {
        return await attempt();
      } catch (error) {
        if (error instanceof CommitUnknown) {
          throw new StoreError(
            `database ${this.location}: the connection failed while committing (${messageOf(error.cause)}); the write may or may not have been stored`,
            'PG_UNAVAILABLE',
          );
        }
        const again = isTransient(error) || retryOn.includes(codeOf(error) ?? '');
        if (!again) throw describePgError(error, this.location, this.lockTimeoutMs);
        const waited = Date.now() - started;
        if (waited + pause > this.retryBudgetMs) {
          if (retryOn.includes(codeOf(error) ?? '')) throw describePgError(error, this.location, this.lockTimeoutMs);
          throw new StoreError(
            `database ${this.location} is unavailable: ${messageOf(error)} (retried for ${Math.round(waited / 1000)} s)`,
            'PG_UNAVAILABLE',
          );
        }
        if (retryOn.includes(codeOf(error) ?? '')) {
          // A writer that lost a race runs again at once against what the winner committed (a jitter of a
          // few ms keeps a crowd from colliding again in lockstep); only faults of the server need backing off.
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
          continue;
        }
        await new Promise((resolve) => setTimeout(resolve, pause));
        pause = Math.min(pause * 2, LONGEST_PAUSE_MS);
      }
    }
  }
}

class CommitUnknown extends Error {
  constructor(override readonly cause: unknown) {
    super('commit outcome unknown');
  }
}

function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const code = codeOf(error);
  return code === undefined || text.includes(code) ? text : `${text} (${code})`;
}
