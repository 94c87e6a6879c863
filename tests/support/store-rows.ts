import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { redactUrl } from '../../src/store/postgres/connection.js';
import { e2eSchemaFor, testStoreUrl } from './cli.js';

/**
 * Reading the rows a CLI run stored, whichever store the test project runs on: SQLite (`runs/plan.db` beside
 * the run dirs, opened read-only) or, in the `postgres` project, the schema that tests/support/cli.ts gives the
 * working dir. Rows come back alike from both:
 *
 * - `?` placeholders work on both (rewritten to `$1…` for PostgreSQL);
 * - BIGINT and NUMERIC are JS numbers (as the PostgreSQL store reads them), not strings;
 * - BOOLEAN is 1/0, as SQLite stores it (`tokens_estimated`);
 * - `response_text` and `reasoning_text` (BYTEA on PostgreSQL, so that an answer may hold U+0000) are strings,
 *   as SQLite's TEXT; every other BLOB/BYTEA (`data`, `messages_z`) stays a Buffer on both.
 *
 * Keep the SQL portable: plain SELECT, COUNT(*), WHERE, ORDER BY, subqueries. SQLite's `messages_json` (rows
 * from before schema version 2) does not exist on PostgreSQL: read `SELECT *` and take what is there.
 */

/** True in the `postgres` test project, with a server to run on. */
export const onPostgres: boolean = process.env.PLAN_TEST_STORE === 'postgres' && (process.env.PLAN_TEST_POSTGRES_URL ?? '') !== '';

export interface StoreRows {
  readonly kind: 'sqlite' | 'postgres';
  all<T>(sql: string, ...args: unknown[]): Promise<T[]>;
  get<T>(sql: string, ...args: unknown[]): Promise<T | undefined>;
  /** The store's tables (the schema's on PostgreSQL, the file's on SQLite), sorted by name. */
  tables(): Promise<string[]>;
  close(): Promise<void>;
}

export interface StoreRowsOptions {
  /** SQLite only: another database file than `<cwd>/runs/plan.db`. */
  dbFile?: string;
}

/** The SQLite file a working dir's CLI runs use by default. */
export const defaultDbFile = (cwd: string): string => path.join(cwd, 'runs', 'plan.db');

/** The database CLI runs started in `cwd` use: the SQLite file, or the PostgreSQL URL (to open a store on it). */
export function storeUrl(cwd: string): string {
  return testStoreUrl(cwd) ?? defaultDbFile(cwd);
}

/** Where CLI runs started in `cwd` keep their rows, as the commands name it (`db` in `--json`, messages). */
export function storeLocation(cwd: string): string {
  const url = testStoreUrl(cwd);
  return url === undefined ? defaultDbFile(cwd) : redactUrl(url);
}

/**
 * Whether CLI runs started in `cwd` made their store: the SQLite file exists, or the PostgreSQL schema does
 * (a store that is opened makes its schema and tables at once, as SQLite makes its file).
 */
export async function storeExists(cwd: string): Promise<boolean> {
  const url = testStoreUrl(cwd);
  if (url === undefined) return fs.existsSync(defaultDbFile(cwd));
  const client = new pg.Client({ connectionString: withoutSchema(url) });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [e2eSchemaFor(cwd)]);
    return found.rowCount !== null && found.rowCount > 0;
  } finally {
    await client.end();
  }
}

export async function openStoreRows(cwd: string, options: StoreRowsOptions = {}): Promise<StoreRows> {
  const url = options.dbFile === undefined ? testStoreUrl(cwd) : undefined;
  return url === undefined ? openSqliteRows(options.dbFile ?? defaultDbFile(cwd)) : openPostgresRows(url, e2eSchemaFor(cwd));
}

/** Opens the rows of `cwd`'s store, hands them to `use`, and closes them again. */
export async function withStoreRows<T>(cwd: string, use: (rows: StoreRows) => Promise<T>, options: StoreRowsOptions = {}): Promise<T> {
  const rows = await openStoreRows(cwd, options);
  try {
    return await use(rows);
  } finally {
    await rows.close();
  }
}

/** One query's rows from `cwd`'s store (opened and closed around it). */
export function storeQuery<T>(cwd: string, sql: string, ...args: unknown[]): Promise<T[]> {
  return withStoreRows(cwd, (rows) => rows.all<T>(sql, ...args));
}

function openSqliteRows(file: string): StoreRows {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  return {
    kind: 'sqlite',
    all: async <T>(sql: string, ...args: unknown[]) => db.prepare(sql).all(...args) as T[],
    get: async <T>(sql: string, ...args: unknown[]) => db.prepare(sql).get(...args) as T | undefined,
    tables: async () => (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((t) => t.name).sort(),
    close: async () => {
      db.close();
    },
  };
}

/** As the PostgreSQL store reads them: 64-bit integers and sums as numbers (all stay below 2^53); booleans as SQLite's 1/0. */
const types = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') => {
    if (oid === 20 /* int8 */ || oid === 1700 /* numeric */) return (value: string) => Number(value);
    if (oid === 16 /* bool */) return (value: string) => (value === 't' ? 1 : 0);
    return pg.types.getTypeParser(oid, format);
  },
};

/** Columns that are TEXT on SQLite and BYTEA (UTF-8) on PostgreSQL. */
const TEXT_AS_BYTES = new Set(['response_text', 'reasoning_text']);

async function openPostgresRows(url: string, schema: string): Promise<StoreRows> {
  const client = new pg.Client({ connectionString: withoutSchema(url), types, options: `-c search_path=${schema}` });
  await client.connect();
  const query = async <T>(sql: string, args: unknown[]): Promise<T[]> => {
    const result = await client.query(numberedPlaceholders(sql), args);
    for (const row of result.rows as Record<string, unknown>[]) {
      for (const column of TEXT_AS_BYTES) {
        const value = row[column];
        if (Buffer.isBuffer(value)) row[column] = value.toString('utf8');
      }
    }
    return result.rows as T[];
  };
  return {
    kind: 'postgres',
    all: (sql, ...args) => query(sql, args),
    get: async <T>(sql: string, ...args: unknown[]) => (await query<T>(sql, args))[0],
    tables: async () =>
      (
        await query<{ name: string }>(
          "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE'",
          [schema],
        )
      )
        .map((t) => t.name)
        .sort(),
    close: () => client.end(),
  };
}

/** `?` → `$1`, `$2`, … outside quoted strings and identifiers. */
export function numberedPlaceholders(sql: string): string {
  let out = '';
  let n = 0;
  let quote: string | null = null;
  for (const char of sql) {
    if (quote !== null) {
      if (char === quote) quote = null;
      out += char;
    } else if (char === "'" || char === '"') {
      quote = char;
      out += char;
    } else if (char === '?') {
      out += `$${++n}`;
    } else {
      out += char;
    }
  }
  return out;
}

function withoutSchema(url: string): string {
  const parsed = new URL(url);
  parsed.searchParams.delete('schema');
  return parsed.toString();
}
