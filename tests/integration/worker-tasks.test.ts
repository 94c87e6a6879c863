import { afterEach, describe, expect, it } from 'vitest';
import { adminQuery, freshSchemaUrl, noteWhenPostgresMissing, POSTGRES_URL } from '../support/postgres.js';
import { sha256 } from '../../src/engine/hasher.js';
import { createQueuePool, jobsSchemaFor, migrateQueue } from '../../src/workers/job-queue.js';
import type { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { DatabaseLimits } from '../../src/workers/shared-limits.js';
import { BudgetExceededError, CancelledError } from '../../src/llm/errors.js';
import type { HandedTask, TaskClaim, WorkerTasks } from '../../src/store/postgres/worker-tasks.js';

// The distributed scheduler's rows (src/store/postgres/worker-tasks.ts) against a real PostgreSQL: one worker
// per task at a time, fenced persists, duplicate deliveries, failures and cancels as a local build has them.

noteWhenPostgresMissing('tests/integration/worker-tasks.test.ts');

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

async function setup(): Promise<{ url: string; jobs: string; open: () => Promise<{ store: PostgresStore; tasks: WorkerTasks }> }> {
  const fresh = await freshSchemaUrl();
  const jobs = jobsSchemaFor(fresh.schema);
  cleanups.push(async () => {
    await fresh.drop();
    await adminQuery(`DROP SCHEMA IF EXISTS ${jobs} CASCADE`);
  });
  const { openPostgresStore } = await import('../../src/store/postgres/postgres-store.js');
  const open = async () => {
    const store = await openPostgresStore(fresh.url);
    cleanups.push(() => store.close());
    return { store, tasks: store.workerTasks(jobs) };
  };
  const pool = await createQueuePool(fresh.url, 1);
  await migrateQueue(pool, jobs);
  await pool.end();
  return { url: fresh.url, jobs, open };
}

const chain = (...ids: string[]): HandedTask[] => ids.map((id, i) => ({ id, requires: i === 0 ? [] : [ids[i - 1]!], priority: 0 }));
const graphOf = (dependents: string[], downstream: string[] = dependents) => ({ dependents, downstream, priorities: new Map<string, number>() });

async function queued(jobs: string, runId: string): Promise<string[]> {
  const rows = await adminQuery(`SELECT key FROM ${jobs}._private_jobs WHERE key LIKE $1 ORDER BY key`, [`${runId}/%`]);
  return rows.rows.map((r) => String(r.key).slice(runId.length + 1));
}

async function stateOf(tasks: WorkerTasks, runId: string): Promise<Record<string, string>> {
  const listed = await tasks.listTasks(runId);
  return Object.fromEntries(listed!.tasks.map((t) => [t.taskId, t.state]));
}

function claimed(outcome: TaskClaim | { refused: string }): TaskClaim {
  if ('refused' in outcome) throw new Error(`not claimed: ${outcome.refused}`);
  return outcome;
}

describe.skipIf(POSTGRES_URL === undefined)('tasks of runs handed to workers', () => {
  it('a task is claimed by one worker at a time; a duplicate delivery of its job runs nothing; its end queues what became ready', async () => {
    const { jobs, open } = await setup();
    const { store, tasks } = await open();
    const run = await store.createRun({ runDir: '', pipeline: 'test', params: {} });
    await tasks.handOver({ runId: run.id, tasks: chain('a', 'b'), keepGoing: false, forced: [] });
    expect(await queued(jobs, run.id)).toEqual(['a']);
    expect((await store.getRun(run.id))!.status).toBe('running');

    const first = claimed(await tasks.claim(run.id, 'a', 'w1', 10_000));
    const running = await store.startAttempt(run.id, 'a');
    expect(await tasks.claim(run.id, 'a', 'w2', 10_000)).toEqual({ refused: 'not-ready' });
    // A refused claim leaves the holder's attempt alone (only a claim that is taken abandons earlier attempts).
    expect((await store.listAttempts(run.id, 'a')).map((a) => [a.id, a.status])).toEqual([[running, 'running']]);
    expect(await tasks.claim(run.id, 'b', 'w2', 10_000)).toEqual({ refused: 'not-ready' });
    expect(await tasks.finish(first, { state: 'done', outcome: 'ran' }, graphOf(['b']))).toEqual({ held: true, runFinished: null });
    expect(await queued(jobs, run.id)).toEqual(['a', 'b']);
    // The job of `a` delivered again (graphile-worker may): nothing to run.
    expect(await tasks.claim(run.id, 'a', 'w2', 10_000)).toEqual({ refused: 'not-ready' });
    const second = claimed(await tasks.claim(run.id, 'b', 'w2', 10_000));
    expect(await tasks.finish(second, { state: 'done', outcome: 'fresh' }, graphOf([]))).toEqual({
      held: true,
      runFinished: { status: 'complete', reason: null },
    });
    expect((await store.getRun(run.id))!.status).toBe('complete');
    expect(await tasks.claim(run.id, 'b', 'w3', 10_000)).toEqual({ refused: 'run-finished' });
  });

  it('a worker whose claim was taken (declared dead, or its claim expired and another took it) stores nothing and ends nothing', async () => {
    const { open } = await setup();
    const zombie = await open();
    const rescuer = await open();
    const run = await zombie.store.createRun({ runDir: '', pipeline: 'test', params: {} });
    await zombie.tasks.handOver({ runId: run.id, tasks: chain('a'), keepGoing: false, forced: [] });
    await zombie.tasks.registerWorker({ id: 'zombie', name: 'zombie', host: 'h', pid: 1, concurrency: 1 });

    // Declared dead while it was paused: its claim is given back (the task ready again).
    const held = claimed(await zombie.tasks.claim(run.id, 'a', 'zombie', 60_000));
    const attempt = await zombie.store.startAttempt(run.id, 'a');
    const call = await zombie.store.startInteraction({
      runId: run.id,
      taskId: 'a',
      attemptId: attempt,
      itemKey: 'item',
      turn: 1,
      requestHash: 'hash-a',
      provider: 'openai-compatible',
      requestedModel: 'm',
      messages: [{ role: 'user', content: 'hi' }],
      responseFormat: 'json_schema',
    });
    await new Promise((r) => setTimeout(r, 30));
    const swept = await rescuer.tasks.sweep(10);
    expect(swept).toMatchObject({ workerIds: ['zombie'], released: 1 });
    const bytes = Buffer.from('late\n');
    await expect(zombie.store.persistAttempt(attempt, '{}', [{ path: 'a.txt', sha256: sha256(bytes), bytes }])).rejects.toMatchObject({
      code: 'LEASE_LOST',
      message: expect.stringContaining('claim'),
    });
    expect(await zombie.store.readContent(run.id, 'a.txt')).toBeNull();

    // Taken by another worker: the attempt left running is abandoned in the claim's transaction.
    const taken = claimed(await rescuer.tasks.claim(run.id, 'a', 'rescuer', 60_000));
    expect(Number(taken.token)).toBeGreaterThan(Number(held.token));
    expect(taken.abandoned).toBe(1);
    expect((await rescuer.store.listAttempts(run.id, 'a')).map((a) => a.status)).toEqual(['abandoned']);
    expect(await rescuer.store.getInteraction(call)).toMatchObject({ status: 'abandoned', errorMessage: 'the worker running its attempt died' });
    expect(await zombie.tasks.finish(held, { state: 'done', outcome: 'ran' }, graphOf([]))).toEqual({ held: false, runFinished: null });
    expect(await stateOf(rescuer.tasks, run.id)).toEqual({ a: 'running' });
    const own = await rescuer.store.startAttempt(run.id, 'a');
    await rescuer.store.persistAttempt(own, '{}', [{ path: 'a.txt', sha256: sha256(bytes), bytes }]);
    expect((await rescuer.tasks.finish(taken, { state: 'done', outcome: 'ran' }, graphOf([]))).runFinished).toEqual({
      status: 'complete',
      reason: null,
    });
    expect((await rescuer.store.readContent(run.id, 'a.txt'))!.toString()).toBe('late\n');
  });

  it('a failure blocks everything downstream and, without --keep-going, stops the run; with it, the other branches go on', async () => {
    const { open } = await setup();
    const { store, tasks } = await open();
    const tree: HandedTask[] = [
      { id: 'a', requires: [], priority: 0 },
      { id: 'b', requires: ['a'], priority: 0 },
      { id: 'c', requires: [], priority: 0 },
    ];
    const stopping = await store.createRun({ runDir: '', pipeline: 'test', params: {} });
    await tasks.handOver({ runId: stopping.id, tasks: tree, keepGoing: false, forced: [] });
    const a = claimed(await tasks.claim(stopping.id, 'a', 'w1', 10_000));
    // Nothing else runs: the run ends at once, failed; `c` is never started.
    expect((await tasks.finish(a, { state: 'failed', error: 'boom' }, graphOf(['b']))).runFinished).toEqual({
      status: 'failed',
      reason: 'failed: a',
    });
    expect(await tasks.claim(stopping.id, 'c', 'w1', 10_000)).toEqual({ refused: 'run-finished' });
    expect(await stateOf(tasks, stopping.id)).toEqual({ a: 'failed', b: 'blocked', c: 'ready' });
    expect(await store.getRun(stopping.id)).toMatchObject({ status: 'failed', statusReason: 'failed: a' });

    const going = await store.createRun({ runDir: '', pipeline: 'test', params: {} });
    await tasks.handOver({ runId: going.id, tasks: tree, keepGoing: true, forced: [] });
    const a2 = claimed(await tasks.claim(going.id, 'a', 'w1', 10_000));
    await tasks.finish(a2, { state: 'failed', error: 'boom' }, graphOf(['b']));
    const c2 = claimed(await tasks.claim(going.id, 'c', 'w1', 10_000));
    expect((await tasks.finish(c2, { state: 'done', outcome: 'ran' }, graphOf([]))).runFinished).toEqual({ status: 'failed', reason: 'failed: a' });
    expect(await stateOf(tasks, going.id)).toEqual({ a: 'failed', b: 'blocked', c: 'done' });
  });

  it('plan cancel: no task of the run starts any more, a running one hears of it at its heartbeat, and the run ends cancelled', async () => {
    const { open } = await setup();
    const { store, tasks } = await open();
    const run = await store.createRun({ runDir: '', pipeline: 'test', params: {} });
    await tasks.handOver({ runId: run.id, tasks: [...chain('a'), { id: 'c', requires: [], priority: 0 }], keepGoing: false, forced: [] });
    await tasks.registerWorker({ id: 'w1', name: 'w1', host: 'h', pid: 1, concurrency: 2 });
    const a = claimed(await tasks.claim(run.id, 'a', 'w1', 10_000));
    await store.updateRun(run.id, { cancelRequested: true });
    expect(await tasks.claim(run.id, 'c', 'w1', 10_000)).toEqual({ refused: 'cancelled' });
    const beat = await tasks.heartbeat('w1', 10_000, [a]);
    expect(beat.claims).toEqual([{ runId: run.id, taskId: 'a', token: a.token, cancel: true }]);
    expect((await tasks.finish(a, { state: 'cancelled', error: 'the run was cancelled' }, graphOf([]))).runFinished).toEqual({
      status: 'cancelled',
      reason: 'interrupted',
    });
    expect(await stateOf(tasks, run.id)).toEqual({ a: 'cancelled', c: 'cancelled' });
  });

  it("a run's --max-cost holds across workers: reservations made at once never pass it, and the refusal stops the run (stopped: budget)", async () => {
    const { open } = await setup();
    const one = await open();
    const two = await open();
    const run = await one.store.createRun({ runDir: '', pipeline: 'test', params: {} });
    await one.tasks.handOver({ runId: run.id, tasks: chain('a'), keepGoing: false, forced: [] });
    const limits = [new DatabaseLimits(one.tasks, 'w1', 60_000), new DatabaseLimits(two.tasks, 'w2', 60_000)];
    for (const l of limits) l.setLimits(run.id, { maxCostUsd: 1, concurrency: 10 });
    const signal = new AbortController().signal;
    const asked = [0, 1, 0, 1, 0, 1].map((i) => limits[i]!.acquire({ runId: run.id, provider: 'p', estimateUsd: 0.3, estimatedTokens: 0, signal }));
    const settled = await Promise.allSettled(asked);
    expect(settled.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    const refusals = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(refusals).toHaveLength(3);
    for (const refusal of refusals) expect(refusal.reason).toBeInstanceOf(BudgetExceededError);
    expect(String(refusals[0]!.reason.message)).toMatch(/cost budget of \$1\.0000 reached \(all workers\)/);
    // No task of the run starts any more; with none running, the run ends there: stopped by its budget.
    const a = await one.tasks.claim(run.id, 'a', 'w1', 10_000);
    expect(a).toEqual({ refused: 'run-stopping' });
    expect(await one.store.getRun(run.id)).toMatchObject({ status: 'stopped', statusReason: 'budget' });
    for (const permit of settled) if (permit.status === 'fulfilled') await permit.value.release();
    const reserved = await adminQuery(`SELECT reserved_usd FROM ${one.store.schema}.worker_runs WHERE run_id = $1`, [run.id]);
    expect(Number(reserved.rows[0].reserved_usd)).toBeCloseTo(0, 9);
  });

  it("a provider's concurrency holds across workers: a call waits for a slot any worker frees; a cancelled wait gives its reservation back", async () => {
    const { open } = await setup();
    const one = await open();
    const two = await open();
    const run = await one.store.createRun({ runDir: '', pipeline: 'test', params: {} });
    await one.tasks.handOver({ runId: run.id, tasks: chain('a'), keepGoing: false, forced: [] });
    const first = new DatabaseLimits(one.tasks, 'w1', 60_000);
    const second = new DatabaseLimits(two.tasks, 'w2', 60_000);
    for (const l of [first, second]) l.setLimits(run.id, { maxCostUsd: null, concurrency: 2 });
    const signal = new AbortController().signal;
    const held = [
      await first.acquire({ runId: run.id, provider: 'p', estimateUsd: 0, estimatedTokens: 0, signal }),
      await second.acquire({ runId: run.id, provider: 'p', estimateUsd: 0, estimatedTokens: 0, signal }),
    ];
    let third = false;
    const waiting = second.acquire({ runId: run.id, provider: 'p', estimateUsd: 0, estimatedTokens: 0, signal }).then((permit) => {
      third = true;
      return permit;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(third).toBe(false);
    await held[0]!.release();
    const permit = await waiting;
    expect(third).toBe(true);
    // Another provider has slots of its own.
    await (await first.acquire({ runId: run.id, provider: 'q', estimateUsd: 0, estimatedTokens: 0, signal })).release();

    const cancel = new AbortController();
    const cancelled = first.acquire({ runId: run.id, provider: 'p', estimateUsd: 0.5, estimatedTokens: 0, signal: cancel.signal });
    await new Promise((r) => setTimeout(r, 100));
    cancel.abort();
    await expect(cancelled).rejects.toBeInstanceOf(CancelledError);
    const reserved = await adminQuery(`SELECT reserved_usd FROM ${one.store.schema}.worker_runs WHERE run_id = $1`, [run.id]);
    expect(Number(reserved.rows[0].reserved_usd)).toBeCloseTo(0, 9);
    await permit.release();
    await held[1]!.release();
  });

  it("a provider's requests per minute hold across workers: no window of the minute sees more calls start, whichever worker makes them", async () => {
    const { open } = await setup();
    const one = await open();
    const two = await open();
    const run = await one.store.createRun({ runDir: '', pipeline: 'test', params: {} });
    await one.tasks.handOver({ runId: run.id, tasks: chain('a'), keepGoing: false, forced: [] });
    // A window of 1.5 s stands for the minute.
    const windowMs = 1_500;
    const limits = [new DatabaseLimits(one.tasks, 'w1', 60_000, windowMs), new DatabaseLimits(two.tasks, 'w2', 60_000, windowMs)];
    for (const l of limits) l.setLimits(run.id, { maxCostUsd: null, concurrency: 10, requestsPerMinute: 3 });
    const signal = new AbortController().signal;
    const startedAt: number[] = [];
    const calls = [0, 1, 0, 1, 0, 1, 0].map(async (i) => {
      const permit = await limits[i]!.acquire({ runId: run.id, provider: 'p', estimateUsd: 0, estimatedTokens: 10, signal });
      startedAt.push(performance.now());
      await permit.release(10);
    });
    await Promise.all(calls);
    startedAt.sort((a, b) => a - b);
    // 7 calls at 3 a window: the 4th waits for the 1st to leave it, the 7th for the 4th. (Some slack: the window
    // is kept by the database's clock, and a start is seen here a round trip, or a loaded moment, later.)
    for (let i = 0; i + 3 < startedAt.length; i++) expect(startedAt[i + 3]! - startedAt[i]!).toBeGreaterThan(windowMs - 400);
    expect(startedAt[6]! - startedAt[0]!).toBeGreaterThan(2 * windowMs - 400);
    // Another provider has a window of its own.
    const other = await limits[0]!.acquire({ runId: run.id, provider: 'q', estimateUsd: 0, estimatedTokens: 10, signal });
    await other.release();
  });

  it("a provider's tokens per minute hold across workers, counted as the answers counted them once known; a waiting call can be cancelled", async () => {
    const { open } = await setup();
    const one = await open();
    const two = await open();
    const run = await one.store.createRun({ runDir: '', pipeline: 'test', params: {} });
    await one.tasks.handOver({ runId: run.id, tasks: chain('a'), keepGoing: false, forced: [] });
    const windowMs = 30_000;
    const first = new DatabaseLimits(one.tasks, 'w1', 60_000, windowMs);
    const second = new DatabaseLimits(two.tasks, 'w2', 60_000, windowMs);
    for (const l of [first, second]) l.setLimits(run.id, { maxCostUsd: null, concurrency: 10, tokensPerMinute: 1_000 });
    const signal = new AbortController().signal;
    const a = await first.acquire({ runId: run.id, provider: 'p', estimateUsd: 0, estimatedTokens: 400, signal });
    const b = await second.acquire({ runId: run.id, provider: 'p', estimateUsd: 0, estimatedTokens: 400, signal });
    // 800 of 1,000 booked: a third of 400 waits (the window is long: it would wait 30 s).
    const cancel = new AbortController();
    const waiting = first.acquire({ runId: run.id, provider: 'p', estimateUsd: 0.2, estimatedTokens: 400, signal: cancel.signal });
    await new Promise((r) => setTimeout(r, 300));
    cancel.abort();
    await expect(waiting).rejects.toBeInstanceOf(CancelledError);
    // The cancelled wait gave back its slot and its reservation.
    const slots = await adminQuery(`SELECT COUNT(*)::int AS n FROM ${one.store.schema}.call_slots WHERE holder IS NOT NULL`);
    expect(slots.rows[0].n).toBe(2);
    const reserved = await adminQuery(`SELECT reserved_usd FROM ${one.store.schema}.worker_runs WHERE run_id = $1`, [run.id]);
    expect(Number(reserved.rows[0].reserved_usd)).toBeCloseTo(0, 9);
    // The answers counted 100 tokens each: 200 booked now, so the next call of 400 goes at once.
    await a.release(100);
    await b.release(100);
    const started = performance.now();
    const c = await second.acquire({ runId: run.id, provider: 'p', estimateUsd: 0, estimatedTokens: 400, signal });
    expect(performance.now() - started).toBeLessThan(5_000);
    await c.release(400);
    const booked = await adminQuery(`SELECT SUM(tokens)::int AS used FROM ${one.store.schema}.call_window WHERE scope = 'p'`);
    expect(booked.rows[0].used).toBe(600);
  });

  it('many callers of several stores taking and freeing slots at once never deadlock, and never hold more than the limit', async () => {
    // No retry of passing faults: a deadlock (40P01) fails the call instead of being retried away.
    const before = process.env.PLAN_DB_RETRY_MS;
    process.env.PLAN_DB_RETRY_MS = '0';
    try {
      const { open } = await setup();
      const stores = [await open(), await open(), await open()];
      const run = await stores[0]!.store.createRun({ runDir: '', pipeline: 'test', params: {} });
      await stores[0]!.tasks.handOver({ runId: run.id, tasks: chain('a'), keepGoing: false, forced: [] });
      const limits = stores.map((s, i) => new DatabaseLimits(s.tasks, `w${i}`, 60_000));
      for (const l of limits) l.setLimits(run.id, { maxCostUsd: 100, concurrency: 4 });
      const signal = new AbortController().signal;
      let held = 0;
      let most = 0;
      const loops = limits.flatMap((l) =>
        Array.from({ length: 6 }, async () => {
          for (let i = 0; i < 8; i++) {
            const permit = await l.acquire({ runId: run.id, provider: 'p', estimateUsd: 0.01, estimatedTokens: 0, signal });
            most = Math.max(most, ++held);
            await new Promise((r) => setTimeout(r, 2));
            held--;
            await permit.release();
          }
        }),
      );
      await Promise.all(loops);
      expect(most).toBeLessThanOrEqual(4);
      expect(most).toBeGreaterThanOrEqual(2);
    } finally {
      if (before === undefined) delete process.env.PLAN_DB_RETRY_MS;
      else process.env.PLAN_DB_RETRY_MS = before;
    }
  });
});
