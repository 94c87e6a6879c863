import fs from 'node:fs';
import path from 'node:path';
import { defineCommand, defineGroup } from '../args.js';
import { UsageError } from '../../engine/errors.js';
import { isPostgresUrl, openStore } from '../../store/open.js';
import type { RunExport, RunRecord, Store } from '../../store/store.js';
import { ExitCode } from '../exit-codes.js';
import { printJson } from '../format.js';
import { plural } from '../output.js';
import { databaseExists, openDatabase, requireRunById } from '../run-lookup.js';
import { dbLocationFor, SHARED_DB_OPTION } from '../run-resolution.js';

interface VacuumArgs {
  db?: string;
  json: boolean;
}

interface CopyArgs {
  from: string;
  to: string;
  run: string[];
  json: boolean;
}

/** One run of a copy: copied (with what it held) or skipped because the target already had it. */
interface CopiedRun {
  id: string;
  action: 'copied' | 'skipped';
  tasks: number | null;
  calls: number | null;
  bytes: number | null;
}

const vacuumCommand = defineCommand({
  usage: 'vacuum',
  describe: 'give the space of deleted runs back to the file system (run it after plan clean)',
  options: { db: SHARED_DB_OPTION, json: { type: 'boolean', default: false } },
  run: runVacuum,
});

const copyCommand = defineCommand({
  usage: 'copy <from> <to>',
  describe:
    'copy runs, with every row they hold, from one database to another (a SQLite file or a postgres:// URL); runs the target already has are skipped',
  positionals: {
    from: { describe: 'the database to copy from (must exist)' },
    to: { describe: 'the database to copy into (a SQLite file is created if its folder exists)' },
  },
  options: {
    // nargs 1: `--run ID a.db b.db` must not take the databases as run ids too.
    run: { type: 'string', array: true, nargs: 1, default: [], describe: 'copy only this run id (repeatable)' },
    json: { type: 'boolean', default: false },
  },
  run: runCopy,
});

export const dbCommand = defineGroup({
  usage: 'db',
  describe: 'database housekeeping: plan db vacuum, plan db copy',
  commands: [vacuumCommand, copyCommand],
  missing: 'name a database command: vacuum, copy',
});

async function runCopy(args: CopyArgs): Promise<number> {
  if (!(await databaseExists(args.from))) throw new UsageError(`no database at ${path.resolve(args.from)}`);
  const creating = !isPostgresUrl(args.to) && !fs.existsSync(args.to);
  if (creating && !fs.existsSync(path.dirname(path.resolve(args.to)))) {
    throw new UsageError(`the folder of database ${path.resolve(args.to)} does not exist; create it first`);
  }
  if (!creating && sameFile(args.from, args.to)) throw intoItself(path.resolve(args.from), path.resolve(args.to));
  const source = await openStore(args.from);
  try {
    // Every run asked for must be there before anything is written (or a target made).
    const runs = await runsToCopy(source, args.run);
    const target = await openStore(args.to);
    try {
      if (creating) process.stderr.write(`created new database ${target.location}\n`);
      if (target.location === source.location) throw intoItself(source.location, target.location);
      const copied = await copyRuns(source, target, runs);
      const counts = { copied: copied.filter((r) => r.action === 'copied').length, skipped: copied.filter((r) => r.action === 'skipped').length };
      if (args.json) printJson({ from: source.location, to: target.location, ...counts, runs: copied });
      else
        process.stdout.write(
          `copied ${plural(counts.copied, 'run')}, skipped ${counts.skipped} (already there) from ${source.location} to ${target.location}\n`,
        );
      return ExitCode.ok;
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

/** The runs named by `--run` (each must exist), else every run; oldest first. */
async function runsToCopy(source: Store, ids: readonly string[]): Promise<RunRecord[]> {
  if (ids.length === 0) return source.listRuns();
  const runs: RunRecord[] = [];
  for (const id of new Set(ids)) runs.push(await requireRunById(source, id));
  return runs.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * One run at a time, each in one transaction of the target: a copy cut short leaves whole runs behind, and
 * copying again skips them. Progress goes to stderr, one line per run.
 */
async function copyRuns(source: Store, target: Store, runs: readonly RunRecord[]): Promise<CopiedRun[]> {
  const done: CopiedRun[] = [];
  for (const [index, run] of runs.entries()) {
    const position = `${index + 1}/${runs.length}`;
    const skip = (): void => {
      process.stderr.write(`skipped ${position} ${run.id}: already in ${target.location}\n`);
      done.push({ id: run.id, action: 'skipped', tasks: null, calls: null, bytes: null });
    };
    if ((await target.getRun(run.id)) !== null) {
      skip();
      continue;
    }
    const data = await source.exportRun(run.id);
    // Deleted since it was listed: nothing to copy.
    if (data === null) continue;
    if (!(await target.importRun(data))) {
      skip();
      continue;
    }
    const tasks = new Set(data.attempts.map((a) => a.taskId)).size;
    const bytes = exportBytes(data);
    process.stderr.write(
      `copied ${position} ${run.id} (${plural(tasks, 'task')}, ${plural(data.interactions.length, 'call')}, ${megabytes(bytes)})\n`,
    );
    done.push({ id: run.id, action: 'copied', tasks, calls: data.interactions.length, bytes });
  }
  return done;
}

/** About what a run takes: its file versions as stored and the text of its model calls. */
function exportBytes(data: RunExport): number {
  let bytes = 0;
  for (const content of data.contents) bytes += content.data.length;
  for (const call of data.interactions) {
    bytes += Buffer.byteLength(JSON.stringify(call.messages ?? null));
    bytes += Buffer.byteLength(call.responseText ?? '') + Buffer.byteLength(call.reasoningText ?? '');
  }
  return bytes;
}

function intoItself(from: string, to: string): UsageError {
  return new UsageError(`cannot copy ${from} into itself${from === to ? '' : ` (${to} is the same database)`}: give another target`);
}

/** Two SQLite paths naming one file (also through a link); false for URLs and missing files. */
function sameFile(a: string, b: string): boolean {
  if (isPostgresUrl(a) || isPostgresUrl(b)) return false;
  try {
    const one = fs.statSync(a);
    const other = fs.statSync(b);
    return one.dev === other.dev && one.ino === other.ino;
  } catch {
    return false;
  }
}

async function runVacuum(args: VacuumArgs): Promise<number> {
  const opened = await openDatabase(args.db);
  if (opened === null) throw new UsageError(`no database at ${dbLocationFor(undefined, args.db)} (give --db)`);
  const { store, location } = opened;
  try {
    const before = onDiskBytes(location);
    await store.vacuum();
    const after = onDiskBytes(location);
    if (args.json) printJson({ db: location, bytesBefore: before, bytesAfter: after });
    else if (before === null || after === null) process.stdout.write(`vacuumed and analyzed ${location}\n`);
    else process.stdout.write(`vacuumed ${location}: ${megabytes(before)} → ${megabytes(after)}\n`);
    return ExitCode.ok;
  } finally {
    await store.close();
  }
}

/** The database file and its write-ahead log: what the database takes on disk (null for a PostgreSQL server's). */
function onDiskBytes(location: string): number | null {
  if (isPostgresUrl(location)) return null;
  return [location, `${location}-wal`].reduce((sum, file) => sum + (fs.existsSync(file) ? fs.statSync(file).size : 0), 0);
}

function megabytes(bytes: number): string {
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
