import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { repoRoot, runPlan, tempDir } from '../support/cli.js';
import { startFakeOpenAiServer, type FakeOpenAiServer } from '../support/fake-openai-server.js';
import { offlineLikeAnswer } from '../support/fake-model.js';
import { storeExists, storeQuery, withStoreRows } from '../support/store-rows.js';

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

function interactions(): Promise<
  { task_id: string; status: string; requested_model: string; error_class: string | null; cost_usd: number | null }[]
> {
  return storeQuery(cwd, 'SELECT task_id, status, requested_model, error_class, cost_usd FROM llm_interactions ORDER BY id');
}

/**
 * Every value of every row of every table, as text (bytes as latin1, as the file scan reads the SQLite file):
 * what the store holds, on PostgreSQL too, where the database is not a file under runs/.
 */
function everyStoredValue(): Promise<string[]> {
  return withStoreRows(cwd, async (rows) => {
    const values: string[] = [];
    for (const table of await rows.tables()) {
      for (const row of await rows.all<Record<string, unknown>>(`SELECT * FROM ${table}`)) {
        for (const value of Object.values(row)) values.push(Buffer.isBuffer(value) ? value.toString('latin1') : String(value));
      }
    }
    return values;
  });
}

const build = (args: string[], env: Record<string, string> = {}) => runPlan(['build', 'runs/demo', '--pipeline', llmPipeline, ...args], { cwd, env });

describe('plan build with models', () => {
  it('falls back to the next model when the first keeps failing; every try is its own row', async () => {
    const broken = await fakeServer({ handler: () => ({ kind: 'server-error', status: 503 }) });
    const working = await fakeServer({ handler: (request) => offlineLikeAnswer(request) });
    const result = await build([`--model=openai-compatible:broken@${broken.url}`, `--model=openai-compatible:good@${working.url}`], {
      OPENAI_COMPATIBLE_API_KEY: '',
    });
    expect(result.exit, result.stderr).toBe(0);
    const rows = await interactions();
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
    const price = '--price=0.15,0.6';
    const stopped = await build([model, price, '--max-cost', '0.03', '--llm-concurrency', '1']);
    expect(stopped.exit).toBe(1);
    expect(stopped.stderr).toContain('stopped: budget of $0.03 reached');
    const run = await withStoreRows(cwd, (rows) => rows.get('SELECT status, status_reason FROM runs'));
    expect(run).toEqual({ status: 'stopped', status_reason: 'budget' });
    // A call starts only while spent + in-flight estimates stay under the budget; the estimate cannot know the
    // answer's size, so the last call started may end above it — but no call starts once it is reached.
    const costs = (await interactions()).map((r) => r.cost_usd ?? 0);
    expect(costs).toEqual([0.021, 0.021]);
    expect(costs[0]).toBeLessThan(0.03);
    expect(fs.existsSync(path.join(cwd, 'runs', 'demo', 'summary.md'))).toBe(false);

    const resumed = await runPlan(['build', 'runs/demo', model, price, '--max-cost', '1'], { cwd });
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

    const stored = await everyStoredValue();
    // The rows were read (the model calls' rows name the model): the scan below covers the database on either store.
    expect(stored.some((value) => value.includes(`openai-compatible:keyed@${server.url}`))).toBe(true);
    const everything = [result.stdout, result.stderr, denied.stdout, denied.stderr, ...stored];
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
    expect(await storeExists(cwd)).toBe(false);
  });

  it('reads models from plan.config.json and keys from .env', async () => {
    const server = await fakeServer({ handler: (request) => offlineLikeAnswer(request) });
    fs.writeFileSync(path.join(cwd, 'plan.config.json'), JSON.stringify({ models: [`openai-compatible:configured@${server.url}`] }));
    fs.writeFileSync(path.join(cwd, '.env'), `# keys\nOPENAI_COMPATIBLE_API_KEY="${SECRET}"\n`);
    const result = await build([], { OPENAI_COMPATIBLE_API_KEY: '' });
    expect(result.exit, result.stderr).toBe(0);
    expect(server.requestCount).toBe(3);
    expect((await interactions()).every((r) => r.requested_model === `openai-compatible:configured@${server.url}`)).toBe(true);
  });
});

/** Every stored call's cost, oldest first. */
const costs = async (): Promise<(number | null)[]> => (await interactions()).map((r) => r.cost_usd);

describe('models whose price is not known', () => {
  it('--max-cost with a model of unknown price refuses to start: exit 2, one line naming the model and how to price it', async () => {
    const server = await fakeServer({ handler: (request) => offlineLikeAnswer(request) });
    const spec = `openai-compatible:hosted@${server.url}`;
    const refused = await build([`--model=${spec}`, '--model=offline', '--max-cost', '1']);
    expect(refused.exit).toBe(2);
    const lines = refused.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(spec);
    expect(lines[0]).not.toContain('offline,');
    expect(lines[0]).toContain('--price IN,OUT');
    expect(lines[0]).toContain('"prices"');
    expect(server.requestCount).toBe(0);
    expect(await storeExists(cwd)).toBe(false);

    // A budget in the config file is a budget too.
    fs.writeFileSync(path.join(cwd, 'plan.config.json'), JSON.stringify({ maxCost: 1 }));
    expect((await build([`--model=${spec}`])).exit).toBe(2);
  });

  it('--price IN,OUT prices the models without a known price, and a config price prices one model', async () => {
    const server = await fakeServer({ handler: (request) => offlineLikeAnswer(request, { prompt_tokens: 1_000_000, completion_tokens: 100_000 }) });
    const spec = `openai-compatible:hosted@${server.url}`;
    const priced = await build([`--model=${spec}`, '--price', '0.5,2', '--max-cost', '10']);
    expect(priced.exit, priced.stderr).toBe(0);
    // 1M in at $0.50 + 100k out at $2 per million.
    expect(await costs()).toEqual([0.7, 0.7, 0.7]);

    fs.writeFileSync(path.join(cwd, 'plan.config.json'), JSON.stringify({ prices: { [spec]: { inputPerM: 1, outputPerM: 0 } } }));
    const configured = await runPlan(['build', 'runs/demo', `--model=${spec}`, '--force', 'Summary', '--max-cost', '10'], { cwd });
    expect(configured.exit, configured.stderr).toBe(0);
    expect(await costs()).toEqual([0.7, 0.7, 0.7, 1]);

    // A price given by the config wins over --price, which is only for the models that have none.
    const both = await runPlan(['build', 'runs/demo', `--model=${spec}`, '--force', 'Summary', '--price', '9,9'], { cwd });
    expect(both.exit, both.stderr).toBe(0);
    expect((await costs()).at(-1)).toBe(1);

    const bad = await build([`--model=${spec}`, '--price', '0.5']);
    expect(bad.exit).toBe(2);
    expect(bad.stderr).toMatch(/^plan: --price takes IN,OUT/);
  });

  it('stores NULL, not $0, for an unpriced call, and status, show, llm, costs, list and --summarize say the cost is unknown (null in JSON)', async () => {
    const server = await fakeServer({ handler: (request) => offlineLikeAnswer(request) });
    const result = await build([`--model=openai-compatible:mystery@${server.url}`, '--summarize', 'out/summary.json']);
    expect(result.exit, result.stderr).toBe(0);
    expect(await costs()).toEqual([null, null, null]);

    // In JSON an unknown cost is null, as a single call's is.
    const summary = JSON.parse(fs.readFileSync(path.join(cwd, 'out', 'summary.json'), 'utf8')) as {
      totals: { calls: number; costUsd: number | null };
      tasks: { costUsd: number | null }[];
    };
    expect(summary.totals).toEqual(expect.objectContaining({ calls: 3, costUsd: null }));
    expect(summary.tasks.map((t) => t.costUsd)).toEqual([null, null]);

    const status = await runPlan(['status', 'runs/demo'], { cwd });
    expect(status.stdout).toContain('3 calls');
    expect(status.stdout).toContain('cost unknown');
    expect(status.stdout).not.toContain('$0.0000');
    expect(JSON.parse((await runPlan(['status', 'runs/demo', '--json'], { cwd })).stdout)).toMatchObject({ calls: 3, costUsd: null });

    const show = await runPlan(['show', 'runs/demo'], { cwd });
    expect(show.stdout).toMatch(/calls {5}3 · .* · cost unknown/);
    expect(show.stdout).toMatch(/^Summary +complete +1 +\S+ +1 +\S+ +unknown$/m);
    const shown = JSON.parse((await runPlan(['show', 'runs/demo', '--json'], { cwd })).stdout) as {
      totals: { costUsd: number | null };
      tasks: { costUsd: number | null }[];
    };
    expect(shown.totals.costUsd).toBeNull();
    expect(shown.tasks.map((t) => t.costUsd)).toEqual([null, null]);

    const llm = await runPlan(['llm', 'runs/demo'], { cwd });
    expect(llm.stdout.split('\n').filter((line) => / completed .* unknown /.test(line))).toHaveLength(3);
    expect(llm.stdout).toMatch(/3 calls · .* tokens · cost unknown/);

    const spend = await runPlan(['costs', '--by', 'task'], { cwd });
    expect(spend.stdout).toMatch(/^total +3 .* unknown$/m);
    const spent = JSON.parse((await runPlan(['costs', '--json'], { cwd })).stdout) as {
      rows: { costUsd: number | null }[];
      total: { calls: number; costUsd: number | null };
    };
    expect(spent.rows.map((r) => r.costUsd)).toEqual([null]);
    expect(spent.total).toMatchObject({ calls: 3, costUsd: null });

    const list = await runPlan(['list'], { cwd });
    expect(list.stdout).toMatch(/ complete +2\/2 +3 +unknown /);
    const listed = JSON.parse((await runPlan(['list', '--json'], { cwd })).stdout) as { runs: { costUsd: number | null }[] };
    expect(listed.runs[0]?.costUsd).toBeNull();
  });

  it('shows a lower bound when some calls are priced and others are not', async () => {
    const server = await fakeServer({ handler: (request) => offlineLikeAnswer(request, { prompt_tokens: 1_000_000, completion_tokens: 0 }) });
    const priced = await build([`--model=openai-compatible:priced@${server.url}`, '--price', '1,1']);
    expect(priced.exit, priced.stderr).toBe(0);
    const unpriced = await runPlan(['build', 'runs/demo', `--model=openai-compatible:mystery@${server.url}`, '--force', 'Summary'], { cwd });
    expect(unpriced.exit, unpriced.stderr).toBe(0);
    expect(await costs()).toEqual([1, 1, 1, null]);
    const status = await runPlan(['status', 'runs/demo'], { cwd });
    expect(status.stdout).toContain('cost ≥ $3.0000 + 1 call of unknown price');
    const show = await runPlan(['show', 'runs/demo'], { cwd });
    expect(show.stdout).toMatch(/^Summary +complete .* ≥ \$1\.00 \+ 1 call of unknown price$/m);
    const shown = JSON.parse((await runPlan(['show', 'runs/demo', '--json'], { cwd })).stdout) as { tasks: { id: string; costUsd: number | null }[] };
    expect(shown.tasks.map((t) => [t.id, t.costUsd])).toEqual([
      ['Ideas(topic=bread)', 2],
      ['Summary', null],
    ]);
  });
});

describe('API keys per model', () => {
  it('each model sends its own key, and only to its own server', async () => {
    const first = await fakeServer({ handler: () => ({ kind: 'server-error', status: 503 }) });
    const second = await fakeServer({ handler: (request) => offlineLikeAnswer(request) });
    const a = `openai-compatible:a@${first.url}`;
    const b = `openai-compatible:b@${second.url}`;
    fs.writeFileSync(path.join(cwd, 'plan.config.json'), JSON.stringify({ apiKeyEnv: { [a]: 'FIRST_KEY', [b]: 'SECOND_KEY' } }));
    const result = await build([`--model=${a}`, `--model=${b}`], {
      FIRST_KEY: 'sk-first-0123456789',
      SECOND_KEY: 'sk-second-0123456789',
      OPENAI_COMPATIBLE_API_KEY: 'sk-default-0123456789',
    });
    expect(result.exit, result.stderr).toBe(0);
    expect(first.requestCount).toBeGreaterThan(0);
    expect(second.requestCount).toBe(3);
    expect(new Set(first.requests.map((r) => r.headers.authorization))).toEqual(new Set(['Bearer sk-first-0123456789']));
    expect(new Set(second.requests.map((r) => r.headers.authorization))).toEqual(new Set(['Bearer sk-second-0123456789']));
  });

  it('warns, naming the variable and never the key, when one key variable goes to two servers', async () => {
    const first = await fakeServer({ handler: () => ({ kind: 'server-error', status: 503 }) });
    const second = await fakeServer({ handler: (request) => offlineLikeAnswer(request) });
    const result = await build([`--model=openai-compatible:a@${first.url}`, `--model=openai-compatible:b@${second.url}`], {
      OPENAI_COMPATIBLE_API_KEY: 'sk-default-0123456789',
    });
    expect(result.exit, result.stderr).toBe(0);
    const warnings = result.stderr.split('\n').filter((line) => line.startsWith('plan: warning:'));
    expect(warnings).toEqual([
      `plan: warning: OPENAI_COMPATIBLE_API_KEY goes to 2 servers (${first.url}, ${second.url}); to keep each key with its server, ` +
        'name one variable per model in plan.config.json: "apiKeyEnv": { "<model spec>": "MY_KEY" }',
    ]);
    expect(result.stderr).not.toContain('sk-default');
  });
});
