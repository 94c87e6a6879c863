import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { defineCommand } from '../args.js';
import { acquireRunDirLock } from '../../engine/lock.js';
import { readRunMarker } from '../../engine/run-dir.js';
import { LockedError, UsageError } from '../../engine/errors.js';
import { ExitCode } from '../exit-codes.js';
import { plural, styleFor } from '../output.js';
import { formatTime, isoTime, printJson } from '../format.js';
import { parseDuration } from '../duration.js';
import { renderTable } from '../table.js';
import { openDatabase, openRunDir } from '../run-lookup.js';
import { loadRunGraph } from '../run-graph.js';
import { staleFiles } from '../stale-files.js';
import { terminalText } from '../terminal-text.js';
import { dbLocationFor, SHARED_DB_OPTION } from '../run-resolution.js';
import { RUN_STATUSES } from '../run-facts.js';
import type { RunRecord, RunStatus, Store } from '../../store/store.js';

interface CleanArgs {
  staleFiles?: string;
  olderThan?: string;
  status: RunStatus[];
  dryRun: boolean;
  yes: boolean;
  dirs: boolean;
  db?: string;
  json: boolean;
}

/** What happened to one run: deleted, or left alone and why. */
interface CleanedRun {
  id: string;
  runDir: string;
  status: RunStatus;
  updatedAt: string | null;
  deleted: boolean;
  dirDeleted: boolean;
  /** Why the run or its dir was left alone (a build holds it; the dir belongs to another run). */
  note: string | null;
}

export const cleanCommand = defineCommand({
  usage: 'clean',
  describe: 'delete old or failed runs from the database (and, with --dirs, their run dirs)',
  options: {
    'stale-files': {
      type: 'string',
      describe: 'instead: remove from this run dir the files of tasks no longer in its pipeline (their versions stay stored)',
    },
    'older-than': { type: 'string', describe: 'runs not touched for this long: 90d, 12h, 2w' },
    status: { type: 'string', array: true, choices: RUN_STATUSES, default: [], describe: 'runs with this status (repeatable)' },
    'dry-run': { type: 'boolean', default: false, describe: 'list what would be deleted; delete nothing' },
    yes: { alias: 'y', type: 'boolean', default: false, describe: 'do not ask for confirmation' },
    dirs: { type: 'boolean', default: false, describe: 'also delete the run dirs (only those whose marker names the run)' },
    db: SHARED_DB_OPTION,
    json: { type: 'boolean', default: false },
  },
  run: runClean,
});

async function runClean(args: CleanArgs): Promise<number> {
  if (args.staleFiles !== undefined) return cleanStaleFiles(args.staleFiles, args);
  if (args.olderThan === undefined && args.status.length === 0) {
    throw new UsageError('say which runs to delete: --older-than 90d and/or --status failed');
  }
  const updatedBefore = args.olderThan === undefined ? undefined : Date.now() - parseDuration(args.olderThan, '--older-than');
  const opened = await openDatabase(args.db);
  if (opened === null) throw new UsageError(`no database at ${dbLocationFor(undefined, args.db)} (give --db)`);
  const { store } = opened;
  try {
    const runs = (await store.queryRuns({ statuses: args.status, updatedBefore })).reverse();
    const style = styleFor(process.stdout);
    if (runs.length === 0) {
      if (args.json) printJson({ db: opened.location, dryRun: args.dryRun, deleted: 0, dirsDeleted: 0, runs: [] });
      else process.stdout.write('no runs match: nothing to delete\n');
      return ExitCode.ok;
    }
    if (args.dryRun) {
      const planned = runs.map((run) => outcome(run, false, false, args.dirs ? dirNote(run) : null));
      if (args.json) printJson({ db: opened.location, dryRun: true, deleted: 0, dirsDeleted: 0, runs: planned });
      else {
        process.stdout.write(`would delete ${plural(runs.length, 'run')}${args.dirs ? ' and their run dirs' : ''} (dry run, nothing deleted):\n`);
        process.stdout.write(table(runs, style));
      }
      return ExitCode.ok;
    }
    if (!args.yes && !(await confirm(`${plural(runs.length, 'run')}${args.dirs ? ' and their run dirs' : ''}`, 'delete', table(runs, style)))) {
      process.stdout.write('nothing deleted\n');
      return ExitCode.ok;
    }
    const results: CleanedRun[] = [];
    for (const run of runs) results.push(await deleteOne(store, run, args.dirs));
    const deleted = results.filter((r) => r.deleted).length;
    const dirsDeleted = results.filter((r) => r.dirDeleted).length;
    if (args.json) printJson({ db: opened.location, dryRun: false, deleted, dirsDeleted, runs: results });
    else {
      for (const r of results.filter((r) => r.note !== null)) process.stdout.write(style.yellow(`${r.id}: ${r.note}\n`));
      process.stdout.write(`deleted ${plural(deleted, 'run')}${args.dirs ? `, ${plural(dirsDeleted, 'run dir')}` : ''}\n`);
    }
    return ExitCode.ok;
  } finally {
    await store.close();
  }
}

/**
 * Deletes one run. A run dir is deleted only when its marker names this run, and never while a build holds
 * it: the lock is taken first, so a build cannot start in between.
 */
async function deleteOne(store: Store, run: RunRecord, withDir: boolean): Promise<CleanedRun> {
  const exists = fs.existsSync(run.runDir);
  let lock: ReturnType<typeof acquireRunDirLock> | null = null;
  if (exists && readRunMarker(run.runDir)?.runId === run.id) {
    try {
      lock = acquireRunDirLock(run.runDir);
    } catch (error) {
      if (error instanceof LockedError) return outcome(run, false, false, 'a build holds its run dir: left alone');
      throw error;
    }
  }
  try {
    await store.deleteRun(run.id);
    if (!withDir || !exists) return outcome(run, true, false, null);
    const note = dirNote(run);
    if (note !== null) return outcome(run, true, false, note);
    fs.rmSync(run.runDir, { recursive: true, force: true });
    lock = null;
    return outcome(run, true, true, null);
  } finally {
    lock?.release();
  }
}

/** Why a run dir would not be deleted with its run, or null when it would. */
function dirNote(run: RunRecord): string | null {
  if (!fs.existsSync(run.runDir)) return null;
  const marker = readRunMarker(run.runDir);
  if (marker === null) return `run dir ${run.runDir} has no run marker: left in place`;
  if (marker.runId !== run.id) return `run dir ${run.runDir} now belongs to run ${marker.runId}: left in place`;
  return null;
}

function outcome(run: RunRecord, deleted: boolean, dirDeleted: boolean, note: string | null): CleanedRun {
  return { id: run.id, runDir: run.runDir, status: run.status, updatedAt: isoTime(run.updatedAt), deleted, dirDeleted, note };
}

function table(runs: readonly RunRecord[], style: ReturnType<typeof styleFor>): string {
  return renderTable(
    [{ header: 'RUN' }, { header: 'STATUS' }, { header: 'UPDATED' }, { header: 'DIR' }],
    runs.map((r) => [r.id, r.status, formatTime(r.updatedAt), r.runDir]),
    style,
  );
}

/** Asks on the terminal; with no terminal to ask on, refuses (a script must say --yes). */
async function confirm(what: string, verb: string, listing: string): Promise<boolean> {
  if (process.stdin.isTTY !== true) {
    throw new UsageError(`refusing to ${verb} ${what} without confirmation: no terminal to ask on; add --yes (or --dry-run to look first)`);
  }
  process.stdout.write(listing);
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await new Promise<string>((resolve) => rl.question(`${verb} ${what}? [y/N] `, resolve));
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

/**
 * `--stale-files <run-dir>`: removes the files of tasks that left the pipeline (see stale-files.ts), under the
 * run dir's lock so no build runs meanwhile. Their versions stay in the database (`plan cat --version`).
 */
async function cleanStaleFiles(runDirArg: string, args: CleanArgs): Promise<number> {
  const { store, run, runDir } = await openRunDir(runDirArg, args.db);
  try {
    const { graph } = await loadRunGraph(run);
    const files = await staleFiles(store, run.id, runDir, graph);
    const listing = files.map((f) => `  ${terminalText(f)}\n`).join('');
    if (files.length === 0 || args.dryRun) {
      if (args.json) printJson({ runId: run.id, dryRun: args.dryRun, staleFiles: files, removed: [] });
      else if (files.length === 0) process.stdout.write('no stale files: every file belongs to a task of the pipeline\n');
      else process.stdout.write(`would remove ${plural(files.length, 'stale file')} (dry run, nothing removed):\n${listing}`);
      return ExitCode.ok;
    }
    if (!args.yes && !(await confirm(plural(files.length, 'stale file'), 'remove', listing))) {
      process.stdout.write('nothing removed\n');
      return ExitCode.ok;
    }
    const lock = acquireRunDirLock(runDir);
    try {
      for (const file of files) fs.rmSync(path.join(runDir, file), { force: true });
    } finally {
      lock.release();
    }
    if (args.json) printJson({ runId: run.id, dryRun: false, staleFiles: files, removed: files });
    else process.stdout.write(`removed ${plural(files.length, 'stale file')} (their versions stay in the database)\n`);
    return ExitCode.ok;
  } finally {
    await store.close();
  }
}
