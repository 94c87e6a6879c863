import fs from 'node:fs';
import path from 'node:path';
import { defineCommand } from '../args.js';
import { acquireRunDirLock } from '../../engine/lock.js';
import { writeFileAtomic } from '../../engine/materialize.js';
import { readRunMarker, writeRunMarker } from '../../engine/run-dir.js';
import { entryOf, nowNs, sha256 } from '../../engine/hasher.js';
import { UsageError } from '../../engine/errors.js';
import { ExitCode } from '../exit-codes.js';
import { plural, styleFor } from '../output.js';
import { printJson } from '../format.js';
import { checkRunDirPath, DB_OPTION, dbLocationFor, findRun } from '../run-resolution.js';
import { databaseExists, requireRunById } from '../run-lookup.js';
import { openStore } from '../../store/open.js';
import type { FileStat, RunRecord, Store } from '../../store/store.js';

interface RestoreArgs {
  runDir: string;
  run?: string;
  into?: string;
  overwrite: boolean;
  db?: string;
  json: boolean;
}

type FileAction = 'written' | 'unchanged' | 'kept';

interface RestoredFile {
  path: string;
  version: number;
  sha256: string;
  size: number;
  action: FileAction;
}

export const restoreCommand = defineCommand({
  usage: 'restore <run-dir>',
  describe: 'write every file of a run back from the database, byte-identical (into an empty, missing or damaged dir)',
  positionals: { 'run-dir': { describe: 'the run directory' } },
  options: {
    run: { type: 'string', describe: 'the run id, when the dir has no marker and the database does not know the path' },
    into: { type: 'string', describe: 'write a copy into this dir instead (no run marker: it is not the run dir)' },
    overwrite: { type: 'boolean', default: false, describe: 'also replace files that differ from the database (edits not yet recorded)' },
    db: DB_OPTION,
    json: { type: 'boolean', default: false },
  },
  run: runRestore,
});

async function runRestore(args: RestoreArgs): Promise<number> {
  const runDir = checkRunDirPath(args.runDir);
  const target = args.into === undefined ? runDir : checkRunDirPath(args.into);
  const ownDir = target === runDir;
  const location = dbLocationFor(runDir, args.db);
  if (!(await databaseExists(location))) throw new UsageError(`no database at ${location} (give --db)`);
  const store = await openStore(location, { runDir: target });
  try {
    const run = await resolveRun(store, runDir, args);
    const foreign = ownDir ? null : readRunMarker(target);
    if (foreign !== null) throw new UsageError(`${args.into} is the run dir of run ${foreign.runId}: restore a copy into an empty or new dir`);
    // Restoring into the run's own dir must not race a build of it.
    const lock = ownDir ? acquireRunDirLock(ensureDir(target)) : null;
    try {
      const files = await restoreFiles(store, run, target, args.overwrite, ownDir);
      if (ownDir) {
        if (readRunMarker(target)?.runId !== run.id) writeRunMarker(target, { runId: run.id });
        if (run.runDir !== target) await store.updateRun(run.id, { runDir: target });
      }
      report(run, target, ownDir, files, args.json);
      return ExitCode.ok;
    } finally {
      lock?.release();
    }
  } finally {
    await store.close();
  }
}

/** `--run`, else the dir's marker, else the path the database remembers; a marker naming another run is an error. */
async function resolveRun(store: Store, runDir: string, args: RestoreArgs): Promise<RunRecord> {
  if (args.run !== undefined) {
    const run = await requireRunById(store, args.run);
    const marker = readRunMarker(runDir);
    if (marker !== null && marker.runId !== run.id) {
      throw new UsageError(`run dir ${args.runDir} belongs to run ${marker.runId}, not ${run.id}: restore into another dir (--into) or an empty one`);
    }
    return run;
  }
  const run = await findRun(store, runDir);
  if (run === null) {
    if (!fs.existsSync(runDir))
      throw new UsageError(`run dir ${args.runDir} does not exist and ${store.location} has no run for it: give --run <id> (see plan list)`);
    throw new UsageError(`${args.runDir} is not a run dir (no marker, no run in ${store.location}): give --run <id> (see plan list)`);
  }
  return run;
}

function ensureDir(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * The run's current files: every output of each task's newest built attempt, at the newest stored version of
 * its path (which is a person's edit where there was one). Files a later rebuild stopped writing stay in the
 * database as history but are not brought back.
 */
async function restoreFiles(store: Store, run: RunRecord, target: string, overwrite: boolean, ownDir: boolean): Promise<RestoredFile[]> {
  const snapshot = await store.loadRunSnapshot(run.id);
  const live = new Set<string>();
  for (const attempt of snapshot.built.values()) for (const filePath of Object.keys(attempt.outputs ?? {})) live.add(filePath);
  const newest = new Map<string, { version: number; size: number }>();
  for (const version of await store.listContentVersions(run.id)) {
    if (live.has(version.path)) newest.set(version.path, { version: version.version, size: version.size });
  }

  ensureDir(target);
  const files: RestoredFile[] = [];
  const stats: FileStat[] = [];
  for (const filePath of [...newest.keys()].sort()) {
    const sha = snapshot.latestContent.get(filePath)!;
    const bytes = await store.readContentBySha(run.id, filePath, sha);
    if (bytes === null) throw new Error(`database lacks the content of ${filePath} (${sha})`);
    const absolute = path.join(target, filePath);
    // Stat before the read: a change after it shows as a newer ctime to the next build.
    const statAtNs = nowNs();
    const before = statIfFile(absolute);
    const existing = before === null ? null : readIfFile(absolute);
    let action: FileAction = 'written';
    let stat: FileStat | null = null;
    if (existing !== null && sha256(existing) === sha) {
      action = 'unchanged';
      stat = entryOf(filePath, before!, sha, statAtNs);
    } else if (existing !== null && !overwrite) {
      action = 'kept';
    } else {
      stat = entryOf(filePath, writeFileAtomic(target, filePath, bytes), sha, nowNs());
    }
    if (ownDir && stat !== null) stats.push(stat);
    files.push({ path: filePath, version: newest.get(filePath)!.version, sha256: sha, size: bytes.length, action });
  }
  // The run dir's hash cache learns the files just written, so the next build does not re-read them.
  if (ownDir) await store.saveFileStats(run.id, stats);
  return files;
}

function readIfFile(absolute: string): Buffer | null {
  try {
    return fs.statSync(absolute).isFile() ? fs.readFileSync(absolute) : null;
  } catch {
    return null;
  }
}

function statIfFile(absolute: string): fs.BigIntStats | null {
  try {
    const stat = fs.statSync(absolute, { bigint: true });
    return stat.isFile() ? stat : null;
  } catch {
    return null;
  }
}

function report(run: RunRecord, target: string, ownDir: boolean, files: RestoredFile[], json: boolean): void {
  const count = (action: FileAction): number => files.filter((f) => f.action === action).length;
  if (json) {
    printJson({
      runId: run.id,
      runDir: ownDir ? target : run.runDir,
      into: target,
      marker: ownDir,
      written: count('written'),
      unchanged: count('unchanged'),
      kept: count('kept'),
      files,
    });
    return;
  }
  const style = styleFor(process.stdout);
  for (const file of files.filter((f) => f.action === 'kept')) {
    process.stdout.write(style.yellow(`kept ${file.path}: it differs from the database (an edit not yet recorded; --overwrite replaces it)\n`));
  }
  const parts = [`${count('written')} written`, `${count('unchanged')} already identical`];
  if (count('kept') > 0) parts.push(`${count('kept')} kept`);
  process.stdout.write(`restored ${plural(files.length, 'file')} of run ${run.id} into ${target} (${parts.join(', ')})\n`);
}
