import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { collect, jsonEvents, repoRoot, runPlan, snapshotDir, spawnPlan, tempDir, waitForOutput, type CliResult } from '../support/cli.js';
import { adminQuery, freshSchemaUrl, noteWhenPostgresMissing, POSTGRES_URL } from '../support/postgres.js';
import { startFakeOpenAiServer, type FakeOpenAiServer } from '../support/fake-openai-server.js';
import { offlineLikeAnswer } from '../support/fake-model.js';

// Workers on many machines, as a user starts them: `plan submit` hands a run to the shared PostgreSQL store,
// `plan worker` processes (each with a scratch folder of its own: no shared file system) build it.

noteWhenPostgresMissing('tests/e2e/workers.test.ts');

const START = '2026-01-01T00:00:00.000Z';
let dirs: string[] = [];
let drops: (() => Promise<void>)[] = [];
let children: ChildProcess[] = [];
let server: FakeOpenAiServer | undefined;

afterEach(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  children = [];
  await server?.close();
  server = undefined;
  for (const drop of drops) await drop();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  dirs = [];
  drops = [];
});

const newDir = (): string => {
  const dir = tempDir('plan-workers-');
  dirs.push(dir);
  return dir;
};

async function newSchema(): Promise<{ url: string; schema: string }> {
  const fresh = await freshSchemaUrl();
  drops.push(async () => {
    await fresh.drop();
    await adminQuery(`DROP SCHEMA IF EXISTS ${fresh.schema}_jobs CASCADE`);
  });
  return fresh;
}

interface Worker {
  child: ChildProcess;
  done: Promise<CliResult>;
}

function startWorker(url: string, name: string, extra: string[] = [], config?: object, env?: Record<string, string>): Worker {
  const cwd = newDir();
  if (config !== undefined) fs.writeFileSync(path.join(cwd, 'plan.config.json'), JSON.stringify(config));
  const child = spawnPlan(['worker', '--db', url, '--name', name, '--scratch', path.join(cwd, 'scratch'), ...extra], { cwd, env });
  children.push(child);
  return { child, done: collect(child) };
}

async function rows<T>(schema: string, sql: string, values: unknown[] = []): Promise<T[]> {
  return (await adminQuery(sql.replaceAll('§', schema), values)).rows as T[];
}

async function runStatus(schema: string, runId: string): Promise<string> {
  return (await rows<{ status: string }>(schema, 'SELECT status FROM §.runs WHERE id = $1', [runId]))[0]!.status;
}

async function until(what: () => Promise<boolean>, describe: () => Promise<string> | string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await what())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${await describe()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function submit(url: string, cwd: string, args: string[]): Promise<string> {
  const result = await runPlan(['submit', '--db', url, '--param', `startTime=${START}`, '--json', ...args], { cwd });
  expect(result.exit, result.stderr).toBe(0);
  return (JSON.parse(result.stdout) as { runId: string }).runId;
}

describe.skipIf(POSTGRES_URL === undefined)('plan worker', () => {
  it('three workers build two plans at once, one started after they were submitted; each equals a local build byte for byte', async () => {
    const { url, schema } = await newSchema();
    const cwd = newDir();
    const first = await submit(url, cwd, ['--prompt', 'A community garden in a small town', '--speed', 'fast']);
    // Nothing runs it yet: its first tasks wait on the queue.
    const waiting = await rows<{ state: string; n: number }>(schema, 'SELECT state, COUNT(*)::int AS n FROM §.worker_tasks GROUP BY state');
    expect(Object.fromEntries(waiting.map((r) => [r.state, r.n]))).toEqual({ ready: 2, waiting: 61 });
    // Handed over, it is running (not "interrupted": no one process holds it).
    const listedRuns = JSON.parse((await runPlan(['list', '--db', url, '--json'], { cwd })).stdout) as { runs: { id: string; status: string }[] };
    expect(listedRuns.runs.find((r) => r.id === first)?.status).toBe('running');
    const shownRun = JSON.parse((await runPlan(['show', first, '--db', url, '--json'], { cwd })).stdout) as { run: { status: string } };
    expect(shownRun.run.status).toBe('running');
    const workers = [startWorker(url, 'w1', ['-j', '2'])];
    const second = await submit(url, cwd, ['--prompt', 'A repair café for a neighbourhood', '--speed', 'fast']);
    workers.push(startWorker(url, 'w2', ['-j', '2']), startWorker(url, 'w3', ['-j', '2']));

    await until(
      async () => (await runStatus(schema, first)) === 'complete' && (await runStatus(schema, second)) === 'complete',
      async () => JSON.stringify(await rows(schema, 'SELECT id, status, status_reason FROM §.runs')),
      150_000,
    );
    // The work was shared: tasks of both runs ran on more than one worker.
    const byWorker = await rows<{ worker: string; n: number }>(
      schema,
      `SELECT w.name AS worker, COUNT(*)::int AS n FROM §.worker_tasks t JOIN §.workers w ON w.id = t.worker_id GROUP BY w.name`,
    );
    expect(byWorker.length).toBeGreaterThanOrEqual(2);
    expect(byWorker.reduce((sum, r) => sum + r.n, 0)).toBe(126);

    const listed = await runPlan(['workers', '--db', url, '--json'], { cwd });
    expect(listed.exit, listed.stderr).toBe(0);
    const live = JSON.parse(listed.stdout) as { name: string; alive: boolean; pid: number; host: string }[];
    expect(live.map((w) => w.name).sort()).toEqual(['w1', 'w2', 'w3']);
    expect(live.every((w) => w.alive && w.pid > 0 && w.host.length > 0)).toBe(true);

    for (const [runId, prompt, name] of [
      [first, 'A community garden in a small town', 'garden'],
      [second, 'A repair café for a neighbourhood', 'cafe'],
    ] as const) {
      const restored = await runPlan(['restore', `from-workers/${name}`, '--run', runId, '--db', url], { cwd });
      expect(restored.exit, restored.stderr).toBe(0);
      const local = await runPlan(['build', `runs/${name}`, '--prompt', prompt, '--speed', 'fast', '--param', `startTime=${START}`], { cwd });
      expect(local.exit, local.stderr).toBe(0);
      const fromWorkers = snapshotDir(path.join(cwd, 'from-workers', name));
      expect(Object.keys(fromWorkers).length).toBeGreaterThan(100);
      expect(fromWorkers).toEqual(snapshotDir(path.join(cwd, 'runs', name)));
    }

    // SIGTERM: each stops taking jobs and exits 0; plan workers shows them stopped.
    for (const worker of workers) worker.child.kill('SIGTERM');
    for (const worker of workers) expect((await worker.done).exit).toBe(0);
    const after = JSON.parse((await runPlan(['workers', '--db', url, '--json'], { cwd })).stdout) as { alive: boolean }[];
    expect(after.every((w) => !w.alive)).toBe(true);
  }, 300_000);

  it('a worker killed with kill -9 mid-task: another takes the task within 60 s, and the calls it had finished are replayed, not asked again', async () => {
    const { url, schema } = await newSchema();
    const cwd = newDir();
    server = await startFakeOpenAiServer({ handler: (request) => ({ kind: 'delay', ms: 150, next: offlineLikeAnswer(request) }) });
    const model = `--model=openai-compatible:fake@${server.url}`;
    const runId = await submit(url, cwd, ['--prompt', 'A bicycle library', '--speed', 'fast', model]);
    const victim = startWorker(url, 'victim', ['-j', '2']);

    // Kill it once a task it runs has had some of its model calls answered (and has more to ask).
    let killedTask: { task_id: string; attempt: number } | undefined;
    await until(
      async () => {
        const found = await rows<{ task_id: string; attempt: number }>(
          schema,
          `SELECT a.task_id, a.id::int AS attempt FROM §.task_attempts a JOIN §.worker_tasks t ON t.run_id = a.run_id AND t.task_id = a.task_id
            WHERE a.status = 'running' AND t.state = 'running'
              AND (SELECT COUNT(*) FROM §.llm_interactions i WHERE i.attempt_id = a.id AND i.status = 'completed') >= 1
              AND EXISTS (SELECT 1 FROM §.llm_interactions i WHERE i.attempt_id = a.id AND i.status = 'pending')
            LIMIT 1`,
        );
        killedTask = found[0];
        return killedTask !== undefined;
      },
      () => 'no running task with an answered call',
      60_000,
    );
    victim.child.kill('SIGKILL');
    expect((await victim.done).signal).toBe('SIGKILL');
    const killedAt = Date.now();
    const answeredBefore = await rows<{ request_hash: string }>(
      schema,
      `SELECT request_hash FROM §.llm_interactions WHERE attempt_id = $1 AND status = 'completed'`,
      [killedTask!.attempt],
    );
    expect(answeredBefore.length).toBeGreaterThanOrEqual(1);

    const rescuer = startWorker(url, 'rescuer', ['-j', '2']);
    await until(
      async () => {
        const state = await rows<{ state: string }>(schema, 'SELECT state FROM §.worker_tasks WHERE run_id = $1 AND task_id = $2', [
          runId,
          killedTask!.task_id,
        ]);
        return state[0]!.state === 'done';
      },
      async () => JSON.stringify(await rows(schema, 'SELECT task_id, state, worker_id FROM §.worker_tasks WHERE state <> $1', ['done'])),
      60_000,
    );
    const tookOver = Date.now() - killedAt;
    expect(tookOver).toBeLessThan(60_000);
    await until(
      async () => (await runStatus(schema, runId)) === 'complete',
      async () => JSON.stringify(await rows(schema, 'SELECT status, status_reason FROM §.runs')),
      150_000,
    );

    // The dead attempt's answers were replayed by the rescuer's attempt of the task, never asked again.
    const replayed = await rows<{ request_hash: string }>(
      schema,
      `SELECT i.request_hash FROM §.llm_interactions i JOIN §.task_attempts a ON a.id = i.attempt_id
        WHERE a.run_id = $1 AND a.task_id = $2 AND a.id > $3 AND i.status = 'replayed'`,
      [runId, killedTask!.task_id, killedTask!.attempt],
    );
    expect(replayed.map((r) => r.request_hash).sort()).toEqual(answeredBefore.map((r) => r.request_hash).sort());
    // At the server: a request body was sent twice only for a call the kill cut (abandoned, never answered to us).
    const bodies = new Set(server.requests.map((r) => createHash('sha256').update(r.rawBody).digest('hex')));
    const cut = await rows<{ n: number }>(schema, `SELECT COUNT(*)::int AS n FROM §.llm_interactions WHERE run_id = $1 AND status = 'abandoned'`, [
      runId,
    ]);
    expect(server.requests.length - bodies.size).toBeLessThanOrEqual(cut[0]!.n);
    console.log(
      `workers: kill -9 → task taken over and done after ${tookOver} ms; ${replayed.length} answers replayed, ${cut[0]!.n} cut calls asked again`,
    );

    rescuer.child.kill('SIGTERM');
    expect((await rescuer.done).exit).toBe(0);
  }, 300_000);

  it('plan cancel --run stops the tasks on the workers; plan status --run shows where each task is; plan submit --run finishes the run', async () => {
    const { url, schema } = await newSchema();
    const cwd = newDir();
    // Slow answers take longer than the cancel takes to reach the workers: a task is always mid-call when it
    // does (with short ones, a task could finish between the first call seen and the cancel, leaving none to stop).
    let slow = true;
    server = await startFakeOpenAiServer({ handler: (request) => ({ kind: 'delay', ms: slow ? 60_000 : 0, next: offlineLikeAnswer(request) }) });
    const model = `--model=openai-compatible:fake@${server.url}`;
    const runId = await submit(url, cwd, ['--prompt', 'A tool library', '--speed', 'fast', model]);
    const worker = startWorker(url, 'w1', ['-j', '2']);
    await until(
      async () => (await rows(schema, `SELECT 1 FROM §.llm_interactions WHERE status = 'pending'`)).length > 0,
      () => 'no model call started',
      60_000,
    );

    const cancel = await runPlan(['cancel', '--run', runId, '--db', url, '--json', '--wait', '20'], { cwd });
    expect(cancel.exit, cancel.stderr).toBe(0);
    expect(JSON.parse(cancel.stdout)).toMatchObject({ runId, outcome: 'stopped', holder: { workers: true } });
    expect(await runStatus(schema, runId)).toBe('cancelled');
    const cancelledAttempts = await rows<{ status: string }>(schema, `SELECT status FROM §.task_attempts WHERE status IN ('running', 'cancelled')`);
    expect(cancelledAttempts.length).toBeGreaterThan(0);
    expect(cancelledAttempts.every((a) => a.status === 'cancelled')).toBe(true);

    const status = await runPlan(['status', '--run', runId, '--db', url, '--json'], { cwd });
    expect(status.exit, status.stderr).toBe(0);
    const shown = JSON.parse(status.stdout) as { status: string; workers: boolean; counts: Record<string, number>; tasks: { state: string }[] };
    expect(shown).toMatchObject({ status: 'cancelled', workers: true });
    expect(shown.tasks).toHaveLength(63);
    expect(shown.counts.cancelled).toBeGreaterThan(0);
    expect(shown.counts.running ?? 0).toBe(0);
    const human = await runPlan(['status', '--run', runId, '--db', url], { cwd });
    expect(human.stdout).toContain(`run ${runId}  cancelled`);
    expect(human.stdout).toMatch(/^cancelled +\w+/m);

    // The dashboard shows the same schedule: the run has no dir, so its states are the workers'.
    const ui = spawnPlan(['ui', '--db', url, '--port', '0'], { cwd });
    children.push(ui);
    let out = '';
    ui.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const uiDone = collect(ui);
    await waitForOutput(ui, (seen) => /plan ui: http:\/\/127\.0\.0\.1:\d+\/\n/.test(seen));
    const page = (await (await fetch(`${/plan ui: (\S+)\n/.exec(out)![1]!}api/runs/${runId}`)).json()) as {
      notes: string[];
      graph: { nodes: { id: string; shown: string; reason: string }[] };
    };
    expect(page.notes[0]).toBe(
      `the workers build this run (it has no run dir): states are the workers' schedule, as plan status --run ${runId} shows it`,
    );
    expect(page.graph.nodes).toHaveLength(63);
    const byState = (state: string) => page.graph.nodes.filter((n) => n.shown === state);
    expect(byState('cancelled').length).toBe(shown.counts.cancelled);
    expect(byState('running')).toEqual([]);
    for (const node of byState('fresh')) expect(node.reason).toMatch(/^(built|found up to date) on worker w1-\w+$/);
    ui.kill('SIGTERM');
    expect((await uiDone).exit).toBe(0);

    // Handed over again: what was built stays, the rest is built.
    slow = false;
    const again = await runPlan(['submit', '--run', runId, '--db', url], { cwd });
    expect(again.exit, again.stderr).toBe(0);
    expect(again.stdout.trim()).toBe(runId);
    await until(
      async () => (await runStatus(schema, runId)) === 'complete',
      async () => JSON.stringify(await rows(schema, 'SELECT task_id, state, error FROM §.worker_tasks WHERE state <> $1', ['done'])),
      150_000,
    );
    const outcomes = await rows<{ outcome: string; n: number }>(schema, 'SELECT outcome, COUNT(*)::int AS n FROM §.worker_tasks GROUP BY outcome');
    expect(Object.fromEntries(outcomes.map((r) => [r.outcome, r.n])).fresh).toBeGreaterThan(0);
    worker.child.kill('SIGINT');
    expect((await worker.done).exit).toBe(130);
  }, 300_000);

  it('plan build --workers: the workers build it, the files land in the run dir; an edit is kept; killed with kill -9 and run again, it follows to the end', async () => {
    const { url } = await newSchema();
    const cwd = newDir();
    const worker = startWorker(url, 'w1', ['-j', '3']);
    const prompt = 'A seed exchange for allotment gardeners';
    const built = await runPlan(
      ['build', 'runs/w', '--workers', '--db', url, '--prompt', prompt, '--speed', 'fast', '--param', `startTime=${START}`],
      {
        cwd,
      },
    );
    expect(built.exit, built.stderr).toBe(0);
    expect(built.stderr).toMatch(/build complete: ran 63 tasks, 0 fresh of 63 in .* \(on workers\)/);
    const local = await runPlan(['build', 'runs/local', '--prompt', prompt, '--speed', 'fast', '--param', `startTime=${START}`], { cwd });
    expect(local.exit, local.stderr).toBe(0);
    expect(snapshotDir(path.join(cwd, 'runs', 'w'))).toEqual(snapshotDir(path.join(cwd, 'runs', 'local')));

    // A person's edit in the run dir is stored before the run is handed over, kept, and read by what depends on it.
    const edited = path.join(cwd, 'runs', 'w', '003-11-consolidate_assumptions_short.md');
    fs.writeFileSync(edited, '# Assumptions, edited by a person\n');
    const again = await runPlan(['build', 'runs/w', '--workers', '--db', url, '--json'], { cwd });
    expect(again.exit, again.stderr).toBe(0);
    const events = again.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { type: string; taskId?: string });
    expect(events.find((e) => e.type === 'edits-stored')).toMatchObject({ count: 1 });
    // The events of a local build: the tasks that ran complete, the others are decided fresh.
    const ran = events.filter((e) => e.type === 'task-complete').map((e) => e.taskId!);
    const fresh = events.filter((e) => e.type === 'task-decided').map((e) => e.taskId!);
    expect(ran.length + fresh.length).toBe(63);
    expect(events.at(-1)).toMatchObject({ type: 'build-finished', status: 'success', summary: { tasks: 63, ran: ran.length, fresh: fresh.length } });
    expect(events.filter((e) => e.type === 'interaction-finished').length).toBeGreaterThan(0);
    expect(ran.length).toBeGreaterThan(0);
    expect(ran.length).toBeLessThan(63);
    expect(ran).not.toContain('ConsolidateAssumptionsMarkdownTask');
    expect(fs.readFileSync(edited, 'utf8')).toBe('# Assumptions, edited by a person\n');
    // A local build of a run the workers build is refused; --workers follows it.
    worker.child.kill('SIGTERM');
    expect((await worker.done).exit).toBe(0);

    const follower = spawnPlan(['build', 'runs/k', '--workers', '--db', url, '--prompt', 'A tool library', '--speed', 'fast', '--json'], { cwd });
    children.push(follower);
    const followed = collect(follower);
    // No worker is running: killed once it handed the run over, the run waits on the queue.
    await waitForOutput(follower, (out) => out.includes('"handed-over"'), 30_000);
    follower.kill('SIGKILL');
    expect((await followed).signal).toBe('SIGKILL');
    const refused = await runPlan(['build', 'runs/k', '--db', url], { cwd });
    expect(refused.exit).toBe(2);
    expect(refused.stderr).toMatch(/is being built by workers: follow it with plan build runs\/k --workers/);
    const late = startWorker(url, 'w2', ['-j', '3']);
    const resumed = await runPlan(['build', 'runs/k', '--workers', '--db', url], { cwd });
    expect(resumed.exit, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain('is being built by the workers: following it');
    expect(resumed.stderr).toMatch(/build complete: .* of 63/);
    expect(Object.keys(snapshotDir(path.join(cwd, 'runs', 'k'))).length).toBeGreaterThan(100);
    late.child.kill('SIGTERM');
    expect((await late.done).exit).toBe(0);
  }, 300_000);

  it('Ctrl-C of plan build --workers cancels the run on every worker (exit 130); run again, it finishes the run', async () => {
    const { url, schema } = await newSchema();
    const cwd = newDir();
    let slow = true;
    server = await startFakeOpenAiServer({ handler: (request) => ({ kind: 'delay', ms: slow ? 60_000 : 0, next: offlineLikeAnswer(request) }) });
    const args = ['--workers', '--db', url, '--speed', 'fast', '--param', `startTime=${START}`, `--model=openai-compatible:fake@${server.url}`];
    const workers = [startWorker(url, 'c1', ['-j', '2']), startWorker(url, 'c2', ['-j', '2'])];
    const build = spawnPlan(['build', 'runs/c', '--prompt', 'A repair café', '--json', ...args], { cwd });
    children.push(build);
    const built = collect(build);
    await waitForOutput(build, (out) => out.includes('"task-started"'), 60_000);
    await until(
      async () => (await rows(schema, `SELECT 1 FROM §.llm_interactions WHERE status = 'pending'`)).length > 0,
      () => 'no model call started',
      60_000,
    );
    build.kill('SIGINT');
    const stopped = await built;
    expect(stopped.exit, stopped.stderr).toBe(130);
    const runId = (await rows<{ id: string }>(schema, 'SELECT id FROM §.runs'))[0]!.id;
    expect(await runStatus(schema, runId)).toBe('cancelled');
    const attempts = await rows<{ status: string }>(schema, `SELECT status FROM §.task_attempts WHERE status IN ('running', 'cancelled')`);
    expect(attempts.length).toBeGreaterThan(0);
    expect(attempts.every((a) => a.status === 'cancelled')).toBe(true);
    expect(jsonEvents(stopped.stdout).at(-1)).toMatchObject({ type: 'build-finished', status: 'cancelled' });
    // The workers are still there, and take the run again when it is built again.
    for (const worker of workers) expect(worker.child.exitCode).toBeNull();
    slow = false;
    const again = await runPlan(['build', 'runs/c', '--json', ...args], { cwd });
    expect(again.exit, again.stderr).toBe(0);
    expect(await runStatus(schema, runId)).toBe('complete');
    expect(fs.existsSync(path.join(cwd, 'runs', 'c', '001-2-plan.txt'))).toBe(true);
    for (const worker of workers) worker.child.kill('SIGTERM');
    for (const worker of workers) expect((await worker.done).exit).toBe(0);
  }, 300_000);

  it('another store making its job queue in the same database (graphile-worker tells every worker to stop) does not stop a worker', async () => {
    const { url, schema } = await newSchema();
    const cwd = newDir();
    const worker = startWorker(url, 'w1', ['-j', '2']);
    await until(
      async () => (await rows(schema, 'SELECT 1 FROM §.workers WHERE stopped_at IS NULL').catch(() => [])).length === 1,
      () => 'the worker never registered',
      30_000,
    );
    // A second store beside it: its first use migrates a fresh queue schema, which graphile-worker announces
    // database-wide as a breaking migration.
    const other = await newSchema();
    const beside = await runPlan(['submit', '--db', other.url, '--prompt', 'Elsewhere', '--speed', 'fast'], { cwd });
    expect(beside.exit, beside.stderr).toBe(0);
    const runId = await submit(url, cwd, ['--prompt', 'A community fridge', '--speed', 'fast']);
    await until(
      async () => (await runStatus(schema, runId)) === 'complete',
      async () => JSON.stringify(await rows(schema, 'SELECT status, status_reason FROM §.runs')),
      120_000,
    );
    expect(worker.child.exitCode).toBeNull();
    worker.child.kill('SIGTERM');
    const done = await worker.done;
    expect(done.exit).toBe(0);
    expect(done.stderr).toContain('the job queue stopped (a queue schema was migrated in this database); starting it again');
  }, 300_000);

  it("a pipeline is named relative to each machine's pipeline root; a worker that cannot load it fails the task saying so, and goes on", async () => {
    const { url, schema } = await newSchema();
    const cwd = newDir();
    const absolute = await runPlan(['submit', '--db', url, '--pipeline', path.join(repoRoot, 'tests/fixtures/diamond-pipeline.mjs')], { cwd });
    expect(absolute.exit).toBe(2);
    expect(absolute.stderr).toMatch(/^plan: --pipeline \S+ is an absolute path of this machine: give it relative to the workers' --pipeline-root/);
    const args = ['--pipeline', 'tests/fixtures/diamond-pipeline.mjs', '--param', 'seed=far'];
    const runId = await submit(url, cwd, [...args, '--pipeline-root', repoRoot]);
    // This worker's root does not hold the module.
    const lost = startWorker(url, 'lost', ['--pipeline-root', newDir()]);
    await until(
      async () => (await runStatus(schema, runId)) === 'failed',
      async () => JSON.stringify(await rows(schema, 'SELECT task_id, state, error FROM §.worker_tasks')),
      60_000,
    );
    const failed = await rows<{ task_id: string; error: string }>(schema, `SELECT task_id, error FROM §.worker_tasks WHERE state = 'failed'`);
    expect(failed).toEqual([
      { task_id: 'Seed(seed=far)', error: expect.stringMatching(/^this worker cannot load the run's pipeline: pipeline module .* does not exist$/) },
    ]);
    expect(lost.child.exitCode).toBeNull();
    lost.child.kill('SIGTERM');
    expect((await lost.done).exit).toBe(0);
    // One whose root holds it builds the run, once handed over again.
    const found = startWorker(url, 'found', ['--pipeline-root', repoRoot]);
    const again = await runPlan(['submit', '--run', runId, '--db', url, '--pipeline-root', repoRoot], { cwd });
    expect(again.exit, again.stderr).toBe(0);
    await until(
      async () => (await runStatus(schema, runId)) === 'complete',
      async () => JSON.stringify(await rows(schema, 'SELECT task_id, state, error FROM §.worker_tasks')),
      60_000,
    );
    found.child.kill('SIGTERM');
    expect((await found.done).exit).toBe(0);
  }, 300_000);

  it('a retryable failure is retried on the worker; a failure blocks what depends on it, and --keep-going builds the rest, as a local build does', async () => {
    const { url, schema } = await newSchema();
    const cwd = newDir();
    const diamond = ['--pipeline', 'tests/fixtures/diamond-pipeline.mjs', '--pipeline-root', repoRoot];
    const attemptsOf = async (runId: string, task: string) =>
      (
        await rows<{ status: string }>(schema, 'SELECT status FROM §.task_attempts WHERE run_id = $1 AND task_id = $2 ORDER BY id', [runId, task])
      ).map((r) => r.status);
    const tasksOf = async (runId: string) =>
      Object.fromEntries(
        (await rows<{ task_id: string; state: string }>(schema, 'SELECT task_id, state FROM §.worker_tasks WHERE run_id = $1', [runId])).map((r) => [
          r.task_id,
          r.state,
        ]),
      );
    const ended = (runId: string, status: string) =>
      until(
        async () => (await runStatus(schema, runId)) === status,
        async () => JSON.stringify(await tasksOf(runId)),
        60_000,
      );

    // Bang fails once with a RetryableError in each worker process: tried again, with its backoff, and built.
    const flaky = startWorker(url, 'flaky', ['--pipeline-root', repoRoot], undefined, { FIXTURE_FLAKY: 'Bang' });
    const retried = await submit(url, cwd, [...diamond, '--param', 'seed=retry']);
    await ended(retried, 'complete');
    expect(await attemptsOf(retried, 'Bang')).toEqual(['failed', 'complete']);
    flaky.child.kill('SIGTERM');
    expect((await flaky.done).exit).toBe(0);

    // Upper fails for good. With --keep-going, Bang (another branch) is built; Shout and Join are blocked.
    const failing = startWorker(url, 'failing', ['-j', '1', '--pipeline-root', repoRoot], undefined, { FIXTURE_FAIL: 'Upper' });
    const kept = await submit(url, cwd, [...diamond, '--param', 'seed=kept', '--keep-going']);
    await ended(kept, 'failed');
    expect(await tasksOf(kept)).toEqual({ 'Seed(seed=kept)': 'done', Upper: 'failed', Bang: 'done', Shout: 'blocked', Join: 'blocked' });
    expect(await attemptsOf(kept, 'Upper')).toEqual(['failed']);
    // Without it, the run stops at the failure: what depends on Upper is blocked, and it ends failed.
    const stopped = await submit(url, cwd, [...diamond, '--param', 'seed=stop']);
    await ended(stopped, 'failed');
    expect(await tasksOf(stopped)).toMatchObject({ 'Seed(seed=stop)': 'done', Upper: 'failed', Shout: 'blocked', Join: 'blocked' });
    failing.child.kill('SIGTERM');
    expect((await failing.done).exit).toBe(0);
  }, 180_000);

  it("a pipeline installed as a package (npm:<name>) is found in the node_modules of each machine's pipeline root", async () => {
    const { url, schema } = await newSchema();
    const cwd = newDir();
    // The package as npm lays it out under the root; its entry is the diamond fixture.
    const root = newDir();
    const installed = path.join(root, 'node_modules', '@acme', 'diamond');
    fs.mkdirSync(installed, { recursive: true });
    fs.writeFileSync(path.join(installed, 'package.json'), JSON.stringify({ name: '@acme/diamond', type: 'module', exports: './index.js' }));
    const fixture = pathToFileURL(path.join(repoRoot, 'tests/fixtures/diamond-pipeline.mjs')).href;
    fs.writeFileSync(path.join(installed, 'index.js'), `export { pipeline } from '${fixture}';\n`);

    const runId = await submit(url, cwd, ['--pipeline', 'npm:@acme/diamond', '--param', 'seed=pkg', '--pipeline-root', root]);
    const worker = startWorker(url, 'pkg', ['--pipeline-root', root]);
    await until(
      async () => (await runStatus(schema, runId)) === 'complete',
      async () => JSON.stringify(await rows(schema, 'SELECT task_id, state, error FROM §.worker_tasks')),
      60_000,
    );
    expect(await rows(schema, 'SELECT pipeline FROM §.runs WHERE id = $1', [runId])).toEqual([{ pipeline: 'npm:@acme/diamond' }]);
    worker.child.kill('SIGTERM');
    expect((await worker.done).exit).toBe(0);
    const absent = await runPlan(['submit', '--db', url, '--pipeline', 'npm:@acme/absent', '--pipeline-root', root], { cwd });
    expect(absent.exit).toBe(2);
    expect(absent.stderr).toBe(`plan: pipeline package @acme/absent is not installed in ${root} (nor a folder above it): npm install it there\n`);
  }, 120_000);

  it("a provider's requests per minute, set in each worker's config, hold across the workers: the calls past them wait for the minute", async () => {
    const { url, schema } = await newSchema();
    const cwd = newDir();
    server = await startFakeOpenAiServer({ handler: () => ({ kind: 'text', text: 'something' }) });
    const runId = await submit(url, cwd, [
      '--pipeline',
      'tests/fixtures/fan-pipeline.mjs',
      '--param',
      'count=4',
      '--pipeline-root',
      repoRoot,
      `--model=openai-compatible:fake@${server.url}`,
    ]);
    // Two workers, one task each at a time, each allowed 2 requests a minute: alone, each would ask twice at
    // once (4 in all); together they hold 2 a minute, so the 3rd and 4th wait for the first ones' minute to pass.
    const config = { requestsPerMinute: 2 };
    const workers = [
      startWorker(url, 'r1', ['-j', '1', '--pipeline-root', repoRoot], config),
      startWorker(url, 'r2', ['-j', '1', '--pipeline-root', repoRoot], config),
    ];
    await until(
      async () => (await runStatus(schema, runId)) === 'complete',
      async () => JSON.stringify(await rows(schema, 'SELECT task_id, state, worker_id, error FROM §.worker_tasks')),
      150_000,
    );
    const at = server.requests.map((r) => r.receivedAt).sort((a, b) => a - b);
    expect(at).toHaveLength(4);
    // The minute is kept by the database's clock from each booking; a request reaches the server some time after
    // its booking (more under load), so the gap seen here is the minute give or take that: at least 50 s.
    expect(at[2]! - at[0]!).toBeGreaterThan(50_000);
    expect(at[3]! - at[1]!).toBeGreaterThan(50_000);
    const by = await rows<{ worker_id: string }>(schema, `SELECT DISTINCT worker_id FROM §.worker_tasks WHERE task_id LIKE 'Ask%'`);
    expect(by.length).toBe(2);
    for (const worker of workers) worker.child.kill('SIGTERM');
    for (const worker of workers) expect((await worker.done).exit).toBe(0);
  }, 300_000);
});
