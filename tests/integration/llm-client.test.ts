import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { startFakeOpenAiServer, type FakeOpenAiServer, type FakeScript } from '../support/fake-openai-server.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { InteractionRecord, Store } from '../../src/store/store.js';
import type { AttemptScope } from '../../src/engine/context.js';
import type { BuildEvent } from '../../src/engine/events.js';
import { createLlmServices, type LlmOptions } from '../../src/llm/client.js';
import type { LlmClient } from '../../src/llm/types.js';
import { BudgetExceededError, CancelledError, LlmError, ModelsExhaustedError } from '../../src/llm/errors.js';
import { answerJsonSchema } from '../../src/llm/json-schema.js';

const KEY = 'sk-client-secret-abcdef0123456789';
const Title = z.object({ title: z.string().min(1), score: z.number().int().min(1).max(10) });
const ask = (content = 'Name the plan.') => ({ messages: [{ role: 'user' as const, content }], schema: Title, schemaName: 'title' });
const fast = { baseDelayMs: 10, maxDelayMs: 50 };

interface Harness {
  store: Store;
  dbFile: string;
  dir: string;
  runId: string;
  server: FakeOpenAiServer;
  spec: string;
  events: BuildEvent[];
  attempt(options?: { replayable?: number[]; signal?: AbortSignal }): Promise<{ attemptId: number; llm: LlmClient }>;
  rows(): Promise<InteractionRecord[]>;
}

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn();
  cleanup = [];
});

async function harness(script: FakeScript = {}, options: LlmOptions = {}): Promise<Harness> {
  const dir = await mkdtemp(path.join(tmpdir(), 'plan-llm-'));
  const dbFile = path.join(dir, 'plan.db');
  const store = await openSqliteStore(dbFile);
  const server = await startFakeOpenAiServer({ answer: (req) => ({ title: `answer ${req.ordinal}`, score: 5 }), ...script });
  cleanup.push(
    () => rm(dir, { recursive: true, force: true }),
    () => store.close(),
    () => server.close(),
  );
  const run = await store.createRun({ runDir: path.join(dir, 'run'), pipeline: 'test', params: {} });
  const spec = `openai-compatible:fake-model@${server.url}`;
  const factory = createLlmServices({ models: [spec], retry: fast, env: { OPENAI_COMPATIBLE_API_KEY: KEY }, ...options });
  const events: BuildEvent[] = [];
  return {
    store,
    dbFile,
    dir,
    runId: run.id,
    server,
    spec,
    events,
    async attempt({ replayable = [], signal = new AbortController().signal } = {}) {
      const attemptId = await store.startAttempt(run.id, 'Task');
      const scope: AttemptScope = {
        runId: run.id,
        taskId: 'Task',
        attemptId,
        replayableAttemptIds: replayable,
        signal,
        store,
        emit: (e) => events.push(e),
      };
      return { attemptId, llm: factory(scope).llm };
    },
    rows: () => store.listInteractions(run.id),
  };
}

async function rejection(p: Promise<unknown>): Promise<LlmError> {
  try {
    await p;
  } catch (error) {
    if (error instanceof LlmError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

const summary = (rows: InteractionRecord[]) => rows.map((r) => [r.status, r.errorClass, r.httpStatus]);

describe('LLM client over HTTP with the SQLite store', () => {
  it('records a completed call with tokens, duration, cost and price, and emits events', async () => {
    const h = await harness({}, { prices: { 'fake-model': { inputPerM: 1, outputPerM: 2 } } });
    const { llm, attemptId } = await h.attempt();
    const result = await llm.complete({ ...ask(), itemKey: 'item-1', turn: 1 });
    expect(result).toMatchObject({ value: { title: 'answer 1', score: 5 }, model: h.spec, replayed: false });
    expect(llm.offline).toBe(false);
    const [row] = await h.rows();
    expect(row).toMatchObject({
      id: result.interactionId,
      attemptId,
      status: 'completed',
      provider: 'openai-compatible',
      requestedModel: h.spec,
      answeredModel: 'fake-model',
      itemKey: 'item-1',
      turn: 1,
      httpStatus: 200,
      inputTokens: 100,
      outputTokens: 50,
      tokensEstimated: false,
      parsed: { title: 'answer 1', score: 5 },
      price: { inputPerM: 1, outputPerM: 2 },
    });
    expect(row!.costUsd).toBeCloseTo(0.0002, 12);
    expect(row!.durationMs).toBeGreaterThanOrEqual(0);
    expect(row!.messages).toEqual(ask().messages);
    expect(h.events.map((e) => e.type)).toEqual(['interaction-started', 'interaction-finished']);
    expect(h.events[1]).toMatchObject({ status: 'completed', inputTokens: 100, outputTokens: 50, model: h.spec });
  });

  it('honours Retry-After on 429, one row per try', async () => {
    const h = await harness({ queue: [{ kind: 'rate-limit', retryAfter: '1' }] });
    const { llm } = await h.attempt();
    await llm.complete(ask());
    expect(summary(await h.rows())).toEqual([
      ['failed', 'rate_limited', 429],
      ['completed', null, 200],
    ]);
    const [first, second] = h.server.requests;
    expect(second!.receivedAt - first!.receivedAt).toBeGreaterThanOrEqual(1000);
  });

  it('retries a 500 and a dropped connection', async () => {
    const h = await harness({ queue: [{ kind: 'server-error' }, { kind: 'drop' }] });
    const { llm } = await h.attempt();
    expect((await llm.complete(ask())).value.title).toBe('answer 3');
    expect(summary(await h.rows())).toEqual([
      ['failed', 'server_error', 500],
      ['failed', 'connection', null],
      ['completed', null, 200],
    ]);
  });

  it('feeds invalid JSON back to the model with the parse error', async () => {
    const h = await harness({ queue: [{ kind: 'invalid-json' }] });
    const { llm } = await h.attempt();
    await llm.complete(ask());
    const rows = await h.rows();
    expect(summary(rows)).toEqual([
      ['failed', 'invalid_json', 200],
      ['completed', null, 200],
    ]);
    expect(rows[0]!.responseText).toBe('{"title": "unterminated');
    expect(rows[0]!.inputTokens).toBe(100);
    const retry = h.server.requests[1]!.body.messages!;
    expect(retry).toHaveLength(3);
    expect(retry[1]).toEqual({ role: 'assistant', content: '{"title": "unterminated' });
    expect(retry[2]!.content).toContain('not valid JSON');
    expect(rows[1]!.messages).toEqual(retry);
  });

  it('feeds a schema mismatch back with the validation error', async () => {
    const h = await harness({ queue: [{ kind: 'schema-invalid', value: { title: 'x', score: 99 } }] });
    const { llm } = await h.attempt();
    await llm.complete(ask());
    expect(summary(await h.rows())).toEqual([
      ['failed', 'schema_invalid', 200],
      ['completed', null, 200],
    ]);
    const feedback = h.server.requests[1]!.body.messages![2]!.content;
    expect(feedback).toContain('does not match the schema');
    expect(feedback).toContain('score');
  });

  it('retries empty content, and moves on after a refusal', async () => {
    const h = await harness({ queue: [{ kind: 'empty' }, { kind: 'refusal', style: 'text' }] }, { retry: { ...fast, maxTries: 4 } });
    const { llm } = await h.attempt();
    const error = await rejection(llm.complete(ask()));
    expect(error).toBeInstanceOf(ModelsExhaustedError);
    expect(error.message).toContain('refusal');
    expect(summary(await h.rows())).toEqual([
      ['failed', 'empty_content', 200],
      ['failed', 'refusal', 200],
    ]);
  });

  it('falls back to the next model when the first keeps failing', async () => {
    const h = await harness({ handler: (req) => (req.body.model === 'bad-model' ? { kind: 'server-error', status: 503 } : undefined) });
    const badSpec = `openai-compatible:bad-model@${h.server.url}`;
    const factory = createLlmServices({ models: [badSpec, h.spec], retry: { ...fast, maxTries: 3 }, env: {} });
    const attemptId = await h.store.startAttempt(h.runId, 'Task');
    const { llm } = factory({
      runId: h.runId,
      taskId: 'Task',
      attemptId,
      replayableAttemptIds: [],
      signal: new AbortController().signal,
      store: h.store,
      emit: () => {},
    });
    const result = await llm.complete(ask());
    expect(result.model).toBe(h.spec);
    const rows = await h.rows();
    expect(rows.map((r) => [r.requestedModel, r.status, r.errorClass])).toEqual([
      [badSpec, 'failed', 'server_error'],
      [badSpec, 'failed', 'server_error'],
      [badSpec, 'failed', 'server_error'],
      [h.spec, 'completed', null],
    ]);
  });

  it("a call may name its own models (in fallback order) and temperature; other calls keep the run's", async () => {
    const h = await harness({ handler: (req) => (req.body.model === 'down-model' ? { kind: 'server-error', status: 503 } : undefined) });
    const { llm } = await h.attempt();
    const down = `openai-compatible:down-model@${h.server.url}`;
    const strong = `openai-compatible:strong-model@${h.server.url}`;
    const own = await llm.complete({ ...ask('Own models.'), model: [down, strong], temperature: 0.3 });
    expect(own.model).toBe(strong);
    const text = await llm.completeText({ messages: [{ role: 'user', content: 'Say hi.' }], model: strong, temperature: 0 });
    expect(text.model).toBe(strong);
    const usual = await llm.complete(ask('Run models.'));
    expect(usual.model).toBe(h.spec);
    const sent = h.server.requests.map((r) => [r.body.model, (r.body as { temperature?: number }).temperature]);
    expect(sent).toEqual([
      ...Array.from({ length: 4 }, () => ['down-model', 0.3]),
      ['strong-model', 0.3],
      ['strong-model', 0],
      ['fake-model', undefined],
    ]);
    expect((await h.rows()).map((r) => r.requestedModel)).toEqual([down, down, down, down, strong, strong, h.spec]);
  });

  it('a call naming a bad model spec, a bad temperature, or (under a budget) an unpriced model fails before anything is sent', async () => {
    const h = await harness({}, { maxCostUsd: 1, prices: { 'fake-model': { inputPerM: 1, outputPerM: 1 } } });
    const { llm } = await h.attempt();
    await expect(llm.complete({ ...ask(), model: 'nonsense:x' })).rejects.toThrow(
      /^a model call names model 'nonsense:x', which is not a model spec: /,
    );
    await expect(llm.complete({ ...ask(), temperature: 3 })).rejects.toThrow("a model call's temperature must be a number from 0 to 2 (got 3)");
    await expect(llm.completeText({ messages: [{ role: 'user', content: 'x' }], temperature: Number.NaN })).rejects.toThrow(/temperature/);
    await expect(llm.complete({ ...ask(), model: `openai-compatible:unpriced@${h.server.url}` })).rejects.toThrow(
      /which has no known price, and the run has --max-cost/,
    );
    expect(h.server.requestCount).toBe(0);
    expect(await h.rows()).toEqual([]);
    // The priced model named per call is fine.
    await expect(llm.complete({ ...ask(), model: h.spec })).resolves.toMatchObject({ model: h.spec });
  });

  it('a temperature is part of what identifies a call for replay; a model is not', async () => {
    const h = await harness();
    const first = await h.attempt();
    await first.llm.complete({ ...ask(), temperature: 0.5 });
    await first.llm.complete(ask('Second question.'));
    const again = await h.attempt({ replayable: [first.attemptId] });
    const other = `openai-compatible:other-model@${h.server.url}`;
    expect((await again.llm.complete({ ...ask(), temperature: 0.5, model: other })).replayed).toBe(true);
    expect((await again.llm.complete({ ...ask('Second question.'), temperature: 0.9 })).replayed).toBe(false);
    expect(h.server.requestCount).toBe(3);
  });

  it('names the last error class of every model when all fail', async () => {
    const h = await harness({
      handler: (req) => (req.body.model === 'fake-model' ? { kind: 'server-error' } : { kind: 'status', status: 401, body: 'no' }),
    });
    const factory = createLlmServices({ models: [h.spec, `openai-compatible:other@${h.server.url}`], retry: { ...fast, maxTries: 2 }, env: {} });
    const attemptId = await h.store.startAttempt(h.runId, 'Task');
    const { llm } = factory({
      runId: h.runId,
      taskId: 'Task',
      attemptId,
      replayableAttemptIds: [],
      signal: new AbortController().signal,
      store: h.store,
      emit: () => {},
    });
    const error = await rejection(llm.complete(ask()));
    expect(error).toBeInstanceOf(ModelsExhaustedError);
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/fake-model@.*: server_error/);
    expect(error.message).toMatch(/other@.*: auth/);
    // auth is not retried: 2 tries on the first model, 1 on the second.
    expect(h.server.requestCount).toBe(3);
  });

  it('flags estimated tokens when usage is absent', async () => {
    const h = await harness({ queue: [{ kind: 'json', value: { title: 'no usage', score: 2 }, usage: null }] });
    const { llm } = await h.attempt();
    await llm.complete(ask());
    const [row] = await h.rows();
    expect(row!.tokensEstimated).toBe(true);
    expect(row!.inputTokens).toBeGreaterThan(0);
    expect(row!.outputTokens).toBe(Math.ceil(JSON.stringify({ title: 'no usage', score: 2 }).length / 4));
  });

  it('computes cost from the price table for a known model', async () => {
    const h = await harness({ model: 'gpt-4o-mini-2024-07-18' });
    const { llm } = await h.attempt();
    await llm.complete(ask());
    const [row] = await h.rows();
    expect(row!.price).toEqual({ inputPerM: 0.15, outputPerM: 0.6 });
    expect(row!.costUsd).toBeCloseTo((100 * 0.15 + 50 * 0.6) / 1e6, 12);
  });

  it('replays calls of an earlier unpersisted attempt without any HTTP request', async () => {
    const h = await harness();
    const first = await h.attempt();
    const a1 = await first.llm.complete(ask());
    const a2 = await first.llm.complete(ask());
    const b1 = await first.llm.complete({ ...ask(), itemKey: 'b' });
    const t1 = await first.llm.completeText({ messages: [{ role: 'user', content: 'prose please' }] });
    await h.store.endAttempt(first.attemptId, 'failed', 'boom');
    expect(h.server.requestCount).toBe(4);

    const second = await h.attempt({ replayable: [first.attemptId] });
    const r1 = await second.llm.complete(ask());
    const r2 = await second.llm.complete(ask());
    const rb = await second.llm.complete({ ...ask(), itemKey: 'b' });
    const rt = await second.llm.completeText({ messages: [{ role: 'user', content: 'prose please' }] });
    expect(h.server.requestCount).toBe(4);
    expect([r1.value, r2.value, rb.value]).toEqual([a1.value, a2.value, b1.value]);
    expect(rt.text).toBe(t1.text);
    expect([r1.replayed, r2.replayed, rb.replayed, rt.replayed]).toEqual([true, true, true, true]);

    const replayed = (await h.rows()).filter((r) => r.attemptId === second.attemptId);
    expect(replayed.map((r) => [r.status, r.costUsd, r.answeredModel, r.inputTokens])).toEqual(Array(4).fill(['replayed', 0, 'fake-model', 100]));

    // A third identical call has nothing left to replay: it asks the model.
    const r3 = await second.llm.complete(ask());
    expect(r3.replayed).toBe(false);
    expect(h.server.requestCount).toBe(5);
  });

  it('marks the in-flight row cancelled when the build is cancelled', async () => {
    const h = await harness({ handler: () => ({ kind: 'hang' }) });
    const controller = new AbortController();
    const { llm } = await h.attempt({ signal: controller.signal });
    const pending = llm.complete(ask());
    while (h.server.requestCount === 0) await new Promise((r) => setTimeout(r, 5));
    controller.abort();
    expect(await rejection(pending)).toBeInstanceOf(CancelledError);
    expect(summary(await h.rows())).toEqual([['cancelled', 'cancelled', null]]);
  });

  it('cancels a backoff sleep', async () => {
    const h = await harness(
      { handler: () => ({ kind: 'server-error' }) },
      { retry: { baseDelayMs: 60_000, maxDelayMs: 60_000 }, random: () => 0.99 },
    );
    const controller = new AbortController();
    const { llm } = await h.attempt({ signal: controller.signal });
    const pending = llm.complete(ask());
    while (h.server.requestCount === 0) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 30));
    controller.abort();
    expect(await rejection(pending)).toBeInstanceOf(CancelledError);
    expect(summary(await h.rows())).toEqual([['failed', 'server_error', 500]]);
  });

  it('times out a silent server, one row per try', async () => {
    const h = await harness({ handler: () => ({ kind: 'hang' }) }, { timeoutMs: 100, retry: { ...fast, maxTries: 2 } });
    const { llm } = await h.attempt();
    const error = await rejection(llm.complete(ask()));
    expect(error.message).toContain('timeout');
    expect(summary(await h.rows())).toEqual([
      ['failed', 'timeout', null],
      ['failed', 'timeout', null],
    ]);
  });

  it('refuses a call over the budget before sending anything', async () => {
    const h = await harness({}, { maxCostUsd: 0.001, spentUsd: 0.00099, prices: { 'fake-model': { inputPerM: 10, outputPerM: 10 } } });
    const { llm } = await h.attempt();
    const error = await rejection(llm.complete(ask()));
    expect(error).toBeInstanceOf(BudgetExceededError);
    expect(error.errorClass).toBe('budget_exceeded');
    expect(h.server.requestCount).toBe(0);
    expect(await h.rows()).toEqual([]);
  });

  it('stops once actual spending reaches the budget', async () => {
    // Each call costs 150 tokens × $10/M = $0.0015; the estimate assumes 1000 output tokens.
    const h = await harness({}, { maxCostUsd: 0.025, prices: { 'fake-model': { inputPerM: 10, outputPerM: 10 } } });
    const { llm } = await h.attempt();
    let calls = 0;
    const error = await rejection(
      (async () => {
        for (;;) {
          await llm.complete(ask(`call ${calls}`));
          calls++;
        }
      })(),
    );
    expect(error).toBeInstanceOf(BudgetExceededError);
    expect(calls).toBeGreaterThan(5);
    const spent = (await h.rows()).reduce((sum, r) => sum + (r.costUsd ?? 0), 0);
    expect(spent).toBeLessThanOrEqual(0.025);
  });

  it('never stores or reports the API key', async () => {
    const h = await harness({
      queue: [{ kind: 'status', status: 500, body: '' }, { kind: 'invalid-json' }],
      handler: (req) =>
        req.ordinal >= 3
          ? { kind: 'status', status: 401, body: JSON.stringify({ error: { message: `bad key, you sent ${req.headers.authorization}` } }) }
          : undefined,
    });
    const { llm } = await h.attempt();
    const error = await rejection(llm.complete({ ...ask(`my key is ${KEY}, keep it safe`) }));
    expect(h.server.requests[0]!.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(error.message).toContain('auth');
    expect(error.message).not.toContain(KEY);
    const rows = await h.rows();
    expect(summary(rows)).toEqual([
      ['failed', 'server_error', 500],
      ['failed', 'invalid_json', 200],
      ['failed', 'auth', 401],
    ]);
    expect(rows[2]!.errorMessage).toContain('[redacted]');
    await h.store.close();
    for (const name of await readdir(h.dir)) {
      if (!name.startsWith('plan.db')) continue;
      const bytes = await readFile(path.join(h.dir, name));
      expect(bytes.includes(KEY), name).toBe(false);
      expect(bytes.includes(KEY.slice(3)), name).toBe(false);
    }
  });

  it('answers offline deterministically, free, with no network', async () => {
    const h = await harness();
    const factory = createLlmServices({ models: ['offline'] });
    const attemptId = await h.store.startAttempt(h.runId, 'Task');
    const scope: AttemptScope = {
      runId: h.runId,
      taskId: 'Task',
      attemptId,
      replayableAttemptIds: [],
      signal: new AbortController().signal,
      store: h.store,
      emit: () => {},
    };
    const { llm } = factory(scope);
    expect(llm.offline).toBe(true);
    const a = await llm.complete(ask());
    const b = await llm.complete(ask());
    expect(a.value).toEqual(b.value);
    expect(a.value.title.startsWith('[offline]')).toBe(true);
    const text = await llm.completeText({ messages: [{ role: 'user', content: 'Describe the plan.' }] });
    expect(text.value.startsWith('[offline]')).toBe(true);
    const rows = await h.rows();
    expect(rows.map((r) => [r.status, r.answeredModel, r.costUsd, r.tokensEstimated])).toEqual(Array(3).fill(['completed', 'offline', 0, true]));
    expect(h.server.requestCount).toBe(0);
  });

  it('bounds concurrent calls per provider', async () => {
    let inFlight = 0;
    let peak = 0;
    const h = await harness(
      {
        handler: () => {
          inFlight++;
          peak = Math.max(peak, inFlight);
          setTimeout(() => inFlight--, 40);
          return { kind: 'delay', ms: 40 };
        },
      },
      { concurrency: 2 },
    );
    const { llm } = await h.attempt();
    await Promise.all(Array.from({ length: 6 }, (_, i) => llm.complete(ask(`q${i}`))));
    expect(h.server.requestCount).toBe(6);
    expect(peak).toBeLessThanOrEqual(2);
  });
});

describe('structured output on servers that refuse it', () => {
  const schemaText = JSON.stringify(answerJsonSchema(Title));
  const formats = (h: Harness) => h.server.requests.map((r) => r.body.response_format?.type ?? 'none');
  const modes = (rows: InteractionRecord[]) => rows.map((r) => [r.status, r.errorClass, r.httpStatus, r.responseFormat]);

  it('a plain 400 Bad Request to json_schema: asked again in json_object mode with the schema, one row per request', async () => {
    const h = await harness({ handler: () => ({ kind: 'refuse-format', formats: ['json_schema'] }) });
    const { llm } = await h.attempt();
    expect((await llm.complete(ask())).value.title).toBe('answer 2');
    const rows = await h.rows();
    expect(modes(rows)).toEqual([
      ['failed', 'bad_request', 400, 'json_schema'],
      ['completed', null, 200, 'json_object'],
    ]);
    expect(h.server.requestCount).toBe(rows.length);
    const retried = h.server.requests[1]!;
    expect(retried.body.response_format).toEqual({ type: 'json_object', schema: answerJsonSchema(Title) });
    expect(retried.body.messages![0]!.content).toContain(schemaText);
    // The row holds what was sent: the schema instruction included.
    expect(rows[1]!.messages).toEqual(retried.body.messages);
    expect(rows[0]!.messages).toEqual(ask().messages);
  });

  it('a 422 to json_schema and to json_object: a plain prompt with the schema in the instructions', async () => {
    const h = await harness({ handler: () => ({ kind: 'refuse-format', formats: ['json_schema', 'json_object'], status: 422 }) });
    const { llm } = await h.attempt();
    await llm.complete({ ...ask(), messages: [{ role: 'system', content: 'Be brief.' }, ...ask().messages] });
    const rows = await h.rows();
    expect(modes(rows)).toEqual([
      ['failed', 'bad_request', 422, 'json_schema'],
      ['failed', 'bad_request', 422, 'json_object'],
      ['completed', null, 200, 'prompt'],
    ]);
    expect(formats(h)).toEqual(['json_schema', 'json_object', 'none']);
    const prompt = h.server.requests[2]!.body.messages!;
    expect(prompt[0]!.content).toContain('Be brief.');
    expect(prompt[0]!.content).toContain(schemaText);
    expect(rows[2]!.messages).toEqual(prompt);
  });

  it('remembers what an endpoint accepts: later calls of the build and later builds pay no refusal again', async () => {
    const h = await harness({ handler: () => ({ kind: 'refuse-format', formats: ['json_schema', 'json_object'] }) });
    const { llm } = await h.attempt();
    await llm.complete(ask());
    await llm.complete(ask('Another one.'));
    expect(formats(h)).toEqual(['json_schema', 'json_object', 'none', 'none']);
    expect(await h.store.getEndpointMode(h.server.url, 'fake-model')).toBe('prompt');

    // A later build (a new client, a new store connection) starts where this one ended.
    await h.store.close();
    const store = await openSqliteStore(h.dbFile);
    cleanup.push(() => store.close());
    const factory = createLlmServices({ models: [h.spec], retry: fast, env: {} });
    const attemptId = await store.startAttempt(h.runId, 'Task');
    const later = factory({
      runId: h.runId,
      taskId: 'Task',
      attemptId,
      replayableAttemptIds: [],
      signal: new AbortController().signal,
      store,
      emit: () => {},
    });
    await later.llm.complete(ask('Third.'));
    expect(formats(h)).toEqual(['json_schema', 'json_object', 'none', 'none', 'none']);
    // Another model on the same server has its own entry.
    const other = createLlmServices({ models: [`openai-compatible:other-model@${h.server.url}`], retry: fast, env: {} });
    await other({
      runId: h.runId,
      taskId: 'Task',
      attemptId,
      replayableAttemptIds: [],
      signal: new AbortController().signal,
      store,
      emit: () => {},
    }).llm.complete(ask());
    expect(formats(h).slice(5)).toEqual(['json_schema', 'json_object', 'none']);
    expect((await store.listInteractions(h.runId)).length).toBe(h.server.requestCount);
  });

  it.each([401, 403, 404, 413, 429])('a %i is not taken for a refused format', async (status) => {
    const h = await harness(
      { handler: () => ({ kind: 'status', status, body: '{"error":{"message":"no"}}' }) },
      { retry: { ...fast, maxTries: 1, maxRetryMs: 0 } },
    );
    const { llm } = await h.attempt();
    await rejection(llm.complete(ask()));
    expect(formats(h)).toEqual(['json_schema']);
    expect(await h.store.getEndpointMode(h.server.url, 'fake-model')).toBeNull();
  });

  it('a request refused in every mode learns nothing: the next call asks for json_schema again', async () => {
    const h = await harness({ handler: () => ({ kind: 'status', status: 400, body: '{"error":{"message":"prompt too long"}}' }) });
    const { llm } = await h.attempt();
    const error = await rejection(llm.complete(ask()));
    expect(error.message).toContain('bad_request (HTTP 400');
    expect(formats(h)).toEqual(['json_schema', 'json_object', 'none']);
    expect(await h.store.getEndpointMode(h.server.url, 'fake-model')).toBeNull();
    await rejection(llm.complete(ask()));
    expect(formats(h).slice(3)).toEqual(['json_schema', 'json_object', 'none']);
  });

  it('every HTTP request is a row: 429s, 500s, refusals of the format and bad answers alike', async () => {
    const h = await harness({
      queue: [
        { kind: 'rate-limit', retryAfter: '0' },
        { kind: 'server-error' },
        { kind: 'refuse-format', formats: ['json_schema'] },
        { kind: 'invalid-json' },
        { kind: 'empty' },
      ],
    });
    const { llm } = await h.attempt();
    await llm.complete(ask());
    await llm.completeText({ messages: [{ role: 'user', content: 'prose' }] });
    const rows = await h.rows();
    expect(h.server.requestCount).toBe(7);
    expect(rows).toHaveLength(h.server.requestCount);
    expect(rows.map((r) => r.responseFormat)).toEqual([
      'json_schema',
      'json_schema',
      'json_schema',
      'json_object',
      'json_object',
      'json_object',
      'text',
    ]);
    const summaries = await h.store.listInteractionSummaries(h.runId);
    expect(summaries.map((r) => r.responseFormat)).toEqual(rows.map((r) => r.responseFormat));
  });
});

describe('answers of reasoning models and other shapes', () => {
  it('a <think> block with braces before the JSON: stripped, stored apart, its tokens counted', async () => {
    const usage = { prompt_tokens: 100, completion_tokens: 80, completion_tokens_details: { reasoning_tokens: 60 } };
    const h = await harness({ queue: [{ kind: 'text', text: '<think>Perhaps {"title": "draft"}? No.</think>\n{"title":"t","score":3}', usage }] });
    const { llm } = await h.attempt();
    const result = await llm.complete(ask());
    expect(result.value).toEqual({ title: 't', score: 3 });
    expect(result.text).toBe('{"title":"t","score":3}');
    const [row] = await h.rows();
    expect(row).toMatchObject({
      status: 'completed',
      responseText: '{"title":"t","score":3}',
      reasoningText: 'Perhaps {"title": "draft"}? No.',
      reasoningTokens: 60,
      outputTokens: 80,
    });
    const [summary] = await h.store.listInteractionSummaries(h.runId);
    expect(summary!.reasoningTokens).toBe(60);
  });

  it('reasoning_content beside a text answer, without a token count: estimated', async () => {
    const reasoning = 'Let me think about bread for a while.';
    const h = await harness({
      queue: [{ kind: 'message', message: { role: 'assistant', content: 'Bread is good.', reasoning_content: reasoning } }],
    });
    const { llm } = await h.attempt();
    expect((await llm.completeText({ messages: [{ role: 'user', content: 'bread?' }] })).value).toBe('Bread is good.');
    const [row] = await h.rows();
    expect([row!.responseText, row!.reasoningText, row!.reasoningTokens]).toEqual(['Bread is good.', reasoning, Math.ceil(reasoning.length / 4)]);
  });

  it('a bad answer after reasoning keeps the reasoning in its row, and only the answer is fed back', async () => {
    const h = await harness({ queue: [{ kind: 'text', text: '<think>hmm</think>{"title": "unterminated' }] });
    const { llm } = await h.attempt();
    await llm.complete(ask());
    const rows = await h.rows();
    expect(rows.map((r) => [r.errorClass, r.responseText, r.reasoningText])).toEqual([
      ['invalid_json', '{"title": "unterminated', 'hmm'],
      [null, '{"title":"answer 2","score":5}', null],
    ]);
    expect(h.server.requests[1]!.body.messages![1]).toEqual({ role: 'assistant', content: '{"title": "unterminated' });
  });

  it('content as an array of text parts is an answer, not an empty one', async () => {
    const content = [
      { type: 'text', text: '{"title":"parts",' },
      { type: 'text', text: '"score":4}' },
    ];
    const h = await harness({ queue: [{ kind: 'message', message: { role: 'assistant', content } }] });
    const { llm } = await h.attempt();
    expect((await llm.complete(ask())).value).toEqual({ title: 'parts', score: 4 });
    expect(summary(await h.rows())).toEqual([['completed', null, 200]]);
  });
});

describe('rate limits', () => {
  it('concurrent 429s with the same Retry-After come back spread apart, not in lockstep', async () => {
    const delays: number[] = [];
    const draws = [0.1, 0.5, 0.9];
    let draw = 0;
    const h = await harness(
      { handler: (req) => (req.ordinal <= 3 ? { kind: 'rate-limit', retryAfter: '1' } : undefined) },
      {
        retry: { baseDelayMs: 500, maxDelayMs: 30_000 },
        random: () => draws[draw++ % draws.length]!,
        sleep: async (ms) => {
          delays.push(ms);
        },
      },
    );
    const { llm } = await h.attempt();
    await Promise.all([llm.complete(ask('a')), llm.complete(ask('b')), llm.complete(ask('c'))]);
    expect(delays).toHaveLength(3);
    for (const delay of delays) expect(delay).toBeGreaterThanOrEqual(1000);
    expect(new Set(delays).size).toBe(3);
  });

  it('keeps waiting out 429s past maxTries while the time bound lasts', async () => {
    const h = await harness({ queue: Array(6).fill({ kind: 'rate-limit', retryAfter: '0.01' }) });
    const { llm } = await h.attempt();
    expect((await llm.complete(ask())).value.title).toBe('answer 7');
    expect(summary(await h.rows())).toEqual([...Array(6).fill(['failed', 'rate_limited', 429]), ['completed', null, 200]]);
  });

  it('gives up on a server that keeps answering 429 once maxRetryMs is spent', async () => {
    const h = await harness({ handler: () => ({ kind: 'rate-limit', retryAfter: '0.05' }) }, { retry: { ...fast, maxRetryMs: 400 } });
    const { llm } = await h.attempt();
    const started = Date.now();
    const error = await rejection(llm.complete(ask()));
    const took = Date.now() - started;
    expect(error.message).toContain('rate_limited');
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(1500);
    expect((await h.rows()).length).toBe(h.server.requestCount);
  });
});
