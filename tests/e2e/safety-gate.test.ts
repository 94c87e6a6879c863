import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { jsonEvents, runPlan, startedTasks, tempDir } from '../support/cli.js';
import { startFakeOpenAiServer, type FakeOpenAiServer, type FakeRequest } from '../support/fake-openai-server.js';
import { offlineLikeAnswer } from '../support/fake-model.js';

const PROMPT = 'Plan something the gate will refuse';
const REFUSED = {
  verdict: 'REFUSE',
  rationale: 'The plan would help someone cause serious harm.',
  violation_category: 'weapons',
  capability_uplift: true,
  severity: 'high',
};

let cwd: string;
let server: FakeOpenAiServer | undefined;
beforeEach(() => {
  cwd = tempDir('plan-gate-');
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  fs.rmSync(cwd, { recursive: true, force: true });
});

const asksTheGate = (request: FakeRequest): boolean =>
  request.body.messages?.[0]?.content.startsWith('You review requests for project plans') === true;

describe('the safety gate of the plan pipeline', () => {
  it('a REFUSE stops the build after the gate (exit 1, a clear message); --allow-refused goes on without asking again or making anything stale', async () => {
    server = await startFakeOpenAiServer({
      handler: (request) => (asksTheGate(request) ? { kind: 'json', value: REFUSED } : offlineLikeAnswer(request)),
    });
    const model = `--model=openai-compatible:fake-model@${server.url}`;
    const build = (...args: string[]) => runPlan(['build', 'runs/demo', model, ...args], { cwd });

    const refused = await build('--prompt', PROMPT, '--speed', 'fast', '--json');
    expect(refused.exit, refused.stderr).toBe(1);
    expect(startedTasks(refused.stdout).sort()).toEqual(['RedlineGateTask', 'SetupTask', 'StartTimeTask']);
    const failed = jsonEvents(refused.stdout).find((e) => e.type === 'task-failed');
    expect(failed).toMatchObject({ taskId: 'RedlineGateTask', retryInMs: null });
    expect(failed?.error).toMatch(/^refused by the safety gate: REFUSE \(severity high, weapons\): The plan would help someone cause serious harm\./);
    expect(failed?.error).toContain('--allow-refused');
    expect(server.requestCount).toBe(1);

    // What the user sees afterwards: the refusal in plan status, the verdict with its model call.
    const status = await runPlan(['status', 'runs/demo'], { cwd });
    expect(status.stdout).toMatch(/^failed +RedlineGateTask: refused by the safety gate: REFUSE/m);
    const statusJson = JSON.parse((await runPlan(['status', 'runs/demo', '--json'], { cwd })).stdout) as {
      failures: { taskId: string; error: string }[];
    };
    expect(statusJson.failures).toEqual([expect.objectContaining({ taskId: 'RedlineGateTask', error: failed?.error })]);
    const call = JSON.parse((await runPlan(['llm', 'runs/demo', '--task', 'RedlineGateTask', '--json'], { cwd })).stdout) as {
      interactions: { status: string }[];
    };
    expect(call.interactions.map((c) => c.status)).toEqual(['completed']);

    // --keep-going does not get past it: everything that plans is downstream of the gate.
    const keepGoing = await build('--keep-going', '--json');
    expect(keepGoing.exit).toBe(1);
    expect(startedTasks(keepGoing.stdout)).toEqual(['RedlineGateTask']);
    expect(server.requestCount).toBe(1);

    const allowed = await build('--allow-refused', '--json');
    expect(allowed.exit, allowed.stderr).toBe(0);
    expect(startedTasks(allowed.stdout)).toHaveLength(61);
    expect(server.requests.filter(asksTheGate)).toHaveLength(1);
    expect(fs.readFileSync(path.join(cwd, 'runs', 'demo', '002-2-redline_gate.md'), 'utf8')).toContain('REFUSE');
    expect(fs.existsSync(path.join(cwd, 'runs', 'demo', '999-pipeline_complete.txt'))).toBe(true);

    const again = await build('--json');
    expect(again.exit, again.stderr).toBe(0);
    expect(startedTasks(again.stdout)).toEqual([]);
  });
});
