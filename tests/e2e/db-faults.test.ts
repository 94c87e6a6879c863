import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect, diamondPipeline, jsonEvents, repoRoot, runPlan, snapshotDir, spawnPlan, tempDir, waitForOutput } from '../support/cli.js';

// Database-side faults through the real CLI: another process holding SQLite's write lock (SQLITE_BUSY), a full
// disk under the database (a real 8 MB tmpfs), and corrupt database files.

let cwd: string;
const cleanups: (() => void)[] = [];
beforeEach(() => {
  cwd = tempDir('plan-db-faults-');
});
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  fs.rmSync(cwd, { recursive: true, force: true });
});

const dbFile = (): string => path.join(cwd, 'runs', 'plan.db');
const runDir = (): string => path.join(cwd, 'runs', 'demo');
const sha = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const diamond = (extra: string[] = [], env: Record<string, string> = {}) =>
  runPlan(['build', 'runs/demo', '--pipeline', diamondPipeline, '--param', 'seed=one', ...extra], { cwd, env });

function query<T>(file: string, sql: string): T[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

/**
 * Another process that takes the database's write lock (`BEGIN IMMEDIATE`) and holds it until told to let go
 * (a line on its stdin), as a second writer — another tool, a long `plan` command — would.
 */
async function holdWriteLock(file: string): Promise<{ release: () => Promise<void> }> {
  const script = `
    const Database = require(${JSON.stringify(path.join(repoRoot, 'node_modules', 'better-sqlite3'))});
    const db = new Database(${JSON.stringify(file)});
    db.exec('BEGIN IMMEDIATE');
    process.stdout.write('locked\\n');
    process.stdin.once('data', () => { db.exec('COMMIT'); db.close(); process.stdout.write('released\\n'); process.exit(0); });`;
  const holder: ChildProcess = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = collect(holder);
  cleanups.push(() => holder.kill('SIGKILL'));
  await waitForOutput(holder, (out) => out.includes('locked'));
  return {
    release: async () => {
      holder.stdin!.write('go\n');
      expect((await exited).stdout).toContain('released');
    },
  };
}

const TASK_MS = 3_000;

/**
 * Rebuilds the run (only Join runs, sleeping TASK_MS) and takes the write lock while Join sleeps. The proof needs
 * the lock taken before Join's persist: on a machine too slow for that this fails loudly rather than proving nothing.
 */
async function lockTakenWhileTaskRuns(env: Record<string, string>) {
  const child = spawnPlan(['build', 'runs/demo', '--json'], { cwd, env: { ...env, FIXTURE_SLOW_MS: String(TASK_MS) } });
  let stdout = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const done = collect(child);
  await waitForOutput(child, (out) => out.includes('"task-started"'));
  const taskStartedAt = Date.now();
  const lock = await holdWriteLock(dbFile());
  if (stdout.includes('"task-persisted"') || child.exitCode !== null) throw new Error('the write lock was taken only after Join had persisted');
  expect(Date.now() - taskStartedAt).toBeLessThan(TASK_MS);
  return { child, done, lock, taskStartedAt, stdout: () => stdout };
}

describe('SQLITE_BUSY: another process holds the write lock', () => {
  it('a build that needs to write waits for the lock and succeeds once it is released (at open and mid-build)', async () => {
    expect((await diamond()).exit).toBe(0);
    const reference = snapshotDir(runDir());

    // Held before the build starts: opening the database waits.
    fs.rmSync(path.join(runDir(), 'join.txt'));
    const lock = await holdWriteLock(dbFile());
    const child = spawnPlan(['build', 'runs/demo', '--json'], { cwd });
    const done = collect(child);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(child.exitCode).toBe(null);
    const releasedAt = Date.now();
    await lock.release();
    let result = await done;
    expect(result.exit, result.stderr).toBe(0);
    expect(jsonEvents(result.stdout).find((e) => e.type === 'build-started')!.at).toBeGreaterThanOrEqual(releasedAt);
    expect(snapshotDir(runDir())).toEqual(reference);

    // Taken while a task runs: once the task is done, its persist waits for the lock.
    fs.rmSync(path.join(runDir(), 'join.txt'));
    const midBuild = await lockTakenWhileTaskRuns({});
    await new Promise((r) => setTimeout(r, Math.max(0, midBuild.taskStartedAt + TASK_MS + 500 - Date.now())));
    expect(midBuild.child.exitCode).toBe(null);
    expect(midBuild.stdout()).not.toContain('"task-persisted"');
    expect(fs.existsSync(path.join(runDir(), 'join.txt'))).toBe(false);
    await midBuild.lock.release();
    result = await midBuild.done;
    expect(result.exit, result.stderr).toBe(0);
    expect(jsonEvents(result.stdout).find((e) => e.type === 'task-complete')).toMatchObject({ taskId: 'Join' });
    expect(snapshotDir(runDir())).toEqual(reference);
  });

  it('held past the busy timeout (PLAN_DB_BUSY_TIMEOUT_MS): exit 1 naming the busy database; the next build resumes', async () => {
    expect((await diamond()).exit).toBe(0);
    const reference = snapshotDir(runDir());
    const busy = { PLAN_DB_BUSY_TIMEOUT_MS: '300' };

    // Held at open.
    fs.rmSync(path.join(runDir(), 'join.txt'));
    const lock = await holdWriteLock(dbFile());
    const atOpen = await runPlan(['build', 'runs/demo'], { cwd, env: busy });
    expect(atOpen.exit).toBe(1);
    expect(atOpen.stderr.trim()).toBe(
      `plan: cannot use database ${dbFile()}: another process holds the database's write lock and did not release it in time (database is locked)`,
    );
    await lock.release();

    // Taken mid-build: the task's persist gives up; no file is written for it.
    const taken = await lockTakenWhileTaskRuns(busy);
    const midBuild = await taken.done;
    expect(midBuild.exit).toBe(1);
    expect(midBuild.stderr.trim().split('\n').pop()).toBe(
      `plan: cannot write to database ${dbFile()}: another process holds the database's write lock and did not release it in time (database is locked)`,
    );
    expect(fs.existsSync(path.join(runDir(), 'join.txt'))).toBe(false);
    await taken.lock.release();

    const resumed = await runPlan(['build', 'runs/demo', '--json'], { cwd });
    expect(resumed.exit, resumed.stderr).toBe(0);
    expect(snapshotDir(runDir())).toEqual(reference);
    expect(query(dbFile(), "SELECT task_id FROM task_attempts WHERE status = 'running'")).toEqual([]);
  });

  it('a malformed PLAN_DB_BUSY_TIMEOUT_MS is a one-line error, exit 2', async () => {
    const result = await diamond([], { PLAN_DB_BUSY_TIMEOUT_MS: 'soon' });
    expect(result.exit).toBe(2);
    expect(result.stderr.trim()).toBe("plan: PLAN_DB_BUSY_TIMEOUT_MS must be a whole number of milliseconds ≥ 0 (got 'soon')");
  });
});

describe('disk full while persisting (the database on a real 8 MB tmpfs)', () => {
  it('no file is written without its row, a clear error and exit 1; once space returns the build completes', async () => {
    const PROMPT = 'Open a small sourdough bakery in Copenhagen within a year';
    const args = ['build', 'runs/demo', '--prompt', PROMPT, '--speed', 'fast', '--param=startTime=2026-03-01T09:00:00.000Z'];
    const refCwd = tempDir('plan-db-faults-ref-');
    cleanups.push(() => fs.rmSync(refCwd, { recursive: true, force: true }));
    const ref = await runPlan(args, { cwd: refCwd });
    expect(ref.exit, ref.stderr).toBe(0);
    const reference = snapshotDir(path.join(refCwd, 'runs', 'demo'));

    const disk = path.join(cwd, 'disk');
    fs.mkdirSync(disk);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', disk], { stdio: 'pipe' });
    } catch (error) {
      throw new Error(`this test needs to mount a tmpfs (root with CAP_SYS_ADMIN): ${String((error as { stderr?: unknown }).stderr ?? error)}`);
    }
    cleanups.push(() => execFileSync('umount', [disk]));
    // Leave ~300 KB: the run starts, then its database cannot grow (a whole plan needs ~2.3 MB).
    const filler = path.join(disk, 'filler');
    fs.writeFileSync(filler, Buffer.alloc(8 * 1024 * 1024 - 300 * 1024));
    const db = path.join(disk, 'plan.db');

    const full = await runPlan([...args, '--db', db], { cwd });
    expect(full.exit).toBe(1);
    expect(full.stderr.trim().split('\n').pop()).toBe(`plan: cannot write to database ${db}: the disk is full (database or disk is full)`);
    const written = fs.readdirSync(runDir()).filter((f) => !f.startsWith('.plan-'));
    expect(written.length).toBeGreaterThan(0);
    expect(written.length).toBeLessThan(Object.keys(reference).length);
    const rows = new Map(
      query<{ path: string; sha256: string }>(
        db,
        'SELECT path, sha256 FROM plan_content c WHERE version = (SELECT MAX(version) FROM plan_content WHERE run_id = c.run_id AND path = c.path)',
      ).map((r) => [r.path, r.sha256]),
    );
    for (const file of written) expect(rows.get(file), file).toBe(sha(path.join(runDir(), file)));
    expect(fs.readdirSync(runDir()).filter((f) => f.startsWith('.plan-tmp-'))).toEqual([]);

    fs.rmSync(filler);
    const resumed = await runPlan(['build', 'runs/demo', '--db', db], { cwd });
    expect(resumed.exit, resumed.stderr).toBe(0);
    expect(snapshotDir(runDir())).toEqual(reference);
    expect(query(db, 'PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
    expect(query(db, "SELECT task_id FROM task_attempts WHERE status = 'running'")).toEqual([]);
  });
});

describe('a corrupt database', () => {
  async function expectRefusedUntouched(file: string, message: RegExp): Promise<void> {
    const before = sha(file);
    for (const args of [
      ['build', 'runs/demo', '--pipeline', diamondPipeline],
      ['status', 'runs/demo'],
    ]) {
      const result = await runPlan(args, { cwd });
      expect(result.exit, result.stderr).toBe(2);
      const lines = result.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(message);
      expect(sha(file)).toBe(before);
    }
    expect(fs.readdirSync(path.dirname(file)).filter((f) => f.startsWith('plan.db-'))).toEqual([]);
  }

  it('a file that is not a database at all: refused at open, exit 2, the file byte-identical after', async () => {
    fs.mkdirSync(path.join(cwd, 'runs'));
    fs.writeFileSync(dbFile(), Buffer.from(Array.from({ length: 20_000 }, (_, i) => (i * 131 + 7) % 256)));
    await expectRefusedUntouched(
      dbFile(),
      /^plan: cannot open database .*plan\.db: the file is not a plan database or is corrupt \(file is not a database\); it was left untouched$/,
    );
  });

  it('a plan database whose pages after the header were overwritten: refused at open, exit 2, byte-identical', async () => {
    expect((await diamond()).exit).toBe(0);
    const bytes = fs.readFileSync(dbFile());
    bytes.fill(0xa5, 4096);
    fs.writeFileSync(dbFile(), bytes);
    await expectRefusedUntouched(
      dbFile(),
      /^plan: cannot (open|use) database .*plan\.db: the file is not a plan database or is corrupt \(.+\); it was left untouched$/,
    );
  });

  it('damage in a table only a build reads: the build stops at it naming the database, exit 2, nothing written', async () => {
    expect((await diamond()).exit).toBe(0);
    fs.rmSync(path.join(runDir(), 'join.txt'));
    const [{ rootpage }] = query<{ rootpage: number }>(dbFile(), "SELECT rootpage FROM sqlite_master WHERE name = 'file_stats'") as [
      { rootpage: number },
    ];
    const bytes = fs.readFileSync(dbFile());
    bytes.fill(0xa5, (rootpage - 1) * 4096, rootpage * 4096);
    fs.writeFileSync(dbFile(), bytes);
    const result = await runPlan(['build', 'runs/demo'], { cwd });
    expect(result.exit).toBe(2);
    expect(result.stderr.trim()).toBe(
      `plan: database ${dbFile()} is corrupt (database disk image is malformed): restore it from a backup, or point --db elsewhere`,
    );
    expect(fs.existsSync(path.join(runDir(), 'join.txt'))).toBe(false);
    expect(fs.existsSync(path.join(runDir(), '.plan-lock'))).toBe(false);
  });
});
