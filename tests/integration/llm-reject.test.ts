import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { startFakeOpenAiServer, type FakeOpenAiServer, type FakeScript } from '../support/fake-openai-server.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { InteractionRecord, Store } from '../../src/store/store.js';
import type { AttemptScope, TaskContext } from '../../src/engine/context.js';
import { build } from '../../src/engine/build.js';
import { Task } from '../../src/engine/task.js';
import { file, type Outputs } from '../../src/engine/target.js';
import { createLlmServices, type LlmOptions } from '../../src/llm/client.js';
import type { LlmClient, LlmServices } from '../../src/llm/types.js';
import { type LlmError, ModelsExhaustedError } from '../../src/llm/errors.js';

/**
 * An answer the task refuses (a check beyond the schema) must never come back: not from a retry inside the
 * LLM layer, and not from replay when the engine runs the task again.
 */

const Title = z.object({ title: z.string().min(1), score: z.number().int().min(1).max(10) });
type Title = z.infer<typeof Title>;
const ask = (content = 'Name the plan.') => ({ messages: [{ role: 'user' as const, content }], schema: Title, schemaName: 'title' });
const fast = { baseDelayMs: 1, maxDelayMs: 2 };
const notFirst = (v: Title): string | null => (v.title === 'answer 1' ? 'the title must not be "answer 1"' : null);

interface Harness {
  store: Store;
  dir: string;
  runId: string;
  server: FakeOpenAiServer;
  options: LlmOptions;
  attempt(taskId?: string, replayable?: number[]): Promise<{ attemptId: number; llm: LlmClient }>;
  rows(): Promise<InteractionRecord[]>;
}

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn();
  cleanup = [];
});

async function harness(script: FakeScript = {}, extra: LlmOptions = {}): Promise<Harness> {
  const dir = await mkdtemp(path.join(tmpdir(), 'plan-llm-reject-'));
  const store = await openSqliteStore(path.join(dir, 'plan.db'));
  const server = await startFakeOpenAiServer({ answer: (req) => ({ title: `answer ${req.ordinal}`, score: 5 }), ...script });
  cleanup.push(
    () => rm(dir, { recursive: true, force: true }),
    () => store.close(),
    () => server.close(),
  );
  const run = await store.createRun({ runDir: path.join(dir, 'run'), pipeline: 'test', params: {} });
  const options: LlmOptions = { models: [`openai-compatible:fake-model@${server.url}`], retry: fast, env: {}, ...extra };
  const factory = createLlmServices(options);
  return {
    store,
    dir,
    runId: run.id,
    server,
    options,
    async attempt(taskId = 'Task', replayable = []) {
      const attemptId = await store.startAttempt(run.id, taskId);
      const scope: AttemptScope = {
        runId: run.id,
        taskId,
        attemptId,
        replayableAttemptIds: replayable,
        signal: new AbortController().signal,
        store,
        emit: () => {},
      };
      return { attemptId, llm: factory(scope).llm };
    },
    rows: () => store.listInteractions(run.id),
  };
}

const statuses = (rows: InteractionRecord[]) => rows.map((r) => [r.attemptId, r.status, r.replayedFrom]);

describe('a check beyond the schema, within one call', () => {
  it('asks the model again when the check refuses the first answer: that row is rejected with the reason', async () => {
    const h = await harness();
    const { llm, attemptId } = await h.attempt();
    const result = await llm.complete({ ...ask(), check: notFirst });
    expect(result.value.title).toBe('answer 2');
    expect(h.server.requestCount).toBe(2);
    const [first, second] = await h.rows();
    expect(first).toMatchObject({
      attemptId,
      status: 'rejected',
      errorClass: 'rejected',
      errorMessage: 'the title must not be "answer 1"',
      inputTokens: 100,
    });
    expect(second).toMatchObject({ id: result.interactionId, status: 'completed', parsed: { title: 'answer 2', score: 5 } });
    // The model is shown its refused answer and why, as after a schema mismatch.
    const retry = h.server.requests[1]!.body.messages!;
    expect(retry).toHaveLength(3);
    expect(retry[1]).toEqual({ role: 'assistant', content: JSON.stringify({ title: 'answer 1', score: 5 }) });
    expect(retry[2]!.content).toContain('the title must not be "answer 1"');
  });

  it('counts refusals against the same tries, then fails the call', async () => {
    const h = await harness({}, { retry: { ...fast, maxTries: 2 } });
    const { llm } = await h.attempt();
    const error = await llm.complete({ ...ask(), check: () => 'never good enough' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelsExhaustedError);
    expect((error as LlmError).message).toContain('rejected (never good enough)');
    expect(h.server.requestCount).toBe(2);
    expect((await h.rows()).map((r) => [r.status, r.errorMessage])).toEqual([
      ['rejected', 'never good enough'],
      ['rejected', 'never good enough'],
    ]);
  });

  it('checks text answers too, and asks again without asking for JSON', async () => {
    const h = await harness({
      queue: [
        { kind: 'text', text: 'far too long' },
        { kind: 'text', text: 'short' },
      ],
    });
    const { llm } = await h.attempt();
    const result = await llm.completeText({
      messages: [{ role: 'user', content: 'One word.' }],
      check: (text) => (text.includes(' ') ? 'answer with one word' : null),
    });
    expect(result.value).toBe('short');
    expect((await h.rows()).map((r) => r.status)).toEqual(['rejected', 'completed']);
    const feedback = h.server.requests[1]!.body.messages![2]!.content;
    expect(feedback).toContain('answer with one word');
    expect(feedback).not.toContain('JSON');
  });
});

describe('replaying earlier attempts of a task', () => {
  it('records on a replayed row the row it replays', async () => {
    const h = await harness();
    const first = await h.attempt();
    const original = await first.llm.complete(ask());
    await h.store.endAttempt(first.attemptId, 'failed', 'boom');
    const second = await h.attempt('Task', [first.attemptId]);
    const replayed = await second.llm.complete(ask());
    expect(replayed.replayed).toBe(true);
    expect(statuses(await h.rows())).toEqual([
      [first.attemptId, 'completed', null],
      [second.attemptId, 'replayed', original.interactionId],
    ]);
  });

  it('rejects a replayed answer that fails the check (its row and the one it replays) and asks the model', async () => {
    const h = await harness();
    const first = await h.attempt();
    const original = await first.llm.complete(ask());
    expect(original.value.title).toBe('answer 1');
    await h.store.endAttempt(first.attemptId, 'failed', 'boom');

    const second = await h.attempt('Task', [first.attemptId]);
    const result = await second.llm.complete({ ...ask(), check: notFirst });
    expect(result).toMatchObject({ value: { title: 'answer 2' }, replayed: false });
    expect(h.server.requestCount).toBe(2);
    const rows = await h.rows();
    expect(statuses(rows)).toEqual([
      [first.attemptId, 'rejected', null],
      [second.attemptId, 'rejected', original.interactionId],
      [second.attemptId, 'completed', null],
    ]);
    expect(rows.slice(0, 2).map((r) => r.errorMessage)).toEqual(['the title must not be "answer 1"', 'the title must not be "answer 1"']);
    await h.store.endAttempt(second.attemptId, 'failed', 'boom');

    // A later attempt replays the accepted answer, never the refused one, even without the check.
    const third = await h.attempt('Task', [first.attemptId, second.attemptId]);
    const again = await third.llm.complete(ask());
    expect(again).toMatchObject({ value: { title: 'answer 2' }, replayed: true });
    expect(h.server.requestCount).toBe(2);
  });
});

describe('a task that rejects an answer after the call, retried by the engine', () => {
  const runBuild = (h: Harness, task: Task<LlmServices>) =>
    build({ roots: [task], runDir: path.join(h.dir, 'run'), runId: h.runId, store: h.store, backoff: fast, services: createLlmServices(h.options) });

  it('asks the model again on the retry instead of replaying the rejected answer', async () => {
    const h = await harness();
    const seen: string[] = [];
    class Titled extends Task<LlmServices> {
      output(): Outputs {
        return file('title.txt');
      }
      async run(ctx: TaskContext & LlmServices): Promise<void> {
        const answer = await ctx.llm.complete(ask());
        seen.push(answer.value.title);
        if (answer.value.title === 'answer 1') throw await ctx.llm.reject(answer, 'the first title is never kept');
        ctx.write('title.txt', answer.value.title);
      }
    }
    const result = await runBuild(h, new Titled());
    expect(result.status).toBe('success');
    expect(seen).toEqual(['answer 1', 'answer 2']);
    expect(h.server.requestCount).toBe(2);
    expect(fs.readFileSync(path.join(h.dir, 'run', 'title.txt'), 'utf8')).toBe('answer 2');
    const [attempt1, attempt2] = await h.store.listAttempts(h.runId);
    expect(attempt1).toMatchObject({ status: 'failed', error: expect.stringContaining('the first title is never kept') });
    const rows = await h.rows();
    expect(statuses(rows)).toEqual([
      [attempt1!.id, 'rejected', null],
      [attempt2!.id, 'completed', null],
    ]);
    expect(rows[0]!.errorMessage).toBe('the first title is never kept');
  });

  it('still replays what a killed attempt had answered, but not the answer a later attempt rejected', async () => {
    const h = await harness();
    // A build killed while TwoCalls ran: both of its calls had been answered, the attempt never ended.
    const killed = await h.attempt('TwoCalls');
    await killed.llm.complete(ask('First question.'));
    await killed.llm.complete(ask('Second question.'));
    expect(h.server.requestCount).toBe(2);

    const seen: string[] = [];
    class TwoCalls extends Task<LlmServices> {
      override readonly retries = 1;
      output(): Outputs {
        return file('two.txt');
      }
      async run(ctx: TaskContext & LlmServices): Promise<void> {
        const first = await ctx.llm.complete(ask('First question.'));
        const second = await ctx.llm.complete(ask('Second question.'));
        seen.push(`${first.value.title} / ${second.value.title}`);
        if (second.value.title === 'answer 2') throw await ctx.llm.reject(second, 'the second answer is refused');
        ctx.write('two.txt', seen.at(-1)!);
      }
    }
    const result = await runBuild(h, new TwoCalls());
    expect(result.status).toBe('success');
    // Try 1 replays both answers and rejects the second; try 2 replays the first again and asks for the second.
    expect(seen).toEqual(['answer 1 / answer 2', 'answer 1 / answer 3']);
    expect(h.server.requestCount).toBe(3);
    const [, try1, try2] = (await h.store.listAttempts(h.runId)).map((a) => a.id);
    const [askedFirst, askedSecond] = (await h.rows()).map((r) => r.id);
    expect(statuses(await h.rows())).toEqual([
      [killed.attemptId, 'completed', null],
      [killed.attemptId, 'rejected', null],
      [try1, 'replayed', askedFirst],
      [try1, 'rejected', askedSecond],
      [try2, 'replayed', askedFirst],
      [try2, 'completed', null],
    ]);
  });
});
