import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect, jsonEvents, repoRoot, runPlan, spawnPlan, tempDir, waitForOutput } from '../support/cli.js';
import { startFakeOpenAiServer, type FakeBehaviour, type FakeOpenAiServer, type FakeRequest } from '../support/fake-openai-server.js';
import { offlineLikeAnswer } from '../support/fake-model.js';
import { storeQuery } from '../support/store-rows.js';

// Resuming a run: the next `plan build` of the dir carries on with the settings the run was made with, says
// what it changes and what the dead build left behind.

const llmPipeline = path.join(repoRoot, 'tests', 'fixtures', 'llm-pipeline.mjs');

let cwd: string;
const servers: FakeOpenAiServer[] = [];
beforeEach(() => {
  cwd = tempDir('plan-resume-');
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  fs.rmSync(cwd, { recursive: true, force: true });
});

/** A model server whose behaviour a test can switch between builds. */
async function switchableServer(): Promise<{ server: FakeOpenAiServer; behave: (how: (request: FakeRequest) => FakeBehaviour) => void }> {
  let how: (request: FakeRequest) => FakeBehaviour = (request) => offlineLikeAnswer(request);
  const server = await startFakeOpenAiServer({ handler: (request) => how(request) });
  servers.push(server);
  return { server, behave: (next) => (how = next) };
}

/** The first call is answered; the second fails (after the first is in) with an error no retry can fix. */
const failsAfterOneCall = (request: FakeRequest): FakeBehaviour =>
  request.ordinal === 1 ? offlineLikeAnswer(request) : { kind: 'delay', ms: 300, next: { kind: 'status', status: 401, body: '{"error":"no"}' } };

function calls(): Promise<{ task_id: string; status: string; requested_model: string }[]> {
  return storeQuery(cwd, 'SELECT task_id, status, requested_model FROM llm_interactions ORDER BY id');
}

const build = (args: string[]) => runPlan(['build', 'runs/demo', ...args], { cwd });

describe('resuming a run on the models it was made with', () => {
  it('a run whose first build failed on model A resumes on A when no --model is given, not on offline', async () => {
    const { server, behave } = await switchableServer();
    const modelA = `openai-compatible:a@${server.url}`;
    behave(failsAfterOneCall);
    const failed = await build(['--pipeline', llmPipeline, `--model=${modelA}`]);
    expect(failed.exit, failed.stderr).toBe(1);
    const askedBefore = server.requestCount;

    behave((request) => offlineLikeAnswer(request));
    const resumed = await build([]);
    expect(resumed.exit, resumed.stderr).toBe(0);
    expect(resumed.stderr).not.toContain('continuing with');
    // The unanswered call and Summary's went to A; the answered one was replayed, not asked again.
    expect(server.requestCount - askedBefore).toBe(2);
    const byBuild = (await calls()).filter((c) => c.status !== 'failed');
    expect(byBuild.every((c) => c.requested_model === modelA)).toBe(true);
    expect(byBuild.filter((c) => c.status === 'replayed')).toHaveLength(1);
    expect(resumed.stderr).toContain('1 model call replayed from earlier attempts, not paid again');
  });

  it('resuming with another --model is announced, and replays the answers the first model gave', async () => {
    const { server, behave } = await switchableServer();
    const modelA = `openai-compatible:a@${server.url}`;
    behave(failsAfterOneCall);
    expect((await build(['--pipeline', llmPipeline, `--model=${modelA}`])).exit).toBe(1);
    const askedBefore = server.requestCount;

    const offline = await build(['--model', 'offline']);
    expect(offline.exit, offline.stderr).toBe(0);
    expect(offline.stderr).toContain(`run was built with ${modelA}; continuing with offline`);
    expect(server.requestCount).toBe(askedBefore);
    expect((await calls()).filter((c) => c.status === 'replayed')).toHaveLength(1);

    // The run now goes on with the model it was last built with.
    fs.rmSync(path.join(cwd, 'runs', 'demo', 'summary.md'));
    const again = await build([]);
    expect(again.exit, again.stderr).toBe(0);
    expect(again.stderr).not.toContain('continuing with');
    expect(server.requestCount).toBe(askedBefore);
  });

  it('the settings of a run stay out of its tasks: changing the model makes nothing stale', async () => {
    const { server } = await switchableServer();
    expect((await build(['--pipeline', llmPipeline, `--model=openai-compatible:a@${server.url}`, '--llm-concurrency', '2'])).exit).toBe(0);
    const noOp = await build(['--model', 'offline', '--llm-concurrency', '3', '--json']);
    expect(noOp.exit, noOp.stderr).toBe(0);
    expect(jsonEvents(noOp.stdout).filter((e) => e.type === 'task-started')).toEqual([]);
    const status = await runPlan(['status', 'runs/demo', '--json'], { cwd });
    expect((JSON.parse(status.stdout) as { counts: { fresh: number } }).counts.fresh).toBe(2);
  });
});

describe('a build killed with kill -9', () => {
  it('leaves its run interrupted in plan list and plan show, and the resume says what it abandoned and replayed', async () => {
    const { server, behave } = await switchableServer();
    // The first call is answered; the second never is, until the build is dead.
    behave((request) => (request.ordinal === 1 ? offlineLikeAnswer(request) : { kind: 'hang' }));
    const child = spawnPlan(['build', 'runs/demo', '--pipeline', llmPipeline, `--model=openai-compatible:a@${server.url}`, '--json'], { cwd });
    const done = collect(child);
    await waitForOutput(child, (out) => jsonEvents(out).some((e) => e.type === 'interaction-finished'));
    child.kill('SIGKILL');
    expect((await done).signal).toBe('SIGKILL');

    const listed = await runPlan(['list', '--json'], { cwd });
    expect((JSON.parse(listed.stdout) as { runs: { status: string }[] }).runs.map((r) => r.status)).toEqual(['interrupted']);
    const human = await runPlan(['list'], { cwd });
    expect(human.stdout).toMatch(/\binterrupted\b/);
    expect(human.stdout).not.toMatch(/\brunning\b/);
    const onlyInterrupted = await runPlan(['list', '--status', 'interrupted', '--json'], { cwd });
    expect((JSON.parse(onlyInterrupted.stdout) as { runs: unknown[] }).runs).toHaveLength(1);
    const onlyRunning = await runPlan(['list', '--status', 'running', '--json'], { cwd });
    expect((JSON.parse(onlyRunning.stdout) as { runs: unknown[] }).runs).toHaveLength(0);
    const shown = await runPlan(['show', 'runs/demo'], { cwd });
    expect(shown.stdout.split('\n')[0]).toMatch(/^run \S+ {2}interrupted\b/);
    const shownJson = await runPlan(['show', 'runs/demo', '--json'], { cwd });
    expect((JSON.parse(shownJson.stdout) as { run: { status: string } }).run.status).toBe('interrupted');

    behave((request) => offlineLikeAnswer(request));
    const resumed = await build([]);
    expect(resumed.exit, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/abandoned attempt \d+ of Ideas\(topic=bread\), left running by a build that died/);
    expect(resumed.stderr).toContain('1 model call replayed from earlier attempts, not paid again');
    const after = await runPlan(['list', '--json'], { cwd });
    expect((JSON.parse(after.stdout) as { runs: { status: string }[] }).runs.map((r) => r.status)).toEqual(['complete']);
  });
});
