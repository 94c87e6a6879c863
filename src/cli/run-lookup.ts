import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../engine/errors.js';
import { isPostgresUrl, openStore, storeExists } from '../store/open.js';
import { checkRunDirPath, dbLocationFor, findRun } from './run-resolution.js';
import type { RunRecord, Store } from '../store/store.js';

/**
 * How the inspection commands find what they look at. Unlike `plan build`, they never create a database:
 * looking at a folder that holds none is an error (or, for listings, simply nothing to show).
 */

export interface OpenedStore {
  store: Store;
  location: string;
}

export interface OpenedRun extends OpenedStore {
  run: RunRecord;
  /** Absolute path of the run dir as given on the command line. */
  runDir: string;
}

/** The run a run dir belongs to, in the database beside it (or `--db` / `PLAN_DB`). */
export async function openRunDir(runDirArg: string, db: string | undefined): Promise<OpenedRun> {
  const runDir = checkRunDirPath(runDirArg);
  const location = dbLocationFor(runDir, db);
  if (!(await databaseExists(location))) {
    if (!fs.existsSync(runDir)) throw new UsageError(`run dir ${runDirArg} does not exist`);
    throw new UsageError(`${runDirArg} is not a run dir (no database at ${location})`);
  }
  const store = await openStore(location, { runDir });
  try {
    const run = await findRun(store, runDir);
    if (run !== null) return { store, location: shownLocation(location, store), runDir, run };
    if (!fs.existsSync(runDir)) throw new UsageError(`run dir ${runDirArg} does not exist`);
    throw new UsageError(`${runDirArg} is not a run dir (no run for it in ${shownLocation(location, store)})`);
  } catch (error) {
    await store.close();
    throw error;
  }
}

/** The database of commands without a run dir (`--db`, `PLAN_DB`, else `./runs/plan.db`); null when there is none yet. */
export async function openDatabase(db: string | undefined): Promise<OpenedStore | null> {
  const location = dbLocationFor(undefined, db);
  if (!(await databaseExists(location))) return null;
  const store = await openStore(location);
  return { store, location: shownLocation(location, store) };
}

/** `plan show`'s argument: a run dir (present, or wiped but remembered by its database), else a run id. */
export async function openRunDirOrId(arg: string, db: string | undefined): Promise<OpenedRun> {
  if (fs.existsSync(arg)) return openRunDir(arg, db);
  const opened = await openDatabase(db);
  if (opened !== null) {
    const run = await opened.store.getRun(arg);
    if (run !== null) return { ...opened, run, runDir: run.runDir };
    await opened.store.close();
  }
  const beside = dbLocationFor(path.resolve(arg), db);
  if (await databaseExists(beside)) {
    const store = await openStore(beside);
    const run = await store.findRunByDir(path.resolve(arg));
    if (run !== null) return { store, location: beside, run, runDir: run.runDir };
    await store.close();
  }
  throw new UsageError(`no run dir ${arg} and no run with id '${arg}' in ${opened?.location ?? dbLocationFor(undefined, db)}`);
}

/** `--run <id>` of the commands that take a run dir or an id: the run, in `--db` / `PLAN_DB` / `./runs/plan.db`. */
export async function openRunById(runId: string, db: string | undefined): Promise<OpenedRun> {
  const opened = await openDatabase(db);
  if (opened === null) throw new UsageError(`no database at ${dbLocationFor(undefined, db)}`);
  try {
    const run = await requireRunById(opened.store, runId);
    return { ...opened, run, runDir: run.runDir };
  } catch (error) {
    await opened.store.close();
    throw error;
  }
}

/** A run named by id (`--run`): a usage error when the database does not hold it. */
export async function requireRunById(store: Store, runId: string): Promise<RunRecord> {
  const run = await store.getRun(runId);
  if (run === null) throw new UsageError(`no run with id '${runId}' in ${store.location}`);
  return run;
}

/** A location as messages show it: a PostgreSQL URL without its password (the store's own `location`). */
export function shownLocation(location: string, store: Store): string {
  return isPostgresUrl(location) ? store.location : location;
}

/** Whether there is a database at `location` (a file, or plan's tables in a PostgreSQL schema); makes none. */
export function databaseExists(location: string): Promise<boolean> {
  return storeExists(location);
}
