import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { diamondPipeline, runPlan, snapshotDir, tempDir } from '../support/cli.js';

// File-side faults through the real CLI: a run dir that cannot be written, an output replaced by a directory,
// symlinks leading out of the run dir. Nothing is ever written outside the run dir; a fault is named; the
// run builds once the fault is gone. (Two builds of one run dir and a killed build's lock: build.test.ts.)

let cwd: string;
let outside: string;
let reference: Record<string, string>;
const cleanups: (() => void)[] = [];

beforeEach(async () => {
  cwd = tempDir('plan-file-faults-');
  outside = tempDir('plan-outside-');
  const ref = await runPlan(['build', 'runs/demo', '--pipeline', diamondPipeline, '--param', 'seed=one'], { cwd: outside });
  expect(ref.exit, ref.stderr).toBe(0);
  reference = snapshotDir(path.join(outside, 'runs', 'demo'));
  fs.rmSync(path.join(outside, 'runs'), { recursive: true, force: true });
});
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  fs.rmSync(cwd, { recursive: true, force: true });
  fs.rmSync(outside, { recursive: true, force: true });
});

const runDir = (): string => path.join(cwd, 'runs', 'demo');
const build = (extra: string[] = []) => runPlan(['build', 'runs/demo', '--pipeline', diamondPipeline, '--param', 'seed=one', ...extra], { cwd });
const sha = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

function query<T>(sql: string): T[] {
  const db = new Database(path.join(cwd, 'runs', 'plan.db'), { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

/** Every file under a dir with its sha256 (to show nothing outside the run dir changed). */
function tree(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const full = path.join(entry.parentPath, entry.name);
    if (entry.isFile()) files[path.relative(dir, full)] = sha(full);
  }
  return files;
}

/**
 * We run as root, so permissions do not stop a write: a read-only bind mount of the dir onto itself does.
 * Where mounting is not permitted this throws (the test fails loudly rather than proving nothing).
 */
function mountReadOnly(dir: string): void {
  try {
    execFileSync('mount', ['--bind', dir, dir], { stdio: 'pipe' });
  } catch (error) {
    throw new Error(`this test needs a read-only bind mount (root with CAP_SYS_ADMIN): ${String((error as { stderr?: unknown }).stderr ?? error)}`);
  }
  cleanups.push(() => execFileSync('umount', [dir]));
  execFileSync('mount', ['-o', 'remount,bind,ro', dir], { stdio: 'pipe' });
  expect(() => fs.writeFileSync(path.join(dir, 'probe'), 'x')).toThrow(/EROFS/);
}

function unmount(dir: string): void {
  execFileSync('umount', [dir]);
  cleanups.pop();
}

describe('a run dir that is not writable (read-only mount)', () => {
  it('a new run: refused before anything is stored, exit 2, naming the dir', async () => {
    fs.mkdirSync(runDir(), { recursive: true });
    mountReadOnly(runDir());
    const result = await build();
    expect(result.exit).toBe(2);
    expect(result.stderr.trim()).toBe('plan: run dir runs/demo is not writable (EROFS: read-only file system)');
    expect(fs.existsSync(path.join(cwd, 'runs', 'plan.db'))).toBe(false);
    unmount(runDir());
    expect(fs.readdirSync(runDir())).toEqual([]);
    const later = await build();
    expect(later.exit, later.stderr).toBe(0);
    expect(snapshotDir(runDir())).toEqual(reference);
  });

  it('an existing run with a missing output: refused, the database untouched; builds once writable again', async () => {
    expect((await build()).exit).toBe(0);
    fs.rmSync(path.join(runDir(), 'join.txt'));
    const dbBefore = sha(path.join(cwd, 'runs', 'plan.db'));
    const attemptsBefore = query('SELECT id, status FROM task_attempts ORDER BY id');
    mountReadOnly(runDir());
    const result = await build();
    expect(result.exit).toBe(2);
    expect(result.stderr.trim()).toBe('plan: run dir runs/demo is not writable (EROFS: read-only file system)');
    expect(sha(path.join(cwd, 'runs', 'plan.db'))).toBe(dbBefore);
    expect(query('SELECT id, status FROM task_attempts ORDER BY id')).toEqual(attemptsBefore);
    // Reading commands still work on a read-only run dir.
    const status = await runPlan(['status', 'runs/demo', '--json'], { cwd });
    expect(status.exit, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout).counts).toMatchObject({ fresh: 4, missing: 1 });

    unmount(runDir());
    const later = await build();
    expect(later.exit, later.stderr).toBe(0);
    expect(snapshotDir(runDir())).toEqual(reference);
  });
});

describe('an output replaced by a directory', () => {
  it('the task fails naming the path and what to do, its dependents are blocked, exit 1; removing it heals', async () => {
    expect((await build()).exit).toBe(0);
    fs.rmSync(path.join(runDir(), 'bang.txt'));
    fs.mkdirSync(path.join(runDir(), 'bang.txt', 'inside'), { recursive: true });
    const result = await build(['--keep-going']);
    expect(result.exit).toBe(1);
    expect(result.stderr).toContain('FAIL  Bang: output bang.txt is a directory, not a file: remove it and build again');
    expect(result.stderr).toContain('blocked Join: upstream Bang did not complete');
    expect(fs.statSync(path.join(runDir(), 'bang.txt')).isDirectory()).toBe(true);
    expect(fs.readdirSync(path.join(runDir(), 'bang.txt'))).toEqual(['inside']);

    fs.rmSync(path.join(runDir(), 'bang.txt'), { recursive: true });
    const healed = await build();
    expect(healed.exit, healed.stderr).toBe(0);
    expect(snapshotDir(runDir())).toEqual(reference);
  });
});

describe('symlinks leading out of the run dir', () => {
  it('an output file that is a symlink to a file outside: refused, the outside file untouched, exit 1', async () => {
    expect((await build()).exit).toBe(0);
    const target = path.join(outside, 'precious.txt');
    fs.writeFileSync(target, 'not yours\n');
    fs.rmSync(path.join(runDir(), 'bang.txt'));
    fs.symlinkSync(target, path.join(runDir(), 'bang.txt'));
    const result = await build(['--force', 'Bang']);
    expect(result.exit).toBe(1);
    expect(result.stderr).toContain(`FAIL  Bang: output bang.txt is a symlink leading out of the run directory (to ${fs.realpathSync(target)})`);
    expect(fs.readFileSync(target, 'utf8')).toBe('not yours\n');
    expect(fs.lstatSync(path.join(runDir(), 'bang.txt')).isSymbolicLink()).toBe(true);
    // Its content was not taken in as an edit either.
    expect(query<{ n: number }>("SELECT COUNT(*) AS n FROM plan_content WHERE path = 'bang.txt'")).toEqual([{ n: 1 }]);
  });

  it("a declared output's folder that is a symlink out: the graph is refused before anything runs, exit 2", async () => {
    fs.mkdirSync(runDir(), { recursive: true });
    fs.symlinkSync(outside, path.join(runDir(), 'upper'));
    const before = tree(outside);
    const result = await build();
    expect(result.exit).toBe(2);
    // The database of the new run was made before the pipeline's graph could be checked; it says so.
    expect(result.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^created new database .*plan\.db$/),
      `plan: folder 'upper' of the run dir leads out of it (to ${fs.realpathSync(outside)})`,
    ]);
    expect(tree(outside)).toEqual(before);
  });

  it("an extra file's folder that is a symlink out: the task is refused before persisting, nothing written outside", async () => {
    fs.mkdirSync(runDir(), { recursive: true });
    fs.symlinkSync(outside, path.join(runDir(), 'extra'));
    const before = tree(outside);
    const result = await build(['--keep-going']);
    expect(result.exit).toBe(1);
    expect(result.stderr).toContain(
      `FAIL  Join: cannot write extra/join-count.txt: folder 'extra' leads out of the run directory (to ${fs.realpathSync(outside)})`,
    );
    expect(tree(outside)).toEqual(before);
    // No row for a file that could not be written, and none of Join's files either (one attempt, all or nothing).
    expect(query("SELECT path FROM plan_content WHERE task_id = 'Join'")).toEqual([]);
    expect(fs.existsSync(path.join(runDir(), 'join.txt'))).toBe(false);

    fs.rmSync(path.join(runDir(), 'extra'));
    const healed = await build();
    expect(healed.exit, healed.stderr).toBe(0);
    expect(snapshotDir(runDir())).toEqual(reference);
  });
});
