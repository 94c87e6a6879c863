import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { repoRoot, runPlan, snapshotDir, tempDir } from '../support/cli.js';
import { startFakeOpenAiServer, type FakeOpenAiServer, type FakeScript } from '../support/fake-openai-server.js';
import { offlineLikeAnswer } from '../support/fake-model.js';
import { storeQuery } from '../support/store-rows.js';

// Model-side faults through the CLI, end to end: what a build does when its models misbehave, and that the run
// finishes later on a working model. Each fault's handling inside the client (one row per try, backoff,
// Retry-After, feedback of invalid JSON, dropped connections, 500s) is in tests/integration/llm-client.test.ts.

const llmPipeline = path.join(repoRoot, 'tests', 'fixtures', 'llm-pipeline.mjs');

let cwd: string;
const servers: FakeOpenAiServer[] = [];
beforeEach(() => {
  cwd = tempDir('plan-model-faults-');
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  fs.rmSync(cwd, { recursive: true, force: true });
});

async function fakeServer(script: FakeScript): Promise<FakeOpenAiServer> {
  const server = await startFakeOpenAiServer(script);
  servers.push(server);
  return server;
}

function rows(): Promise<
  { item_key: string | null; requested_model: string; status: string; error_class: string | null; duration_ms: number | null }[]
> {
  return storeQuery(cwd, 'SELECT item_key, requested_model, status, error_class, duration_ms FROM llm_interactions ORDER BY id');
}

describe('every model failing', () => {
  it('one never answers (cut by the per-call timeout), one refuses, one answers empty: exit 1 naming each; later a working model finishes the run', async () => {
    const silent = await fakeServer({ handler: () => ({ kind: 'hang' }) });
    const refusing = await fakeServer({ handler: () => ({ kind: 'refusal', style: 'text' }) });
    const empty = await fakeServer({ handler: () => ({ kind: 'empty' }) });
    const good = await fakeServer({ handler: (request) => offlineLikeAnswer(request) });
    const spec = (name: string, server: FakeOpenAiServer): string => `openai-compatible:${name}@${server.url}`;

    const refCwd = tempDir('plan-model-faults-ref-');
    const ref = await runPlan(['build', 'runs/demo', '--pipeline', llmPipeline, `--model=${spec('good', good)}`], { cwd: refCwd });
    expect(ref.exit, ref.stderr).toBe(0);
    const reference = snapshotDir(path.join(refCwd, 'runs', 'demo'));
    fs.rmSync(refCwd, { recursive: true, force: true });

    // The per-call timeout comes from the config file: 0.3 s instead of the default 120 s.
    fs.writeFileSync(path.join(cwd, 'plan.config.json'), JSON.stringify({ timeoutSeconds: 0.3 }));
    const models = [spec('silent', silent), spec('refusing', refusing), spec('empty', empty)].map((m) => `--model=${m}`);
    const started = Date.now();
    const failed = await runPlan(['build', 'runs/demo', '--pipeline', llmPipeline, ...models], { cwd });
    expect(failed.exit).toBe(1);
    expect(Date.now() - started).toBeLessThan(30_000);
    const host = (server: FakeOpenAiServer): string => new URL(server.url).host;
    expect(failed.stderr).toContain(
      `FAIL  Ideas(topic=bread): model call failed on every model: ` +
        `${spec('silent', silent)}: timeout (no answer from ${host(silent)} within 300 ms); ` +
        `${spec('refusing', refusing)}: refusal (the model refused: I'm sorry, but I can't help with that.); ` +
        `${spec('empty', empty)}: empty_content (empty answer from empty)`,
    );
    expect(failed.stderr).toMatch(/build failed/);
    expect(fs.existsSync(path.join(cwd, 'runs', 'demo', 'ideas.json'))).toBe(false);
    expect(fs.existsSync(path.join(cwd, 'runs', 'demo', 'summary.md'))).toBe(false);

    // A call's tries, in order: retryable faults (timeout, empty) 4 times each, a refusal once, one row per try.
    // Ideas asks two things at once; the first to exhaust every model fails the task, and the build ends while
    // the other may still be on its way through the list: its rows are a prefix of the same sequence.
    const sequence = [...Array(4).fill(['silent', 'timeout']), ['refusing', 'refusal'], ...Array(4).fill(['empty', 'empty_content'])];
    const tries = await rows();
    const ofItem = (item: string) =>
      tries.filter((r) => r.item_key === item).map((r) => [r.requested_model.replace(/^openai-compatible:(\w+)@.*$/, '$1'), r.error_class]);
    const calls = [ofItem('first'), ofItem('second')].sort((a, b) => b.length - a.length);
    expect(calls[0]).toEqual(sequence);
    expect(calls[1]!.filter((t) => t[1] !== null)).toEqual(sequence.slice(0, calls[1]!.filter((t) => t[1] !== null).length));
    expect(tries.filter((r) => r.status === 'completed')).toEqual([]);
    for (const row of tries.filter((r) => r.error_class === 'timeout')) {
      expect(row.duration_ms).toBeGreaterThanOrEqual(290);
      expect(row.duration_ms).toBeLessThan(5_000);
    }

    const healed = await runPlan(['build', 'runs/demo', `--model=${spec('good', good)}`], { cwd });
    expect(healed.exit, healed.stderr).toBe(0);
    expect(snapshotDir(path.join(cwd, 'runs', 'demo'))).toEqual(reference);
    expect((await rows()).filter((r) => r.status === 'completed').map((r) => r.requested_model)).toEqual(Array(3).fill(spec('good', good)));
  });
});
