import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { StoreError } from '../../src/store/store-error.js';
import type {
  FileStat,
  InteractionFinish,
  InteractionStart,
  LeaseHolder,
  OutputContent,
  RunExport,
  RunRecord,
  Store,
} from '../../src/store/store.js';
import { tempDir } from '../support/cli.js';
import { freshSchemaUrl, noteWhenPostgresMissing, POSTGRES_URL } from '../support/postgres.js';

/**
 * The Store contract (src/store/store.ts), asserted the same way on every implementation, through the interface
 * only: no SQL, no driver. Each test gets an empty database of its own.
 */

noteWhenPostgresMissing('tests/integration/store-contract.test.ts');

/** An empty database of one kind: every store opened on it shares it; `drop` removes it. */
interface TestDatabase {
  open(): Promise<Store>;
  drop(): Promise<void>;
}

interface Backend {
  name: 'SQLite' | 'PostgreSQL';
  skip: boolean;
  create(): Promise<TestDatabase>;
}

/**
 * The PostgreSQL factory is imported dynamically, inside the factory, on purpose: only the PostgreSQL variant
 * loads src/store/postgres (and with it the `pg` driver), so the SQLite variant runs without either, even where
 * the PostgreSQL store cannot be loaded.
 */
async function loadOpenPostgresStore(): Promise<(url: string) => Promise<Store>> {
  const { openPostgresStore } = await import('../../src/store/postgres/postgres-store.js');
  return openPostgresStore;
}

const backends: Backend[] = [
  {
    name: 'SQLite',
    skip: false,
    async create() {
      const dir = tempDir('plan-contract-');
      const file = path.join(dir, 'plan.db');
      return {
        open: (): Promise<Store> => openSqliteStore(file),
        drop: async () => fs.rmSync(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 'PostgreSQL',
    skip: !POSTGRES_URL,
    async create() {
      const openPostgresStore = await loadOpenPostgresStore();
      const { url, drop } = await freshSchemaUrl();
      return { open: () => openPostgresStore(url), drop };
    },
  },
];

// helpers

const sha256 = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
/** Long enough for two rows written around it to get different millisecond timestamps. */
const tick = (): Promise<void> => sleep(5);
/**
 * Lets the event loop turn once. Two SQLite stores in one process share its thread: a store keeps its write
 * transaction open to the end of the turn (group commit), also after a write that failed, and the other store's
 * write would wait for that lock synchronously. Separate processes (what two stores stand for) need no such pause.
 */
const endOfTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
/** Slack for times a store takes from its own clock (a database server's), compared with this process's. */
const CLOCK_SLACK_MS = 1000;

/** One output as a task hands it over: the path, its bytes and their real sha256. */
const output = (filePath: string, bytes: Buffer | string): OutputContent => {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
  return { path: filePath, sha256: sha256(buffer), bytes: buffer };
};

/** A hash-cache entry whose 64-bit fields are all above 2^53 (a JavaScript number would round them). */
const stat = (filePath: string, sha: string, extra: Partial<FileStat> = {}): FileStat => ({
  path: filePath,
  size: 5_000_000_123,
  mtimeNs: 1732500000123456789n,
  ctimeNs: 1732500000987654321n,
  ino: 9223372036854775807n,
  sha256: sha,
  statAtNs: 1732500001000000007n,
  ...extra,
});

const call = (runId: string, attemptId: number, extra: Partial<InteractionStart> = {}): InteractionStart => ({
  runId,
  taskId: 'T',
  attemptId,
  itemKey: null,
  turn: null,
  requestHash: 'h',
  provider: 'offline',
  requestedModel: 'offline',
  messages: [{ role: 'user', content: 'hi' }],
  ...extra,
});

const holderA: LeaseHolder = { host: 'host-a', pid: 1001, startTime: 424242 };
const holderB: LeaseHolder = { host: 'host-b', pid: 2002, startTime: null };

/** The error a promise rejects with (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection, but the promise resolved');
}

/** An export with the ids a store chooses (attempts, contents, interactions) replaced by their rank, references included. */
function withRankedIds(data: RunExport): unknown {
  const ranks = (ids: number[]): Map<number, number> => new Map([...ids].sort((a, b) => a - b).map((id, i) => [id, i + 1]));
  const attemptRank = ranks(data.attempts.map((a) => a.id));
  const contentRank = ranks(data.contents.map((c) => c.id));
  const interactionRank = ranks(data.interactions.map((i) => i.id));
  const attempt = (id: number): number | string => attemptRank.get(id) ?? `unknown attempt ${id}`;
  const byId = <T extends { id: number }>(rows: T[]): T[] => [...rows].sort((a, b) => a.id - b.id);
  const byPath = <T extends { path: string }>(rows: T[]): T[] => [...rows].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return {
    run: data.run,
    attempts: byId(data.attempts).map((a) => ({ ...a, id: attempt(a.id) })),
    contents: byId(data.contents).map((c) => ({ ...c, id: contentRank.get(c.id), attemptId: c.attemptId === null ? null : attempt(c.attemptId) })),
    interactions: byId(data.interactions).map((i) => ({
      ...i,
      id: interactionRank.get(i.id),
      attemptId: attempt(i.attemptId),
      replayedFrom: i.replayedFrom === null ? null : (interactionRank.get(i.replayedFrom) ?? `unknown interaction ${i.replayedFrom}`),
    })),
    fileStats: byPath(data.fileStats),
    pinned: byPath(data.pinned),
  };
}

for (const backend of backends) {
  describe.skipIf(backend.skip)(`Store contract: ${backend.name}`, () => {
    let store: Store;
    let database: TestDatabase;
    /** Closes and drops, newest first, whatever a test opened. */
    let cleanups: (() => Promise<void>)[] = [];

    const newDatabase = async (kind: Backend = backend): Promise<TestDatabase> => {
      const created = await kind.create();
      cleanups.push(() => created.drop());
      return created;
    };
    const open = async (on: TestDatabase = database): Promise<Store> => {
      const opened = await on.open();
      cleanups.push(() => opened.close());
      return opened;
    };
    /** A second store instance on the test's database (another process, another machine). */
    const openAnother = (): Promise<Store> => open(database);

    beforeEach(async () => {
      cleanups = [];
      database = await newDatabase();
      store = await open();
    });

    afterEach(async () => {
      const errors: unknown[] = [];
      for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => errors.push(error));
      cleanups = [];
      if (errors.length > 0) throw errors[0];
    });

    const newRun = (
      extra: Partial<{ runDir: string; pipeline: string; params: Record<string, unknown> }> = {},
      on: Store = store,
    ): Promise<RunRecord> => on.createRun({ runDir: '/x/run', pipeline: 'p', params: {}, ...extra });

    describe('runs', () => {
      it('createRun returns the new run (created, no reason, no cancel request, params as JSON); getRun reads it back', async () => {
        const params = { prompt: 'a "quoted" prompt ✓ 𝄞', n: 3, ok: true, none: null, list: [1, 'two', { three: 3 }] };
        const before = Date.now();
        const run = await store.createRun({ runDir: '/x/run', pipeline: 'plan', params });
        expect(run).toEqual({
          id: expect.any(String),
          runDir: '/x/run',
          pipeline: 'plan',
          params,
          status: 'created',
          statusReason: null,
          cancelRequestedAt: null,
          createdAt: expect.any(Number),
          updatedAt: expect.any(Number),
        });
        expect(run.createdAt).toBeGreaterThanOrEqual(before - CLOCK_SLACK_MS);
        expect(run.createdAt).toBeLessThanOrEqual(Date.now() + CLOCK_SLACK_MS);
        expect(run.updatedAt).toBeGreaterThanOrEqual(run.createdAt);
        expect(await store.getRun(run.id)).toEqual(run);
        expect(await store.getRun('no-such-run')).toBeNull();
        const other = await newRun();
        expect(other.id).not.toBe(run.id);
      });

      it('findRunByDir finds the newest run created with that dir, and follows a run moved with updateRun', async () => {
        const older = await newRun({ runDir: '/x/run' });
        await tick();
        const newer = await newRun({ runDir: '/x/run' });
        expect(newer.createdAt).toBeGreaterThan(older.createdAt);
        expect((await store.findRunByDir('/x/run'))?.id).toBe(newer.id);
        await store.updateRun(newer.id, { runDir: '/y/moved' });
        expect((await store.findRunByDir('/x/run'))?.id).toBe(older.id);
        expect(await store.findRunByDir('/y/moved')).toMatchObject({ id: newer.id, runDir: '/y/moved' });
        expect(await store.findRunByDir('/nowhere')).toBeNull();
      });

      it('updateRun changes only the columns given, and moves updatedAt', async () => {
        const run = await newRun({ pipeline: 'plan', params: { prompt: 'p' } });
        await store.updateRun(run.id, { status: 'running', statusReason: 'building' });
        await store.updateRun(run.id, { cancelRequested: true });
        const before = (await store.getRun(run.id))!;
        expect(before).toMatchObject({ status: 'running', statusReason: 'building', cancelRequestedAt: expect.any(Number) });
        await tick();
        await store.updateRun(run.id, { runDir: '/y/moved' });
        const moved = (await store.getRun(run.id))!;
        expect(moved).toEqual({ ...before, runDir: '/y/moved', updatedAt: moved.updatedAt });
        expect(moved.updatedAt).toBeGreaterThan(before.updatedAt);
        await store.updateRun(run.id, { statusReason: null });
        expect(await store.getRun(run.id)).toMatchObject({ runDir: '/y/moved', status: 'running', statusReason: null, params: { prompt: 'p' } });
        await store.updateRun(run.id, { params: { prompt: 'q', speed: 'fast' } });
        expect(await store.getRun(run.id)).toMatchObject({
          runDir: '/y/moved',
          pipeline: 'plan',
          status: 'running',
          statusReason: null,
          params: { prompt: 'q', speed: 'fast' },
          cancelRequestedAt: before.cancelRequestedAt,
          createdAt: run.createdAt,
        });
        await store.updateRun(run.id, { status: 'complete' });
        expect(await store.getRun(run.id)).toMatchObject({
          status: 'complete',
          params: { prompt: 'q', speed: 'fast' },
          cancelRequestedAt: before.cancelRequestedAt,
        });
      });

      it('cancelRequested true stamps the request with the time; false clears it', async () => {
        const run = await newRun();
        const before = Date.now();
        await store.updateRun(run.id, { cancelRequested: true });
        const requested = (await store.getRun(run.id))!.cancelRequestedAt;
        expect(requested).toEqual(expect.any(Number));
        expect(requested).toBeGreaterThanOrEqual(before - CLOCK_SLACK_MS);
        expect(requested).toBeLessThanOrEqual(Date.now() + CLOCK_SLACK_MS);
        expect((await store.getRun(run.id))!.status).toBe('created');
        await store.updateRun(run.id, { cancelRequested: false });
        expect((await store.getRun(run.id))!.cancelRequestedAt).toBeNull();
      });

      it('clearCancelRequestedBefore clears a request made before that moment and keeps one made at or after it', async () => {
        const run = await newRun();
        await store.updateRun(run.id, { status: 'running', clearCancelRequestedBefore: Date.now() + 60_000 });
        expect(await store.getRun(run.id)).toMatchObject({ status: 'running', cancelRequestedAt: null });
        await store.updateRun(run.id, { cancelRequested: true });
        const requested = (await store.getRun(run.id))!.cancelRequestedAt!;
        await store.updateRun(run.id, { status: 'stopped', clearCancelRequestedBefore: requested });
        expect(await store.getRun(run.id)).toMatchObject({ status: 'stopped', cancelRequestedAt: requested });
        await store.updateRun(run.id, { clearCancelRequestedBefore: requested - 1 });
        expect((await store.getRun(run.id))!.cancelRequestedAt).toBe(requested);
        await store.updateRun(run.id, { clearCancelRequestedBefore: requested + 1 });
        expect(await store.getRun(run.id)).toMatchObject({ status: 'stopped', cancelRequestedAt: null });
      });

      it('updateRun of an unknown run fails with a StoreError naming it', async () => {
        for (const changes of [{ status: 'running' as const }, { cancelRequested: true }, { runDir: '/y' }]) {
          const error = await rejection(store.updateRun('no-such-run', changes));
          expect(error).toBeInstanceOf(StoreError);
          expect((error as Error).message).toContain('no-such-run');
        }
        expect(await store.listRuns()).toEqual([]);
      });

      it('listRuns lists every run, oldest first', async () => {
        expect(await store.listRuns()).toEqual([]);
        const a = await newRun({ runDir: '/a' });
        await tick();
        const b = await newRun({ runDir: '/b' });
        await tick();
        const c = await newRun({ runDir: '/c' });
        await store.updateRun(a.id, { status: 'complete' });
        expect((await store.listRuns()).map((r) => r.id)).toEqual([a.id, b.id, c.id]);
        expect((await store.listRuns())[0]).toEqual(await store.getRun(a.id));
      });
    });

    describe('queryRuns', () => {
      /** Four runs created apart: a (complete), b (failed), c and d (created); a and b updated after d was created. */
      const fourRuns = async (): Promise<Record<'a' | 'b' | 'c' | 'd', RunRecord>> => {
        const a = await newRun({ runDir: '/a', params: { prompt: 'Plan a TRIP to Rome' } });
        await tick();
        const b = await newRun({ runDir: '/b', params: { prompt: 'write a poem' } });
        await tick();
        const c = await newRun({ runDir: '/c', params: { prompt: 'Another trip, to Oslo' } });
        await tick();
        const d = await newRun({ runDir: '/d', params: {} });
        await tick();
        await store.updateRun(a.id, { status: 'complete' });
        await tick();
        await store.updateRun(b.id, { status: 'failed' });
        const reread = async (run: RunRecord): Promise<RunRecord> => (await store.getRun(run.id))!;
        return { a: await reread(a), b: await reread(b), c, d };
      };

      it('returns every run newest first, and filters by status, creation time, update time, prompt and count', async () => {
        const { a, b, c, d } = await fourRuns();
        expect(a.createdAt < b.createdAt && b.createdAt < c.createdAt && c.createdAt < d.createdAt).toBe(true);
        expect(d.updatedAt < a.updatedAt && a.updatedAt < b.updatedAt).toBe(true);
        const ids = async (query: Parameters<Store['queryRuns']>[0]): Promise<string[]> => (await store.queryRuns(query)).map((r) => r.id);

        expect(await store.queryRuns({})).toEqual([d, c, b, a]);
        expect(await ids({ statuses: ['complete', 'failed'] })).toEqual([b.id, a.id]);
        expect(await ids({ statuses: ['created'] })).toEqual([d.id, c.id]);
        expect(await ids({ statuses: ['cancelled'] })).toEqual([]);
        expect(await ids({ createdSince: b.createdAt })).toEqual([d.id, c.id, b.id]);
        expect(await ids({ createdSince: d.createdAt + 1 })).toEqual([]);
        expect(await ids({ updatedBefore: b.updatedAt })).toEqual([d.id, c.id, a.id]);
        expect(await ids({ updatedBefore: a.updatedAt })).toEqual([d.id, c.id]);
        expect(await ids({ promptContains: 'trip' })).toEqual([c.id, a.id]);
        expect(await ids({ promptContains: 'TRIP' })).toEqual([c.id, a.id]);
        expect(await ids({ promptContains: 'rOmE' })).toEqual([a.id]);
        expect(await ids({ promptContains: 'nothing like it' })).toEqual([]);
        expect(await ids({ latest: 2 })).toEqual([d.id, c.id]);
        expect(await ids({ latest: 10 })).toEqual([d.id, c.id, b.id, a.id]);
        expect(await ids({ statuses: ['created'], latest: 1 })).toEqual([d.id]);
        expect(await ids({ promptContains: 'trip', statuses: ['complete'] })).toEqual([a.id]);
        expect(await ids({ promptContains: 'trip', createdSince: b.createdAt, latest: 5 })).toEqual([c.id]);
      });

      it('promptContains takes % and _ literally', async () => {
        const percent = await newRun({ params: { prompt: 'save 50% now' } });
        await newRun({ params: { prompt: 'save 500 now' } });
        const underscore = await newRun({ params: { prompt: 'a_b' } });
        await newRun({ params: { prompt: 'axb' } });
        expect((await store.queryRuns({ promptContains: '50%' })).map((r) => r.id)).toEqual([percent.id]);
        expect((await store.queryRuns({ promptContains: 'a_b' })).map((r) => r.id)).toEqual([underscore.id]);
      });

      it('promptContains is case-insensitive for letters beyond ASCII too', async () => {
        const run = await newRun({ params: { prompt: 'Ein Plan für MÜNCHEN und ÉTÉ' } });
        expect((await store.queryRuns({ promptContains: 'münchen' })).map((r) => r.id)).toEqual([run.id]);
        expect((await store.queryRuns({ promptContains: 'été' })).map((r) => r.id)).toEqual([run.id]);
      });
    });

    describe('attempts', () => {
      it('startAttempt adds a running attempt; listAttempts lists them oldest first, per task on request', async () => {
        const run = await newRun();
        const other = await newRun();
        const before = Date.now();
        const t = await store.startAttempt(run.id, 'T');
        const u = await store.startAttempt(run.id, 'U');
        const t2 = await store.startAttempt(run.id, 'T');
        await store.startAttempt(other.id, 'T');
        expect(new Set([t, u, t2]).size).toBe(3);
        const attempts = await store.listAttempts(run.id);
        expect(attempts.map((a) => a.id)).toEqual([t, u, t2]);
        expect(attempts[0]).toEqual({
          id: t,
          runId: run.id,
          taskId: 'T',
          status: 'running',
          stamp: null,
          outputs: null,
          error: null,
          startedAt: expect.any(Number),
          finishedAt: null,
        });
        expect(attempts[0]!.startedAt).toBeGreaterThanOrEqual(before - CLOCK_SLACK_MS);
        expect((await store.listAttempts(run.id, 'T')).map((a) => a.id)).toEqual([t, t2]);
        expect(await store.listAttempts(run.id, 'nothing')).toEqual([]);
        expect(await store.listAttempts('no-such-run')).toEqual([]);
      });

      it('starts made in one turn (as ready tasks start together) each get their own attempt; one of an unknown run fails alone', async () => {
        const run = await newRun();
        const other = await newRun();
        const tasks = ['A', 'B', 'A', 'C', 'D', 'E', 'F', 'G'];
        const started = await Promise.allSettled([
          ...tasks.map((task) => store.startAttempt(run.id, task)),
          store.startAttempt('no-such-run', 'X'),
          store.startAttempt(other.id, 'A'),
        ]);
        expect(started.map((s) => s.status)).toEqual([...tasks.map(() => 'fulfilled'), 'rejected', 'fulfilled']);
        const ids = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
        expect(new Set(ids).size).toBe(tasks.length + 1);
        const attempts = await store.listAttempts(run.id);
        const byId = new Map(attempts.map((a) => [a.id, a.taskId]));
        expect(ids.slice(0, tasks.length).map((id) => byId.get(id))).toEqual(tasks);
        expect(attempts.every((a) => a.status === 'running')).toBe(true);
        expect((await store.listAttempts(other.id)).map((a) => a.id)).toEqual([ids[tasks.length]]);
      });

      it('persists made in one turn (tasks finishing together) each store their own versions; one of an attempt not running fails alone', async () => {
        const run = await newRun();
        const ids = await Promise.all(['A', 'B', 'C', 'D'].map((task) => store.startAttempt(run.id, task)));
        await store.persistAttempt(ids[3]!, '{"v":1}', [output('d.md', 'first d')]);
        await store.endAttempt(ids[2]!, 'failed', 'boom');
        const again = await store.startAttempt(run.id, 'D');
        const persisted = await Promise.allSettled([
          store.persistAttempt(ids[0]!, '{"a":1}', [output('a.md', 'a'), output('a.json', '{}')]),
          store.persistAttempt(ids[1]!, '{"b":1}', [output('b.md', 'b')]),
          store.persistAttempt(ids[2]!, '{"c":1}', [output('c.md', 'c')]),
          store.persistAttempt(again, '{"v":2}', [output('d.md', 'second d')]),
        ]);
        expect(persisted.map((p) => p.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
        expect(String((persisted[2] as PromiseRejectedResult).reason)).toMatch(/is failed, not running/);
        const versions = await store.listContentVersions(run.id);
        expect(versions.map((v) => [v.path, v.version, v.attemptId]).sort()).toEqual(
          [
            ['a.json', 1, ids[0]],
            ['a.md', 1, ids[0]],
            ['b.md', 1, ids[1]],
            ['d.md', 1, ids[3]],
            ['d.md', 2, again],
          ].sort(),
        );
        expect((await store.readContent(run.id, 'd.md'))?.toString()).toBe('second d');
        const attempts = new Map((await store.listAttempts(run.id)).map((a) => [a.id, a]));
        expect(attempts.get(ids[0]!)).toMatchObject({ status: 'persisted', stamp: '{"a":1}' });
        expect(attempts.get(ids[1]!)).toMatchObject({ status: 'persisted', stamp: '{"b":1}' });
        expect(attempts.get(ids[2]!)).toMatchObject({ status: 'failed', stamp: null });
      });

      it('a complete mark still waiting when another attempt persists is committed with that persist', async () => {
        const run = await newRun();
        const first = await store.startAttempt(run.id, 'T');
        const second = await store.startAttempt(run.id, 'U');
        await store.persistAttempt(first, '{}', [output('t.md', 't')]);
        // No turn of the event loop between the mark and the next persist: the mark must ride in it.
        void store.completeAttempt(first, []);
        await store.persistAttempt(second, '{}', [output('u.md', 'u')]);
        const another = await openAnother();
        try {
          expect((await another.listAttempts(run.id)).map((a) => [a.taskId, a.status])).toEqual([
            ['T', 'complete'],
            ['U', 'persisted'],
          ]);
        } finally {
          await another.close();
        }
      });

      it('persistAttempt stores every output as a content version and the stamp; an identical rebuild adds no version', async () => {
        const run = await newRun();
        const first = await store.startAttempt(run.id, 'T');
        const big = Buffer.from('{"a": 1}\n'.repeat(500));
        await store.persistAttempt(first, '{"version":"1"}', [output('a.json', big), output('b.md', 'b')]);
        expect(await store.listAttempts(run.id)).toEqual([
          {
            id: first,
            runId: run.id,
            taskId: 'T',
            status: 'persisted',
            stamp: '{"version":"1"}',
            outputs: { 'a.json': sha256(big), 'b.md': sha256('b') },
            error: null,
            startedAt: expect.any(Number),
            finishedAt: null,
          },
        ]);
        expect(await store.listContentVersions(run.id)).toEqual([
          {
            id: expect.any(Number),
            runId: run.id,
            path: 'a.json',
            taskId: 'T',
            attemptId: first,
            version: 1,
            sha256: sha256(big),
            size: big.length,
            source: 'task',
            createdAt: expect.any(Number),
          },
          {
            id: expect.any(Number),
            runId: run.id,
            path: 'b.md',
            taskId: 'T',
            attemptId: first,
            version: 1,
            sha256: sha256('b'),
            size: 1,
            source: 'task',
            createdAt: expect.any(Number),
          },
        ]);
        await store.completeAttempt(first, []);

        const second = await store.startAttempt(run.id, 'T');
        await store.persistAttempt(second, '{"version":"2"}', [output('a.json', big), output('b.md', 'c')]);
        await store.completeAttempt(second, []);
        const versions = await store.listContentVersions(run.id);
        expect(versions.map((v) => [v.path, v.version, v.source, v.attemptId])).toEqual([
          ['a.json', 1, 'task', first],
          ['b.md', 1, 'task', first],
          ['b.md', 2, 'task', second],
        ]);
        expect((await store.listAttempts(run.id)).map((a) => [a.id, a.status, a.stamp])).toEqual([
          [first, 'complete', '{"version":"1"}'],
          [second, 'complete', '{"version":"2"}'],
        ]);
        expect(await store.readContent(run.id, 'a.json')).toEqual(big);
        expect(await store.readContent(run.id, 'b.md', 1)).toEqual(Buffer.from('b'));
        expect(await store.readContent(run.id, 'b.md')).toEqual(Buffer.from('c'));
        // An attempt with no outputs persists too.
        const empty = await store.startAttempt(run.id, 'E');
        await store.persistAttempt(empty, '{}', []);
        expect((await store.listAttempts(run.id, 'E')).map((a) => [a.status, a.outputs])).toEqual([['persisted', {}]]);
      });

      it('refuses an output whose sha256 is not that of its bytes, naming the path, and stores nothing', async () => {
        const run = await newRun();
        const attempt = await store.startAttempt(run.id, 'T');
        const lying = { ...output('b.md', 'real bytes'), sha256: sha256('other bytes') };
        const error = await rejection(store.persistAttempt(attempt, '{}', [output('a.md', 'fine'), lying]));
        expect(error).toBeInstanceOf(StoreError);
        expect((error as Error).message).toContain('b.md');
        expect(await store.listContentVersions(run.id)).toEqual([]);
        expect(await store.readContent(run.id, 'a.md')).toBeNull();
        expect((await store.listAttempts(run.id)).map((a) => [a.status, a.stamp, a.outputs])).toEqual([['running', null, null]]);
        // Still running: a persist with honest shas goes through.
        await store.persistAttempt(attempt, '{}', [output('a.md', 'fine'), output('b.md', 'real bytes')]);
        expect((await store.listAttempts(run.id)).map((a) => a.status)).toEqual(['persisted']);
      });

      it('refuses to persist an attempt that is not running, naming its status, and stores nothing', async () => {
        const run = await newRun();
        const failed = await store.startAttempt(run.id, 'F');
        await store.endAttempt(failed, 'failed', 'boom');
        const cancelled = await store.startAttempt(run.id, 'C');
        await store.endAttempt(cancelled, 'cancelled', null);
        const persisted = await store.startAttempt(run.id, 'P');
        await store.persistAttempt(persisted, '{}', [output('p.md', 'p')]);
        const abandoned = await store.startAttempt(run.id, 'A');
        expect(await store.abandonRunningAttempts(run.id)).toBe(1);
        for (const [attempt, status] of [
          [abandoned, 'abandoned'],
          [failed, 'failed'],
          [cancelled, 'cancelled'],
          [persisted, 'persisted'],
        ] as const) {
          const error = await rejection(store.persistAttempt(attempt, '{"again":true}', [output('late.md', 'late')]));
          expect(error).toBeInstanceOf(StoreError);
          expect((error as Error).message).toContain(`attempt ${attempt} is ${status}`);
        }
        expect(await rejection(store.persistAttempt(abandoned + 1000, '{}', []))).toBeInstanceOf(StoreError);
        expect((await store.listContentVersions(run.id)).map((v) => v.path)).toEqual(['p.md']);
        expect((await store.listAttempts(run.id)).map((a) => [a.taskId, a.status, a.stamp])).toEqual([
          ['F', 'failed', null],
          ['C', 'cancelled', null],
          ['P', 'persisted', '{}'],
          ['A', 'abandoned', null],
        ]);
      });

      it('completeAttempt marks the attempt complete and teaches the hash cache; listAttempts and loadRunSnapshot see it at once', async () => {
        const run = await newRun();
        const attempt = await store.startAttempt(run.id, 'T');
        await store.persistAttempt(attempt, '{}', [output('a.md', 'a')]);
        await store.completeAttempt(attempt, [stat('a.md', sha256('a'))]);
        const [listed] = await store.listAttempts(run.id);
        expect(listed).toMatchObject({ id: attempt, status: 'complete', finishedAt: expect.any(Number) });
        expect(listed!.finishedAt).toBeGreaterThanOrEqual(listed!.startedAt);
        const snapshot = await store.loadRunSnapshot(run.id);
        expect(snapshot.built.get('T')).toEqual(listed);
        expect(snapshot.unmaterialized).toEqual([]);
        expect(snapshot.fileStats).toEqual(new Map([['a.md', stat('a.md', sha256('a'))]]));
        // Read in the other order too (a deferred mark must be visible to either read).
        const next = await store.startAttempt(run.id, 'U');
        await store.persistAttempt(next, '{}', [output('u.md', 'u')]);
        await store.completeAttempt(next, [stat('u.md', sha256('u'))]);
        expect((await store.loadRunSnapshot(run.id)).built.get('U')).toMatchObject({ id: next, status: 'complete' });
        expect((await store.listAttempts(run.id, 'U')).map((a) => a.status)).toEqual(['complete']);
      });

      it('endAttempt ends a running attempt failed or cancelled with its error, and abandons its pending calls only', async () => {
        const run = await newRun();
        const failing = await store.startAttempt(run.id, 'T');
        const cancelled = await store.startAttempt(run.id, 'U');
        const running = await store.startAttempt(run.id, 'V');
        const answered = await store.startInteraction(call(run.id, failing));
        await store.finishInteraction(answered, { status: 'completed' });
        const waiting = await store.startInteraction(call(run.id, failing));
        const cancelledWaiting = await store.startInteraction(call(run.id, cancelled, { taskId: 'U' }));
        const stillRunning = await store.startInteraction(call(run.id, running, { taskId: 'V' }));
        await store.endAttempt(failing, 'failed', 'boom');
        await store.endAttempt(cancelled, 'cancelled', null);
        expect((await store.listAttempts(run.id)).map((a) => [a.id, a.status, a.error, a.finishedAt === null])).toEqual([
          [failing, 'failed', 'boom', false],
          [cancelled, 'cancelled', null, false],
          [running, 'running', null, true],
        ]);
        const rows = new Map((await store.listInteractions(run.id)).map((i) => [i.id, i.status]));
        expect(rows).toEqual(
          new Map([
            [answered, 'completed'],
            [waiting, 'abandoned'],
            [cancelledWaiting, 'abandoned'],
            [stillRunning, 'pending'],
          ]),
        );
        expect((await store.getInteraction(waiting))!.finishedAt).toEqual(expect.any(Number));
      });

      it('abandonRunningAttempts abandons the running attempts of that run only, and their pending calls, returning how many', async () => {
        const run = await newRun();
        const other = await newRun();
        const dead = await store.startAttempt(run.id, 'T');
        const deadToo = await store.startAttempt(run.id, 'U');
        const persisted = await store.startAttempt(run.id, 'P');
        await store.persistAttempt(persisted, '{}', []);
        const elsewhere = await store.startAttempt(other.id, 'T');
        const answered = await store.startInteraction(call(run.id, dead));
        await store.finishInteraction(answered, { status: 'completed' });
        const waiting = await store.startInteraction(call(run.id, dead));
        const otherRunWaiting = await store.startInteraction(call(other.id, elsewhere));
        expect(await store.abandonRunningAttempts(run.id)).toBe(2);
        expect((await store.listAttempts(run.id)).map((a) => [a.id, a.status])).toEqual([
          [dead, 'abandoned'],
          [deadToo, 'abandoned'],
          [persisted, 'persisted'],
        ]);
        expect((await store.listInteractions(run.id)).map((i) => [i.id, i.status])).toEqual([
          [answered, 'completed'],
          [waiting, 'abandoned'],
        ]);
        expect((await store.listAttempts(other.id)).map((a) => [a.id, a.status])).toEqual([[elsewhere, 'running']]);
        expect((await store.listInteractions(other.id)).map((i) => [i.id, i.status])).toEqual([[otherRunWaiting, 'pending']]);
        expect(await store.abandonRunningAttempts(run.id)).toBe(0);
      });

      it('recordAttemptError keeps the error on a persisted attempt, which stays persisted; an unknown attempt is a StoreError', async () => {
        const run = await newRun();
        const attempt = await store.startAttempt(run.id, 'T');
        await store.persistAttempt(attempt, '{}', [output('a.md', 'a')]);
        await store.recordAttemptError(attempt, 'EACCES: cannot write a.md');
        expect((await store.listAttempts(run.id)).map((a) => [a.status, a.error])).toEqual([['persisted', 'EACCES: cannot write a.md']]);
        const snapshot = await store.loadRunSnapshot(run.id);
        expect(snapshot.built.get('T')).toMatchObject({ id: attempt, status: 'persisted', error: 'EACCES: cannot write a.md' });
        expect(snapshot.unmaterialized.map((a) => [a.id, a.error])).toEqual([[attempt, 'EACCES: cannot write a.md']]);
        expect(await rejection(store.recordAttemptError(attempt + 1000, 'x'))).toBeInstanceOf(StoreError);
      });
    });

    describe('loadRunSnapshot', () => {
      it('is empty for a run with nothing in it', async () => {
        const run = await newRun();
        expect(await store.loadRunSnapshot(run.id)).toEqual({
          built: new Map(),
          unmaterialized: [],
          previousOutputs: new Map(),
          replayable: new Map(),
          latestContent: new Map(),
          fileStats: new Map(),
          pinned: new Map(),
        });
      });

      it('holds the newest built attempt per task, the unmaterialized ones with their previous outputs, the replayable ones, the newest content, the hash cache and the pins', async () => {
        const run = await newRun();
        const other = await newRun({ runDir: '/x/other' });
        // T: complete, then persisted (unmaterialized), then two that never persisted.
        const t1 = await store.startAttempt(run.id, 'T');
        await store.persistAttempt(t1, '{"t":1}', [output('a.md', 'a1'), output('x.md', 'x')]);
        await store.completeAttempt(t1, [stat('a.md', sha256('a1'))]);
        const t2 = await store.startAttempt(run.id, 'T');
        await store.persistAttempt(t2, '{"t":2}', [output('a.md', 'a2')]);
        const t3 = await store.startAttempt(run.id, 'T');
        await store.endAttempt(t3, 'failed', 'boom');
        // U: never built.
        const u1 = await store.startAttempt(run.id, 'U');
        await store.endAttempt(u1, 'failed', 'boom');
        const u2 = await store.startAttempt(run.id, 'U');
        await store.endAttempt(u2, 'cancelled', null);
        // V: a failure, then complete: nothing replayable.
        const v1 = await store.startAttempt(run.id, 'V');
        await store.endAttempt(v1, 'failed', 'boom');
        const v2 = await store.startAttempt(run.id, 'V');
        await store.persistAttempt(v2, '{"v":2}', [output('v.md', 'v')]);
        await store.completeAttempt(v2, []);
        // W: persisted, first of its task.
        const w1 = await store.startAttempt(run.id, 'W');
        await store.persistAttempt(w1, '{}', [output('w.md', 'w')]);
        // Another run's attempt of T in between: not this run's history.
        const elsewhere = await store.startAttempt(other.id, 'T');
        await store.persistAttempt(elsewhere, '{}', [output('elsewhere.md', 'e')]);
        const t4 = await store.startAttempt(run.id, 'T');
        expect(await store.abandonRunningAttempts(run.id)).toBe(1);
        // A person's edit is the newest content of a.md.
        await store.recordEdit(run.id, 'T', 'a.md', Buffer.from('edited'));
        await store.saveFileStats(run.id, [stat('b.md', sha256('b'), { ino: 2n ** 60n + 3n })]);
        await store.pinFile(run.id, 'x.md', sha256('x'));

        const snapshot = await store.loadRunSnapshot(run.id);
        expect([...snapshot.built.keys()].sort()).toEqual(['T', 'V', 'W']);
        expect(snapshot.built.get('T')).toEqual({
          id: t2,
          runId: run.id,
          taskId: 'T',
          status: 'persisted',
          stamp: '{"t":2}',
          outputs: { 'a.md': sha256('a2') },
          error: null,
          startedAt: expect.any(Number),
          finishedAt: null,
        });
        expect(snapshot.built.get('V')).toMatchObject({ id: v2, status: 'complete', stamp: '{"v":2}', outputs: { 'v.md': sha256('v') } });
        expect(snapshot.built.get('W')).toMatchObject({ id: w1, status: 'persisted' });
        expect(snapshot.unmaterialized.map((a) => a.id).sort((a, b) => a - b)).toEqual([t2, w1]);
        expect(snapshot.unmaterialized.find((a) => a.id === t2)).toEqual(snapshot.built.get('T'));
        expect(snapshot.previousOutputs).toEqual(
          new Map([
            [t2, { 'a.md': sha256('a1'), 'x.md': sha256('x') }],
            [w1, {}],
          ]),
        );
        expect(snapshot.replayable).toEqual(
          new Map([
            ['T', [t3, t4]],
            ['U', [u1, u2]],
          ]),
        );
        expect(snapshot.latestContent).toEqual(
          new Map([
            ['a.md', sha256('edited')],
            ['x.md', sha256('x')],
            ['v.md', sha256('v')],
            ['w.md', sha256('w')],
          ]),
        );
        expect(snapshot.fileStats).toEqual(
          new Map([
            ['a.md', stat('a.md', sha256('a1'))],
            ['b.md', stat('b.md', sha256('b'), { ino: 2n ** 60n + 3n })],
          ]),
        );
        expect(snapshot.pinned).toEqual(new Map([['x.md', sha256('x')]]));

        const elsewhereSnapshot = await store.loadRunSnapshot(other.id);
        expect([...elsewhereSnapshot.built.keys()]).toEqual(['T']);
        expect(elsewhereSnapshot.previousOutputs).toEqual(new Map([[elsewhere, {}]]));
        expect(elsewhereSnapshot.latestContent).toEqual(new Map([['elsewhere.md', sha256('e')]]));
        expect(elsewhereSnapshot.fileStats).toEqual(new Map());
        expect(elsewhereSnapshot.pinned).toEqual(new Map());
      });

      it('round-trips the 64-bit fields of the hash cache exactly, and a newer entry for a path replaces the older', async () => {
        const run = await newRun();
        const edges: FileStat[] = [
          stat('max.md', 'a'.repeat(64), { mtimeNs: 2n ** 63n - 1n, ctimeNs: 2n ** 53n + 1n, ino: 2n ** 63n - 1n, statAtNs: 2n ** 62n + 12345n }),
          stat('small.md', 'b'.repeat(64), { size: 0, mtimeNs: 1n, ctimeNs: 0n, ino: 1n, statAtNs: 2n }),
          stat('odd.md', 'c'.repeat(64), {
            mtimeNs: 9007199254740993n,
            ctimeNs: 9007199254740995n,
            ino: 9007199254740997n,
            statAtNs: 9007199254740999n,
          }),
        ];
        await store.saveFileStats(run.id, edges);
        expect((await store.loadRunSnapshot(run.id)).fileStats).toEqual(new Map(edges.map((s) => [s.path, s])));
        const newer = stat('max.md', 'd'.repeat(64), { size: 7, mtimeNs: 1732500009999999999n });
        await store.saveFileStats(run.id, [newer]);
        await store.saveFileStats(run.id, []);
        const fileStats = (await store.loadRunSnapshot(run.id)).fileStats;
        expect(fileStats.get('max.md')).toEqual(newer);
        expect(fileStats.size).toBe(3);
        for (const s of fileStats.values()) {
          expect(typeof s.mtimeNs).toBe('bigint');
          expect(typeof s.ctimeNs).toBe('bigint');
          expect(typeof s.ino).toBe('bigint');
          expect(typeof s.statAtNs).toBe('bigint');
          expect(typeof s.size).toBe('number');
        }
      });
    });

    describe('content', () => {
      it('recordEdit hashes the bytes itself and returns the version stored, or null when they equal the newest version', async () => {
        const run = await newRun();
        const attempt = await store.startAttempt(run.id, 'T');
        await store.persistAttempt(attempt, '{}', [output('a.md', 'built')]);
        expect(await store.recordEdit(run.id, 'T', 'a.md', Buffer.from('built'))).toBeNull();
        expect(await store.recordEdit(run.id, 'T', 'a.md', Buffer.from('edited'))).toEqual({ version: 2, sha256: sha256('edited') });
        expect(await store.recordEdit(run.id, 'T', 'a.md', Buffer.from('edited'))).toBeNull();
        // Equal to an older version, not the newest: a new version.
        expect(await store.recordEdit(run.id, 'T', 'a.md', Buffer.from('built'))).toEqual({ version: 3, sha256: sha256('built') });
        expect(await store.recordEdit(run.id, 'U', 'new.md', Buffer.from('new'))).toEqual({ version: 1, sha256: sha256('new') });
        expect((await store.listContentVersions(run.id, 'a.md')).map((v) => [v.version, v.source, v.sha256, v.attemptId, v.taskId])).toEqual([
          [1, 'task', sha256('built'), attempt, 'T'],
          [2, 'edit', sha256('edited'), null, 'T'],
          [3, 'edit', sha256('built'), null, 'T'],
        ]);
        expect(await store.listContentVersions(run.id, 'new.md')).toEqual([
          {
            id: expect.any(Number),
            runId: run.id,
            path: 'new.md',
            taskId: 'U',
            attemptId: null,
            version: 1,
            sha256: sha256('new'),
            size: 3,
            source: 'edit',
            createdAt: expect.any(Number),
          },
        ]);
      });

      it('readContent gives the newest version or a given one; readContentBySha the version with that sha; null when absent', async () => {
        const run = await newRun();
        const other = await newRun();
        for (const text of ['one', 'two', 'three']) await store.recordEdit(run.id, 'T', 'a.md', Buffer.from(text));
        await store.recordEdit(other.id, 'T', 'a.md', Buffer.from('elsewhere'));
        expect(await store.readContent(run.id, 'a.md')).toEqual(Buffer.from('three'));
        expect(await store.readContent(run.id, 'a.md', 1)).toEqual(Buffer.from('one'));
        expect(await store.readContent(run.id, 'a.md', 2)).toEqual(Buffer.from('two'));
        expect(await store.readContent(run.id, 'a.md', 3)).toEqual(Buffer.from('three'));
        expect(await store.readContent(run.id, 'a.md', 4)).toBeNull();
        expect(await store.readContent(run.id, 'missing.md')).toBeNull();
        expect(await store.readContent(other.id, 'a.md')).toEqual(Buffer.from('elsewhere'));
        expect(await store.readContentBySha(run.id, 'a.md', sha256('two'))).toEqual(Buffer.from('two'));
        expect(await store.readContentBySha(run.id, 'a.md', sha256('elsewhere'))).toBeNull();
        expect(await store.readContentBySha(run.id, 'other.md', sha256('two'))).toBeNull();
        expect(await store.readContentBySha(run.id, 'a.md', '0'.repeat(64))).toBeNull();
      });

      it('readContentsBySha reads many at once, in the order asked, the newest version of a sha stored twice, null for each absent', async () => {
        const run = await newRun();
        const other = await newRun();
        for (const text of ['one', 'two', 'one']) await store.recordEdit(run.id, 'T', 'a.md', Buffer.from(text));
        await store.recordEdit(run.id, 'T', 'b.md', Buffer.from('bee'));
        await store.recordEdit(other.id, 'T', 'c.md', Buffer.from('sea'));
        const asked = [
          { path: 'b.md', sha256: sha256('bee') },
          { path: 'a.md', sha256: sha256('one') },
          { path: 'c.md', sha256: sha256('sea') },
          { path: 'a.md', sha256: sha256('two') },
          { path: 'a.md', sha256: sha256('bee') },
          { path: 'b.md', sha256: sha256('bee') },
        ];
        expect(await store.readContentsBySha(run.id, asked)).toEqual([
          Buffer.from('bee'),
          Buffer.from('one'),
          null,
          Buffer.from('two'),
          null,
          Buffer.from('bee'),
        ]);
        expect(await store.readContentsBySha(run.id, [])).toEqual([]);
      });

      it('listContentVersions lists by path, then version, of one run; of one path on request', async () => {
        const run = await newRun();
        const other = await newRun();
        await store.recordEdit(run.id, 'T', 'b.md', Buffer.from('b1'));
        await store.recordEdit(run.id, 'T', 'a.md', Buffer.from('a1'));
        await store.recordEdit(run.id, 'T', 'b.md', Buffer.from('b2'));
        const attempt = await store.startAttempt(run.id, 'T');
        await store.persistAttempt(attempt, '{}', [output('c/d.md', 'd'), output('a.md', 'a2')]);
        await store.recordEdit(other.id, 'T', 'a.md', Buffer.from('other'));
        expect((await store.listContentVersions(run.id)).map((v) => [v.path, v.version, v.sha256])).toEqual([
          ['a.md', 1, sha256('a1')],
          ['a.md', 2, sha256('a2')],
          ['b.md', 1, sha256('b1')],
          ['b.md', 2, sha256('b2')],
          ['c/d.md', 1, sha256('d')],
        ]);
        expect((await store.listContentVersions(run.id, 'b.md')).map((v) => v.version)).toEqual([1, 2]);
        expect(await store.listContentVersions(run.id, 'nothing.md')).toEqual([]);
        expect((await store.listContentVersions(other.id)).map((v) => [v.path, v.version])).toEqual([['a.md', 1]]);
        const versions = await store.listContentVersions(run.id);
        expect(new Set(versions.map((v) => v.id)).size).toBe(versions.length);
      });

      it('keeps binary bytes exactly: NUL bytes, invalid UTF-8, an empty file, and 1 MB of random and of repetitive bytes', async () => {
        const run = await newRun();
        const files: [string, Buffer][] = [
          ['nul.bin', Buffer.from([0, 1, 2, 0, 0, 255, 0])],
          ['latin1.txt', Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xff, 0xfe])],
          ['empty.txt', Buffer.alloc(0)],
          ['random.bin', Buffer.concat([Buffer.alloc(16), randomBytes(1024 * 1024), Buffer.alloc(16)])],
          ['repeated.json', Buffer.from(`${JSON.stringify({ key: 'value', n: 1 })}\n`.repeat(40_000))],
        ];
        const attempt = await store.startAttempt(run.id, 'T');
        await store.persistAttempt(
          attempt,
          '{}',
          files.map(([name, bytes]) => output(name, bytes)),
        );
        for (const [name, bytes] of files) {
          expect((await store.readContent(run.id, name))!.equals(bytes), name).toBe(true);
          expect((await store.readContentBySha(run.id, name, sha256(bytes)))!.equals(bytes), name).toBe(true);
        }
        expect((await store.listContentVersions(run.id)).map((v) => [v.path, v.size])).toEqual(
          files.map(([name, bytes]) => [name, bytes.length]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
        );
        // The same through recordEdit.
        const edited = Buffer.concat([randomBytes(1024 * 1024), Buffer.from([0, 0, 0])]);
        expect(await store.recordEdit(run.id, 'T', 'random.bin', edited)).toEqual({ version: 2, sha256: sha256(edited) });
        expect((await store.readContent(run.id, 'random.bin'))!.equals(edited)).toBe(true);
        expect((await store.readContent(run.id, 'random.bin', 1))!.equals(files[3]![1])).toBe(true);
        expect(await store.recordEdit(run.id, 'T', 'nul.bin', Buffer.from([0, 1, 2, 0, 0, 255, 0]))).toBeNull();
        expect(await store.recordEdit(run.id, 'T', 'empty.txt', Buffer.alloc(0))).toBeNull();
        expect((await store.loadRunSnapshot(run.id)).latestContent.get('empty.txt')).toBe(sha256(Buffer.alloc(0)));
      });
    });

    describe('model calls', () => {
      const fullStart = (runId: string, attemptId: number): InteractionStart => ({
        runId,
        taskId: 'T',
        attemptId,
        itemKey: 'item-7',
        turn: 2,
        requestHash: 'hash-1',
        provider: 'openai-compatible',
        requestedModel: 'gpt-x',
        messages: [
          { role: 'system', content: 'You plan. ✓ 𝄞' },
          { role: 'user', content: 'line one\nline "two"\ttabbed \\ backslash' },
        ],
        responseFormat: 'json_schema',
      });
      const fullFinish: Required<InteractionFinish> = {
        status: 'completed',
        answeredModel: 'gpt-x-2025-01-01',
        responseText: '{"plan":[1,2]}',
        parsed: { plan: [1, 2], nested: { ok: true, none: null, text: 'ü' } },
        errorClass: null,
        errorMessage: null,
        httpStatus: 200,
        inputTokens: 1234,
        outputTokens: 567,
        tokensEstimated: true,
        durationMs: 890,
        costUsd: 0.012345,
        price: { inputPerM: 2.5, outputPerM: 10 },
        reasoningText: 'Thinking it over…',
        reasoningTokens: 120,
      };

      it('startInteraction then finishInteraction: every field round-trips', async () => {
        const run = await newRun();
        const attempt = await store.startAttempt(run.id, 'T');
        const start = fullStart(run.id, attempt);
        const id = await store.startInteraction(start);
        const pending = await store.getInteraction(id);
        expect(pending).toEqual({
          ...start,
          id,
          replayedFrom: null,
          status: 'pending',
          answeredModel: null,
          responseText: null,
          parsed: null,
          errorClass: null,
          errorMessage: null,
          httpStatus: null,
          inputTokens: null,
          outputTokens: null,
          tokensEstimated: false,
          durationMs: null,
          costUsd: null,
          price: null,
          startedAt: expect.any(Number),
          finishedAt: null,
          reasoningText: null,
          reasoningTokens: null,
        });
        await store.finishInteraction(id, fullFinish);
        const finished = await store.getInteraction(id);
        expect(finished).toEqual({
          ...start,
          ...fullFinish,
          id,
          replayedFrom: null,
          startedAt: pending!.startedAt,
          finishedAt: expect.any(Number),
        });
        expect(finished!.finishedAt).toBeGreaterThanOrEqual(finished!.startedAt);
        expect((await store.listInteractions(run.id))[0]).toEqual(finished);

        // A failed call, a call without a response format, and a replay.
        const failed = await store.startInteraction(call(run.id, attempt));
        await store.finishInteraction(failed, {
          status: 'failed',
          errorClass: 'HttpError',
          errorMessage: 'HTTP 500: overloaded',
          httpStatus: 500,
          durationMs: 12,
        });
        expect(await store.getInteraction(failed)).toMatchObject({
          status: 'failed',
          errorClass: 'HttpError',
          errorMessage: 'HTTP 500: overloaded',
          httpStatus: 500,
          durationMs: 12,
          answeredModel: null,
          parsed: null,
          price: null,
          tokensEstimated: false,
          responseFormat: null,
          itemKey: null,
          turn: null,
        });
        const replay = await store.startInteraction(call(run.id, attempt, { replayedFrom: id, responseFormat: null }));
        await store.finishInteraction(replay, {
          status: 'replayed',
          responseText: 'x',
          parsed: [1, 'a', null],
          inputTokens: 0,
          outputTokens: 0,
          costUsd: 0,
        });
        expect(await store.getInteraction(replay)).toMatchObject({
          replayedFrom: id,
          status: 'replayed',
          parsed: [1, 'a', null],
          inputTokens: 0,
          outputTokens: 0,
          costUsd: 0,
          responseFormat: null,
        });
        for (const format of ['json_object', 'prompt', 'text'] as const) {
          const other = await store.startInteraction(call(run.id, attempt, { responseFormat: format }));
          expect((await store.getInteraction(other))!.responseFormat).toBe(format);
        }
        expect(await store.getInteraction(id + 1000)).toBeNull();
      });

      it('keeps large messages whole', async () => {
        const run = await newRun();
        const attempt = await store.startAttempt(run.id, 'T');
        const messages = [
          { role: 'system', content: 'You plan.' },
          { role: 'user', content: 'The plan so far. '.repeat(20_000) },
          { role: 'assistant', content: randomBytes(50_000).toString('base64') },
        ];
        const id = await store.startInteraction(call(run.id, attempt, { messages }));
        expect((await store.getInteraction(id))!.messages).toEqual(messages);
        expect((await store.listInteractions(run.id))[0]!.messages).toEqual(messages);
      });

      it('rejectInteraction rejects a completed or replayed call with the reason, and the call a replay replayed; other statuses stay', async () => {
        const run = await newRun();
        const first = await store.startAttempt(run.id, 'T');
        const original = await store.startInteraction(call(run.id, first));
        await store.finishInteraction(original, { status: 'completed', responseText: '{}' });
        const failed = await store.startInteraction(call(run.id, first));
        await store.finishInteraction(failed, { status: 'failed', errorMessage: 'HTTP 500' });
        const kept = await store.startInteraction(call(run.id, first));
        await store.finishInteraction(kept, { status: 'completed', responseText: '{}' });
        await store.endAttempt(first, 'failed', 'boom');
        const second = await store.startAttempt(run.id, 'T');
        const replay = await store.startInteraction(call(run.id, second, { replayedFrom: original }));
        await store.finishInteraction(replay, { status: 'replayed', responseText: '{}' });
        const alone = await store.startInteraction(call(run.id, second));
        await store.finishInteraction(alone, { status: 'completed' });
        const pending = await store.startInteraction(call(run.id, second));

        await store.rejectInteraction(replay, 'the plan names no budget');
        await store.rejectInteraction(alone, 'too short');
        await store.rejectInteraction(failed, 'not an answer');
        await store.rejectInteraction(pending, 'not yet answered');
        const rows = new Map((await store.listInteractions(run.id)).map((i) => [i.id, [i.status, i.errorMessage]]));
        expect(rows).toEqual(
          new Map([
            [original, ['rejected', 'the plan names no budget']],
            [failed, ['failed', 'HTTP 500']],
            [kept, ['completed', null]],
            [replay, ['rejected', 'the plan names no budget']],
            [alone, ['rejected', 'too short']],
            [pending, ['pending', null]],
          ]),
        );
        expect((await store.findReplayableInteractions([first, second], 'h')).map((i) => i.id)).toEqual([kept]);
      });

      it('findReplayableInteractions gives the completed calls of the given attempts with that request hash, oldest first', async () => {
        const run = await newRun();
        const a1 = await store.startAttempt(run.id, 'T');
        const a2 = await store.startAttempt(run.id, 'T');
        const a3 = await store.startAttempt(run.id, 'T');
        const finish = async (attempt: number, status: InteractionFinish['status'], hash = 'h'): Promise<number> => {
          const id = await store.startInteraction(call(run.id, attempt, { requestHash: hash }));
          await store.finishInteraction(id, { status, responseText: `answer ${id}` });
          return id;
        };
        const c1 = await finish(a1, 'completed');
        await finish(a1, 'completed', 'other hash');
        await finish(a1, 'failed');
        await store.startInteraction(call(run.id, a1));
        await finish(a1, 'replayed');
        await finish(a1, 'cancelled');
        const d1 = await finish(a2, 'completed');
        const c2 = await finish(a1, 'completed');
        await finish(a3, 'completed');
        const found = await store.findReplayableInteractions([a2, a1], 'h');
        expect(found.map((i) => i.id)).toEqual([c1, d1, c2]);
        expect(found[0]).toEqual(await store.getInteraction(c1));
        expect(found[0]!.messages).toEqual([{ role: 'user', content: 'hi' }]);
        expect((await store.findReplayableInteractions([a1], 'other hash')).map((i) => i.status)).toEqual(['completed']);
        expect(await store.findReplayableInteractions([a1, a2], 'nope')).toEqual([]);
        expect(await store.findReplayableInteractions([], 'h')).toEqual([]);
        expect(await store.findReplayableInteractions([a3 + 1000], 'h')).toEqual([]);
      });

      it('listInteractions lists a run’s calls oldest first, by task and status on request', async () => {
        const run = await newRun();
        const other = await newRun();
        const t = await store.startAttempt(run.id, 'T');
        const u = await store.startAttempt(run.id, 'U');
        const elsewhere = await store.startAttempt(other.id, 'T');
        const i1 = await store.startInteraction(call(run.id, t));
        await store.finishInteraction(i1, { status: 'completed' });
        const i2 = await store.startInteraction(call(run.id, t));
        await store.finishInteraction(i2, { status: 'failed' });
        const i3 = await store.startInteraction(call(run.id, u, { taskId: 'U' }));
        await store.finishInteraction(i3, { status: 'completed' });
        const i4 = await store.startInteraction(call(run.id, t));
        const o1 = await store.startInteraction(call(other.id, elsewhere));
        const ids = async (filter?: Parameters<Store['listInteractions']>[1], runId = run.id): Promise<number[]> =>
          (await store.listInteractions(runId, filter)).map((i) => i.id);
        expect(await ids()).toEqual([i1, i2, i3, i4]);
        expect(await ids({})).toEqual([i1, i2, i3, i4]);
        expect(await ids({ taskId: 'T' })).toEqual([i1, i2, i4]);
        expect(await ids({ status: 'completed' })).toEqual([i1, i3]);
        expect(await ids({ status: 'pending' })).toEqual([i4]);
        expect(await ids({ taskId: 'T', status: 'completed' })).toEqual([i1]);
        expect(await ids({ taskId: 'U', status: 'failed' })).toEqual([]);
        expect(await ids(undefined, other.id)).toEqual([o1]);
        expect(await ids(undefined, 'no-such-run')).toEqual([]);
      });

      it('listInteractionSummaries gives the calls without messages, response, parsed answer or reasoning, oldest first', async () => {
        const run = await newRun();
        const attempt = await store.startAttempt(run.id, 'T');
        const first = await store.startInteraction(fullStart(run.id, attempt));
        await store.finishInteraction(first, fullFinish);
        const second = await store.startInteraction(call(run.id, attempt, { replayedFrom: first }));
        await store.finishInteraction(second, { status: 'failed', errorMessage: 'HTTP 500' });
        const third = await store.startInteraction(call(run.id, attempt));
        const summaries = await store.listInteractionSummaries(run.id);
        expect(summaries.map((s) => s.id)).toEqual([first, second, third]);
        for (const [index, summary] of summaries.entries()) {
          expect(Object.keys(summary)).not.toContain('messages');
          expect(Object.keys(summary)).not.toContain('responseText');
          expect(Object.keys(summary)).not.toContain('parsed');
          expect(Object.keys(summary)).not.toContain('reasoningText');
          const { messages: _m, responseText: _r, parsed: _p, reasoningText: _t, ...rest } = (await store.listInteractions(run.id))[index]!;
          expect(summary).toEqual(rest);
        }
        expect(summaries[0]).toMatchObject({
          costUsd: 0.012345,
          price: { inputPerM: 2.5, outputPerM: 10 },
          reasoningTokens: 120,
          responseFormat: 'json_schema',
        });
        expect(summaries[1]!.replayedFrom).toBe(first);
        expect((await store.listInteractionSummaries(run.id, { status: 'failed' })).map((s) => s.id)).toEqual([second]);
        expect((await store.listInteractionSummaries(run.id, { status: 'pending' })).map((s) => s.id)).toEqual([third]);
        expect(await store.listInteractionSummaries('no-such-run')).toEqual([]);
      });

      it('keeps text with U+0000 (NUL) whole in messages, answers, parsed answers and reasoning', async () => {
        const run = await newRun();
        const attempt = await store.startAttempt(run.id, 'T');
        const messages = [{ role: 'user', content: 'before\u0000after' }];
        const id = await store.startInteraction(call(run.id, attempt, { messages }));
        await store.finishInteraction(id, {
          status: 'completed',
          responseText: 'an answer with \u0000 in it',
          parsed: { text: 'nul \u0000 here' },
          reasoningText: 'reasoning \u0000',
          errorMessage: null,
        });
        expect(await store.getInteraction(id)).toMatchObject({
          messages,
          responseText: 'an answer with \u0000 in it',
          parsed: { text: 'nul \u0000 here' },
          reasoningText: 'reasoning \u0000',
        });
      });
    });

    describe('endpoint modes', () => {
      it('remembers the mode per base URL and model, replacing an older one, without the credentials of the URL', async () => {
        expect(await store.getEndpointMode('https://api.example.com/v1', 'm')).toBeNull();
        await store.saveEndpointMode('https://user:secret@api.example.com/v1', 'm', 'json_schema');
        expect(await store.getEndpointMode('https://api.example.com/v1', 'm')).toBe('json_schema');
        expect(await store.getEndpointMode('https://someone:else@api.example.com/v1', 'm')).toBe('json_schema');
        expect(await store.getEndpointMode('https://api.example.com/v1', 'other-model')).toBeNull();
        expect(await store.getEndpointMode('https://api.example.com/v2', 'm')).toBeNull();
        await store.saveEndpointMode('https://api.example.com/v1', 'm', 'prompt');
        expect(await store.getEndpointMode('https://api.example.com/v1', 'm')).toBe('prompt');
        await store.saveEndpointMode('https://sk-token-only@api.example.com/v1', 'other-model', 'json_object');
        expect(await store.getEndpointMode('https://api.example.com/v1', 'other-model')).toBe('json_object');
        expect(await store.getEndpointMode('https://api.example.com/v1', 'm')).toBe('prompt');
        // Kept for the next build: another store on the database sees it.
        const another = await openAnother();
        expect(await another.getEndpointMode('https://api.example.com/v1', 'm')).toBe('prompt');
        expect(await another.getEndpointMode('http://localhost:8080/v1', 'm')).toBeNull();
      });
    });

    describe('pins', () => {
      it('pinFile pins a path at a sha (again: replaces it); unpinFile says whether it was pinned; listPinned lists by path', async () => {
        const run = await newRun();
        const other = await newRun();
        for (const [name, text] of [
          ['b.md', 'b'],
          ['a.md', 'a1'],
          ['a.md', 'a2'],
        ]) {
          await store.recordEdit(run.id, 'T', name!, Buffer.from(text!));
        }
        expect(await store.listPinned(run.id)).toEqual([]);
        const before = Date.now();
        await store.pinFile(run.id, 'b.md', sha256('b'));
        await store.pinFile(run.id, 'a.md', sha256('a1'));
        const pinned = await store.listPinned(run.id);
        expect(pinned).toEqual([
          { path: 'a.md', sha256: sha256('a1'), pinnedAt: expect.any(Number) },
          { path: 'b.md', sha256: sha256('b'), pinnedAt: expect.any(Number) },
        ]);
        expect(pinned[0]!.pinnedAt).toBeGreaterThanOrEqual(before - CLOCK_SLACK_MS);
        await store.pinFile(run.id, 'a.md', sha256('a2'));
        expect((await store.listPinned(run.id)).map((p) => [p.path, p.sha256])).toEqual([
          ['a.md', sha256('a2')],
          ['b.md', sha256('b')],
        ]);
        expect((await store.loadRunSnapshot(run.id)).pinned).toEqual(
          new Map([
            ['a.md', sha256('a2')],
            ['b.md', sha256('b')],
          ]),
        );
        expect(await store.listPinned(other.id)).toEqual([]);
        expect(await store.unpinFile(other.id, 'a.md')).toBe(false);
        expect(await store.unpinFile(run.id, 'a.md')).toBe(true);
        expect(await store.unpinFile(run.id, 'a.md')).toBe(false);
        expect(await store.unpinFile(run.id, 'never.md')).toBe(false);
        expect((await store.listPinned(run.id)).map((p) => p.path)).toEqual(['b.md']);
        expect((await store.loadRunSnapshot(run.id)).pinned).toEqual(new Map([['b.md', sha256('b')]]));
      });
    });

    describe('inspection', () => {
      it('runTotals adds up what a run holds and spent; a run that never ran is all zeros', async () => {
        const run = await newRun();
        const other = await newRun();
        expect(await store.runTotals(run.id)).toEqual({
          runId: run.id,
          tasksBuilt: 0,
          tasksFailed: 0,
          attempts: 0,
          files: 0,
          versions: 0,
          calls: 0,
          failedCalls: 0,
          inputTokens: 0,
          outputTokens: 0,
          costUsd: 0,
          unpricedCalls: 0,
          models: [],
          firstActivityAt: null,
          lastActivityAt: null,
        });
        // T built; U failed; V built, then its newest attempt abandoned.
        const t1 = await store.startAttempt(run.id, 'T');
        const priced = await store.startInteraction(call(run.id, t1));
        await store.finishInteraction(priced, {
          status: 'completed',
          answeredModel: 'm1',
          inputTokens: 100,
          outputTokens: 50,
          costUsd: 0.25,
          durationMs: 10,
        });
        const unpriced = await store.startInteraction(call(run.id, t1));
        await store.finishInteraction(unpriced, { status: 'completed', answeredModel: 'm2', inputTokens: 10, outputTokens: 5, costUsd: null });
        await store.persistAttempt(t1, '{}', [output('a.md', 'a')]);
        await store.completeAttempt(t1, []);
        const u1 = await store.startAttempt(run.id, 'U');
        const failed = await store.startInteraction(call(run.id, u1, { taskId: 'U' }));
        await store.finishInteraction(failed, { status: 'failed', errorMessage: 'HTTP 500', httpStatus: 500 });
        const cheap = await store.startInteraction(call(run.id, u1, { taskId: 'U' }));
        await store.finishInteraction(cheap, { status: 'completed', answeredModel: 'm1', inputTokens: 1, outputTokens: 1, costUsd: 0.5 });
        await store.endAttempt(u1, 'failed', 'boom');
        const v1 = await store.startAttempt(run.id, 'V');
        await store.persistAttempt(v1, '{}', [output('v.md', 'v')]);
        await store.startAttempt(run.id, 'V');
        await store.abandonRunningAttempts(run.id);
        await store.recordEdit(run.id, 'T', 'a.md', Buffer.from('edited'));
        // Another run's figures stay out.
        const elsewhere = await store.startAttempt(other.id, 'T');
        const otherCall = await store.startInteraction(call(other.id, elsewhere));
        await store.finishInteraction(otherCall, { status: 'completed', answeredModel: 'm3', inputTokens: 1000, outputTokens: 1000, costUsd: 8 });

        const totals = await store.runTotals(run.id);
        const attempts = await store.listAttempts(run.id);
        const calls = await store.listInteractions(run.id);
        expect(totals).toEqual({
          runId: run.id,
          tasksBuilt: 2,
          tasksFailed: 2,
          attempts: 4,
          files: 2,
          versions: 3,
          calls: 4,
          failedCalls: 1,
          inputTokens: 111,
          outputTokens: 56,
          costUsd: 0.75,
          unpricedCalls: 1,
          models: ['m1', 'm2'],
          firstActivityAt: attempts[0]!.startedAt,
          lastActivityAt: expect.any(Number),
        });
        const seen = [...attempts.flatMap((a) => [a.startedAt, a.finishedAt ?? 0]), ...calls.flatMap((c) => [c.startedAt, c.finishedAt ?? 0])];
        expect(totals.lastActivityAt).toBeGreaterThanOrEqual(Math.max(...seen));
        expect(totals.lastActivityAt).toBeLessThanOrEqual(Date.now() + CLOCK_SLACK_MS);
      });

      it('summarizeSpend adds the calls up per run, task, model (answered, else asked) and UTC day, ordered by key, for one run or since a moment', async () => {
        const r1 = await newRun();
        const r2 = await newRun();
        const t = await store.startAttempt(r1.id, 'T');
        const u = await store.startAttempt(r1.id, 'U');
        const w = await store.startAttempt(r2.id, 'W');
        const finished = async (start: InteractionStart, finish: InteractionFinish): Promise<number> => {
          const id = await store.startInteraction(start);
          await store.finishInteraction(id, finish);
          return id;
        };
        await finished(call(r1.id, t, { requestedModel: 'asked' }), {
          status: 'completed',
          answeredModel: 'm1',
          inputTokens: 100,
          outputTokens: 10,
          costUsd: 0.25,
          durationMs: 100,
        });
        await finished(call(r1.id, t, { requestedModel: 'asked' }), { status: 'failed', durationMs: 5 });
        await finished(call(r1.id, u, { taskId: 'U', requestedModel: 'asked' }), {
          status: 'completed',
          answeredModel: 'm2',
          inputTokens: 7,
          outputTokens: 3,
          costUsd: null,
          durationMs: 20,
        });
        await tick();
        const later = await finished(call(r2.id, w, { taskId: 'W', requestedModel: 'asked' }), {
          status: 'completed',
          answeredModel: 'm1',
          inputTokens: 1,
          outputTokens: 2,
          costUsd: 0.125,
          durationMs: 1,
        });
        const row = (key: string, figures: Partial<Record<string, number>>) => ({
          key,
          calls: 0,
          failedCalls: 0,
          inputTokens: 0,
          outputTokens: 0,
          costUsd: 0,
          unpricedCalls: 0,
          durationMs: 0,
          ...figures,
        });
        const r1Row = row(r1.id, { calls: 3, failedCalls: 1, inputTokens: 107, outputTokens: 13, costUsd: 0.25, unpricedCalls: 1, durationMs: 125 });
        const r2Row = row(r2.id, { calls: 1, inputTokens: 1, outputTokens: 2, costUsd: 0.125, durationMs: 1 });
        expect(await store.summarizeSpend('run')).toEqual([r1Row, r2Row].sort((a, b) => (a.key < b.key ? -1 : 1)));
        expect(await store.summarizeSpend('task')).toEqual([
          row('T', { calls: 2, failedCalls: 1, inputTokens: 100, outputTokens: 10, costUsd: 0.25, durationMs: 105 }),
          row('U', { calls: 1, inputTokens: 7, outputTokens: 3, unpricedCalls: 1, durationMs: 20 }),
          row('W', { calls: 1, inputTokens: 1, outputTokens: 2, costUsd: 0.125, durationMs: 1 }),
        ]);
        expect(await store.summarizeSpend('model')).toEqual([
          row('asked', { calls: 1, failedCalls: 1, durationMs: 5 }),
          row('m1', { calls: 2, inputTokens: 101, outputTokens: 12, costUsd: 0.375, durationMs: 101 }),
          row('m2', { calls: 1, inputTokens: 7, outputTokens: 3, unpricedCalls: 1, durationMs: 20 }),
        ]);
        const calls = [...(await store.listInteractions(r1.id)), ...(await store.listInteractions(r2.id))];
        const days = [...new Set(calls.map((c) => new Date(c.startedAt).toISOString().slice(0, 10)))].sort();
        const byDay = await store.summarizeSpend('day');
        expect(byDay.map((r) => r.key)).toEqual(days);
        expect(byDay.reduce((sum, r) => sum + r.calls, 0)).toBe(4);
        expect(byDay.reduce((sum, r) => sum + r.costUsd, 0)).toBe(0.375);
        expect(await store.summarizeSpend('task', { runId: r1.id })).toEqual([
          row('T', { calls: 2, failedCalls: 1, inputTokens: 100, outputTokens: 10, costUsd: 0.25, durationMs: 105 }),
          row('U', { calls: 1, inputTokens: 7, outputTokens: 3, unpricedCalls: 1, durationMs: 20 }),
        ]);
        const since = (await store.getInteraction(later))!.startedAt;
        expect(await store.summarizeSpend('run', { since })).toEqual([r2Row]);
        expect(await store.summarizeSpend('model', { runId: r1.id, since })).toEqual([]);
        expect(await store.summarizeSpend('run', { runId: 'no-such-run' })).toEqual([]);
      });

      it('taskCallHistory counts the answered calls of each task’s newest built attempt per run, by pipeline and by params.speed', async () => {
        const answered = async (
          runId: string,
          attempt: number,
          taskId: string,
          status: InteractionFinish['status'],
          tokens: number,
        ): Promise<void> => {
          const id = await store.startInteraction(call(runId, attempt, { taskId }));
          await store.finishInteraction(id, { status, inputTokens: tokens, outputTokens: tokens * 10 });
        };
        // Run 1 (plan, fast): T built twice (only the newest build counts), then a failed attempt; U built with no calls.
        const r1 = await newRun({ pipeline: 'plan', params: { prompt: 'x', speed: 'fast' } });
        const old = await store.startAttempt(r1.id, 'T');
        await answered(r1.id, old, 'T', 'completed', 1000);
        await store.persistAttempt(old, '{}', []);
        await store.completeAttempt(old, []);
        const newest = await store.startAttempt(r1.id, 'T');
        await answered(r1.id, newest, 'T', 'completed', 1);
        await answered(r1.id, newest, 'T', 'replayed', 2);
        await answered(r1.id, newest, 'T', 'completed', 3);
        await answered(r1.id, newest, 'T', 'failed', 4000);
        await store.persistAttempt(newest, '{}', []);
        const rejected = (await store.listInteractions(r1.id, { taskId: 'T', status: 'completed' })).at(-1)!.id;
        await store.rejectInteraction(rejected, 'refused');
        const failedAfter = await store.startAttempt(r1.id, 'T');
        await answered(r1.id, failedAfter, 'T', 'completed', 5000);
        await store.endAttempt(failedAfter, 'failed', 'boom');
        const quiet = await store.startAttempt(r1.id, 'U');
        await store.persistAttempt(quiet, '{}', []);
        // Run 2 (plan, slow): T built once.
        const r2 = await newRun({ pipeline: 'plan', params: { speed: 'slow' } });
        const r2t = await store.startAttempt(r2.id, 'T');
        await answered(r2.id, r2t, 'T', 'completed', 20);
        await store.persistAttempt(r2t, '{}', []);
        // Run 3 (other, fast): T and W built.
        const r3 = await newRun({ pipeline: 'other', params: { speed: 'fast' } });
        const r3t = await store.startAttempt(r3.id, 'T');
        await answered(r3.id, r3t, 'T', 'completed', 30);
        await store.persistAttempt(r3t, '{}', []);
        const r3w = await store.startAttempt(r3.id, 'W');
        await answered(r3.id, r3w, 'W', 'completed', 40);
        await answered(r3.id, r3w, 'W', 'completed', 50);
        await store.persistAttempt(r3w, '{}', []);
        await store.completeAttempt(r3w, []);
        // Run 4 (plan, fast): T never built.
        const r4 = await newRun({ pipeline: 'plan', params: { speed: 'fast' } });
        const r4t = await store.startAttempt(r4.id, 'T');
        await answered(r4.id, r4t, 'T', 'completed', 7000);
        await store.endAttempt(r4t, 'failed', 'boom');

        const history = (taskId: string, runs: number, calls: number, tokens: number) => ({
          taskId,
          runs,
          calls,
          inputTokens: tokens,
          outputTokens: tokens * 10,
        });
        expect(await store.taskCallHistory()).toEqual([history('T', 3, 5, 1 + 2 + 3 + 20 + 30), history('W', 1, 2, 90)]);
        expect(await store.taskCallHistory({})).toEqual(await store.taskCallHistory());
        expect(await store.taskCallHistory({ pipeline: 'plan' })).toEqual([history('T', 2, 4, 26)]);
        expect(await store.taskCallHistory({ speed: 'fast' })).toEqual([history('T', 2, 4, 36), history('W', 1, 2, 90)]);
        expect(await store.taskCallHistory({ pipeline: 'plan', speed: 'slow' })).toEqual([history('T', 1, 1, 20)]);
        expect(await store.taskCallHistory({ pipeline: 'plan', speed: 'fast' })).toEqual([history('T', 1, 3, 6)]);
        expect(await store.taskCallHistory({ pipeline: 'nothing' })).toEqual([]);
        expect(await store.taskCallHistory({ speed: 'medium' })).toEqual([]);
      });
    });

    describe('housekeeping', () => {
      /** A run holding a row of every kind: attempts, contents, calls, hash cache, pins. */
      const fullRun = async (runDir: string): Promise<{ run: RunRecord; attempt: number; call: number }> => {
        const run = await newRun({ runDir });
        const attempt = await store.startAttempt(run.id, 'T');
        const id = await store.startInteraction(call(run.id, attempt));
        await store.finishInteraction(id, { status: 'completed', answeredModel: 'm', inputTokens: 1, outputTokens: 1, costUsd: 0.5 });
        await store.persistAttempt(attempt, '{}', [output('a.md', `a of ${runDir}`)]);
        await store.completeAttempt(attempt, [stat('a.md', sha256(`a of ${runDir}`))]);
        await store.recordEdit(run.id, 'T', 'a.md', Buffer.from(`edited ${runDir}`));
        await store.saveFileStats(run.id, [stat('b.md', 'b'.repeat(64))]);
        await store.pinFile(run.id, 'a.md', sha256(`edited ${runDir}`));
        expect((await store.acquireRunLease({ runId: run.id, holder: holderA, ttlMs: 60_000 })).acquired).toBe(true);
        return { run, attempt, call: id };
      };

      it('deleteRun removes the run and every row of it, and nothing of another run', async () => {
        const doomed = await fullRun('/x/doomed');
        const kept = await fullRun('/x/kept');
        const keptBefore = {
          run: await store.getRun(kept.run.id),
          attempts: await store.listAttempts(kept.run.id),
          versions: await store.listContentVersions(kept.run.id),
          calls: await store.listInteractions(kept.run.id),
          snapshot: await store.loadRunSnapshot(kept.run.id),
          pinned: await store.listPinned(kept.run.id),
          totals: await store.runTotals(kept.run.id),
        };
        await store.deleteRun(doomed.run.id);
        const id = doomed.run.id;
        expect(await store.getRun(id)).toBeNull();
        expect(await store.findRunByDir('/x/doomed')).toBeNull();
        expect((await store.listRuns()).map((r) => r.id)).toEqual([kept.run.id]);
        expect(await store.listAttempts(id)).toEqual([]);
        expect(await store.listContentVersions(id)).toEqual([]);
        expect(await store.readContent(id, 'a.md')).toBeNull();
        expect(await store.listInteractions(id)).toEqual([]);
        expect(await store.listInteractionSummaries(id)).toEqual([]);
        expect(await store.getInteraction(doomed.call)).toBeNull();
        expect(await store.listPinned(id)).toEqual([]);
        expect(await store.loadRunSnapshot(id)).toEqual({
          built: new Map(),
          unmaterialized: [],
          previousOutputs: new Map(),
          replayable: new Map(),
          latestContent: new Map(),
          fileStats: new Map(),
          pinned: new Map(),
        });
        expect(await store.runTotals(id)).toMatchObject({ attempts: 0, files: 0, versions: 0, calls: 0, costUsd: 0 });
        expect(await store.getRunLease(id)).toBeNull();
        expect(await store.getRunLease(kept.run.id)).toMatchObject({ runId: kept.run.id, ...holderA });
        expect(await store.summarizeSpend('run')).toEqual([expect.objectContaining({ key: kept.run.id, calls: 1 })]);
        expect({
          run: await store.getRun(kept.run.id),
          attempts: await store.listAttempts(kept.run.id),
          versions: await store.listContentVersions(kept.run.id),
          calls: await store.listInteractions(kept.run.id),
          snapshot: await store.loadRunSnapshot(kept.run.id),
          pinned: await store.listPinned(kept.run.id),
          totals: await store.runTotals(kept.run.id),
        }).toEqual(keptBefore);
        // Deleting the last run leaves an empty store.
        await store.deleteRun(kept.run.id);
        expect(await store.listRuns()).toEqual([]);
      });

      it('vacuum runs, and every row is still there after it', async () => {
        const doomed = await fullRun('/x/doomed');
        const kept = await fullRun('/x/kept');
        await store.deleteRun(doomed.run.id);
        await store.vacuum();
        expect(await store.readContent(kept.run.id, 'a.md')).toEqual(Buffer.from('edited /x/kept'));
        expect((await store.listInteractions(kept.run.id)).map((i) => i.id)).toEqual([kept.call]);
        expect((await store.loadRunSnapshot(kept.run.id)).fileStats.size).toBe(2);
        await store.vacuum();
      });

      it('close is safe to call twice', async () => {
        const another = await openAnother();
        const run = await newRun({}, another);
        await another.close();
        await another.close();
        expect((await store.getRun(run.id))?.id).toBe(run.id);
        await store.close();
        await store.close();
      });
    });

    describe('concurrency on one store', () => {
      it('20 concurrent recordEdit of different bytes on one path store versions 1..20, none lost', async () => {
        const run = await newRun();
        const bytes = Array.from({ length: 20 }, (_, i) => Buffer.from(`edit number ${i}`));
        const results = await Promise.all(bytes.map((b) => store.recordEdit(run.id, 'T', 'a.md', b)));
        expect(results.map((r) => r?.version).sort((a, b) => a! - b!)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
        expect(results.map((r) => r?.sha256)).toEqual(bytes.map((b) => sha256(b)));
        const versions = await store.listContentVersions(run.id, 'a.md');
        expect(versions.map((v) => v.version)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
        expect(new Set(versions.map((v) => v.sha256))).toEqual(new Set(bytes.map((b) => sha256(b))));
        for (const result of results) expect(await store.readContent(run.id, 'a.md', result!.version)).toEqual(bytes[results.indexOf(result)]);
      });

      it('10 concurrent persistAttempt of different tasks all persist', async () => {
        const run = await newRun();
        const tasks = Array.from({ length: 10 }, (_, i) => `task-${i}`);
        const attempts = await Promise.all(tasks.map((task) => store.startAttempt(run.id, task)));
        expect(new Set(attempts).size).toBe(10);
        await Promise.all(
          attempts.map((attempt, i) =>
            store.persistAttempt(attempt, `{"i":${i}}`, [output(`${tasks[i]}.md`, `out ${i}`), output(`${tasks[i]}.json`, `{"i":${i}}`)]),
          ),
        );
        const snapshot = await store.loadRunSnapshot(run.id);
        expect([...snapshot.built.keys()].sort()).toEqual([...tasks].sort());
        for (const [i, task] of tasks.entries()) {
          expect(snapshot.built.get(task)).toMatchObject({ id: attempts[i], status: 'persisted', stamp: `{"i":${i}}` });
          expect(await store.readContent(run.id, `${task}.md`)).toEqual(Buffer.from(`out ${i}`));
        }
        expect((await store.listContentVersions(run.id)).length).toBe(20);
      });
    });

    describe('two stores on one database', () => {
      it('watchChanges: PostgreSQL pushes every committed change of a run to watchers in other stores; SQLite has none (its watchers poll)', async () => {
        if (backend.name === 'SQLite') {
          expect(store.watchChanges).toBeUndefined();
          return;
        }
        const watcher = await openAnother();
        try {
          const seen: string[] = [];
          const stop = await watcher.watchChanges!((runId) => seen.push(runId));
          const until = async (what: () => boolean): Promise<void> => {
            const deadline = Date.now() + 5_000;
            while (!what() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
          };
          const run = await newRun();
          await until(() => seen.includes(run.id));
          expect(seen).toContain(run.id);
          const other = await newRun();
          seen.length = 0;
          const attempt = await store.startAttempt(run.id, 'T');
          await until(() => seen.includes(run.id));
          seen.length = 0;
          await store.persistAttempt(attempt, '{}', [output('t.md', 't')]);
          await until(() => seen.includes(run.id));
          expect(seen).toContain(run.id);
          seen.length = 0;
          await store.updateRun(other.id, { status: 'running' });
          await until(() => seen.includes(other.id));
          expect(seen).toEqual([other.id]);
          await stop();
          seen.length = 0;
          await store.updateRun(run.id, { status: 'complete' });
          await new Promise((resolve) => setTimeout(resolve, 200));
          expect(seen).toEqual([]);
        } finally {
          await watcher.close();
        }
      });

      it('concurrent recordEdit from both store distinct, consecutive versions', async () => {
        const another = await openAnother();
        const run = await newRun();
        const edits = Array.from({ length: 20 }, (_, i) => ({
          by: i % 2 === 0 ? store : another,
          bytes: Buffer.from(`edit ${i} by ${i % 2 === 0 ? 'A' : 'B'}`),
        }));
        // Started a turn apart, all in flight together where a write takes longer than a turn (a networked database);
        // see endOfTurn for why two SQLite stores in one process must not start theirs in the same turn.
        const pending: Promise<{ version: number; sha256: string } | null>[] = [];
        for (const { by, bytes } of edits) {
          pending.push(by.recordEdit(run.id, 'T', 'a.md', bytes));
          await endOfTurn();
        }
        const results = await Promise.all(pending);
        expect(results.map((r) => r?.version).sort((a, b) => a! - b!)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
        for (const reader of [store, another]) {
          const versions = await reader.listContentVersions(run.id, 'a.md');
          expect(versions.map((v) => v.version)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
          expect(new Set(versions.map((v) => v.sha256))).toEqual(new Set(edits.map((e) => sha256(e.bytes))));
        }
      });

      it('updateRun from one store does not clobber what the other changed (status versus the cancel request)', async () => {
        const another = await openAnother();
        const run = await newRun({ params: { prompt: 'p' } });
        // Both have read the run before either changes it.
        expect(await another.getRun(run.id)).toEqual(run);
        await another.updateRun(run.id, { cancelRequested: true });
        await store.updateRun(run.id, { status: 'running', statusReason: 'building' });
        const seen = await another.getRun(run.id);
        expect(seen).toMatchObject({ status: 'running', statusReason: 'building', cancelRequestedAt: expect.any(Number), params: { prompt: 'p' } });
        // And the other way round.
        await store.updateRun(run.id, { cancelRequested: false });
        await another.updateRun(run.id, { status: 'stopped' });
        await store.updateRun(run.id, { cancelRequested: true });
        expect(await store.getRun(run.id)).toMatchObject({ status: 'stopped', statusReason: 'building', cancelRequestedAt: expect.any(Number) });
        await another.updateRun(run.id, { runDir: '/y/moved' });
        expect(await store.getRun(run.id)).toMatchObject({ runDir: '/y/moved', status: 'stopped', cancelRequestedAt: expect.any(Number) });
      });
    });

    describe('run leases', () => {
      it('acquireRunLease takes a free run’s lease with a token; getRunLease shows the holder', async () => {
        const run = await newRun();
        expect(await store.getRunLease(run.id)).toBeNull();
        const outcome = await store.acquireRunLease({ runId: run.id, holder: holderA, ttlMs: 60_000 });
        expect(outcome).toEqual({
          acquired: true,
          lease: {
            runId: run.id,
            ...holderA,
            token: expect.any(String),
            acquiredAt: expect.any(Number),
            expiresAt: expect.any(Number),
            now: expect.any(Number),
          },
          replaced: null,
        });
        if (!outcome.acquired) throw new Error('not acquired');
        const { lease } = outcome;
        expect(() => BigInt(lease.token)).not.toThrow();
        expect(lease.expiresAt - lease.acquiredAt).toBeGreaterThanOrEqual(60_000 - 1);
        expect(lease.expiresAt - lease.acquiredAt).toBeLessThanOrEqual(60_000 + 1);
        expect(lease.now).toBeGreaterThanOrEqual(lease.acquiredAt);
        expect(lease.now).toBeLessThan(lease.expiresAt);
        const shown = await store.getRunLease(run.id);
        expect(shown).toEqual({ ...lease, now: expect.any(Number) });
        expect(shown!.now).toBeGreaterThanOrEqual(lease.now);
        // Another store on the database sees it too; another run's lease is free.
        const another = await openAnother();
        expect(await another.getRunLease(run.id)).toMatchObject({ ...holderA, token: lease.token });
        const other = await newRun();
        expect(await store.getRunLease(other.id)).toBeNull();
        expect((await another.acquireRunLease({ runId: other.id, holder: holderB, ttlMs: 60_000 })).acquired).toBe(true);
      });

      it('a second holder is refused while the lease is live, and told who holds it', async () => {
        const run = await newRun();
        const first = await store.acquireRunLease({ runId: run.id, holder: holderA, ttlMs: 60_000 });
        if (!first.acquired) throw new Error('not acquired');
        const another = await openAnother();
        for (const by of [another, store]) {
          const second = await by.acquireRunLease({ runId: run.id, holder: holderB, ttlMs: 60_000 });
          expect(second).toEqual({ acquired: false, current: { ...first.lease, now: expect.any(Number) } });
        }
        expect(await store.getRunLease(run.id)).toMatchObject({ ...holderA, token: first.lease.token });
      });

      it('an expired lease goes to the next holder with a greater token, which learns whom it replaced', async () => {
        const run = await newRun();
        const first = await store.acquireRunLease({ runId: run.id, holder: holderA, ttlMs: 50 });
        if (!first.acquired) throw new Error('not acquired');
        await sleep(120);
        // Still shown, expired, with its expiry.
        const expired = (await store.getRunLease(run.id))!;
        expect(expired).toMatchObject({ ...holderA, token: first.lease.token, expiresAt: first.lease.expiresAt });
        expect(expired.expiresAt).toBeLessThanOrEqual(expired.now);
        const another = await openAnother();
        const second = await another.acquireRunLease({ runId: run.id, holder: holderB, ttlMs: 60_000 });
        if (!second.acquired) throw new Error(`not acquired: ${JSON.stringify(second)}`);
        expect(BigInt(second.lease.token)).toBeGreaterThan(BigInt(first.lease.token));
        expect(second.lease).toMatchObject(holderB);
        expect(second.replaced).toMatchObject({ runId: run.id, ...holderA, token: first.lease.token, expiresAt: first.lease.expiresAt });
        expect(await store.getRunLease(run.id)).toMatchObject({ ...holderB, token: second.lease.token });
      });

      it('replaceToken equal to the live token takes the lease at once; another token does not', async () => {
        const run = await newRun();
        const first = await store.acquireRunLease({ runId: run.id, holder: holderA, ttlMs: 60_000 });
        if (!first.acquired) throw new Error('not acquired');
        const another = await openAnother();
        const wrong = await another.acquireRunLease({
          runId: run.id,
          holder: holderB,
          ttlMs: 60_000,
          replaceToken: (BigInt(first.lease.token) + 1n).toString(),
        });
        expect(wrong).toMatchObject({ acquired: false, current: { ...holderA, token: first.lease.token } });
        const taken = await another.acquireRunLease({ runId: run.id, holder: holderB, ttlMs: 60_000, replaceToken: first.lease.token });
        if (!taken.acquired) throw new Error('not acquired');
        expect(BigInt(taken.lease.token)).toBeGreaterThan(BigInt(first.lease.token));
        expect(taken.replaced).toMatchObject({ ...holderA, token: first.lease.token });
        // The old token no longer replaces anything.
        const again = await store.acquireRunLease({ runId: run.id, holder: holderA, ttlMs: 60_000, replaceToken: first.lease.token });
        expect(again).toMatchObject({ acquired: false, current: { ...holderB, token: taken.lease.token } });
      });

      it('a token that is no number at all matches no lease: acquire is refused, renew is false, release is a no-op', async () => {
        const run = await newRun();
        const first = await store.acquireRunLease({ runId: run.id, holder: holderA, ttlMs: 60_000 });
        if (!first.acquired) throw new Error('not acquired');
        const another = await openAnother();
        for (const junk of ['not a token', '', '-1', '1.5', '99999999999999999999999999']) {
          expect(await another.acquireRunLease({ runId: run.id, holder: holderB, ttlMs: 60_000, replaceToken: junk })).toMatchObject({
            acquired: false,
            current: { ...holderA, token: first.lease.token },
          });
          expect(await another.renewRunLease(run.id, junk, 60_000)).toBe(false);
          await another.releaseRunLease(run.id, junk);
        }
        expect(await store.getRunLease(run.id)).toMatchObject({ ...holderA, token: first.lease.token, expiresAt: first.lease.expiresAt });
      });

      it('releaseRunLease frees the lease: the next holder gets a greater token and replaces nobody; a stale token releases nothing', async () => {
        const run = await newRun();
        const first = await store.acquireRunLease({ runId: run.id, holder: holderA, ttlMs: 60_000 });
        if (!first.acquired) throw new Error('not acquired');
        await store.releaseRunLease(run.id, first.lease.token);
        const released = await store.getRunLease(run.id);
        // Nobody holds it: gone, or shown expired.
        if (released !== null) expect(released.expiresAt).toBeLessThanOrEqual(released.now);
        const another = await openAnother();
        const second = await another.acquireRunLease({ runId: run.id, holder: holderB, ttlMs: 60_000 });
        if (!second.acquired) throw new Error('not acquired');
        expect(BigInt(second.lease.token)).toBeGreaterThan(BigInt(first.lease.token));
        expect(second.replaced).toBeNull();
        // Releasing under the old token is a no-op.
        await store.releaseRunLease(run.id, first.lease.token);
        expect(await store.getRunLease(run.id)).toMatchObject({ ...holderB, token: second.lease.token });
        expect((await store.acquireRunLease({ runId: run.id, holder: holderA, ttlMs: 60_000 })).acquired).toBe(false);
        // Releasing a run never leased is a no-op too.
        const other = await newRun();
        await store.releaseRunLease(other.id, '1');
        expect(await store.getRunLease(other.id)).toBeNull();
      });

      it('renewRunLease extends the lease while it is held, and returns false once it was taken over', async () => {
        const run = await newRun();
        const first = await store.acquireRunLease({ runId: run.id, holder: holderA, ttlMs: 1_000 });
        if (!first.acquired) throw new Error('not acquired');
        await tick();
        expect(await store.renewRunLease(run.id, first.lease.token, 120_000)).toBe(true);
        const renewed = (await store.getRunLease(run.id))!;
        expect(renewed).toMatchObject({ ...holderA, token: first.lease.token });
        expect(renewed.expiresAt).toBeGreaterThanOrEqual(first.lease.acquiredAt + 120_000);
        const another = await openAnother();
        const taken = await another.acquireRunLease({ runId: run.id, holder: holderB, ttlMs: 60_000, replaceToken: first.lease.token });
        expect(taken.acquired).toBe(true);
        expect(await store.renewRunLease(run.id, first.lease.token, 120_000)).toBe(false);
        expect(await store.getRunLease(run.id)).toMatchObject(holderB);
        expect(await store.renewRunLease((await newRun()).id, '1', 1_000)).toBe(false);
      });

      it('fences the old holder: once another store took the lease, its persistAttempt and recordEdit fail with LEASE_LOST and store nothing', async () => {
        const run = await newRun();
        const other = await newRun();
        const held = await store.acquireRunLease({ runId: run.id, holder: holderA, ttlMs: 60_000 });
        if (!held.acquired) throw new Error('not acquired');
        const attempt = await store.startAttempt(run.id, 'T');
        // While it holds the lease, the holder writes.
        expect(await store.recordEdit(run.id, 'T', 'before.md', Buffer.from('before'))).toMatchObject({ version: 1 });
        const done = await store.startAttempt(run.id, 'D');
        await store.persistAttempt(done, '{}', [output('d.md', 'd')]);

        const another = await openAnother();
        const taken = await another.acquireRunLease({ runId: run.id, holder: holderB, ttlMs: 60_000, replaceToken: held.lease.token });
        expect(taken.acquired).toBe(true);

        const persistError = await rejection(store.persistAttempt(attempt, '{"late":true}', [output('a.md', 'a')]));
        expect(persistError).toBeInstanceOf(StoreError);
        expect((persistError as StoreError).code).toBe('LEASE_LOST');
        const editError = await rejection(store.recordEdit(run.id, 'T', 'edit.md', Buffer.from('edit')));
        expect(editError).toBeInstanceOf(StoreError);
        expect((editError as StoreError).code).toBe('LEASE_LOST');

        for (const reader of [another, store]) {
          expect((await reader.listAttempts(run.id, 'T')).map((a) => [a.id, a.status, a.stamp, a.outputs])).toEqual([
            [attempt, 'running', null, null],
          ]);
          expect((await reader.listContentVersions(run.id)).map((v) => v.path)).toEqual(['before.md', 'd.md']);
          expect(await reader.readContent(run.id, 'a.md')).toBeNull();
          expect(await reader.readContent(run.id, 'edit.md')).toBeNull();
        }
        // The new holder writes; and the old holder's writes of another run are not fenced.
        await endOfTurn();
        expect(await another.recordEdit(run.id, 'T', 'edit.md', Buffer.from('by B'))).toMatchObject({ version: 1 });
        expect(await store.recordEdit(other.id, 'T', 'elsewhere.md', Buffer.from('x'))).toMatchObject({ version: 1 });
      });

      it('does not fence a store that never took a lease, even while another store holds it', async () => {
        const run = await newRun();
        expect(await store.recordEdit(run.id, 'T', 'free.md', Buffer.from('free'))).toMatchObject({ version: 1 });
        const another = await openAnother();
        const held = await another.acquireRunLease({ runId: run.id, holder: holderB, ttlMs: 60_000 });
        expect(held.acquired).toBe(true);
        const attempt = await store.startAttempt(run.id, 'T');
        await store.persistAttempt(attempt, '{}', [output('a.md', 'a')]);
        expect(await store.recordEdit(run.id, 'T', 'free.md', Buffer.from('free 2'))).toMatchObject({ version: 2 });
        expect((await another.listAttempts(run.id)).map((a) => a.status)).toEqual(['persisted']);
      });
    });

    describe('exportRun and importRun', () => {
      /** A run with a row of every kind and state, and another run beside it that must not be exported. */
      const richRun = async (): Promise<RunRecord> => {
        const run = await newRun({ runDir: '/x/rich', pipeline: 'plan', params: { prompt: 'Rich ✓', speed: 'fast', nested: { a: [1, null] } } });
        await newRun({ runDir: '/x/bystander' });
        await store.updateRun(run.id, { status: 'running', statusReason: 'building', cancelRequested: true });
        const big = Buffer.from('{"a": 1}\n'.repeat(500));
        const binary = Buffer.concat([Buffer.from([0, 255, 0, 1]), randomBytes(300)]);
        const t1 = await store.startAttempt(run.id, 'T');
        const original = await store.startInteraction({
          runId: run.id,
          taskId: 'T',
          attemptId: t1,
          itemKey: 'item',
          turn: 1,
          requestHash: 'hash-t',
          provider: 'openai-compatible',
          requestedModel: 'gpt-x',
          messages: [{ role: 'user', content: 'plan it ✓' }],
          responseFormat: 'json_schema',
        });
        await store.finishInteraction(original, {
          status: 'completed',
          answeredModel: 'gpt-x-1',
          responseText: '{"ok":true}',
          parsed: { ok: true },
          httpStatus: 200,
          inputTokens: 10,
          outputTokens: 20,
          tokensEstimated: true,
          durationMs: 30,
          costUsd: 0.0625,
          price: { inputPerM: 1, outputPerM: 2 },
          reasoningText: 'hmm',
          reasoningTokens: 5,
        });
        await store.persistAttempt(t1, '{"t":1}', [output('a.json', big), output('bin.dat', binary)]);
        await store.completeAttempt(t1, [stat('a.json', sha256(big))]);
        const t2 = await store.startAttempt(run.id, 'T');
        const replay = await store.startInteraction(call(run.id, t2, { replayedFrom: original, requestHash: 'hash-t' }));
        await store.finishInteraction(replay, { status: 'replayed', responseText: '{"ok":true}', parsed: { ok: true } });
        await store.persistAttempt(t2, '{"t":2}', [output('a.json', Buffer.from('changed')), output('bin.dat', binary)]);
        await store.recordAttemptError(t2, 'EACCES');
        const u1 = await store.startAttempt(run.id, 'U');
        const failed = await store.startInteraction(call(run.id, u1, { taskId: 'U' }));
        await store.finishInteraction(failed, { status: 'failed', errorClass: 'HttpError', errorMessage: 'HTTP 500', httpStatus: 500 });
        const refused = await store.startInteraction(call(run.id, u1, { taskId: 'U' }));
        await store.finishInteraction(refused, { status: 'completed', responseText: 'no' });
        await store.rejectInteraction(refused, 'too short');
        await store.endAttempt(u1, 'failed', 'boom');
        const u2 = await store.startAttempt(run.id, 'U');
        await store.startInteraction(call(run.id, u2, { taskId: 'U' }));
        await store.abandonRunningAttempts(run.id);
        await store.recordEdit(run.id, 'T', 'notes.md', Buffer.from('a person wrote this'));
        await store.saveFileStats(run.id, [stat('notes.md', sha256('a person wrote this'))]);
        await store.pinFile(run.id, 'notes.md', sha256('a person wrote this'));
        return (await store.getRun(run.id))!;
      };

      it('exportRun gives every row of the run, and null for an unknown run', async () => {
        const run = await richRun();
        expect(await store.exportRun('no-such-run')).toBeNull();
        const data = (await store.exportRun(run.id))!;
        expect(data.run).toEqual(run);
        expect([...data.attempts].sort((a, b) => a.id - b.id).map((a) => [a.taskId, a.status])).toEqual([
          ['T', 'complete'],
          ['T', 'persisted'],
          ['U', 'failed'],
          ['U', 'abandoned'],
        ]);
        const attempts = [...data.attempts].sort((a, b) => a.id - b.id);
        expect(attempts.map(({ pid: _pid, host: _host, persistedAt: _persistedAt, ...attempt }) => attempt)).toEqual(
          await store.listAttempts(run.id),
        );
        expect(attempts.map((a) => a.persistedAt === null)).toEqual([false, false, true, true]);
        for (const attempt of attempts) {
          expect(attempt.pid === null || Number.isInteger(attempt.pid)).toBe(true);
          expect(attempt.host === null || typeof attempt.host === 'string').toBe(true);
        }
        const versions = await store.listContentVersions(run.id);
        expect(data.contents.map(({ encoding: _e, data: _d, ...version }) => version).sort((a, b) => a.id - b.id)).toEqual(
          [...versions].sort((a, b) => a.id - b.id),
        );
        for (const content of data.contents) expect(['raw', 'deflate']).toContain(content.encoding);
        expect(data.contents.find((c) => c.path === 'a.json' && c.version === 1)!.encoding).toBe('deflate');
        expect([...data.interactions].sort((a, b) => a.id - b.id)).toEqual(await store.listInteractions(run.id));
        expect(data.fileStats.sort((a, b) => a.path.localeCompare(b.path))).toEqual([
          stat('a.json', sha256(Buffer.from('{"a": 1}\n'.repeat(500)))),
          stat('notes.md', sha256('a person wrote this')),
        ]);
        expect(data.pinned).toEqual(await store.listPinned(run.id));
      });

      for (const target of backends) {
        it.skipIf(target.skip)(`importRun into a fresh ${target.name} store writes the same rows (new ids); importing again is a no-op`, async () => {
          const run = await richRun();
          const exported = (await store.exportRun(run.id))!;
          // Importing into the store it came from: the run is there already.
          expect(await store.importRun(exported)).toBe(false);

          const copy = await open(await newDatabase(target));
          expect(await copy.importRun(exported)).toBe(true);
          const reExported = (await copy.exportRun(run.id))!;
          expect(withRankedIds(reExported)).toEqual(withRankedIds(exported));
          // Read back through the ordinary reads too.
          expect(await copy.getRun(run.id)).toEqual(run);
          expect((await copy.listRuns()).map((r) => r.id)).toEqual([run.id]);
          for (const version of await store.listContentVersions(run.id)) {
            expect(await copy.readContent(run.id, version.path, version.version)).toEqual(
              await store.readContent(run.id, version.path, version.version),
            );
          }
          const snapshot = await copy.loadRunSnapshot(run.id);
          const original = await store.loadRunSnapshot(run.id);
          expect(snapshot.latestContent).toEqual(original.latestContent);
          expect(snapshot.fileStats).toEqual(original.fileStats);
          expect(snapshot.pinned).toEqual(original.pinned);
          expect([...snapshot.built.values()].map((a) => [a.taskId, a.status, a.stamp])).toEqual(
            [...original.built.values()].map((a) => [a.taskId, a.status, a.stamp]),
          );
          expect([...snapshot.replayable.keys()]).toEqual([...original.replayable.keys()]);
          const replay = (await copy.listInteractions(run.id, { status: 'replayed' }))[0]!;
          expect((await copy.getInteraction(replay.replayedFrom!))!.responseText).toBe('{"ok":true}');
          const { runId: _runId, ...totals } = await copy.runTotals(run.id);
          const { runId: _originalRunId, ...originalTotals } = await store.runTotals(run.id);
          expect(totals).toEqual(originalTotals);

          // Copying again changes nothing.
          expect(await copy.importRun(exported)).toBe(false);
          expect(await copy.exportRun(run.id)).toEqual(reExported);
          // The copy is a store like any other: it builds on.
          const attempt = await copy.startAttempt(run.id, 'T');
          await copy.persistAttempt(attempt, '{"t":3}', [output('a.json', 'third')]);
          expect((await copy.listContentVersions(run.id, 'a.json')).map((v) => v.version)).toEqual([1, 2, 3]);
          expect(await copy.importRun(exported)).toBe(false);
        });
      }
    });
  });
}
