import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect, jsonEvents, repoRoot, runPlan, spawnPlan, tempDir, waitForOutput } from '../support/cli.js';
import { startFakeOpenAiServer, type FakeOpenAiServer } from '../support/fake-openai-server.js';
import { offlineLikeAnswer } from '../support/fake-model.js';

const llmPipeline = path.join(repoRoot, 'tests', 'fixtures', 'llm-pipeline.mjs');

interface Call {
  id: number;
  taskId: string;
  status: string;
  errorMessage: string | null;
  finishedAt: string | null;
}

let cwd: string;
let server: FakeOpenAiServer | undefined;
beforeEach(() => {
  cwd = tempDir('plan-abandoned-');
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  fs.rmSync(cwd, { recursive: true, force: true });
});

async function calls(status: string): Promise<Call[]> {
  const listed = await runPlan(['llm', 'runs/demo', '--status', status, '--json'], { cwd });
  expect(listed.exit, listed.stderr).toBe(0);
  return (JSON.parse(listed.stdout) as { interactions: Call[] }).interactions;
}

describe('model calls of a build killed mid-call', () => {
  it('after kill -9 and a completed resume, no call is left pending: the unanswered ones are abandoned, with the reason', async () => {
    // The first build's calls never get an answer; once it is dead the server answers at once.
    let slow = true;
    server = await startFakeOpenAiServer({
      handler: (request) => (slow ? { kind: 'delay', ms: 60_000, next: offlineLikeAnswer(request) } : offlineLikeAnswer(request)),
    });
    const model = `--model=openai-compatible:slow@${server.url}`;
    const child = spawnPlan(['build', 'runs/demo', '--pipeline', llmPipeline, model, '--json'], { cwd });
    const done = collect(child);
    const inFlight = (out: string): number => jsonEvents(out).filter((e) => e.type === 'interaction-started').length;
    await waitForOutput(child, (out) => inFlight(out) >= 2);
    child.kill('SIGKILL');
    expect((await done).signal).toBe('SIGKILL');
    slow = false;

    const resumed = await runPlan(['build', 'runs/demo', model], { cwd });
    expect(resumed.exit, resumed.stderr).toBe(0);

    expect(await calls('pending')).toEqual([]);
    const human = await runPlan(['llm', 'runs/demo', '--status', 'pending'], { cwd });
    expect(human.stdout).toBe('no model calls match\n');

    const abandoned = await calls('abandoned');
    expect(abandoned.map((c) => c.taskId)).toEqual(['Ideas(topic=bread)', 'Ideas(topic=bread)']);
    for (const call of abandoned) {
      expect(call.errorMessage).toMatch(/process .* died/);
      expect(call.finishedAt).not.toBeNull();
    }
    // The resume asked again and got its answers.
    expect((await calls('completed')).map((c) => c.taskId)).toEqual(['Ideas(topic=bread)', 'Ideas(topic=bread)', 'Summary']);
  });
});
