import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { RunRecord, Store } from '../../src/store/store.js';
import type { Decision, GraphTask, RebuildPreview, RebuildRequest, RebuildSink, UiEngine } from '../../src/ui/engine-callbacks.js';
import { PAGE_POLICY } from '../../src/ui/security.js';
import { startUiServer, type UiServer } from '../../src/ui/server.js';
import { diamondPipeline, repoRoot, runPlan, tempDir } from '../support/cli.js';
import { freshSchemaUrl, noteWhenPostgresMissing, POSTGRES_URL } from '../support/postgres.js';

/**
 * The dashboard's server over a real store (SQLite, and PostgreSQL when PLAN_TEST_POSTGRES_URL is set), with a
 * fake of the engine's callbacks: its routes and figures, its headers, the action's defences, the event
 * stream, and that no secret reaches a response.
 */

noteWhenPostgresMissing('tests/integration/ui-server.test.ts');

const SECRET_PASSWORD = 'NOT-A-REAL-PASSWORD-7f3a';
const SECRET_KEY = 'sk-test-NEVER-SHOW-9c2e71d4';

/** The diamond fixture's graph, dependencies first (tests/fixtures/diamond-pipeline.mjs). */
const DIAMOND: GraphTask[] = [
  { id: 'Seed(seed=one)', requires: [], outputs: ['seed.txt'] },
  { id: 'Upper', requires: ['Seed(seed=one)'], outputs: ['upper/upper.txt'] },
  { id: 'Shout', requires: ['Upper'], outputs: ['shout.txt', 'shout.json'] },
  { id: 'Bang', requires: ['Seed(seed=one)'], outputs: ['bang.txt'] },
  { id: 'Join', requires: ['Shout', 'Bang', 'Seed(seed=one)'], outputs: ['join.txt'] },
];

/** A pipeline in stages (as the plan pipeline's), with a task in none: Alpha (A1, A2) → Beta (B1, B2) → C. */
const STAGED_PIPELINE = 'staged-fake';
const STAGED: GraphTask[] = [
  { id: 'A1', requires: [], outputs: ['a1.txt'], stage: 'Alpha' },
  { id: 'A2', requires: ['A1'], outputs: ['a2.txt'], stage: 'Alpha' },
  { id: 'B1', requires: ['A2'], outputs: ['b1.txt'], stage: 'Beta' },
  { id: 'B2', requires: ['A1'], outputs: ['b2.txt'], stage: 'Beta' },
  { id: 'C', requires: ['B1', 'B2', 'A2'], outputs: ['c.txt'] },
];

interface Backend {
  name: string;
  skip: boolean;
  /** A database for the suite: its location for `--db`, the store opened on it, and how to remove it. */
  create(dir: string): Promise<{ db: string; open: () => Promise<Store>; drop: () => Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: 'SQLite',
    skip: false,
    async create(dir) {
      const db = path.join(dir, 'runs', 'plan.db');
      fs.mkdirSync(path.dirname(db), { recursive: true });
      return { db, open: () => openSqliteStore(db), drop: async () => undefined };
    },
  },
  {
    name: 'PostgreSQL',
    skip: POSTGRES_URL === undefined,
    async create() {
      const fresh = await freshSchemaUrl();
      // A password in the URL the dashboard is given: it must appear in no response.
      const url = new URL(fresh.url);
      url.password = SECRET_PASSWORD;
      const { openPostgresStore } = await import('../../src/store/postgres/postgres-store.js');
      return { db: url.toString(), open: () => openPostgresStore(url.toString()), drop: fresh.drop };
    },
  },
];

interface TimelineJson {
  t0: number | null;
  builds: number;
  earlierAttempts: number;
  calls: number;
  replayedCalls: number;
  retriedTasks: number;
  rows: {
    taskId: string;
    spanMs: number;
    critical: boolean;
    attempts: { id: number; status: string; start: number; end: number; calls: { id: number; status: string; replayedFrom: number | null }[] }[];
  }[];
  criticalPath: string[];
  criticalMs: number;
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(server: UiServer, method: string, urlPath: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: server.port, method, path: urlPath, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

interface StreamEvent {
  id: number;
  event: string;
  data: Record<string, unknown>;
}

/** An open event stream of the dashboard about one run, its events parsed as they come. */
async function openEvents(server: UiServer, runId: string): Promise<{ events: StreamEvent[]; close(): void }> {
  const events: StreamEvent[] = [];
  const req = http.get({ host: '127.0.0.1', port: server.port, path: `/api/events?run=${encodeURIComponent(runId)}` });
  const response = await new Promise<http.IncomingMessage>((resolve) => req.on('response', resolve));
  let buffer = '';
  response.setEncoding('utf8');
  response.on('data', (chunk: string) => {
    buffer += chunk;
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const fields = Object.fromEntries(
        block
          .split('\n')
          .filter((l) => !l.startsWith(':') && l.includes(':'))
          .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]),
      );
      if (fields.event !== undefined) events.push({ id: Number(fields.id), event: fields.event, data: JSON.parse(fields.data ?? '{}') });
      end = buffer.indexOf('\n\n');
    }
  });
  return { events, close: () => req.destroy() };
}

async function until(what: () => boolean | Promise<boolean>, describe: () => string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await what())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${describe()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sha = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A task's attempt as the engine writes it: started, then persisted and complete (or failed). */
async function attempt(
  store: Store,
  runId: string,
  taskId: string,
  end: 'complete' | 'failed',
  work?: (id: number) => Promise<void>,
): Promise<number> {
  const id = await store.startAttempt(runId, taskId);
  await pause(15);
  await work?.(id);
  if (end === 'failed') await store.endAttempt(id, 'failed', 'rate limited (429)');
  else {
    const bytes = Buffer.from(`${taskId} ${id}\n`);
    await store.persistAttempt(id, `stamp-${id}`, [{ path: `${taskId.replace(/\W/g, '')}-${id}.txt`, sha256: sha(bytes), bytes }]);
    await store.completeAttempt(id, []);
  }
  await pause(5);
  return id;
}

/** Model calls of a finished run, through the store API, as the LLM layer's recorder writes them. */
async function recordCalls(store: Store, run: RunRecord): Promise<number[]> {
  const upper = (await store.listAttempts(run.id, 'Upper')).at(-1)!;
  const join = (await store.listAttempts(run.id, 'Join')).at(-1)!;
  const ids: number[] = [];
  const calls = [
    { attempt: upper, model: 'openai:gpt-4o-mini', input: 120, output: 45, cost: 0.0001, ms: 1200, reasoning: 'think <b>hard</b>' },
    { attempt: join, model: 'openrouter:llama-3.1-70b', input: 2000, output: 500, cost: 0.5, ms: 3000, reasoning: null },
  ];
  for (const [i, call] of calls.entries()) {
    const id = await store.startInteraction({
      runId: run.id,
      taskId: call.attempt.taskId,
      attemptId: call.attempt.id,
      itemKey: null,
      turn: null,
      requestHash: `hash-${i}`,
      provider: 'openai-compatible',
      requestedModel: call.model,
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: `Say <script>alert(${i})</script> about call ${i}.` },
      ],
      responseFormat: 'json_schema',
    });
    await store.finishInteraction(id, {
      status: 'completed',
      answeredModel: call.model,
      responseText: `{"answer":"call ${i}"}`,
      inputTokens: call.input,
      outputTokens: call.output,
      durationMs: call.ms,
      costUsd: call.cost,
      price: { inputPerM: 1, outputPerM: 2 },
      reasoningText: call.reasoning,
    });
    ids.push(id);
  }
  return ids;
}

for (const backend of backends) {
  describe.skipIf(backend.skip)(`the dashboard server on ${backend.name}`, () => {
    let dir: string;
    let db: Awaited<ReturnType<Backend['create']>>;
    let store: Store;
    let server: UiServer;
    let diamond: RunRecord;
    let remote: RunRecord;
    let building: RunRecord;
    let secretRun: RunRecord;
    let callIds: number[];
    let retried: RunRecord;
    let staged: RunRecord;
    const replies: Reply[] = [];
    /** Runs the fake says are being built now. */
    const live = new Set<string>();
    /** Rebuilds the fake was asked to start, and how to let the running one finish. */
    const rebuilds: RebuildRequest[] = [];
    let finishRebuild: (() => void) | null = null;

    const fake: UiEngine = {
      async shownStatuses(runs) {
        return runs.map((run) => ({
          status: run.status === 'running' && !live.has(run.id) ? 'interrupted' : run.status,
          statusReason: run.statusReason,
        }));
      },
      async graph(run) {
        return run.pipeline === diamondPipeline ? DIAMOND : run.pipeline === STAGED_PIPELINE ? STAGED : null;
      },
      async decide(run) {
        if (run.id === staged.id) {
          const states: Record<string, Decision> = {
            A1: { state: 'fresh', reason: 'up to date' },
            A2: { state: 'fresh', reason: 'up to date' },
            B1: { state: 'stale', reason: 'input a2.txt changed' },
            B2: { state: 'missing', reason: 'b2.txt is missing' },
            C: { state: 'missing', reason: 'c.txt is missing' },
          };
          return new Map(Object.entries(states));
        }
        if (run.id !== diamond.id) return null;
        return new Map<string, Decision>(
          DIAMOND.map((t) => [
            t.id,
            t.id === 'Bang' ? { state: 'stale', reason: 'input seed.txt changed (fake)' } : { state: 'fresh', reason: 'up to date' },
          ]),
        );
      },
      async explain(run, taskId) {
        return run.id === diamond.id ? `${taskId}  fake explanation <img src=x onerror=alert(1)>\n` : null;
      },
      async workerStates() {
        return null;
      },
      async previewRebuild(run, request): Promise<RebuildPreview | null> {
        if (run.id !== diamond.id && run.id !== building.id) return null;
        const selection = request.scope === 'task' ? `--force ${request.taskId} --until ${request.taskId}` : `--from ${request.taskId}`;
        return {
          command: `plan build runs/demo ${selection} --dry-run`,
          exitCode: 0,
          output: `fresh    Seed(seed=one)  up to date\nstale    ${request.taskId}  forced\nmodel calls: ~0 (~0 input / ~0 output tokens), ~$0.0000 on offline\n`,
          messages: 'dry run: 1 task would run, 1 fresh, of 2\n',
          wouldRun: [{ taskId: request.taskId, state: 'stale', reason: 'forced' }],
          decided: 2,
          estimate: 'model calls: ~0 (~0 input / ~0 output tokens), ~$0.0000 on offline',
          summary: 'dry run: 1 task would run, 1 fresh, of 2',
        };
      },
      async startRebuild(run, request, sink: RebuildSink) {
        if (run.id !== diamond.id && run.id !== building.id) return null;
        rebuilds.push(request);
        const finished = new Promise<void>((resolve) => {
          finishRebuild = resolve;
        });
        void (async () => {
          await pause(30);
          sink.event({ type: 'build-started', runId: run.id, runDir: run.runDir, tasks: 5, at: Date.now() });
          sink.event({ type: 'task-decided', taskId: request.taskId, state: 'stale', reason: 'forced' });
          sink.event({ type: 'task-started', taskId: request.taskId, attemptId: 99, try: 1, reason: 'forced' });
          sink.line('stderr', `calling openai-compatible:m@http://user:${SECRET_PASSWORD}@127.0.0.1:9/v1`);
          await finished;
          sink.event({ type: 'task-complete', taskId: request.taskId, attemptId: 99, durationMs: 12, changed: [] });
          sink.event({ type: 'build-finished', status: 'success', summary: { tasks: 5, fresh: 4, ran: 1 }, at: Date.now() });
          sink.exit(0, null);
        })();
        return { pid: 4242, command: `plan build runs/demo --from ${request.taskId} --json`, stop: () => finishRebuild?.() };
      },
    };

    const get = async <T = Record<string, unknown>>(urlPath: string): Promise<T> => {
      const reply = await request(server, 'GET', urlPath);
      replies.push(reply);
      expect(reply.status, `${urlPath}: ${reply.body}`).toBe(200);
      return JSON.parse(reply.body) as T;
    };

    beforeAll(async () => {
      dir = tempDir('plan-ui-server-');
      db = await backend.create(dir);
      for (const name of ['demo', 'elsewhere']) {
        const built = await runPlan(['build', `runs/${name}`, '--pipeline', diamondPipeline, '--param', 'seed=one', '--db', db.db], { cwd: dir });
        expect(built.exit, built.stderr).toBe(0);
      }
      store = await db.open();
      const runs = await store.listRuns();
      diamond = runs.find((r) => r.runDir.endsWith(`${path.sep}demo`))!;
      remote = runs.find((r) => r.runDir.endsWith(`${path.sep}elsewhere`))!;
      callIds = await recordCalls(store, diamond);
      // A call of a model without a known price (tokens, no cost): `unknown` on the costs page, as in plan costs.
      const bang = (await store.listAttempts(remote.id, 'Bang')).at(-1)!;
      const unpriced = await store.startInteraction({
        runId: remote.id,
        taskId: 'Bang',
        attemptId: bang.id,
        itemKey: null,
        turn: null,
        requestHash: 'hash-unpriced',
        provider: 'openai-compatible',
        requestedModel: 'openai-compatible:local@http://127.0.0.1:9/v1',
        messages: [{ role: 'user', content: 'hi' }],
      });
      await store.finishInteraction(unpriced, {
        status: 'completed',
        answeredModel: 'local-model',
        inputTokens: 50,
        outputTokens: 7,
        durationMs: 30,
        costUsd: null,
      });
      // A run of two builds: Seed; then Seed again, Upper failing once (a call made) and retried (that call replayed).
      retried = await store.createRun({ runDir: path.join(dir, 'runs', 'retried'), pipeline: diamondPipeline, params: { seed: 'three' } });
      await store.updateRun(retried.id, { status: 'complete' });
      await attempt(store, retried.id, 'Seed(seed=one)', 'complete');
      await attempt(store, retried.id, 'Seed(seed=one)', 'complete');
      let paid = 0;
      const call = async (attemptId: number, replayedFrom: number | null): Promise<number> => {
        const id = await store.startInteraction({
          runId: retried.id,
          taskId: 'Upper',
          attemptId,
          itemKey: null,
          turn: null,
          requestHash: 'hash-upper',
          provider: 'openai',
          requestedModel: 'openai:gpt-4o-mini',
          messages: [{ role: 'user', content: 'upper?' }],
          replayedFrom,
        });
        await pause(5);
        await store.finishInteraction(id, {
          status: replayedFrom === null ? 'completed' : 'replayed',
          answeredModel: 'openai:gpt-4o-mini',
          inputTokens: 10,
          outputTokens: 5,
          costUsd: replayedFrom === null ? 0.001 : 0,
          durationMs: 5,
        });
        return id;
      };
      await attempt(store, retried.id, 'Upper', 'failed', async (id) => {
        paid = await call(id, null);
      });
      await attempt(store, retried.id, 'Upper', 'complete', async (id) => {
        await call(id, paid);
      });
      // A person's edit (version 2) and an HTML file that would run script if it were shown as it is.
      await store.recordEdit(diamond.id, 'Seed(seed=one)', 'seed.txt', Buffer.from('seed edited\n'));
      await store.recordEdit(diamond.id, 'Join', 'report.html', Buffer.from('<h1>Report</h1><script>alert(1)</script><img src=x onerror=alert(1)>'));
      // A run in stages being built: Alpha built (a call on A1), B1 failed, B2 running now.
      staged = await store.createRun({ runDir: path.join(dir, 'runs', 'staged'), pipeline: STAGED_PIPELINE, params: {} });
      await store.updateRun(staged.id, { status: 'running' });
      live.add(staged.id);
      await attempt(store, staged.id, 'A1', 'complete', async (id) => {
        const call = await store.startInteraction({
          runId: staged.id,
          taskId: 'A1',
          attemptId: id,
          itemKey: null,
          turn: null,
          requestHash: 'hash-a1',
          provider: 'openai',
          requestedModel: 'openai:gpt-4o-mini',
          messages: [{ role: 'user', content: 'a1?' }],
        });
        await store.finishInteraction(call, {
          status: 'completed',
          answeredModel: 'openai:gpt-4o-mini',
          inputTokens: 30,
          outputTokens: 9,
          costUsd: 0.25,
          durationMs: 4,
        });
      });
      await attempt(store, staged.id, 'A2', 'complete');
      await attempt(store, staged.id, 'B1', 'failed');
      await store.startAttempt(staged.id, 'B2');
      building = await store.createRun({ runDir: path.join(dir, 'runs', 'building'), pipeline: diamondPipeline, params: { seed: 'two' } });
      await store.updateRun(building.id, { status: 'running' });
      live.add(building.id);
      secretRun = await store.createRun({
        runDir: path.join(dir, 'runs', 'secret'),
        pipeline: 'plan',
        params: {
          prompt: 'A bakery',
          apiKey: SECRET_KEY,
          settings: {
            models: [`openai-compatible:m@http://user:${SECRET_PASSWORD}@127.0.0.1:9/v1`],
            llmConcurrency: 4,
            maxCostUsd: null,
            prices: {},
          },
        },
      });
      // The page's files as `npm run build` compiles them (this test runs the server from its sources).
      const assetsDir = path.join(repoRoot, 'dist', 'ui', 'client');
      server = await startUiServer({
        store,
        engine: fake,
        location: store.location,
        port: 0,
        assetsDir,
        live: { runIntervalMs: 50, listIntervalMs: 100 },
      });
    }, 120_000);

    afterAll(async () => {
      await server?.close();
      await store?.close();
      await db?.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('binds 127.0.0.1 by default and serves the page under its strict policy', async () => {
      expect(server.host).toBe('127.0.0.1');
      expect(server.url).toBe(`http://127.0.0.1:${server.port}/`);
      const page = await request(server, 'GET', '/');
      replies.push(page);
      expect(page.status).toBe(200);
      expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(page.body).toContain(`<meta name="plan-csrf" content="${server.csrfToken}">`);
      expect(page.body).toContain('<script type="module" src="/static/app.js"></script>');
      // The page carries no data and no inline script or style.
      expect(page.body).not.toMatch(/<script>|<style|style=/);
      for (const p of ['/runs/x', '/runs/x/tasks/Seed(seed%3Done)', '/runs/x/calls/3', '/runs/x/file?path=a.md']) {
        expect((await request(server, 'GET', p)).status).toBe(200);
      }
      expect((await request(server, 'GET', '/nope/deeper')).status).toBe(404);
    });

    it('lists every run newest first with the figures plan list gives; filters by status and text', async () => {
      const { runs, db: shownDb } = await get<{ db: string; runs: Record<string, unknown>[] }>('/api/runs');
      expect(shownDb).toBe(store.location);
      expect(runs.map((r) => r.id)).toEqual((await store.queryRuns({})).map((r) => r.id));
      const listed = runs.find((r) => r.id === diamond.id)!;
      const totals = await store.runTotals(diamond.id);
      expect(listed).toMatchObject({
        status: 'complete',
        tasks: { built: 5, failed: 0, total: 5 },
        calls: 2,
        inputTokens: 2120,
        outputTokens: 545,
        costUsd: totals.costUsd,
        models: totals.models,
        durationMs: totals.lastActivityAt! - totals.firstActivityAt!,
      });
      expect(listed.costUsd).toBeCloseTo(0.5001, 6);
      // A pipeline the fake cannot load: total unknown, as `plan list` shows `?`.
      expect(runs.find((r) => r.id === secretRun.id)!.tasks).toEqual({ built: 0, failed: 0, total: null });

      const running = await get<{ runs: { id: string; status: string }[] }>('/api/runs?status=running');
      // Newest first: the diamond being built, then the run in stages.
      expect(running.runs.map((r) => r.id)).toEqual([building.id, staged.id]);
      const byText = await get<{ runs: { id: string }[] }>('/api/runs?q=BAKERY');
      expect(byText.runs.map((r) => r.id)).toEqual([secretRun.id]);
      const byDir = await get<{ runs: { id: string }[] }>(`/api/runs?q=${encodeURIComponent('elsewhere')}`);
      expect(byDir.runs.map((r) => r.id)).toEqual([remote.id]);
    });

    it("a run: its graph with each task's state, reason and figures, every edge, a left-to-right layout, attempts and totals", async () => {
      const detail = await get<{
        local: boolean;
        notes: string[];
        graph: {
          nodes: {
            id: string;
            state: string;
            shown: string;
            reason: string;
            durationMs: number | null;
            calls: number;
            inputTokens: number;
            outputTokens: number;
            costUsd: number;
            x: number;
            y: number;
          }[];
          edges: { from: string; to: string }[];
          paths: { from: string; to: string; points: { x: number; y: number }[] }[];
        };
        attempts: { taskId: string; status: string }[];
        totals: Record<string, unknown>;
      }>(`/api/runs/${diamond.id}`);
      expect(detail.local).toBe(true);
      expect(detail.notes).toEqual([]);
      const nodes = new Map(detail.graph.nodes.map((n) => [n.id, n]));
      expect([...nodes.keys()]).toEqual(DIAMOND.map((t) => t.id));
      expect(nodes.get('Bang')).toMatchObject({ state: 'stale', shown: 'stale', reason: 'input seed.txt changed (fake)' });
      expect(nodes.get('Upper')).toMatchObject({ state: 'fresh', calls: 1, inputTokens: 120, outputTokens: 45, costUsd: 0.0001 });
      expect(nodes.get('Join')).toMatchObject({ calls: 1, inputTokens: 2000, outputTokens: 500, costUsd: 0.5 });
      // Durations: the newest complete attempt of each task, as `plan graph` takes them.
      for (const attempt of await store.listAttempts(diamond.id)) {
        if (attempt.status === 'complete') expect(nodes.get(attempt.taskId)!.durationMs).toBe(attempt.finishedAt! - attempt.startedAt);
      }
      expect(detail.graph.edges).toHaveLength(6);
      // Seed → Join is implied by Seed → Bang → Join: laid out and drawn without it.
      expect(detail.graph.paths.map((p) => `${p.from}>${p.to}`).sort()).toEqual(
        ['Seed(seed=one)>Upper', 'Upper>Shout', 'Seed(seed=one)>Bang', 'Shout>Join', 'Bang>Join'].sort(),
      );
      for (const p of detail.graph.paths) expect(p.points.length).toBeGreaterThanOrEqual(2);
      const x = (id: string): number => nodes.get(id)!.x;
      expect(x('Seed(seed=one)')).toBeLessThan(x('Upper'));
      expect(x('Upper')).toBeLessThan(x('Shout'));
      expect(x('Shout')).toBeLessThan(x('Join'));
      expect(detail.attempts.map((a) => a.taskId).sort()).toEqual(DIAMOND.map((t) => t.id).sort());
      expect(detail.totals).toMatchObject({ tasks: 5, tasksBuilt: 5, calls: 2, versions: (await store.listContentVersions(diamond.id)).length });
    });

    it('collapse by stage: a stage as one node (its task count, states counted, the most pressing shown, figures summed), edges between stages aggregated', async () => {
      type Graph = {
        tasks: number;
        stages: { name: string; tasks: number }[];
        collapsed: string[];
        nodes: {
          id: string;
          kind: string;
          stage: string | null;
          state: string | null;
          shown: string;
          reason: string;
          calls: number;
          costUsd: number;
          inputTokens: number;
          attempts: number;
          durationMs: number | null;
          members?: string[];
          states?: Record<string, number>;
          x: number;
          y: number;
        }[];
        edges: { from: string; to: string; count?: number }[];
        paths: { from: string; to: string; points: { x: number; y: number }[] }[];
        layout: { method: string; ms: number };
      };
      const full = (await get<{ graph: Graph }>(`/api/runs/${staged.id}`)).graph;
      expect(full.stages).toEqual([
        { name: 'Alpha', tasks: 2 },
        { name: 'Beta', tasks: 2 },
      ]);
      expect(full.collapsed).toEqual([]);
      expect(full.nodes.map((n) => [n.id, n.kind, n.stage, n.shown])).toEqual([
        ['A1', 'task', 'Alpha', 'fresh'],
        ['A2', 'task', 'Alpha', 'fresh'],
        ['B1', 'task', 'Beta', 'failed'],
        ['B2', 'task', 'Beta', 'running'],
        ['C', 'task', null, 'missing'],
      ]);
      expect(full.edges).toHaveLength(6);

      const { graph } = await get<{ graph: Graph }>(`/api/runs/${staged.id}?collapse=all`);
      expect(graph.tasks).toBe(5);
      expect(graph.collapsed).toEqual(['Alpha', 'Beta']);
      expect(graph.nodes.map((n) => n.id)).toEqual(['stage:Alpha', 'stage:Beta', 'C']);
      const [alpha, beta, c] = graph.nodes;
      const tasksOf = new Map(full.nodes.map((n) => [n.id, n]));
      expect(alpha).toMatchObject({ kind: 'stage', stage: 'Alpha', members: ['A1', 'A2'], states: { fresh: 2 }, shown: 'fresh', state: 'fresh' });
      expect(alpha!.reason).toBe('2 tasks: 2 fresh');
      expect(alpha).toMatchObject({ calls: 1, costUsd: 0.25, inputTokens: 30, attempts: 2 });
      expect(alpha!.durationMs).toBe(tasksOf.get('A1')!.durationMs! + tasksOf.get('A2')!.durationMs!);
      // The most pressing of its tasks' states is shown (running), and every state is counted.
      expect(beta).toMatchObject({ kind: 'stage', members: ['B1', 'B2'], states: { failed: 1, running: 1 }, shown: 'running', state: 'stale' });
      expect(beta!.reason).toBe('2 tasks: 1 running · 1 failed');
      expect(c).toMatchObject({ kind: 'task', id: 'C', shown: 'missing', stage: null });
      // One edge per pair of what is drawn, with how many task edges it stands for.
      expect(graph.edges).toEqual([
        { from: 'stage:Alpha', to: 'stage:Beta', count: 2 },
        { from: 'stage:Alpha', to: 'C', count: 1 },
        { from: 'stage:Beta', to: 'C', count: 2 },
      ]);
      // Laid out on the server like the full graph: Alpha → Beta → C left to right; Alpha → C is implied.
      expect(alpha!.x).toBeLessThan(beta!.x);
      expect(beta!.x).toBeLessThan(c!.x);
      expect(graph.paths.map((p) => `${p.from}>${p.to}`).sort()).toEqual(['stage:Alpha>stage:Beta', 'stage:Beta>C']);
      expect(graph.layout.method).toBe('dagre');

      // One stage alone; a name the graph does not have is ignored.
      const one = (await get<{ graph: Graph }>(`/api/runs/${staged.id}?collapse=Beta&collapse=Nope`)).graph;
      expect(one.collapsed).toEqual(['Beta']);
      expect(one.nodes.map((n) => n.id)).toEqual(['A1', 'A2', 'stage:Beta', 'C']);
      expect(one.edges).toEqual([
        { from: 'A1', to: 'A2', count: 1 },
        { from: 'A1', to: 'stage:Beta', count: 1 },
        { from: 'A2', to: 'stage:Beta', count: 1 },
        { from: 'A2', to: 'C', count: 1 },
        { from: 'stage:Beta', to: 'C', count: 2 },
      ]);
      // Expanded again: the tasks as before, and the collapsed layout was cached (asked again, none made).
      expect((await get<{ graph: Graph }>(`/api/runs/${staged.id}?collapse=Nope`)).graph.nodes).toEqual(full.nodes);
      const again = (await get<{ graph: Graph }>(`/api/runs/${staged.id}?collapse=all`)).graph;
      expect(again.nodes.map((n) => [n.id, n.x, n.y])).toEqual(graph.nodes.map((n) => [n.id, n.x, n.y]));
      expect(again.layout.ms).toBeLessThan(graph.layout.ms + 1);

      // A pipeline without stages: nothing to collapse (the page shows no control), whatever is asked.
      const plain = (await get<{ graph: Graph }>(`/api/runs/${diamond.id}?collapse=all`)).graph;
      expect(plain.stages).toEqual([]);
      expect(plain.collapsed).toEqual([]);
      expect(plain.nodes.map((n) => n.id)).toEqual(DIAMOND.map((t) => t.id));
    });

    it('collapse by stage stays live: a change of a collapsed stage’s task reaches the page, and its node shows it', async () => {
      const events = await openEvents(server, staged.id);
      try {
        await until(
          () => events.events.some((e) => e.event === 'hello'),
          () => JSON.stringify(events.events),
        );
        await pause(150);
        const b2 = (await store.listAttempts(staged.id, 'B2')).at(-1)!;
        await store.persistAttempt(b2.id, 'stamp-b2', [{ path: 'b2.txt', sha256: sha(Buffer.from('b2\n')), bytes: Buffer.from('b2\n') }]);
        await store.completeAttempt(b2.id, []);
        await until(
          () => events.events.some((e) => e.event === 'change'),
          () => JSON.stringify(events.events),
        );
        const { graph } = await get<{ graph: { nodes: { id: string; shown: string; states?: Record<string, number> }[] } }>(
          `/api/runs/${staged.id}?collapse=all`,
        );
        // B2 built: the fake still decides it missing, and B1 failed is now the most pressing.
        expect(graph.nodes.find((n) => n.id === 'stage:Beta')).toMatchObject({ shown: 'failed', states: { failed: 1, missing: 1 } });
      } finally {
        events.close();
      }
    });

    it('a run whose dir is not on this machine: states from the store alone, and the page says so', async () => {
      const detail = await get<{
        local: boolean;
        notes: string[];
        graph: { nodes: { id: string; state: string | null; shown: string; reason: string }[] };
      }>(`/api/runs/${remote.id}`);
      expect(detail.local).toBe(false);
      expect(detail.notes[0]).toMatch(/is not on this machine: states come from the database alone/);
      for (const node of detail.graph.nodes) expect(node).toMatchObject({ state: null, shown: 'fresh' });
      // A run being built: its tasks without attempts are missing; with no pipeline here, the note says that too.
      const secret = await get<{ notes: string[]; graph: { nodes: unknown[] } }>(`/api/runs/${secretRun.id}`);
      expect(secret.graph.nodes).toEqual([]);
      expect(secret.notes[1]).toMatch(/cannot be loaded here/);
    });

    it('the timeline of the last build: a bar per attempt, its calls, and the critical path along the edges to the last task to finish', async () => {
      const { timeline } = await get<{ timeline: TimelineJson }>(`/api/runs/${diamond.id}`);
      const attempts = await store.listAttempts(diamond.id);
      const t0 = Math.min(...attempts.map((a) => a.startedAt));
      expect(timeline).toMatchObject({ t0, builds: 1, earlierAttempts: 0, calls: 2, replayedCalls: 0, retriedTasks: 0 });
      expect(timeline.rows.map((r) => r.taskId).sort()).toEqual(DIAMOND.map((t) => t.id).sort());
      for (const row of timeline.rows) {
        const a = attempts.find((x) => x.taskId === row.taskId)!;
        expect(row.attempts).toEqual([
          expect.objectContaining({ id: a.id, status: 'complete', start: a.startedAt - t0, end: a.finishedAt! - t0, open: false, endUnknown: false }),
        ]);
        expect(row.spanMs).toBe(a.finishedAt! - a.startedAt);
      }
      expect(timeline.rows.find((r) => r.taskId === 'Upper')!.attempts[0]!.calls.map((c) => c.id)).toEqual([callIds[0]]);
      // The critical path: the chain of DIAMOND's edges ending at the last task to finish with the most time in it.
      const span = new Map(timeline.rows.map((r) => [r.taskId, r.spanMs]));
      const last = [...attempts].sort((a, b) => b.finishedAt! - a.finishedAt!)[0]!.taskId;
      const chains = (id: string): string[][] => {
        const deps = DIAMOND.find((t) => t.id === id)!.requires;
        return deps.length === 0 ? [[id]] : deps.flatMap((d) => chains(d).map((c) => [...c, id]));
      };
      const total = (chain: string[]): number => chain.reduce((sum, id) => sum + span.get(id)!, 0);
      const longest = Math.max(...chains(last).map(total));
      expect(timeline.criticalPath.at(-1)).toBe(last);
      expect(timeline.criticalMs).toBe(longest);
      expect(total(timeline.criticalPath)).toBe(longest);
      for (let i = 1; i < timeline.criticalPath.length; i++) {
        expect(DIAMOND.find((t) => t.id === timeline.criticalPath[i])!.requires).toContain(timeline.criticalPath[i - 1]);
      }
      for (const row of timeline.rows) expect(row.critical).toBe(timeline.criticalPath.includes(row.taskId));
    });

    it('the timeline shows the newest of two builds: a retried task as two bars, its replayed call marked', async () => {
      const { timeline } = await get<{ timeline: TimelineJson }>(`/api/runs/${retried.id}`);
      const attempts = await store.listAttempts(retried.id);
      expect(attempts.map((a) => `${a.taskId}:${a.status}`)).toEqual([
        'Seed(seed=one):complete',
        'Seed(seed=one):complete',
        'Upper:failed',
        'Upper:complete',
      ]);
      expect(timeline).toMatchObject({ t0: attempts[1]!.startedAt, builds: 2, earlierAttempts: 1, calls: 2, replayedCalls: 1, retriedTasks: 1 });
      expect(timeline.rows.map((r) => [r.taskId, r.attempts.map((a) => a.status)])).toEqual([
        ['Seed(seed=one)', ['complete']],
        ['Upper', ['failed', 'complete']],
      ]);
      const [failed, retry] = timeline.rows[1]!.attempts;
      expect(failed!.calls).toEqual([expect.objectContaining({ status: 'completed', replayedFrom: null })]);
      expect(retry!.calls).toEqual([expect.objectContaining({ status: 'replayed', replayedFrom: failed!.calls[0]!.id })]);
      expect(timeline.criticalPath).toEqual(['Seed(seed=one)', 'Upper']);
      expect(timeline.criticalMs).toBe(timeline.rows[0]!.spanMs + timeline.rows[1]!.spanMs);
      expect(timeline.rows[1]!.spanMs).toBe(attempts[3]!.finishedAt! - attempts[2]!.startedAt);
    });

    it('costs per run, task, model and day: exactly the figures of plan costs --json (all time and --since 7d); unpriced calls unknown', async () => {
      type CliCosts = { by: string; rows: Record<string, unknown>[]; total: Record<string, unknown> };
      const pick = ({ knownCostUsd: _k, unpricedCalls: _u, ...rest }: Record<string, unknown>) => rest;
      for (const by of ['run', 'task', 'model', 'day']) {
        for (const since of [null, '7d']) {
          const args = ['costs', '--by', by, '--json', '--db', db.db, ...(since === null ? [] : ['--since', since])];
          const cli = await runPlan(args, { cwd: dir });
          expect(cli.exit, cli.stderr).toBe(0);
          const expected = JSON.parse(cli.stdout) as CliCosts;
          const api = await get<CliCosts & { db: string }>(`/api/costs?by=${by}${since === null ? '' : `&since=${since}`}`);
          expect(api.by).toBe(by);
          expect(api.rows.map(pick), `${by} ${since}`).toEqual(expected.rows);
          expect(pick(api.total)).toEqual(expected.total);
          expect(api.rows.length).toBeGreaterThan(0);
        }
      }
      const byModel = await get<{
        rows: { key: string; costUsd: number | null; knownCostUsd: number; unpricedCalls: number }[];
        total: { costUsd: number | null };
      }>('/api/costs?by=model');
      expect(byModel.rows.find((r) => r.key === 'local-model')).toMatchObject({ costUsd: null, knownCostUsd: 0, unpricedCalls: 1 });
      expect(byModel.total.costUsd).toBeNull();
      const future = await get<{ rows: unknown[] }>('/api/costs?by=run&since=2999-01-01');
      expect(future.rows).toEqual([]);
      expect((await request(server, 'GET', '/api/costs?by=week')).status).toBe(400);
      expect((await request(server, 'GET', '/api/costs?since=soon')).status).toBe(400);
      expect((await request(server, 'GET', '/costs')).status).toBe(200);
    });

    it("a diff of two versions: by default the task's version against the person's edit; any two; bounded", async () => {
      type DiffJson = {
        from: { version: number; source: string } | null;
        to: { version: number; source: string } | null;
        diff: {
          identical: boolean;
          added: number;
          removed: number;
          hunks: { lines: { kind: string; old: number | null; new: number | null; text: string }[] }[];
        } | null;
        note: string | null;
      };
      const base = `/api/runs/${diamond.id}/diff?path=seed.txt`;
      const standard = await get<DiffJson>(base);
      expect(standard.from).toMatchObject({ version: 1, source: 'task' });
      expect(standard.to).toMatchObject({ version: 2, source: 'edit' });
      expect(standard.diff).toMatchObject({ identical: false, added: 1, removed: 1 });
      expect(standard.diff!.hunks.flatMap((h) => h.lines)).toEqual([
        { kind: 'del', old: 1, new: null, text: 'seed one' },
        { kind: 'add', old: null, new: 1, text: 'seed edited' },
      ]);
      const back = await get<DiffJson>(`${base}&from=2&to=1`);
      expect(back.diff!.hunks[0]!.lines.map((l) => l.kind)).toEqual(['del', 'add']);
      expect((await get<DiffJson>(`${base}&from=2&to=2`)).diff).toMatchObject({ identical: true, hunks: [] });
      expect((await request(server, 'GET', `${base}&from=1`)).status).toBe(400);
      expect((await request(server, 'GET', `${base}&from=1&to=7`)).status).toBe(404);
      expect((await request(server, 'GET', `/api/runs/${diamond.id}/diff?path=nope.txt`)).status).toBe(404);
      // One version only: nothing to compare, and the page is told so.
      const single = await get<DiffJson>(`/api/runs/${diamond.id}/diff?path=bang.txt`);
      expect(single).toMatchObject({ from: null, to: null, diff: null });
      expect(single.note).toMatch(/one version only/);
      // Longer files: context lines around a change, hunks with line numbers; a huge one is not diffed.
      const long = Array.from({ length: 40 }, (_, i) => `line ${i + 1}`);
      await store.recordEdit(diamond.id, 'Join', 'long.txt', Buffer.from(`${long.join('\n')}\n`));
      const changed = long.map((l, i) => (i === 19 ? 'line 20 <script>alert(1)</script>' : l));
      await store.recordEdit(diamond.id, 'Join', 'long.txt', Buffer.from(`${changed.join('\n')}\n`));
      const two = await get<DiffJson>(`/api/runs/${diamond.id}/diff?path=long.txt`);
      expect(two.diff!.hunks).toHaveLength(1);
      expect(two.diff!.hunks[0]!.lines.map((l) => `${l.kind}:${l.old ?? '-'}:${l.new ?? '-'}`)).toEqual([
        'context:17:17',
        'context:18:18',
        'context:19:19',
        'del:20:-',
        'add:-:20',
        'context:21:21',
        'context:22:22',
        'context:23:23',
      ]);
      expect(two.diff!.hunks[0]!.lines[4]!.text).toBe('line 20 <script>alert(1)</script>');
      const huge = Buffer.alloc(1024 * 1024 + 10, 'a\n');
      await store.recordEdit(diamond.id, 'Join', 'huge.txt', huge);
      await store.recordEdit(diamond.id, 'Join', 'huge.txt', Buffer.concat([huge, Buffer.from('b\n')]));
      const tooBig = await get<DiffJson>(`/api/runs/${diamond.id}/diff?path=huge.txt`);
      expect(tooBig.diff).toBeNull();
      expect(tooBig.note).toMatch(/over 1048576 bytes \(1 MiB\) are not diffed/);
    });

    it('rebuild: 403 without the token or from another origin; refused for a run being built; the dry run; a build whose events reach the page', async () => {
      const origin = `http://127.0.0.1:${server.port}`;
      const ok = { origin, 'x-plan-csrf': server.csrfToken };
      const task = (run: RunRecord, id: string, step: string, scope = 'downstream'): string =>
        `/api/runs/${run.id}/tasks/${encodeURIComponent(id)}/${step}?scope=${scope}`;
      for (const step of ['rebuild-preview', 'rebuild']) {
        expect((await request(server, 'POST', task(diamond, 'Upper', step), { origin })).status).toBe(403);
        expect((await request(server, 'POST', task(diamond, 'Upper', step), { origin, 'x-plan-csrf': 'guess' })).status).toBe(403);
        expect(
          (await request(server, 'POST', task(diamond, 'Upper', step), { origin: 'http://evil.example', 'x-plan-csrf': server.csrfToken })).status,
        ).toBe(403);
        expect((await request(server, 'POST', task(diamond, 'Upper', step), { 'x-plan-csrf': server.csrfToken })).status).toBe(403);
      }
      expect(rebuilds).toEqual([]);
      // A GET never starts anything.
      expect((await request(server, 'GET', task(diamond, 'Upper', 'rebuild'))).status).toBe(404);

      // A run being built (here a live build the fake reports) is refused, with a message saying why.
      const busy = await request(server, 'POST', task(building, 'Upper', 'rebuild'), ok);
      expect(busy.status).toBe(409);
      expect(JSON.parse(busy.body).error).toMatch(/a build of run .* is running now/);
      const busyPreview = JSON.parse((await request(server, 'POST', task(building, 'Upper', 'rebuild-preview'), ok)).body) as { busy: string };
      expect(busyPreview.busy).toMatch(/is running now/);
      // Not on this machine, no such task, a bad scope.
      const elsewhere = await request(server, 'POST', task(remote, 'Upper', 'rebuild'), ok);
      expect(elsewhere.status).toBe(409);
      expect(JSON.parse(elsewhere.body).error).toMatch(/is not on this machine/);
      expect((await request(server, 'POST', task(diamond, 'Nope', 'rebuild'), ok)).status).toBe(404);
      expect((await request(server, 'POST', task(diamond, 'Upper', 'rebuild', 'everything'), ok)).status).toBe(400);
      expect(rebuilds).toEqual([]);

      const preview = await request(server, 'POST', task(diamond, 'Upper', 'rebuild-preview', 'task'), ok);
      replies.push(preview);
      expect(preview.status).toBe(200);
      expect(JSON.parse(preview.body)).toMatchObject({
        busy: null,
        preview: { command: 'plan build runs/demo --force Upper --until Upper --dry-run', wouldRun: [{ taskId: 'Upper', state: 'stale' }] },
      });

      const stream = await openEvents(server, diamond.id);
      try {
        await until(
          () => stream.events.length > 0,
          () => 'no hello',
        );
        const started = await request(server, 'POST', task(diamond, 'Upper', 'rebuild'), ok);
        expect(started.status, started.body).toBe(202);
        expect(JSON.parse(started.body).job).toMatchObject({ runId: diamond.id, taskId: 'Upper', scope: 'downstream', pid: 4242, running: true });
        expect(rebuilds).toEqual([{ taskId: 'Upper', scope: 'downstream' }]);
        // One at a time: a second rebuild of the run is refused while this one runs.
        const again = await request(server, 'POST', task(diamond, 'Shout', 'rebuild', 'task'), ok);
        expect(again.status).toBe(409);
        expect(JSON.parse(again.body).error).toMatch(/started from this dashboard is running/);
        await until(
          () => stream.events.some((e) => e.event === 'rebuild' && (e.data.entry as { kind?: string } | undefined)?.kind === 'stderr'),
          () => JSON.stringify(stream.events),
        );
        finishRebuild!();
        await until(
          () => stream.events.some((e) => e.event === 'rebuild' && e.data.exit !== undefined),
          () => JSON.stringify(stream.events),
        );
        const lines = stream.events
          .filter((e) => e.event === 'rebuild' && e.data.entry !== undefined)
          .map((e) => e.data.entry as { seq: number; kind: string; event?: { type: string }; text?: string });
        // Every event but the decisions, in order, numbered; the secret in a line is gone.
        expect(lines.map((l) => l.event?.type ?? l.kind)).toEqual(['build-started', 'task-started', 'stderr', 'task-complete', 'build-finished']);
        expect(lines.map((l) => l.seq)).toEqual([1, 2, 3, 4, 5]);
        expect(lines[2]!.text).toBe('calling openai-compatible:m@http://127.0.0.1:9/v1');
        const exit = stream.events.find((e) => e.event === 'rebuild' && e.data.exit !== undefined)!;
        expect(exit.data.exit).toMatchObject({ code: 0, signal: null });
        const ids = stream.events.map((e) => e.id);
        expect(ids).toEqual([...ids].sort((a, b) => a - b));
      } finally {
        stream.close();
      }
      const { job } = await get<{ job: { running: boolean; exitCode: number; entries: unknown[] } }>(`/api/runs/${diamond.id}/rebuild`);
      expect(job).toMatchObject({ running: false, exitCode: 0 });
      expect(job.entries).toHaveLength(5);
      expect((await get<{ job: null }>(`/api/runs/${remote.id}/rebuild`)).job).toBeNull();
    });

    it("a task: its reason, plan explain's text, its files with their versions, attempts and model calls", async () => {
      const task = await get<{
        task: { id: string; shown: string; reason: string; requires: string[]; dependents: string[] };
        explanation: string;
        files: { path: string; declared: boolean; versions: { version: number; source: string }[] }[];
        attempts: { status: string }[];
        calls: { id: number }[];
      }>(`/api/runs/${diamond.id}/tasks/${encodeURIComponent('Seed(seed=one)')}`);
      expect(task.task).toMatchObject({
        id: 'Seed(seed=one)',
        shown: 'fresh',
        reason: 'up to date',
        requires: [],
        dependents: ['Upper', 'Bang', 'Join'],
      });
      expect(task.explanation).toBe('Seed(seed=one)  fake explanation <img src=x onerror=alert(1)>\n');
      expect(task.files).toEqual([
        {
          path: 'seed.txt',
          declared: true,
          versions: [expect.objectContaining({ version: 1, source: 'task' }), expect.objectContaining({ version: 2, source: 'edit' })],
        },
      ]);
      expect(task.attempts.map((a) => a.status)).toEqual(['complete']);
      const upper = await get<{ calls: { id: number }[] }>(`/api/runs/${diamond.id}/tasks/Upper`);
      expect(upper.calls.map((c) => c.id)).toEqual([callIds[0]]);
      expect((await request(server, 'GET', `/api/runs/${diamond.id}/tasks/Nope`)).status).toBe(404);
    });

    it("a file version's bytes: the newest, ?version=N, and raw bytes under a sandbox policy (HTML only as HTML)", async () => {
      const newest = await get<{ version: number; source: string; content: string; kind: string; versions: unknown[] }>(
        `/api/runs/${diamond.id}/file?path=seed.txt`,
      );
      expect(newest).toMatchObject({ version: 2, source: 'edit', content: 'seed edited\n', kind: 'text' });
      expect(newest.versions).toHaveLength(2);
      const first = await get<{ version: number; content: string }>(`/api/runs/${diamond.id}/file?path=seed.txt&version=1`);
      expect(first).toMatchObject({ version: 1, content: 'seed one\n' });
      expect((await request(server, 'GET', `/api/runs/${diamond.id}/file?path=seed.txt&version=9`)).status).toBe(404);
      expect((await request(server, 'GET', `/api/runs/${diamond.id}/file?path=seed.txt&version=x`)).status).toBe(400);
      expect((await get<{ kind: string }>(`/api/runs/${diamond.id}/file?path=shout.json`)).kind).toBe('json');

      const raw = await request(server, 'GET', `/api/runs/${diamond.id}/raw?path=seed.txt&version=1`);
      expect(raw.body).toBe('seed one\n');
      expect(raw.headers['content-type']).toBe('text/plain; charset=utf-8');
      const html = await request(server, 'GET', `/api/runs/${diamond.id}/raw?path=report.html`);
      replies.push(raw, html);
      expect(html.headers['content-type']).toBe('text/html; charset=utf-8');
      const policy = String(html.headers['content-security-policy']);
      expect(policy).toMatch(/^sandbox;/);
      expect(policy).toContain("default-src 'none'");
      expect(policy).not.toMatch(/allow-scripts|unsafe-/);
    });

    it('a model call: requested and answering model, status, tokens, cost and price, latency, messages, response, reasoning', async () => {
      const { call } = await get<{ call: Record<string, unknown> }>(`/api/runs/${diamond.id}/calls/${callIds[0]}`);
      expect(call).toMatchObject({
        id: callIds[0],
        taskId: 'Upper',
        requestedModel: 'openai:gpt-4o-mini',
        answeredModel: 'openai:gpt-4o-mini',
        status: 'completed',
        replayedFrom: null,
        inputTokens: 120,
        outputTokens: 45,
        costUsd: 0.0001,
        price: { inputPerM: 1, outputPerM: 2 },
        durationMs: 1200,
        responseFormat: 'json_schema',
        responseText: '{"answer":"call 0"}',
        reasoningText: 'think <b>hard</b>',
      });
      expect(call.messages).toEqual([
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Say <script>alert(0)</script> about call 0.' },
      ]);
      // A call of another run is not this run's.
      expect((await request(server, 'GET', `/api/runs/${remote.id}/calls/${callIds[0]}`)).status).toBe(404);
      expect((await request(server, 'GET', `/api/runs/nope/calls/${callIds[0]}`)).status).toBe(404);
    });

    it("every response carries the page policy without 'unsafe-inline', nosniff and no-referrer", async () => {
      const extra = await Promise.all(
        ['/', '/static/app.js', '/static/style.css', '/api/runs', '/api/nope', '/static/nope.js', '/favicon.ico'].map((p) =>
          request(server, 'GET', p),
        ),
      );
      replies.push(...extra);
      expect(extra[1]!.headers['content-type']).toBe('text/javascript; charset=utf-8');
      expect(extra[2]!.headers['content-type']).toBe('text/css; charset=utf-8');
      expect(replies.length).toBeGreaterThan(15);
      for (const reply of replies) {
        const policy = String(reply.headers['content-security-policy']);
        expect(policy).not.toContain('unsafe-inline');
        expect(policy).not.toContain('unsafe-eval');
        if (!policy.startsWith('sandbox')) expect(policy).toBe(PAGE_POLICY);
        expect(reply.headers['x-content-type-options']).toBe('nosniff');
        expect(reply.headers['referrer-policy']).toBe('no-referrer');
      }
      expect(PAGE_POLICY).toBe(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
      );
    });

    it('refuses a request addressed to another host name (DNS rebinding) before reading anything', async () => {
      const rebound = await request(server, 'GET', '/api/runs', { host: `evil.example:${server.port}` });
      expect(rebound.status).toBe(403);
      expect(rebound.body).not.toContain(diamond.id);
      expect((await request(server, 'GET', '/api/runs', { host: `localhost:${server.port}` })).status).toBe(200);
    });

    it('cancel: 403 without the token or from another origin; with both it marks the run as plan cancel does', async () => {
      const origin = `http://127.0.0.1:${server.port}`;
      const target = `/api/runs/${building.id}/cancel`;
      const noToken = await request(server, 'POST', target, { origin });
      expect(noToken.status).toBe(403);
      const wrongToken = await request(server, 'POST', target, { origin, 'x-plan-csrf': 'guess' });
      expect(wrongToken.status).toBe(403);
      const foreign = await request(server, 'POST', target, { origin: 'http://evil.example', 'x-plan-csrf': server.csrfToken });
      expect(foreign.status).toBe(403);
      const noOrigin = await request(server, 'POST', target, { 'x-plan-csrf': server.csrfToken });
      expect(noOrigin.status).toBe(403);
      expect((await store.getRun(building.id))!.cancelRequestedAt).toBeNull();

      const idle = await request(server, 'POST', `/api/runs/${diamond.id}/cancel`, { origin, 'x-plan-csrf': server.csrfToken });
      expect(idle.status).toBe(409);
      expect(JSON.parse(idle.body)).toMatchObject({ outcome: 'not-running' });
      const asked = await request(server, 'POST', target, { origin, 'x-plan-csrf': server.csrfToken });
      replies.push(noToken, foreign, idle, asked);
      expect(asked.status, asked.body).toBe(202);
      expect(JSON.parse(asked.body)).toMatchObject({ runId: building.id, outcome: 'requested' });
      expect((await store.getRun(building.id))!.cancelRequestedAt).toEqual(expect.any(Number));
    });

    it('server-sent events: every event has an id, ids grow, and a change in the store reaches a watching page', async () => {
      const events: { id: number; event: string; data: Record<string, unknown> }[] = [];
      const req = http.get({ host: '127.0.0.1', port: server.port, path: `/api/events?run=${diamond.id}` });
      const response = await new Promise<http.IncomingMessage>((resolve) => req.on('response', resolve));
      expect(response.headers['content-type']).toBe('text/event-stream; charset=utf-8');
      expect(String(response.headers['content-security-policy'])).toBe(PAGE_POLICY);
      let buffer = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        buffer += chunk;
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = Object.fromEntries(
            block
              .split('\n')
              .filter((l) => !l.startsWith(':') && l.includes(':'))
              .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]),
          );
          if (fields.event !== undefined) events.push({ id: Number(fields.id), event: fields.event, data: JSON.parse(fields.data ?? '{}') });
          end = buffer.indexOf('\n\n');
        }
      });
      const waitFor = async (what: () => boolean): Promise<void> => {
        const deadline = Date.now() + 5_000;
        while (!what()) {
          if (Date.now() > deadline) throw new Error(`timed out; events: ${JSON.stringify(events)}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      try {
        await waitFor(() => events.length >= 1);
        expect(events[0]!.event).toBe('hello');
        // Give the watcher its first look, then change what the page shows: a new attempt of a task.
        await new Promise((r) => setTimeout(r, 200));
        const attempt = await store.startAttempt(diamond.id, 'Bang');
        await waitFor(() => events.some((e) => e.event === 'change'));
        await store.endAttempt(attempt, 'cancelled', 'test');
        await waitFor(() => events.filter((e) => e.event === 'change').length >= 2);
        expect(events.find((e) => e.event === 'change')!.data).toMatchObject({ topic: 'run', runId: diamond.id });
        for (const event of events) expect(Number.isInteger(event.id)).toBe(true);
        const ids = events.map((e) => e.id);
        expect(ids).toEqual([...ids].sort((a, b) => a - b));
        expect(new Set(ids).size).toBe(ids.length);
      } finally {
        req.destroy();
      }
    });

    it('no API key and no database password in any response', async () => {
      const run = await get<{ run: { params: Record<string, unknown>; settings: { models: string[] } } }>(`/api/runs/${secretRun.id}`);
      expect(run.run.params.apiKey).toBe('[redacted]');
      expect(run.run.settings.models).toEqual(['openai-compatible:m@http://127.0.0.1:9/v1']);
      await get('/api/runs');
      for (const reply of replies) {
        expect(reply.body).not.toContain(SECRET_KEY);
        expect(reply.body).not.toContain(SECRET_PASSWORD);
        for (const value of Object.values(reply.headers)) expect(String(value)).not.toContain(SECRET_PASSWORD);
      }
      expect(replies.length).toBeGreaterThan(20);
    });
  });
}

/** The reads the live feed makes of a store (its fingerprints of a run and of the list of runs). */
const LIVE_READS = new Set(['getRun', 'listAttempts', 'listInteractionSummaries', 'listRuns', 'runTotals']);

/**
 * A real SQLite store with a fake notification source: every method is the store's own, and `watchChanges` hands
 * out listeners that the test calls itself (`notify`) — as PostgreSQL's LISTEN/NOTIFY would after a commit, or
 * not at all (a notification lost). The live feed's reads are counted.
 */
function withFakeNotifications(inner: Store) {
  const listeners = new Set<(runId: string) => void>();
  let reads = 0;
  const store = new Proxy(inner, {
    get(target, prop) {
      if (prop === 'watchChanges') {
        return async (listener: (runId: string) => void) => {
          listeners.add(listener);
          return async () => {
            listeners.delete(listener);
          };
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (LIVE_READS.has(String(prop))) reads++;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
    has(target, prop) {
      return prop === 'watchChanges' || Reflect.has(target, prop);
    },
  }) as Store;
  return {
    store,
    notify: (runId: string): void => {
      for (const listener of listeners) listener(runId);
    },
    reads: (): number => reads,
    listening: (): number => listeners.size,
  };
}

const quietEngine = (tasks: GraphTask[]): UiEngine => ({
  shownStatuses: async (runs) => runs.map((run) => ({ status: run.status, statusReason: run.statusReason })),
  graph: async () => tasks,
  decide: async () => null,
  explain: async () => null,
  workerStates: async () => null,
  previewRebuild: async () => null,
  startRebuild: async () => null,
});

describe('live updates by notification, with a store that pushes its changes', () => {
  let dir: string;
  let sqlite: Store;
  let run: RunRecord;
  const servers: UiServer[] = [];

  beforeAll(async () => {
    dir = tempDir('plan-ui-notify-');
    sqlite = await openSqliteStore(path.join(dir, 'plan.db'));
    run = await sqlite.createRun({ runDir: path.join(dir, 'runs', 'demo'), pipeline: diamondPipeline, params: {} });
    await sqlite.updateRun(run.id, { status: 'running' });
  });

  afterAll(async () => {
    for (const server of servers) await server.close();
    await sqlite?.close();
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A server over the store with fake notifications; `safetyIntervalMs`: how often it still looks unasked. */
  async function serve(safetyIntervalMs: number) {
    const fake = withFakeNotifications(sqlite);
    const server = await startUiServer({
      store: fake.store,
      engine: quietEngine(DIAMOND),
      location: sqlite.location,
      port: 0,
      assetsDir: path.join(repoRoot, 'dist', 'ui', 'client'),
      live: { safetyIntervalMs },
    });
    servers.push(server);
    return { ...fake, server };
  }

  async function watching(server: UiServer, listening: () => number) {
    const events = await openEvents(server, run.id);
    await until(
      () => events.events.some((e) => e.event === 'hello') && listening() === 1 && server.live.source === 'notified',
      () => `source ${server.live.source}, events ${JSON.stringify(events.events)}`,
    );
    return events;
  }

  it('the polling path stays for a store that cannot push (SQLite): a watched run is looked at every 200 ms', async () => {
    const server = await startUiServer({ store: sqlite, engine: quietEngine(DIAMOND), location: sqlite.location, port: 0 });
    servers.push(server);
    const events = await openEvents(server, run.id);
    try {
      await until(
        () => events.events.some((e) => e.event === 'hello'),
        () => JSON.stringify(events.events),
      );
      const before = server.live.polls;
      await pause(1_000);
      expect(server.live.source).toBe('polling');
      expect(server.live.polls - before).toBeGreaterThanOrEqual(4);
    } finally {
      events.close();
    }
  });

  it('reads nothing while idle but for the safety look, and a notified change reaches the page at once', async () => {
    const { server, notify, reads, listening } = await serve(60_000);
    const events = await watching(server, listening);
    try {
      // The first look (the run's fingerprint), then nothing at all: no change was told, the safety look is a minute away.
      await pause(300);
      const idleFrom = reads();
      const pollsFrom = server.live.polls;
      await pause(1_200);
      expect(reads() - idleFrom).toBe(0);
      expect(server.live.polls - pollsFrom).toBe(0);

      // A task starts (a real write to the database), the store tells of it: the page hears within a moment.
      const started = Date.now();
      const attempt = await sqlite.startAttempt(run.id, 'Seed(seed=one)');
      notify(run.id);
      await until(
        () => events.events.some((e) => e.event === 'change'),
        () => JSON.stringify(events.events),
        2_000,
      );
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(events.events.find((e) => e.event === 'change')!.data).toEqual({ topic: 'run', runId: run.id });
      // A notification of another run, or a burst of them for nothing new: no event, a look or two at most.
      const changes = (): number => events.events.filter((e) => e.event === 'change').length;
      const seen = changes();
      const burstFrom = server.live.polls;
      for (let i = 0; i < 20; i++) notify(run.id);
      notify('another-run');
      await pause(300);
      expect(changes()).toBe(seen);
      expect(server.live.polls - burstFrom).toBeLessThanOrEqual(2);
      await sqlite.endAttempt(attempt, 'cancelled', 'test');
      notify(run.id);
      await until(
        () => changes() === seen + 1,
        () => JSON.stringify(events.events),
        2_000,
      );
    } finally {
      events.close();
    }
  });

  it('a lost notification is caught by the safety look', async () => {
    const { server, reads, listening } = await serve(400);
    const events = await watching(server, listening);
    try {
      await pause(150);
      const from = reads();
      // Changed without a word from the store: only the safety look can find it.
      const attempt = await sqlite.startAttempt(run.id, 'Upper');
      await until(
        () => events.events.some((e) => e.event === 'change'),
        () => JSON.stringify(events.events),
        3_000,
      );
      expect(server.live.notifications).toBe(0);
      // A look every 400 ms, each three reads (run, attempts, calls): not a 200 ms poll.
      expect(reads() - from).toBeLessThanOrEqual(3 * 3);
      await sqlite.endAttempt(attempt, 'cancelled', 'test');
    } finally {
      events.close();
    }
  });

  it.skipIf(POSTGRES_URL === undefined)('PostgreSQL: a write by one store reaches a page of a dashboard on another, by notification', async () => {
    const fresh = await freshSchemaUrl();
    const { openPostgresStore } = await import('../../src/store/postgres/postgres-store.js');
    const writer = await openPostgresStore(fresh.url);
    const reader = await openPostgresStore(fresh.url);
    let server: UiServer | undefined;
    try {
      expect(typeof reader.watchChanges).toBe('function');
      const pgRun = await writer.createRun({ runDir: path.join(dir, 'runs', 'pg'), pipeline: diamondPipeline, params: {} });
      await writer.updateRun(pgRun.id, { status: 'running' });
      // Polling would find the change within 50 ms; the safety look is a minute away: only a notification can tell.
      server = await startUiServer({
        store: reader,
        engine: quietEngine(DIAMOND),
        location: reader.location,
        port: 0,
        live: { safetyIntervalMs: 60_000, runIntervalMs: 60_000, listIntervalMs: 60_000 },
      });
      const page = await openEvents(server, pgRun.id);
      const list = http.get({ host: '127.0.0.1', port: server.port, path: '/api/events' });
      const listEvents: string[] = [];
      list.on('response', (res) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => listEvents.push(chunk));
      });
      try {
        await until(
          () => page.events.some((e) => e.event === 'hello') && listEvents.join('').includes('event: hello') && server!.live.source === 'notified',
          () => `source ${server!.live.source}`,
        );
        // The feed coming up nudges each watcher once (the runs list after a gap): wait for those looks to be over.
        let seen = -1;
        await until(
          async () => {
            const now = server!.live.polls;
            const steady = now === seen;
            seen = now;
            if (!steady) await pause(400);
            return steady;
          },
          () => `polls still moving: ${server!.live.polls}`,
        );
        const pollsFrom = server.live.polls;
        await pause(500);
        expect(server.live.polls - pollsFrom).toBe(0);
        const started = Date.now();
        const attempt = await writer.startAttempt(pgRun.id, 'Seed(seed=one)');
        await until(
          () => page.events.some((e) => e.event === 'change'),
          () => `notifications ${server!.live.notifications}; ${JSON.stringify(page.events)}`,
          3_000,
        );
        const latency = Date.now() - started;
        expect(server.live.notifications).toBeGreaterThan(0);
        expect(page.events.find((e) => e.event === 'change')!.data).toEqual({ topic: 'run', runId: pgRun.id });
        // The runs list hears of a new run too.
        await writer.createRun({ runDir: path.join(dir, 'runs', 'pg2'), pipeline: diamondPipeline, params: {} });
        await until(
          () => listEvents.join('').includes('event: change'),
          () => listEvents.join(''),
          3_000,
        );
        await writer.endAttempt(attempt, 'cancelled', 'test');
        console.log(`PostgreSQL: a write by another store → the change event on the page: ${latency} ms`);
      } finally {
        page.close();
        list.destroy();
      }
    } finally {
      await server?.close();
      await reader.close();
      await writer.close();
      await fresh.drop();
    }
  });
});

describe('the runs page warms up what a run page needs', () => {
  it('after answering the list, one dry run (of the smallest of the newest graphs) loads the build engine, once per dashboard', async () => {
    const dir = tempDir('plan-ui-warm-');
    const store = await openSqliteStore(path.join(dir, 'plan.db'));
    const decided: string[] = [];
    const big = Array.from({ length: 30 }, (_, i) => ({ id: `T${i}`, requires: i === 0 ? [] : [`T${i - 1}`], outputs: [] }));
    const engine: UiEngine = {
      ...quietEngine(DIAMOND),
      graph: async (run) => (run.params.big === true ? big : DIAMOND),
      decide: async (run) => {
        decided.push(run.id);
        return null;
      },
    };
    let server: UiServer | undefined;
    try {
      const runs: RunRecord[] = [];
      for (let i = 0; i < 3; i++) {
        runs.push(await store.createRun({ runDir: path.join(dir, `r${i}`), pipeline: diamondPipeline, params: { big: i === 2 } }));
        await pause(5);
      }
      server = await startUiServer({ store, engine, location: store.location, port: 0 });
      const reply = await request(server, 'GET', '/api/runs');
      expect(reply.status).toBe(200);
      const listed = (JSON.parse(reply.body) as { runs: { id: string }[] }).runs.map((r) => r.id);
      expect(listed).toEqual([...runs].reverse().map((r) => r.id));
      await until(
        () => decided.length === 1,
        () => `decided ${decided.join(',')}`,
      );
      // The smallest graph (the newest run has 30 tasks, the others 5): the first of those.
      expect(decided).toEqual([listed[1]]);
      await request(server, 'GET', '/api/runs');
      await pause(100);
      expect(decided).toHaveLength(1);
    } finally {
      await server?.close();
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the dashboard’s layering: cli → ui → store', () => {
  it('src/ui imports neither the engine, the pipelines nor the CLI: what needs them comes as callbacks', () => {
    const uiDir = path.join(repoRoot, 'src', 'ui');
    const files = fs
      .readdirSync(uiDir, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      const text = fs.readFileSync(path.join(uiDir, file), 'utf8');
      for (const [, target] of text.matchAll(/from '([^']+)'/g)) {
        const resolved = path.relative(path.join(repoRoot, 'src'), path.resolve(path.dirname(path.join(uiDir, file)), target!));
        expect(resolved, `${file} imports ${target}`).not.toMatch(/^(engine|tasks|cli|llm)\//);
      }
    }
  });
});
