import type pg from 'pg';
import type { PostgresStore } from '../store/postgres/postgres-store.js';
import type { WorkerTasks } from '../store/postgres/worker-tasks.js';
import type { Store } from '../store/store.js';

/**
 * Where the ready tasks wait: graphile-worker's job queue, in a schema of its own beside the store's (the
 * store's schema with `_jobs`), so two stores of one database never share a queue.
 */
export function jobsSchemaFor(storeSchema: string): string {
  return `${storeSchema}_jobs`;
}

/** The state of the runs handed to workers in `store`, or null when it is not the PostgreSQL store (no workers). */
export function workerTasksOf(store: Store): WorkerTasks | null {
  if (!('workerTasks' in store)) return null;
  const pgStore = store as PostgresStore;
  return pgStore.workerTasks(jobsSchemaFor(pgStore.schema));
}

/**
 * A pool for graphile-worker: the store's database, as node-postgres gives it by default (graphile-worker reads
 * its own ids as strings; the store's pool turns 64-bit integers into numbers).
 */
export async function createQueuePool(url: string, max: number): Promise<pg.Pool> {
  // Loaded when used: the commands that only name the queue's schema (status, cancel, build) do not pay for pg.
  const { default: pgModule } = await import('pg');
  const { parsePostgresUrl } = await import('../store/postgres/connection.js');
  const target = parsePostgresUrl(url);
  const pool = new pgModule.Pool({ connectionString: target.connectionString, max, connectionTimeoutMillis: 10_000, idleTimeoutMillis: 30_000 });
  // A connection the server cut errors on the pool and on its client; the next query opens another.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/** graphile-worker's schema made and migrated (under its own lock: many workers may start at once). */
export async function migrateQueue(pool: pg.Pool, schema: string): Promise<void> {
  const { runMigrations } = await import('graphile-worker');
  await runMigrations({ pgPool: pool, schema, logger: await quietLogger(() => undefined) });
}

/** graphile-worker's log, reduced to its warnings and errors, through `log`. */
export async function quietLogger(log: (line: string) => void) {
  const { Logger } = await import('graphile-worker');
  return new Logger(() => (level, message) => {
    if (level === 'error' || level === 'warning') log(`job queue ${level}: ${message}`);
  });
}
