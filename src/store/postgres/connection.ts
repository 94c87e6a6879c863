import pg from 'pg';
import { StoreError } from '../store-error.js';

/**
 * How the PostgreSQL store reaches its database: the URL (its `?schema=` picks the schema, everything else is
 * libpq's and node-postgres's, `sslmode` included), a pool whose connections all use that schema, and what
 * counts as a passing fault (a restarted server, a terminated backend) worth retrying.
 */

export const DEFAULT_SCHEMA = 'plan';

export interface PostgresTarget {
  /** The URL for the driver: as given, without `schema`. Holds the password: never shown. */
  connectionString: string;
  schema: string;
  /** The URL without credentials, for every message. */
  location: string;
}

export function parsePostgresUrl(url: string): PostgresTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new StoreError(`not a valid PostgreSQL URL: ${redactUrl(url)}`, 'PG_CONFIG');
  }
  const schema = parsed.searchParams.get('schema') ?? DEFAULT_SCHEMA;
  // The schema is spliced into SQL (search_path, CREATE SCHEMA): only a plain identifier is accepted.
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new StoreError(`schema '${schema}' in the database URL must be a lower-case identifier (letters, digits, _)`, 'PG_CONFIG');
  }
  parsed.searchParams.delete('schema');
  return { connectionString: parsed.toString(), schema, location: redactUrl(url) };
}

/** A URL as it may be shown: no password (in the user info or as a parameter), whatever else it holds. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    for (const key of [...parsed.searchParams.keys()]) if (/pass|secret|key/i.test(key)) parsed.searchParams.set(key, '***');
    return parsed.toString();
  } catch {
    return url.replace(/\/\/([^/@:\s]*):[^/@\s]*@/, '//$1@');
  }
}

export interface PoolSettings {
  /** How long a statement waits for a lock another session holds before failing. */
  lockTimeoutMs: number;
  /** The longest any one statement may run. */
  statementTimeoutMs: number;
  max: number;
}

/** `PLAN_DB_BUSY_TIMEOUT_MS` (the same knob as SQLite's busy timeout), else 10 s. */
export function poolSettingsFromEnv(): PoolSettings {
  return {
    lockTimeoutMs: wholeMsFromEnv('PLAN_DB_BUSY_TIMEOUT_MS', 10_000),
    statementTimeoutMs: wholeMsFromEnv('PLAN_DB_STATEMENT_TIMEOUT_MS', 60_000),
    max: 10,
  };
}

/** How long passing faults (server restarting, connections cut) are retried before a write fails: `PLAN_DB_RETRY_MS`, else 30 s. */
export function retryBudgetFromEnv(): number {
  return wholeMsFromEnv('PLAN_DB_RETRY_MS', 30_000);
}

function wholeMsFromEnv(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text.trim() === '') return fallback;
  const ms = Number(text);
  if (!Number.isInteger(ms) || ms < 0) throw new StoreError(`${name} must be a whole number of milliseconds ≥ 0 (got '${text}')`, 'PG_CONFIG');
  return ms;
}

/** 64-bit integers (ids, epoch ms, counts) and sums come back as JS numbers, not strings: all stay below 2^53. */
const types = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') => {
    if (oid === 20 /* int8 */) return (value: string) => Number(value);
    if (oid === 1700 /* numeric */) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
};

export function createPool(target: PostgresTarget, settings: PoolSettings): pg.Pool {
  const pool = new pg.Pool({
    connectionString: target.connectionString,
    max: settings.max,
    types,
    // Every connection works in the store's schema, with bounded waits.
    options: `-c search_path=${target.schema} -c lock_timeout=${settings.lockTimeoutMs} -c statement_timeout=${settings.statementTimeoutMs}`,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle connection the server cut (restart, pg_terminate_backend) errors on the pool; the next query opens another.
  pool.on('error', () => undefined);
  return pool;
}

/** Errors that pass: the server restarting or shutting down, a connection cut, a serialization conflict. */
export function isTransient(error: unknown): boolean {
  const code = codeOf(error);
  if (code !== undefined) {
    if (/^(57P01|57P02|57P03|08000|08003|08006|08001|08004|40001|40P01|53300)$/.test(code)) return true;
    if (/^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN)$/.test(code)) return true;
  }
  const message = error instanceof Error ? error.message : String(error);
  return /Connection terminated|connection timeout|terminating connection|Client has encountered a connection error|not queryable/i.test(message);
}

export function codeOf(error: unknown): string | undefined {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The message a person can act on, for errors from opening or using the database. `pg`'s own messages never
 * hold the password (they name the user and host at most).
 */
export function describePgError(error: unknown, location: string, lockTimeoutMs: number): StoreError {
  if (error instanceof StoreError) return error;
  const code = codeOf(error);
  const text = error instanceof Error ? error.message : String(error);
  switch (code) {
    case 'ECONNREFUSED':
      return new StoreError(`cannot connect to PostgreSQL at ${location}: connection refused (is the server running?)`, 'PG_CONNECT');
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new StoreError(`cannot connect to PostgreSQL at ${location}: unknown host`, 'PG_CONNECT');
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new StoreError(`cannot connect to PostgreSQL at ${location}: host unreachable (${code})`, 'PG_CONNECT');
    case '28P01':
    case '28000':
      return new StoreError(`cannot connect to PostgreSQL at ${location}: ${text}`, 'PG_AUTH');
    case '3D000':
      return new StoreError(`cannot connect to PostgreSQL at ${location}: ${text}`, 'PG_NO_DATABASE');
    case '55P03':
      return new StoreError(
        `database ${location}: another session holds a lock this build needs and did not release it within ${lockTimeoutMs} ms (${text})`,
        'PG_LOCK_TIMEOUT',
      );
    case '57014':
      return new StoreError(`database ${location}: a statement ran past its time limit (${text})`, 'PG_STATEMENT_TIMEOUT');
    case '42501':
      return new StoreError(
        `database ${location}: permission denied (${text}); the user needs CREATE on the database and the schema`,
        'PG_PERMISSION',
      );
    default:
      if (/timeout exceeded when trying to connect/i.test(text)) {
        return new StoreError(`cannot connect to PostgreSQL at ${location}: no answer in time`, 'PG_CONNECT');
      }
      return new StoreError(`database ${location}: ${text}`, code === undefined ? 'PG_ERROR' : `PG_${code}`);
  }
}
