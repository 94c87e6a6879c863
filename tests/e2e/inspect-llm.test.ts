import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runPlan, tempDir } from '../support/cli.js';
import { buildDiamond, expectUsageError, planJson, recordCalls, type FakeCall } from '../support/inspect.js';

// The CLI does not hand the LLM services to builds yet, so these runs are made by real builds of the diamond
// pipeline and their model calls are recorded through the real store API, as the LLM layer's recorder does.

let cwd: string;
beforeEach(() => {
  cwd = tempDir('plan-llm-');
});
afterEach(() => {
  fs.rmSync(cwd, { recursive: true, force: true });
});

const runDir = (name = 'demo'): string => path.join(cwd, 'runs', name);
const dbFile = (): string => path.join(cwd, 'runs', 'plan.db');
const runIdOf = (name = 'demo'): string =>
  (JSON.parse(fs.readFileSync(path.join(runDir(name), '.plan-run.json'), 'utf8')) as { runId: string }).runId;

const CALLS: FakeCall[] = [
  {
    taskId: 'Upper',
    model: 'openai:gpt-4o-mini',
    status: 'completed',
    inputTokens: 120,
    outputTokens: 45,
    costUsd: 0.0001,
    durationMs: 1200,
    prompt: 'Shout the seed.',
    response: '{"text":"SEED ONE"}',
  },
  {
    taskId: 'Upper',
    model: 'openai:gpt-4o-mini',
    status: 'failed',
    inputTokens: 0,
    outputTokens: 0,
    costUsd: 0,
    durationMs: 80,
    error: 'upstream returned 500',
  },
  { taskId: 'Join', model: 'openrouter:llama-3.1-70b', status: 'completed', inputTokens: 2000, outputTokens: 500, costUsd: 0.5, durationMs: 3000 },
  { taskId: 'Seed(seed=one)', model: 'openai:gpt-4o-mini', status: 'replayed', inputTokens: 10, outputTokens: 5, costUsd: 0, durationMs: 0 },
];

interface CallSummary {
  id: number;
  taskId: string;
  attemptId: number;
  itemKey: string | null;
  turn: number | null;
  provider: string;
  requestedModel: string;
  answeredModel: string | null;
  status: string;
  inputTokens: number | null;
  outputTokens: number | null;
  tokensEstimated: boolean;
  costUsd: number | null;
  durationMs: number | null;
  errorClass: string | null;
  errorMessage: string | null;
  httpStatus: number | null;
  startedAt: string;
  finishedAt: string | null;
}

interface Costs {
  db: string;
  by: string;
  since: string | null;
  rows: { key: string; calls: number; failedCalls: number; inputTokens: number; outputTokens: number; costUsd: number; durationMs: number }[];
  total: { calls: number; failedCalls: number; inputTokens: number; outputTokens: number; costUsd: number; durationMs: number };
}

describe('plan llm', () => {
  it("lists a run's calls with model, tokens, cost, latency and status; filters by task and status", async () => {
    expect((await buildDiamond(cwd)).exit).toBe(0);
    const ids = await recordCalls(dbFile(), runDir(), CALLS);

    const all = await planJson<{ runId: string; interactions: CallSummary[] }>(cwd, ['llm', 'runs/demo']);
    expect(all.runId).toBe(runIdOf());
    expect(all.interactions.map((c) => c.id)).toEqual(ids);
    expect(all.interactions[0]).toEqual({
      id: ids[0],
      taskId: 'Upper',
      attemptId: expect.any(Number),
      itemKey: null,
      turn: null,
      provider: 'openai-compatible',
      requestedModel: 'openai:gpt-4o-mini',
      answeredModel: 'openai:gpt-4o-mini',
      status: 'completed',
      inputTokens: 120,
      outputTokens: 45,
      tokensEstimated: false,
      costUsd: 0.0001,
      durationMs: 1200,
      errorClass: null,
      errorMessage: null,
      httpStatus: null,
      startedAt: expect.any(String),
      finishedAt: expect.any(String),
    });
    expect(all.interactions[1]).toMatchObject({ status: 'failed', answeredModel: null, errorMessage: 'upstream returned 500', httpStatus: 500 });

    const upper = await planJson<{ interactions: CallSummary[] }>(cwd, ['llm', 'runs/demo', '--task', 'Upper']);
    expect(upper.interactions.map((c) => c.id)).toEqual(ids.slice(0, 2));
    const seed = await planJson<{ interactions: CallSummary[] }>(cwd, ['llm', 'runs/demo', '--task', 'Seed']);
    expect(seed.interactions.map((c) => c.status)).toEqual(['replayed']);
    const failed = await planJson<{ interactions: CallSummary[] }>(cwd, ['llm', 'runs/demo', '--status', 'failed']);
    expect(failed.interactions.map((c) => c.id)).toEqual([ids[1]]);
    // A task that exists but made no calls matches nothing.
    expect((await planJson<{ interactions: unknown[] }>(cwd, ['llm', 'runs/demo', '--task', 'Bang'])).interactions).toEqual([]);

    const human = await runPlan(['llm', 'runs/demo'], { cwd });
    expect(human.exit).toBe(0);
    const lines = human.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+TASK\s+MODEL\s+STATUS\s+TOKENS IN\/OUT\s+COST\s+LATENCY\s+STARTED$/);
    expect(lines[1]).toMatch(/^\s*\d+\s+Upper\s+openai:gpt-4o-mini\s+completed\s+120\/45\s+\$0\.0001\s+1\.2s\s+\d{4}-/);
    expect(lines[3]).toMatch(/Join\s+openrouter:llama-3\.1-70b\s+completed\s+2000\/500\s+\$0\.50\s+3\.0s/);
    expect(lines.at(-1)).toBe('4 calls · 2,680 tokens · $0.50');
  });

  it('--id N prints the full prompt and response', async () => {
    expect((await buildDiamond(cwd)).exit).toBe(0);
    const [first, second] = await recordCalls(dbFile(), runDir(), CALLS);

    const full = await planJson<
      CallSummary & { messages: { role: string; content: string }[]; responseText: string | null; price: unknown; requestHash: string }
    >(cwd, ['llm', 'runs/demo', '--id', String(first)]);
    expect(full).toMatchObject({
      id: first,
      taskId: 'Upper',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Shout the seed.' },
      ],
      responseText: '{"text":"SEED ONE"}',
      price: { inputPerM: 1, outputPerM: 2 },
      requestHash: 'hash-0',
    });

    const human = await runPlan(['llm', 'runs/demo', '--id', String(first)], { cwd });
    expect(human.exit).toBe(0);
    expect(human.stdout).toContain(`call ${first} · Upper · attempt `);
    expect(human.stdout).toContain('model    openai:gpt-4o-mini via openai-compatible');
    expect(human.stdout).toContain('── system ──\nYou are terse.\n\n── user ──\nShout the seed.\n\n── response ──\n{"text":"SEED ONE"}\n');

    const failed = await runPlan(['llm', 'runs/demo', '--id', String(second)], { cwd });
    expect(failed.stdout).toContain('error    HttpError: HTTP 500: upstream returned 500');
  });

  it('bad input: unknown task, a call of another run, a bad status → one-line error, exit 2', async () => {
    expect((await buildDiamond(cwd)).exit).toBe(0);
    expect((await buildDiamond(cwd, 'other')).exit).toBe(0);
    const [otherCall] = await recordCalls(dbFile(), runDir('other'), CALLS.slice(0, 1));
    expect(expectUsageError(await runPlan(['llm', 'runs/demo', '--task', 'Nope'], { cwd }))).toMatch(/^plan: unknown task 'Nope' in run /);
    expect(expectUsageError(await runPlan(['llm', 'runs/demo', '--id', String(otherCall)], { cwd }))).toMatch(/^plan: run \S+ has no model call \d+/);
    expectUsageError(await runPlan(['llm', 'runs/demo', '--status', 'weird'], { cwd }));
    expect(expectUsageError(await runPlan(['llm', 'runs/none'], { cwd }))).toBe('plan: run dir runs/none does not exist');
  });
});

describe('plan costs', () => {
  it('adds up calls, tokens and cost per run, task, model and day, with a total; --since filters', async () => {
    expect((await buildDiamond(cwd, 'a')).exit).toBe(0);
    expect((await buildDiamond(cwd, 'b')).exit).toBe(0);
    await recordCalls(dbFile(), runDir('a'), CALLS);
    await recordCalls(dbFile(), runDir('b'), [CALLS[2]!]);

    const byRun = await planJson<Costs>(cwd, ['costs']);
    expect(byRun).toMatchObject({ db: dbFile(), by: 'run', since: null });
    const withoutCost = ({ costUsd: _cost, ...rest }: Costs['rows'][number] | Costs['total']) => rest;
    expect(byRun.rows.map(withoutCost)).toEqual(
      [
        { key: runIdOf('a'), calls: 4, failedCalls: 1, inputTokens: 2130, outputTokens: 550, durationMs: 4280 },
        { key: runIdOf('b'), calls: 1, failedCalls: 0, inputTokens: 2000, outputTokens: 500, durationMs: 3000 },
      ].sort((x, y) => x.key.localeCompare(y.key)),
    );
    expect(byRun.rows.find((r) => r.key === runIdOf('a'))!.costUsd).toBeCloseTo(0.5001, 10);
    expect(withoutCost(byRun.total)).toEqual({ calls: 5, failedCalls: 1, inputTokens: 4130, outputTokens: 1050, durationMs: 7280 });
    expect(byRun.total.costUsd).toBeCloseTo(1.0001, 10);

    const byModel = await planJson<Costs>(cwd, ['costs', '--by', 'model']);
    // Most expensive first; a failed call counts under the model that was asked.
    expect(byModel.rows.map((r) => [r.key, r.calls, r.failedCalls])).toEqual([
      ['openrouter:llama-3.1-70b', 2, 0],
      ['openai:gpt-4o-mini', 3, 1],
    ]);
    expect(byModel.rows[1]!.costUsd).toBeCloseTo(0.0001, 10);

    const byTask = await planJson<Costs>(cwd, ['costs', '--by', 'task']);
    expect(byTask.rows.map((r) => [r.key, r.calls])).toEqual([
      ['Join', 2],
      ['Upper', 2],
      ['Seed(seed=one)', 1],
    ]);

    const byDay = await planJson<Costs>(cwd, ['costs', '--by', 'day']);
    expect(byDay.rows).toHaveLength(1);
    const firstCall = (await planJson<{ interactions: CallSummary[] }>(cwd, ['llm', 'runs/a'])).interactions[0]!;
    expect(byDay.rows[0]!.key).toBe(firstCall.startedAt.slice(0, 10));
    expect(byDay.rows[0]!.calls).toBe(5);

    const recent = await planJson<Costs>(cwd, ['costs', '--since', '1d']);
    expect(recent.total.calls).toBe(5);
    expect(Date.parse(recent.since!)).toBeLessThan(Date.now());
    const future = await planJson<Costs>(cwd, ['costs', '--since', '2999-01-01']);
    expect(future).toMatchObject({ since: '2999-01-01T00:00:00.000Z', rows: [], total: { calls: 0, costUsd: 0 } });

    const human = await runPlan(['costs', '--by', 'model'], { cwd });
    expect(human.exit).toBe(0);
    const lines = human.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^MODEL\s+CALLS\s+FAILED\s+IN TOKENS\s+OUT TOKENS\s+MODEL TIME\s+COST$/);
    expect(lines[1]).toMatch(/^openrouter:llama-3\.1-70b\s+2\s+0\s+4,000\s+1,000\s+6\.0s\s+\$1\.00$/);
    expect(lines.at(-1)).toMatch(/^total\s+5\s+1\s+4,130\s+1,050\s+7\.3s\s+\$1\.00$/);
  });

  it('no database: no calls; bad input → one-line error, exit 2', async () => {
    expect((await planJson<Costs>(cwd, ['costs'])).rows).toEqual([]);
    expect(fs.existsSync(dbFile())).toBe(false);
    expectUsageError(await runPlan(['costs', '--by', 'week'], { cwd }));
    expect(expectUsageError(await runPlan(['costs', '--since', '7 days'], { cwd }))).toMatch(/^plan: bad duration '7 days' for --since/);
  });
});
