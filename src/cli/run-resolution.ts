import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../engine/errors.js';
import { readRunMarker, writeRunMarker } from '../engine/run-dir.js';
import { defaultDbLocation, isPostgresUrl, openStore, storeExists } from '../store/open.js';
import type { Durability } from '../store/sqlite/sqlite-store.js';
import type { RunRecord, Store } from '../store/store.js';
import type { OptionSpec } from './args.js';

/** The `--db` option of the commands that take a run dir. */
export const DB_OPTION = {
  type: 'string',
  describe: 'database: a SQLite file or a postgres:// URL (default: plan.db beside the run dir; env PLAN_DB)',
} as const satisfies OptionSpec;

/** The `--db` option of the commands that work on the whole database (`list`, `costs`, `clean`, `db`). */
export const SHARED_DB_OPTION = {
  type: 'string',
  describe: 'database: a SQLite file or a postgres:// URL (default: ./runs/plan.db; env PLAN_DB)',
} as const satisfies OptionSpec;

/** `--db`, else `PLAN_DB`, else `plan.db` beside the run dir. */
export function dbLocationFor(runDir: string | undefined, db: string | undefined): string {
  return db ?? process.env.PLAN_DB ?? defaultDbLocation(runDir);
}

export function checkRunDirPath(runDir: string): string {
  const absolute = path.resolve(runDir);
  if (fs.existsSync(absolute) && !fs.statSync(absolute).isDirectory()) {
    throw new UsageError(`${runDir} is a file, not a run directory`);
  }
  return absolute;
}

/**
 * A build writes into its run dir (marker, lock, outputs): say so before anything is stored when it cannot —
 * a read-only mount or missing permission — rather than failing half-way with a bare EROFS. For a dir that does
 * not exist yet, the nearest folder that does must be writable.
 */
export function checkRunDirWritable(shown: string, runDir: string): void {
  let probe = runDir;
  while (!fs.existsSync(probe) && path.dirname(probe) !== probe) probe = path.dirname(probe);
  try {
    fs.accessSync(probe, fs.constants.W_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    const where = probe === runDir ? `run dir ${shown}` : `${probe} (where run dir ${shown} would be made)`;
    throw new UsageError(`${where} is not writable (${code === 'EROFS' ? 'EROFS: read-only file system' : code})`);
  }
}

export async function openStoreFor(
  runDir: string | undefined,
  db: string | undefined,
  durability?: Durability,
  /** `create: false`: a missing database is an error naming `missing` (the run dir as given) instead. */
  options: { create?: boolean; missing?: string } = {},
): Promise<{ store: Store; location: string }> {
  const location = dbLocationFor(runDir, db);
  const creating = !isPostgresUrl(location) && !fs.existsSync(location);
  // Looking makes nothing: a PostgreSQL schema without plan's tables is "no database" too.
  const missing = options.create === false && (creating || (isPostgresUrl(location) && !(await storeExists(location))));
  if (missing) {
    if (runDir !== undefined && !fs.existsSync(runDir)) throw new UsageError(`run dir ${options.missing ?? runDir} does not exist`);
    throw new UsageError(`${options.missing ?? runDir ?? '.'} is not a run dir (no database at ${path.resolve(location)})`);
  }
  if (creating) checkNewDatabase(location, db === undefined && process.env.PLAN_DB === undefined);
  const store = await openStore(location, { runDir, durability });
  if (creating) process.stderr.write(`created new database ${path.resolve(location)}\n`);
  // A PostgreSQL URL is shown as the store shows it: without its password.
  return { store, location: isPostgresUrl(location) ? store.location : location };
}

/**
 * A database is created only where it was meant to be: a mistyped `--db /no/such/dir/plan.db` or `PLAN_DB` must
 * not make folders and an empty database. Only the default place (`plan.db` beside a new run dir, in a folder
 * such as `runs/` that the build makes) may need its folder made.
 */
function checkNewDatabase(location: string, isDefault: boolean): void {
  const file = path.resolve(location);
  const folder = path.dirname(file);
  if (!isDefault && !fs.existsSync(folder)) {
    throw new UsageError(`the folder of database ${file} does not exist; create it first, or point --db (or PLAN_DB) elsewhere`);
  }
}

/**
 * The run a run dir belongs to: named by its marker file, or remembered by the database for that path (a
 * wiped dir). Null when the dir is not a run yet. A marker naming a run this database lacks is an error:
 * most likely the wrong `--db`.
 */
export async function findRun(store: Store, runDir: string): Promise<RunRecord | null> {
  const marker = readRunMarker(runDir);
  if (marker !== null) {
    const run = await store.getRun(marker.runId);
    if (run === null) {
      throw new UsageError(`run dir ${runDir} belongs to run ${marker.runId}, which database ${store.location} does not hold (wrong --db?)`);
    }
    if (run.runDir !== runDir) await store.updateRun(run.id, { runDir });
    return { ...run, runDir };
  }
  return store.findRunByDir(runDir);
}

export async function requireRun(store: Store, runDir: string): Promise<RunRecord> {
  if (!fs.existsSync(runDir) && (await store.findRunByDir(runDir)) === null) throw new UsageError(`run dir ${runDir} does not exist`);
  const run = await findRun(store, runDir);
  if (run === null) throw new UsageError(`${runDir} is not a run dir (no run in ${store.location}); start one with plan build ${runDir} --prompt …`);
  return run;
}

export function markRunDir(runDir: string, run: RunRecord): void {
  if (readRunMarker(runDir)?.runId !== run.id) writeRunMarker(runDir, { runId: run.id });
}
