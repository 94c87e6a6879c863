import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect, diamondPipeline, runPlan, spawnPlan, startedTasks, tempDir, waitForOutput } from '../support/cli.js';
import { buildDiamond, bytesPipeline, expectUsageError, planJson, recordCalls } from '../support/inspect.js';
import { onPostgres, storeExists, storeLocation, storeUrl, withStoreRows } from '../support/store-rows.js';

let cwd: string;
beforeEach(() => {
  cwd = tempDir('plan-inspect-');
});
afterEach(() => {
  fs.rmSync(cwd, { recursive: true, force: true });
});

const runDir = (name = 'demo'): string => path.join(cwd, 'runs', name);
const dbFile = (): string => path.join(cwd, 'runs', 'plan.db');
/** The database the commands use (the SQLite file, or in the `postgres` project the URL of the dir's schema), and as they show it. */
const db = (): string => storeUrl(cwd);
const shownDb = (): string => storeLocation(cwd);
const runIdOf = (name = 'demo'): string =>
  (JSON.parse(fs.readFileSync(path.join(runDir(name), '.plan-run.json'), 'utf8')) as { runId: string }).runId;

interface Listing {
  db: string;
  runs: {
    id: string;
    runDir: string;
    pipeline: string;
    status: string;
    statusReason: string | null;
    prompt: string | null;
    createdAt: string;
    updatedAt: string;
    tasks: { built: number; failed: number; total: number | null };
    attempts: number;
    calls: number;
    inputTokens: number;
    outputTokens: number;
    costUsd: number;
    models: string[];
    durationMs: number | null;
  }[];
}

interface Shown {
  run: {
    id: string;
    runDir: string;
    db: string;
    pipeline: string;
    params: Record<string, unknown>;
    status: string;
    statusReason: string | null;
    createdAt: string;
  };
  totals: Record<string, unknown> & {
    tasksBuilt: number;
    tasksFailed: number;
    attempts: number;
    files: number;
    versions: number;
    calls: number;
    costUsd: number;
    models: string[];
  };
  tasks: {
    id: string;
    status: string;
    attempts: number;
    durationMs: number | null;
    calls: number;
    inputTokens: number;
    outputTokens: number;
    costUsd: number;
  }[];
  failures: { taskId: string; attemptId: number; status: string; error: string | null; at: string }[];
}

function rowsOf(runId: string): Promise<Record<string, number>> {
  return withStoreRows(cwd, async (rows) => {
    const count = async (table: string, column = 'run_id'): Promise<number> =>
      (await rows.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table} WHERE ${column} = ?`, runId))!.n;
    return {
      runs: await count('runs', 'id'),
      task_attempts: await count('task_attempts'),
      plan_content: await count('plan_content'),
      llm_interactions: await count('llm_interactions'),
      file_stats: await count('file_stats'),
    };
  });
}

describe('plan list', () => {
  it('lists runs newest first with status, progress, calls, cost and model; filters by status, prompt, time and count', async () => {
    expect((await buildDiamond(cwd, 'a', ['--param', 'prompt=Build a Lunar Base'])).exit).toBe(0);
    expect((await buildDiamond(cwd, 'b', ['--param', 'prompt=Open a bakery'], { FIXTURE_FAIL: 'Bang' })).exit).toBe(1);
    await recordCalls(db(), runDir('a'), [
      { taskId: 'Upper', model: 'openai:gpt-4o-mini', status: 'completed', inputTokens: 100, outputTokens: 20, costUsd: 0.25, durationMs: 900 },
      { taskId: 'Join', model: 'openai:gpt-4o-mini', status: 'completed', inputTokens: 50, outputTokens: 10, costUsd: 0.5, durationMs: 400 },
    ]);

    const all = await planJson<Listing>(cwd, ['list']);
    expect(all.db).toBe(shownDb());
    expect(all.runs.map((r) => r.runDir)).toEqual([runDir('b'), runDir('a')]);
    const [b, a] = all.runs;
    expect(a).toMatchObject({
      id: runIdOf('a'),
      pipeline: diamondPipeline,
      status: 'complete',
      statusReason: null,
      prompt: 'Build a Lunar Base',
      tasks: { built: 5, failed: 0, total: 5 },
      attempts: 5,
      calls: 2,
      inputTokens: 150,
      outputTokens: 30,
      costUsd: 0.75,
      models: ['openai:gpt-4o-mini'],
    });
    expect(Date.parse(a!.createdAt)).toBeGreaterThan(0);
    expect(a!.durationMs).toEqual(expect.any(Number));
    expect(b).toMatchObject({ status: 'failed', statusReason: 'failed: Bang', tasks: { failed: 1, total: 5 }, calls: 0, costUsd: 0, models: [] });

    expect((await planJson<Listing>(cwd, ['list', '--status', 'failed'])).runs.map((r) => r.runDir)).toEqual([runDir('b')]);
    expect((await planJson<Listing>(cwd, ['list', '--status', 'failed', '--status', 'complete'])).runs).toHaveLength(2);
    expect((await planJson<Listing>(cwd, ['list', '--prompt-contains', 'lunar'])).runs.map((r) => r.runDir)).toEqual([runDir('a')]);
    expect((await planJson<Listing>(cwd, ['list', '--latest', '1'])).runs.map((r) => r.runDir)).toEqual([runDir('b')]);
    expect((await planJson<Listing>(cwd, ['list', '--since', '1h'])).runs).toHaveLength(2);
    expect((await planJson<Listing>(cwd, ['list', '--since', '2999-01-01'])).runs).toEqual([]);

    const human = await runPlan(['list'], { cwd });
    expect(human.exit).toBe(0);
    const lines = human.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^RUN\s+STATUS\s+TASKS\s+CALLS\s+COST\s+DURATION\s+MODEL\s+CREATED\s+PROMPT \/ DIR$/);
    expect(lines[2]).toMatch(
      new RegExp(`^${runIdOf('a')}\\s+complete\\s+5/5\\s+2\\s+\\$0\\.75\\s+\\S+\\s+openai:gpt-4o-mini\\s+.*Build a Lunar Base$`),
    );
    expect(human.stdout).not.toContain('\u001b[');
  });

  it('with no database: no runs (and no database file is made); bad filters are one-line errors, exit 2', async () => {
    const empty = await planJson<Listing>(cwd, ['list']);
    expect(empty.runs).toEqual([]);
    expect(await storeExists(cwd)).toBe(false);
    expect(expectUsageError(await runPlan(['list', '--since', 'yesterday'], { cwd }))).toBe(
      "plan: bad duration 'yesterday' for --since: use a number and a unit (30m, 12h, 90d, 2w) or a date (2025-01-31)",
    );
    expectUsageError(await runPlan(['list', '--latest', '0'], { cwd }));
    expectUsageError(await runPlan(['list', '--status', 'exploded'], { cwd }));
  });
});

describe('plan show', () => {
  it('one run by dir or id: tasks with tries, durations, calls and cost; open failures with their errors', async () => {
    expect((await buildDiamond(cwd, 'demo', ['--keep-going'], { FIXTURE_FAIL: 'Upper' })).exit).toBe(1);
    await recordCalls(db(), runDir(), [
      { taskId: 'Bang', model: 'openai:gpt-4o', status: 'completed', inputTokens: 1000, outputTokens: 200, costUsd: 0.012, durationMs: 1500 },
      {
        taskId: 'Bang',
        model: 'openai:gpt-4o',
        status: 'failed',
        inputTokens: 0,
        outputTokens: 0,
        costUsd: 0,
        durationMs: 30,
        error: 'server error',
      },
    ]);

    const byDir = await planJson<Shown>(cwd, ['show', 'runs/demo']);
    const byId = await planJson<Shown>(cwd, ['show', runIdOf()]);
    expect(byId).toEqual(byDir);
    expect(byDir.run).toMatchObject({
      id: runIdOf(),
      runDir: runDir(),
      db: shownDb(),
      status: 'failed',
      statusReason: 'failed: Upper',
      params: { seed: 'one' },
    });
    expect(byDir.totals).toMatchObject({
      tasksBuilt: 2,
      tasksFailed: 1,
      attempts: 3,
      files: 2,
      versions: 2,
      calls: 2,
      failedCalls: 1,
      costUsd: 0.012,
      models: ['openai:gpt-4o'],
    });
    expect(byDir.tasks.map((t) => [t.id, t.status, t.attempts]).sort()).toEqual([
      ['Bang', 'complete', 1],
      ['Seed(seed=one)', 'complete', 1],
      ['Upper', 'failed', 1],
    ]);
    expect(byDir.tasks.find((t) => t.id === 'Bang')).toMatchObject({
      calls: 2,
      inputTokens: 1000,
      outputTokens: 200,
      costUsd: 0.012,
      durationMs: expect.any(Number),
    });
    expect(byDir.tasks.find((t) => t.id === 'Upper')).toMatchObject({ durationMs: null, calls: 0 });
    expect(byDir.failures).toEqual([
      { taskId: 'Upper', attemptId: expect.any(Number), status: 'failed', error: 'Upper was told to fail', at: expect.any(String) },
    ]);

    const human = await runPlan(['show', 'runs/demo'], { cwd });
    expect(human.exit).toBe(0);
    expect(human.stdout).toContain(`run ${runIdOf()}  failed (failed: Upper)`);
    expect(human.stdout).toMatch(/calls {5}2 \(1 failed\) · 1,000 in \/ 200 out tokens · \$0\.01 · openai:gpt-4o/);
    expect(human.stdout).toMatch(/^Bang\s+complete\s+1\s+\S+\s+2\s+1,200\s+\$0\.01$/m);
    expect(human.stdout).toContain('failures\n  Upper  attempt');
    expect(human.stdout).toContain(': Upper was told to fail');

    // Once the run heals, the failure is no longer open.
    expect((await runPlan(['build', 'runs/demo'], { cwd })).exit).toBe(0);
    expect((await planJson<Shown>(cwd, ['show', 'runs/demo'])).failures).toEqual([]);
  });

  it('a wiped run dir is still shown from the database; an unknown run is a one-line error, exit 2', async () => {
    expect((await buildDiamond(cwd)).exit).toBe(0);
    const runId = runIdOf();
    fs.rmSync(runDir(), { recursive: true });
    expect((await planJson<Shown>(cwd, ['show', 'runs/demo'])).run.id).toBe(runId);
    expect(expectUsageError(await runPlan(['show', '20990101-0000-abcdef'], { cwd }))).toMatch(
      /^plan: no run dir 20990101-0000-abcdef and no run with id '20990101-0000-abcdef' in /,
    );
  });
});

describe('plan cat and plan history', () => {
  it('prints any version of a file from the database, edits and rebuilds alike; history lists them', async () => {
    expect((await buildDiamond(cwd)).exit).toBe(0);
    fs.writeFileSync(path.join(runDir(), 'seed.txt'), 'seed two\n');
    expect((await runPlan(['build', 'runs/demo'], { cwd })).exit).toBe(0);
    fs.rmSync(runDir(), { recursive: true });

    const cat = async (args: string[]): Promise<string> => {
      const result = await runPlan(['cat', 'runs/demo', ...args], { cwd });
      expect(result.stderr).toBe('');
      expect(result.exit).toBe(0);
      return result.stdout;
    };
    expect(await cat(['seed.txt'])).toBe('seed two\n');
    expect(await cat(['seed.txt', '--version', '1'])).toBe('seed one\n');
    expect(await cat(['upper/upper.txt', '--version', '1'])).toBe('SEED ONE\n');
    expect(await cat(['upper/upper.txt'])).toBe('SEED TWO\n');
    // A task name prints each of its files (declared and extra) under a header.
    expect(await cat(['Shout'])).toBe('==> shout.json (v1, task) <==\n{"length":9}\n\n==> shout.txt (v2, task) <==\nSEED TWO!!!\n');
    expect(await cat(['Join'])).toContain('==> extra/join-count.txt (v1, task) <==\n2\n');

    const json = await planJson<{ runId: string; files: Record<string, unknown>[] }>(cwd, ['cat', 'runs/demo', 'seed.txt', '--version', '1']);
    expect(json.files).toEqual([
      {
        path: 'seed.txt',
        version: 1,
        versions: 2,
        source: 'task',
        taskId: 'Seed(seed=one)',
        attemptId: expect.any(Number),
        sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
        size: 9,
        createdAt: expect.any(String),
        encoding: 'utf8',
        content: 'seed one\n',
      },
    ]);

    interface History {
      runId: string;
      path: string;
      onDisk: { sha256: string; version: number | null } | null;
      versions: { version: number; source: string; size: number; sha256: string; taskId: string; attemptId: number | null; createdAt: string }[];
    }
    const history = await planJson<History>(cwd, ['history', 'runs/demo', 'seed.txt']);
    expect(history.path).toBe('seed.txt');
    expect(history.onDisk).toBeNull();
    expect(history.versions.map((v) => [v.version, v.source, v.size, v.attemptId === null])).toEqual([
      [1, 'task', 9, false],
      [2, 'edit', 9, true],
    ]);
    expect(history.versions[0]!.sha256).not.toBe(history.versions[1]!.sha256);
    const human = await runPlan(['history', 'runs/demo', 'seed.txt'], { cwd });
    expect(human.stdout).toMatch(/^VERSION\s+SOURCE\s+SIZE\s+SHA256\s+TASK\s+ATTEMPT\s+CREATED$/m);
    expect(human.stdout).toMatch(/^\s+2\s+edit\s+9\s+[0-9a-f]{12}\s+Seed\(seed=one\)\s+-\s+\d{4}-/m);
    expect(human.stdout).toContain('seed.txt on disk: missing');
  });

  it('binary content is base64 in --json and raw bytes otherwise', async () => {
    expect((await runPlan(['build', 'runs/bytes', '--pipeline', bytesPipeline], { cwd })).exit).toBe(0);
    const original = fs.readFileSync(path.join(runDir('bytes'), 'data/blob.bin'));
    const json = await planJson<{ files: { encoding: string; content: string }[] }>(cwd, ['cat', 'runs/bytes', 'data/blob.bin']);
    expect(json.files[0]!.encoding).toBe('base64');
    expect(Buffer.from(json.files[0]!.content, 'base64').equals(original)).toBe(true);
    const child = spawnPlan(['cat', 'runs/bytes', 'data/blob.bin'], { cwd });
    const chunks: Buffer[] = [];
    child.stdout!.on('data', (chunk: Buffer) => chunks.push(chunk));
    await new Promise((resolve) => child.on('close', resolve));
    expect(Buffer.concat(chunks).equals(original)).toBe(true);
  });

  it('bad input: unknown file or task, a version that does not exist, a task never built → one-line error', async () => {
    expect((await buildDiamond(cwd, 'demo', [], { FIXTURE_FAIL: 'Upper' })).exit).toBe(1);
    expect(expectUsageError(await runPlan(['cat', 'runs/demo', 'nope.txt'], { cwd }))).toMatch(/^plan: unknown task or file 'nope.txt' in run /);
    expect(expectUsageError(await runPlan(['cat', 'runs/demo', 'seed.txt', '--version', '2'], { cwd }))).toMatch(
      /^plan: seed.txt has only version 1 in run \S+, not 2$/,
    );
    expect(expectUsageError(await runPlan(['cat', 'runs/demo', 'seed.txt', '--version', '0'], { cwd }))).toBe(
      'plan: --version takes a whole number ≥ 1 (got 0)',
    );
    expect(expectUsageError(await runPlan(['cat', 'runs/demo', 'Upper'], { cwd }))).toBe(
      'plan: Upper has no stored files yet (its newest attempt failed: Upper was told to fail)',
    );
    expect(expectUsageError(await runPlan(['history', 'runs/demo', 'upper/upper.txt'], { cwd }))).toMatch(
      /^plan: no stored versions of 'upper\/upper.txt' in run /,
    );
    expect(expectUsageError(await runPlan(['history', 'runs/nope', 'seed.txt'], { cwd }))).toBe('plan: run dir runs/nope does not exist');
  });
});

describe('plan clean and plan db vacuum', () => {
  it('--dry-run deletes nothing; --yes deletes the matching runs’ rows in every table, and their dirs with --dirs', async () => {
    expect((await buildDiamond(cwd, 'good')).exit).toBe(0);
    expect((await buildDiamond(cwd, 'bad', [], { FIXTURE_FAIL: 'Join' })).exit).toBe(1);
    expect((await buildDiamond(cwd, 'bad2', [], { FIXTURE_FAIL: 'Seed' })).exit).toBe(1);
    await recordCalls(db(), runDir('bad'), [
      { taskId: 'Upper', model: 'm', status: 'completed', inputTokens: 1, outputTokens: 1, costUsd: 0.1, durationMs: 5 },
    ]);
    const bad = runIdOf('bad');
    const good = runIdOf('good');
    const before = await rowsOf(bad);
    expect(before).toMatchObject({ runs: 1, llm_interactions: 1 });
    expect(before.task_attempts).toBeGreaterThan(0);
    expect(before.plan_content).toBeGreaterThan(0);
    expect(before.file_stats).toBeGreaterThan(0);

    interface Cleaned {
      dryRun: boolean;
      deleted: number;
      dirsDeleted: number;
      runs: { id: string; runDir: string; status: string; deleted: boolean; dirDeleted: boolean; note: string | null }[];
    }
    const dry = await planJson<Cleaned>(cwd, ['clean', '--status', 'failed', '--dry-run', '--dirs']);
    expect(dry).toMatchObject({ dryRun: true, deleted: 0, dirsDeleted: 0 });
    expect(dry.runs.map((r) => r.runDir).sort()).toEqual([runDir('bad'), runDir('bad2')]);
    expect(await rowsOf(bad)).toEqual(before);
    expect(fs.existsSync(runDir('bad'))).toBe(true);
    const dryHuman = await runPlan(['clean', '--status', 'failed', '--dry-run'], { cwd });
    expect(dryHuman.stdout).toMatch(/^would delete 2 runs \(dry run, nothing deleted\):/);

    // No terminal to confirm on and no --yes: refuse.
    expectUsageError(await runPlan(['clean', '--status', 'failed'], { cwd }));
    expect(await rowsOf(bad)).toEqual(before);

    const cleaned = await planJson<Cleaned>(cwd, ['clean', '--status', 'failed', '--yes', '--dirs']);
    expect(cleaned).toMatchObject({ dryRun: false, deleted: 2, dirsDeleted: 2 });
    expect(await rowsOf(bad)).toEqual({ runs: 0, task_attempts: 0, plan_content: 0, llm_interactions: 0, file_stats: 0 });
    expect(fs.existsSync(runDir('bad'))).toBe(false);
    expect(fs.existsSync(runDir('bad2'))).toBe(false);
    expect((await rowsOf(good)).runs).toBe(1);
    expect(fs.existsSync(runDir('good'))).toBe(true);

    // Without --dirs only rows go; the dir stays (and is no longer a run).
    const rowsOnly = await runPlan(['clean', '--older-than', '0s', '--yes'], { cwd });
    expect(rowsOnly.exit).toBe(0);
    expect(rowsOnly.stdout).toBe('deleted 1 run\n');
    expect((await rowsOf(good)).runs).toBe(0);
    expect(fs.existsSync(runDir('good'))).toBe(true);

    const vacuum = await planJson<{ db: string; bytesBefore: number | null; bytesAfter: number | null }>(cwd, ['db', 'vacuum']);
    expect(vacuum.db).toBe(shownDb());
    if (onPostgres) {
      // A server's database has no size on this machine to report; the schema's VACUUM itself is in the store
      // contract (tests/integration/store-contract.test.ts), and PostgreSQL has no file to check the integrity of.
      expect(vacuum).toMatchObject({ bytesBefore: null, bytesAfter: null });
    } else {
      // The SQLite file: it shrank (or stayed) and is sound.
      expect(vacuum.bytesAfter).toBeLessThanOrEqual(vacuum.bytesBefore!);
      expect(vacuum.bytesAfter).toBeGreaterThan(0);
      const file = new Database(dbFile(), { readonly: true });
      expect(file.pragma('integrity_check', { simple: true })).toBe('ok');
      file.close();
    }
  });

  it('--older-than keeps recent runs; bad input is a one-line error, exit 2', async () => {
    expect((await buildDiamond(cwd)).exit).toBe(0);
    const recent = await planJson<{ deleted: number; runs: unknown[] }>(cwd, ['clean', '--older-than', '90d', '--yes']);
    expect(recent).toMatchObject({ deleted: 0, runs: [] });
    expect(expectUsageError(await runPlan(['clean', '--older-than', '90 days', '--yes'], { cwd }))).toBe(
      "plan: bad duration '90 days' for --older-than: use a number and a unit: 30m, 12h, 90d, 2w",
    );
    expect(expectUsageError(await runPlan(['clean', '--yes'], { cwd }))).toMatch(/say which runs to delete/);
    expect(expectUsageError(await runPlan(['db', 'vacuum', '--db', path.join(cwd, 'none.db')], { cwd }))).toMatch(/^plan: no database at /);
  });
});

describe('on a run killed mid-way', () => {
  it('show, list, explain, graph, cat, history and restore all work', async () => {
    const child = spawnPlan(['build', 'runs/demo', '--pipeline', diamondPipeline, '--json', '-j', '1'], { cwd, env: { FIXTURE_SLOW_MS: '300' } });
    const done = collect(child);
    await waitForOutput(child, (out) => startedTasks(out).length === 3);
    child.kill('SIGKILL');
    await done;

    const shown = await planJson<Shown>(cwd, ['show', 'runs/demo']);
    // The run says running, but the build that held it is gone: interrupted.
    expect(shown.run.status).toBe('interrupted');
    expect(shown.totals.tasksBuilt).toBe(2);
    expect(shown.tasks.map((t) => t.status)).toEqual(['complete', 'complete', 'interrupted']);

    const listed = await planJson<Listing>(cwd, ['list']);
    expect(listed.runs[0]).toMatchObject({ status: 'interrupted', tasks: { built: 2, total: 5 } });

    const join = await planJson<{ task: { state: string; reason: string } }>(cwd, ['explain', 'runs/demo', 'join.txt']);
    expect(join.task).toMatchObject({ state: 'missing', reason: 'never built' });

    const graph = await planJson<{ nodes: { id: string; state: string }[] }>(cwd, ['graph', 'runs/demo']);
    expect(graph.nodes.filter((n) => n.state === 'fresh')).toHaveLength(2);

    expect((await runPlan(['cat', 'runs/demo', 'seed.txt'], { cwd })).stdout).toBe('seed one\n');
    expect((await planJson<{ versions: unknown[] }>(cwd, ['history', 'runs/demo', 'seed.txt'])).versions).toHaveLength(1);

    const copy = path.join(cwd, 'copy');
    const restored = await planJson<{ written: number; files: { path: string }[] }>(cwd, ['restore', 'runs/demo', '--into', copy]);
    expect(restored.written).toBe(restored.files.length);
    for (const file of restored.files) {
      expect(fs.readFileSync(path.join(copy, file.path)).equals(fs.readFileSync(path.join(runDir(), file.path)))).toBe(true);
    }

    // The run resumes as usual afterwards.
    expect((await runPlan(['build', 'runs/demo'], { cwd })).exit).toBe(0);
  });
});
