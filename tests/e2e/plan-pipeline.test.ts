import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect, jsonEvents, runPlan, snapshotDir, spawnPlan, startedTasks, tempDir, waitForOutput } from '../support/cli.js';
import { startFakeOpenAiServer, type FakeOpenAiServer } from '../support/fake-openai-server.js';
import { offlineLikeAnswer } from '../support/fake-model.js';
import { storeQuery } from '../support/store-rows.js';
import { PLAN_TASK_CLASSES } from '../../src/tasks/catalog.js';
import { planConfigFrom } from '../../src/tasks/pipeline.js';
import { outputList } from '../../src/engine/target.js';

const PROMPT = 'Open a small sourdough bakery in Copenhagen within a year';
const START = '--param=startTime=2026-03-01T09:00:00.000Z';

let cwd: string;
let server: FakeOpenAiServer | undefined;
beforeEach(() => {
  cwd = tempDir('plan-pipeline-');
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  fs.rmSync(cwd, { recursive: true, force: true });
});

const runDir = (): string => path.join(cwd, 'runs', 'demo');
const sha = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

function declaredFiles(speed: 'fast' | 'full'): string[] {
  const config = planConfigFrom({ prompt: PROMPT, speed, startTime: '2026-03-01T09:00:00.000Z' });
  return PLAN_TASK_CLASSES.flatMap((Class) => outputList(new Class(config).output()).map((t) => t.path));
}

const query = <T>(sql: string, ...args: unknown[]): Promise<T[]> => storeQuery<T>(cwd, sql, ...args);

describe.each(['fast', 'full'] as const)('the plan pipeline on the offline model (--speed %s)', (speed) => {
  it('builds every declared file, stores each with its sha256, records every call; a second build does nothing', async () => {
    const result = await runPlan(['build', 'runs/demo', '--prompt', PROMPT, '--speed', speed, '--json'], { cwd });
    expect(result.exit, result.stderr).toBe(0);
    expect(startedTasks(result.stdout)).toHaveLength(63);

    const onDisk = fs.readdirSync(runDir()).filter((f) => !f.startsWith('.plan-'));
    for (const declared of declaredFiles(speed)) expect(onDisk).toContain(declared);

    const rows = await query<{ path: string; sha256: string }>(
      'SELECT path, sha256 FROM plan_content c WHERE version = (SELECT MAX(version) FROM plan_content WHERE run_id = c.run_id AND path = c.path)',
    );
    const stored = new Map(rows.map((r) => [r.path, r.sha256]));
    expect([...stored.keys()].sort()).toEqual([...onDisk].sort());
    for (const name of onDisk) expect(stored.get(name), name).toBe(sha(fs.readFileSync(path.join(runDir(), name))));

    const finished = jsonEvents(result.stdout).filter((e) => e.type === 'interaction-finished');
    const interactions = await query<{ status: string; answered_model: string; cost_usd: number }>(
      'SELECT status, answered_model, cost_usd FROM llm_interactions',
    );
    expect(interactions).toHaveLength(finished.length);
    expect(interactions.length).toBeGreaterThan(speed === 'full' ? 100 : 40);
    expect(interactions.every((i) => i.status === 'completed' && i.answered_model === 'offline' && i.cost_usd === 0)).toBe(true);
    expect(fs.readFileSync(path.join(runDir(), '999-pipeline_complete.txt'), 'utf8').length).toBeGreaterThan(0);

    const again = await runPlan(['build', 'runs/demo', '--json'], { cwd });
    expect(again.exit).toBe(0);
    expect(startedTasks(again.stdout)).toEqual([]);
  });
});

describe('changing what a run was made from', () => {
  it('a different prompt is refused unless SetupTask is forced; --speed changes rebuild only the tasks that use it', async () => {
    const first = await runPlan(['build', 'runs/demo', '--prompt', PROMPT, '--speed', 'fast'], { cwd });
    expect(first.exit, first.stderr).toBe(0);
    const setupBefore = fs.readFileSync(path.join(runDir(), '001-2-plan.txt'), 'utf8');

    const refused = await runPlan(['build', 'runs/demo', '--prompt', 'Something else entirely'], { cwd });
    expect(refused.exit).toBe(2);
    expect(refused.stderr.trim()).toMatch(/^plan: run .* was created with a different prompt; to rebuild it with this one add --force SetupTask$/);
    expect(fs.readFileSync(path.join(runDir(), '001-2-plan.txt'), 'utf8')).toBe(setupBefore);

    const slower = await runPlan(['build', 'runs/demo', '--speed', 'full', '--json'], { cwd });
    expect(slower.exit, slower.stderr).toBe(0);
    const rerun = startedTasks(slower.stdout);
    expect(rerun).toContain('PremiseAttackTask');
    expect(rerun).not.toContain('SetupTask');
    expect(rerun.length).toBeLessThan(63);
    const reason = jsonEvents(slower.stdout).find((e) => e.type === 'task-decided' && e.taskId === 'PremiseAttackTask')?.reason;
    expect(reason).toBe('parameter speed changed ("fast" → "full")');

    const forced = await runPlan(['build', 'runs/demo', '--prompt', 'Something else entirely', '--force', 'SetupTask', '--json'], { cwd });
    expect(forced.exit, forced.stderr).toBe(0);
    expect(startedTasks(forced.stdout)).toHaveLength(62);
    expect(fs.readFileSync(path.join(runDir(), '001-2-plan.txt'), 'utf8')).toContain('Something else entirely');
  });
});

describe('the plan pipeline against an OpenAI-compatible server', () => {
  it('killed during WBS level 3, resumes replaying the calls that had completed, and equals an uninterrupted build', async () => {
    server = await startFakeOpenAiServer({ handler: (request) => ({ kind: 'delay', ms: 40, next: offlineLikeAnswer(request) }) });
    const model = `--model=openai-compatible:fake-model@${server.url}`;

    const refCwd = tempDir('plan-pipeline-ref-');
    const reference = await runPlan(['build', 'runs/demo', '--prompt', PROMPT, START, model], { cwd: refCwd });
    expect(reference.exit, reference.stderr).toBe(0);
    const expected = snapshotDir(path.join(refCwd, 'runs', 'demo'));
    fs.rmSync(refCwd, { recursive: true, force: true });
    const requestsForReference = server.requestCount;

    const child = spawnPlan(['build', 'runs/demo', '--prompt', PROMPT, START, model, '--json'], { cwd });
    const done = collect(child);
    const wbs3Finished = (out: string): number =>
      jsonEvents(out).filter((e) => e.type === 'interaction-finished' && e.taskId === 'CreateWBSLevel3Task' && e.status === 'completed').length;
    await waitForOutput(child, (out) => wbs3Finished(out) >= 3, 60_000);
    child.kill('SIGKILL');
    expect((await done).signal).toBe('SIGKILL');

    const completedBefore = (
      await query<{ request_hash: string }>(
        "SELECT request_hash FROM llm_interactions WHERE task_id = 'CreateWBSLevel3Task' AND status = 'completed'",
      )
    ).map((r) => r.request_hash);
    expect(completedBefore.length).toBeGreaterThanOrEqual(3);
    const askedBeforeResume = server.requests.length;

    const resumed = await runPlan(['build', 'runs/demo', model, '--json'], { cwd });
    expect(resumed.exit, resumed.stderr).toBe(0);
    const replayed = await query<{ request_hash: string }>(
      "SELECT request_hash FROM llm_interactions WHERE task_id = 'CreateWBSLevel3Task' AND status = 'replayed'",
    );
    expect(replayed.map((r) => r.request_hash).sort()).toEqual([...completedBefore].sort());
    // None of the calls that had completed was asked again by the new attempt.
    const [abandoned] = await query<{ id: number }>("SELECT id FROM task_attempts WHERE task_id = 'CreateWBSLevel3Task' AND status = 'abandoned'");
    expect(abandoned).toBeDefined();
    const askedAgain = (
      await query<{ request_hash: string }>(
        "SELECT request_hash FROM llm_interactions WHERE task_id = 'CreateWBSLevel3Task' AND status = 'completed' AND attempt_id != ?",
        abandoned!.id,
      )
    ).filter((r) => completedBefore.includes(r.request_hash));
    expect(askedAgain).toEqual([]);
    const askedAfter = server.requests.length - askedBeforeResume;
    expect(askedAfter).toBeLessThan(requestsForReference);

    expect(snapshotDir(runDir())).toEqual(expected);
  });
});
