import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { repoRoot, runPlan, tempDir } from '../support/cli.js';
import { startFakeOpenAiServer, type FakeOpenAiServer } from '../support/fake-openai-server.js';
import { offlineLikeAnswer } from '../support/fake-model.js';

const llmPipeline = path.join(repoRoot, 'tests', 'fixtures', 'llm-pipeline.mjs');
const SECRET = 'sk-test-DO-NOT-LEAK-7f3a9c2e41b8';

let cwd: string;
const servers: FakeOpenAiServer[] = [];
beforeEach(() => {
  cwd = tempDir('plan-llm-cli-');
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  fs.rmSync(cwd, { recursive: true, force: true });
});

async function fakeServer(script: Parameters<typeof startFakeOpenAiServer>[0]): Promise<FakeOpenAiServer> {
  const server = await startFakeOpenAiServer(script);
  servers.push(server);
  return server;
}

function interactions(): { task_id: string; status: string; requested_model: string; error_class: string | null; cost_usd: number | null }[] {
  const db = new Database(path.join(cwd, 'runs', 'plan.db'), { readonly: true });
  try {
    return db.prepare('SELECT task_id, status, requested_model, error_class, cost_usd FROM llm_interactions ORDER BY id').all() as never;
  } finally {
    db.close();
  }
}

const build = (args: string[], env: Record<string, string> = {}) => runPlan(['build', 'runs/demo', '--pipeline', llmPipeline, ...args], { cwd, env });

describe('plan build with models', () => {
  it('falls back to the next model when the first keeps failing; every try is its own row', async () => {
    const broken = await fakeServer({ handler: () => ({ kind: 'server-error', status: 503 }) });
    const working = await fakeServer({ handler: (request) => offlineLikeAnswer(request) });
    const result = await build([`--model=openai-compatible:broken@${broken.url}`, `--model=openai-compatible:good@${working.url}`]);
    expect(result.exit, result.stderr).toBe(0);
    const rows = interactions();
    const failed = rows.filter((r) => r.status === 'failed');
    const completed = rows.filter((r) => r.status === 'completed');
    expect(completed).toHaveLength(3);
    expect(completed.every((r) => r.requested_model === `openai-compatible:good@${working.url}`)).toBe(true);
    expect(failed.length).toBe(broken.requestCount);
    expect(failed.every((r) => r.requested_model === `openai-compatible:broken@${broken.url}` && r.error_class === 'server_error')).toBe(true);
    expect(failed.length).toBeGreaterThanOrEqual(3 * 2);
  });

  it('--max-cost stops the run (stopped: budget) and a later build with a higher budget finishes it', async () => {
    // Answers priced like gpt-4o-mini: 100k in + 10k out tokens = $0.021 a call.
    const server = await fakeServer({
      model: 'gpt-4o-mini',
      handler: (request) => offlineLikeAnswer(request, { prompt_tokens: 100_000, completion_tokens: 10_000 }),
    });
    const model = `--model=openai-compatible:priced@${server.url}`;
    const stopped = await build([model, '--max-cost', '0.03', '--llm-concurrency', '1']);
    expect(stopped.exit).toBe(1);
    expect(stopped.stderr).toContain('stopped: budget of $0.03 reached');
    const db = new Database(path.join(cwd, 'runs', 'plan.db'), { readonly: true });
    const run = db.prepare('SELECT status, status_reason FROM runs').get();
    db.close();
    expect(run).toEqual({ status: 'stopped', status_reason: 'budget' });
    // A call starts only while spent + in-flight estimates stay under the budget; the estimate cannot know the
    // answer's size, so the last call started may end above it — but no call starts once it is reached.
    const costs = interactions().map((r) => r.cost_usd ?? 0);
    expect(costs).toEqual([0.021, 0.021]);
    expect(costs[0]).toBeLessThan(0.03);
    expect(fs.existsSync(path.join(cwd, 'runs', 'demo', 'summary.md'))).toBe(false);

    const resumed = await runPlan(['build', 'runs/demo', model, '--max-cost', '1'], { cwd });
    expect(resumed.exit, resumed.stderr).toBe(0);
    expect(fs.existsSync(path.join(cwd, 'runs', 'demo', 'summary.md'))).toBe(true);
  });

  it('sends the API key to the server but never writes it to the database, the output or the run dir', async () => {
    const server = await fakeServer({ handler: (request) => offlineLikeAnswer(request) });
    const result = await build([`--model=openai-compatible:keyed@${server.url}`, '--json'], { OPENAI_COMPATIBLE_API_KEY: SECRET });
    expect(result.exit, result.stderr).toBe(0);
    expect(server.requests.every((r) => r.headers.authorization === `Bearer ${SECRET}`)).toBe(true);

    // A failing build too: errors must not carry the key either.
    const failing = await fakeServer({ handler: () => ({ kind: 'status', status: 401, body: `{"error":"bad key ${SECRET}"}` }) });
    const denied = await runPlan(['build', 'runs/other', '--pipeline', llmPipeline, `--model=openai-compatible:keyed@${failing.url}`, '--json'], {
      cwd,
      env: { OPENAI_COMPATIBLE_API_KEY: SECRET },
    });
    expect(denied.exit).toBe(1);

    const everything = [result.stdout, result.stderr, denied.stdout, denied.stderr];
    for (const entry of fs.readdirSync(path.join(cwd, 'runs'), { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) everything.push(fs.readFileSync(path.join(entry.parentPath, entry.name)).toString('latin1'));
    }
    for (const text of everything) expect(text.includes(SECRET)).toBe(false);
  });

  it('masks the key where a server echoes it inside an answer, so no task writes it into a file', async () => {
    const server = await fakeServer({
      handler: (request) => {
        const echoed = String(request.headers.authorization ?? '').replace(/^Bearer /, '');
        if (request.body.response_format === undefined) return { kind: 'text', text: `Summary. Your key is ${echoed}, by the way.` };
        return offlineLikeAnswer(request);
      },
    });
    const result = await build([`--model=openai-compatible:echo@${server.url}`], { OPENAI_COMPATIBLE_API_KEY: SECRET });
    expect(result.exit, result.stderr).toBe(0);
    const summary = fs.readFileSync(path.join(cwd, 'runs', 'demo', 'summary.md'), 'utf8');
    expect(summary).toBe('Summary. Your key is [redacted], by the way.');
  });

  it('plan llm and plan costs show the calls a real build made, with the priced tokens', async () => {
    const server = await fakeServer({
      model: 'gpt-4o-mini',
      handler: (request) => offlineLikeAnswer(request, { prompt_tokens: 2_000, completion_tokens: 300 }),
    });
    const result = await build([`--model=openai-compatible:priced@${server.url}`]);
    expect(result.exit, result.stderr).toBe(0);
    const llm = await runPlan(['llm', 'runs/demo', '--json'], { cwd });
    const calls = (JSON.parse(llm.stdout) as { interactions: { taskId: string; status: string; inputTokens: number; costUsd: number }[] })
      .interactions;
    expect(calls.map((c) => [c.taskId, c.status])).toEqual([
      ['Ideas(topic=bread)', 'completed'],
      ['Ideas(topic=bread)', 'completed'],
      ['Summary', 'completed'],
    ]);
    // 2,000 in + 300 out at gpt-4o-mini's $0.15 / $0.60 per million tokens.
    expect(calls.every((c) => Math.abs(c.costUsd - 0.00048) < 1e-12)).toBe(true);
    const costs = JSON.parse((await runPlan(['costs', '--by', 'task', '--json'], { cwd })).stdout) as {
      rows: { key: string; calls: number }[];
      total: { calls: number; inputTokens: number; costUsd: number };
    };
    expect(costs.rows.map((r) => [r.key, r.calls])).toEqual([
      ['Ideas(topic=bread)', 2],
      ['Summary', 1],
    ]);
    expect(costs.total).toMatchObject({ calls: 3, inputTokens: 6_000 });
    expect(costs.total.costUsd).toBeCloseTo(0.00144, 12);
  });

  it('bad model specs and malformed config files are one-line errors with exit 2, before anything is stored', async () => {
    const unknown = await build(['--model', 'acme:thing']);
    expect(unknown.exit).toBe(2);
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
    expect(unknown.stderr).toContain('acme:thing');

    fs.writeFileSync(path.join(cwd, 'plan.config.json'), '{ "models": [ "offline", ');
    const badConfig = await build([]);
    expect(badConfig.exit).toBe(2);
    expect(badConfig.stderr).toMatch(/^plan: config file .*plan\.config\.json is not valid JSON/);
    expect(fs.existsSync(path.join(cwd, 'runs', 'plan.db'))).toBe(false);
  });

  it('reads models from plan.config.json and keys from .env', async () => {
    const server = await fakeServer({ handler: (request) => offlineLikeAnswer(request) });
    fs.writeFileSync(path.join(cwd, 'plan.config.json'), JSON.stringify({ models: [`openai-compatible:configured@${server.url}`] }));
    fs.writeFileSync(path.join(cwd, '.env'), `# keys\nOPENAI_COMPATIBLE_API_KEY="${SECRET}"\n`);
    const result = await build([], { OPENAI_COMPATIBLE_API_KEY: '' });
    expect(result.exit, result.stderr).toBe(0);
    expect(server.requestCount).toBe(3);
    expect(interactions().every((r) => r.requested_model === `openai-compatible:configured@${server.url}`)).toBe(true);
  });
});
