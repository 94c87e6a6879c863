import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect, diamondPipeline, jsonEvents, runPlan, snapshotDir, spawnPlan, startedTasks, tempDir, waitForOutput } from '../support/cli.js';
import { storeQuery, withStoreRows } from '../support/store-rows.js';

const ALL = ['Seed(seed=one)', 'Upper', 'Bang', 'Shout', 'Join'];

let cwd: string;
beforeEach(() => {
  cwd = tempDir();
});
afterEach(() => {
  fs.rmSync(cwd, { recursive: true, force: true });
});

const runDir = (): string => path.join(cwd, 'runs', 'demo');
const build = (extra: string[] = [], env: Record<string, string> = {}) =>
  runPlan(['build', 'runs/demo', '--pipeline', diamondPipeline, '--param', 'seed=one', '--json', ...extra], { cwd, env });
const rebuild = (extra: string[] = [], env: Record<string, string> = {}) => runPlan(['build', 'runs/demo', '--json', ...extra], { cwd, env });

describe('plan build', () => {
  it('builds every task, stores every file in the database next to the run dir, and exits 0', async () => {
    const result = await build();
    expect(result.exit).toBe(0);
    expect(new Set(startedTasks(result.stdout))).toEqual(new Set(ALL));
    const files = snapshotDir(runDir());
    expect(Object.keys(files).sort()).toEqual([
      'bang.txt',
      'extra/join-count.txt',
      'join.txt',
      'seed.txt',
      'shout.json',
      'shout.txt',
      'upper/upper.txt',
    ]);
    expect(files['join.txt']).toBe('SEED ONE!!!\n---\nseed one\n!');

    const rows = await storeQuery<{ path: string; sha256: string; source: string }>(cwd, 'SELECT path, sha256, source FROM plan_content');
    expect(rows.map((r) => r.path).sort()).toEqual(Object.keys(files).sort());
    expect(rows.every((r) => r.source === 'task')).toBe(true);
    expect(fs.existsSync(path.join(runDir(), '.plan-lock'))).toBe(false);
  });

  it('does nothing on a second build', async () => {
    await build();
    const before = snapshotDir(runDir());
    const again = await rebuild();
    expect(again.exit).toBe(0);
    expect(startedTasks(again.stdout)).toEqual([]);
    const decided = jsonEvents(again.stdout).filter((e) => e.type === 'task-decided');
    expect(decided.map((e) => e.state)).toEqual(['fresh', 'fresh', 'fresh', 'fresh', 'fresh']);
    expect(snapshotDir(runDir())).toEqual(before);
  });

  it('re-runs exactly the task whose output was deleted; identical output leaves dependents fresh', async () => {
    await build();
    const before = snapshotDir(runDir());
    fs.rmSync(path.join(runDir(), 'upper', 'upper.txt'));
    const result = await rebuild();
    expect(result.exit).toBe(0);
    expect(startedTasks(result.stdout)).toEqual(['Upper']);
    const upper = jsonEvents(result.stdout).find((e) => e.type === 'task-decided' && e.taskId === 'Upper');
    expect(upper?.reason).toBe('output upper/upper.txt is missing');
    expect(snapshotDir(runDir())).toEqual(before);
  });

  it('keeps an edited input, stores it as a version, and re-runs only the dependents whose inputs changed', async () => {
    await build();
    // White space only: Upper trims it (same output: early cutoff stops Shout), Bang copies it (changes, so Join runs).
    fs.appendFileSync(path.join(runDir(), 'seed.txt'), '   \n');
    const result = await rebuild();
    expect(result.exit).toBe(0);
    expect(startedTasks(result.stdout).sort()).toEqual(['Bang', 'Join', 'Upper']);
    expect(fs.readFileSync(path.join(runDir(), 'seed.txt'), 'utf8')).toBe('seed one\n   \n');
    expect(jsonEvents(result.stdout).some((e) => e.type === 'file-edited' && e.path === 'seed.txt')).toBe(true);

    const versions = await storeQuery(cwd, "SELECT version, source FROM plan_content WHERE path = 'seed.txt' ORDER BY version");
    expect(versions).toEqual([
      { version: 1, source: 'task' },
      { version: 2, source: 'edit' },
    ]);
    expect(startedTasks((await rebuild()).stdout)).toEqual([]);
  });

  it('re-runs a task whose version was bumped, and its dependents whose inputs changed', async () => {
    await build();
    const result = await rebuild([], { FIXTURE_VERSION: 'Upper=2' });
    expect(result.exit).toBe(0);
    expect(startedTasks(result.stdout)).toEqual(['Upper', 'Shout', 'Join']);
    const upper = jsonEvents(result.stdout).find((e) => e.type === 'task-decided' && e.taskId === 'Upper');
    expect(upper?.reason).toBe('version changed (1 → 2)');
  });

  it('a task that throws writes no file and no persisted attempt; its dependents are blocked; exit 1', async () => {
    const result = await build(['--keep-going'], { FIXTURE_FAIL: 'Upper' });
    expect(result.exit).toBe(1);
    expect(fs.existsSync(path.join(runDir(), 'upper', 'upper.txt'))).toBe(false);
    // --keep-going: the independent branch (Bang) is built; Shout and Join are blocked.
    expect(fs.existsSync(path.join(runDir(), 'bang.txt'))).toBe(true);
    const blocked = jsonEvents(result.stdout)
      .filter((e) => e.type === 'task-blocked')
      .map((e) => e.taskId);
    expect(blocked).toEqual(['Shout', 'Join']);
    const { attempts, upperContent } = await withStoreRows(cwd, async (rows) => ({
      attempts: await rows.all("SELECT status, error FROM task_attempts WHERE task_id = 'Upper'"),
      upperContent: (await rows.get<{ n: number }>("SELECT COUNT(*) AS n FROM plan_content WHERE task_id = 'Upper'"))!,
    }));
    expect(attempts).toEqual([{ status: 'failed', error: 'Upper was told to fail' }]);
    expect(upperContent.n).toBe(0);

    const healed = await rebuild();
    expect(healed.exit).toBe(0);
    expect(startedTasks(healed.stdout)).toEqual(['Upper', 'Shout', 'Join']);
  });

  it('without --keep-going stops starting tasks after a failure', async () => {
    const result = await build(['-j', '1'], { FIXTURE_FAIL: 'Seed' });
    expect(result.exit).toBe(1);
    expect(startedTasks(result.stdout)).toEqual(['Seed(seed=one)']);
    const finished = jsonEvents(result.stdout).find((e) => e.type === 'build-finished') as { status: string; summary: { failed: string[] } };
    expect(finished.status).toBe('failed');
    expect(finished.summary.failed).toEqual(['Seed(seed=one)']);
  });

  it('retries a retryable failure with backoff and records each try as an attempt', async () => {
    const result = await build([], { FIXTURE_FLAKY: 'Bang' });
    expect(result.exit).toBe(0);
    const events = jsonEvents(result.stdout).filter((e) => e.taskId === 'Bang');
    expect(events.filter((e) => e.type === 'task-started').map((e) => e.try)).toEqual([1, 2]);
    expect(events.find((e) => e.type === 'task-failed')?.retryInMs).toEqual(expect.any(Number));
    const attempts = await storeQuery(cwd, "SELECT status FROM task_attempts WHERE task_id = 'Bang' ORDER BY id");
    expect(attempts).toEqual([{ status: 'failed' }, { status: 'complete' }]);
  });

  it('--force rebuilds the named task and everything downstream of it', async () => {
    await build();
    const result = await rebuild(['--force', 'Upper']);
    expect(startedTasks(result.stdout)).toEqual(['Upper', 'Shout', 'Join']);
    const unknown = await rebuild(['--force', 'Nope']);
    expect(unknown.exit).toBe(2);
    expect(unknown.stderr).toContain("unknown task 'Nope'");
  });

  it('--dry-run prints each state with its reason and changes nothing', async () => {
    await build();
    fs.rmSync(path.join(runDir(), 'bang.txt'));
    const result = await runPlan(['build', 'runs/demo', '--dry-run'], { cwd });
    expect(result.exit).toBe(0);
    expect(result.stdout).toContain('missing  Bang  output bang.txt is missing');
    expect(result.stdout).toContain('stale    Join  upstream Bang will run');
    expect(result.stdout).toMatch(/fresh\s+Upper\s+up to date/);
    expect(fs.existsSync(path.join(runDir(), 'bang.txt'))).toBe(false);
  });

  it('--restore writes a deleted output back from the database instead of running its task', async () => {
    await build();
    const before = snapshotDir(runDir());
    fs.rmSync(path.join(runDir(), 'shout.json'));
    const result = await rebuild(['--restore']);
    expect(result.exit).toBe(0);
    expect(startedTasks(result.stdout)).toEqual([]);
    expect(jsonEvents(result.stdout).some((e) => e.type === 'file-restored' && e.path === 'shout.json')).toBe(true);
    expect(snapshotDir(runDir())).toEqual(before);
  });

  it('a cycle and an escaping output path are both reported, and nothing runs: exit 2', async () => {
    const result = await build([], { FIXTURE_CYCLE: '1', FIXTURE_ESCAPE: '1' });
    expect(result.exit).toBe(2);
    expect(result.stderr).toContain('2 problems in the task graph');
    expect(result.stderr).toContain("Bang: output '../escaped.txt' escapes the run directory");
    expect(result.stderr).toContain('cycle: Join → Loop → Join');
    expect(fs.existsSync(path.join(cwd, 'runs', 'escaped.txt'))).toBe(false);
    expect(fs.existsSync(path.join(runDir(), 'seed.txt'))).toBe(false);
  });

  it('refuses a second build of the same run dir while the first runs, naming the holder', async () => {
    const first = spawnPlan(['build', 'runs/demo', '--pipeline', diamondPipeline, '--json'], { cwd, env: { FIXTURE_SLOW_MS: '400' } });
    const firstDone = collect(first);
    await waitForOutput(first, (out) => out.includes('"task-started"'));
    const second = await rebuild();
    expect(second.exit).toBe(2);
    expect(second.stderr).toMatch(new RegExp(`is being built by pid ${first.pid} on .+ since `));
    expect((await firstDone).exit).toBe(0);
  });

  it('takes over the lock of a build that was killed', async () => {
    const first = spawnPlan(['build', 'runs/demo', '--pipeline', diamondPipeline, '--json'], { cwd, env: { FIXTURE_SLOW_MS: '5000' } });
    const firstDone = collect(first);
    await waitForOutput(first, (out) => out.includes('"task-started"'));
    first.kill('SIGKILL');
    await firstDone;
    expect(fs.existsSync(path.join(runDir(), '.plan-lock'))).toBe(true);
    const result = await rebuild();
    expect(result.exit).toBe(0);
    expect(fs.existsSync(path.join(runDir(), '.plan-lock'))).toBe(false);
  });

  // Bad input (a run dir that is a file, a new run without a prompt, -j 0, no command …): tests/e2e/bad-input.test.ts.
});

describe('plan status', () => {
  it('reports each task with its state and reason as JSON', async () => {
    await build();
    fs.rmSync(path.join(runDir(), 'join.txt'));
    const result = await runPlan(['status', 'runs/demo', '--json'], { cwd });
    expect(result.exit).toBe(0);
    const status = JSON.parse(result.stdout) as {
      status: string;
      counts: Record<string, number>;
      tasks: { id: string; state: string; reason: string }[];
    };
    expect(status.status).toBe('complete');
    expect(status.counts).toEqual({ fresh: 4, pinned: 0, missing: 1, stale: 0, blocked: 0 });
    expect(status.tasks.find((t) => t.id === 'Join')).toEqual({ id: 'Join', state: 'missing', reason: 'output join.txt is missing' });
  });

  it('works while a build runs in another process: what it runs now, files present, calls, last activity', async () => {
    await build();
    fs.rmSync(path.join(runDir(), 'bang.txt'));
    const running = spawnPlan(['build', 'runs/demo', '--json'], { cwd, env: { FIXTURE_SLOW_MS: '3000' } });
    const done = collect(running);
    await waitForOutput(running, (out) => out.includes('"task-started"'));
    const result = await runPlan(['status', 'runs/demo', '--json'], { cwd });
    expect(result.exit, result.stderr).toBe(0);
    const status = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(status).toMatchObject({
      status: 'running',
      building: true,
      running: ['Bang'],
      // Six declared files and Join's extra one (extra/join-count.txt): every file a task wrote counts.
      progress: { filesPresent: 6, filesDeclared: 7 },
      calls: 0,
      costUsd: 0,
    });
    expect(status.lastActivitySecondsAgo).toBeLessThan(5);
    const human = await runPlan(['status', 'runs/demo'], { cwd });
    expect(human.stdout).toMatch(new RegExp(`building \\(pid ${running.pid} on .+\\): Bang`));
    expect(human.stdout).toMatch(/^files 6\/7 · 0 calls/m);
    expect(human.stdout).toMatch(/ since the first task started · last activity /);
    expect((await done).exit).toBe(0);
  });

  it('a dir that is not a run is a one-line error with exit 2', async () => {
    fs.mkdirSync(path.join(cwd, 'runs', 'empty'), { recursive: true });
    const result = await runPlan(['status', 'runs/empty'], { cwd });
    expect(result.exit).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});
