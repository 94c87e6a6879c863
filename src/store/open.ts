import fs from 'node:fs';
import path from 'node:path';
import { openSqliteStore, type Durability } from './sqlite/sqlite-store.js';
import { StoreError } from './store-error.js';
import type { Store } from './store.js';

export const DB_FILE_NAME = 'plan.db';

/**
 * Where the database lives when neither `--db` nor `PLAN_DB` says: `plan.db` beside the run dir (so
 * `plan build runs/demo` uses `runs/plan.db` wherever you stand), or `./runs/plan.db` for commands without one.
 */
export function defaultDbLocation(runDir?: string): string {
  return runDir === undefined ? path.resolve('runs', DB_FILE_NAME) : path.join(path.dirname(path.resolve(runDir)), DB_FILE_NAME);
}

export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

export interface OpenStoreOptions {
  durability?: Durability;
  /** The run dir the command works on: the database must not live inside it. */
  runDir?: string;
}

/** Whether a store is there to open: the SQLite file, or plan's tables in the PostgreSQL schema. Makes nothing. */
export async function storeExists(location: string): Promise<boolean> {
  if (!isPostgresUrl(location)) return fs.existsSync(location);
  const { postgresStoreExists } = await import('./postgres/postgres-store.js');
  return postgresStoreExists(location);
}

export async function openStore(location: string, options: OpenStoreOptions = {}): Promise<Store> {
  if (isPostgresUrl(location)) {
    // Loaded only when asked for: SQLite users never pay for the driver's start-up.
    const { openPostgresStore } = await import('./postgres/postgres-store.js');
    return openPostgresStore(location);
  }
  const file = path.resolve(location);
  if (options.runDir !== undefined) {
    const inside = path.relative(path.resolve(options.runDir), file);
    if (!inside.startsWith('..') && !path.isAbsolute(inside)) {
      throw new StoreError(`the database ${file} is inside the run dir ${options.runDir}; it must survive losing the run dir: put it elsewhere`);
    }
  }
  return openSqliteStore(file, { durability: options.durability });
}
