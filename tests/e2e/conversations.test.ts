import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect, jsonEvents, runPlan, spawnPlan, startedTasks, tempDir, waitForOutput } from '../support/cli.js';
import { startFakeOpenAiServer, type FakeBehaviour, type FakeOpenAiServer, type FakeRequest } from '../support/fake-openai-server.js';
import { offlineLikeAnswer } from '../support/fake-model.js';
import { storeQuery } from '../support/store-rows.js';

// `plan build --conversations sequential|parallel`: the review tail's fixed questions as one growing conversation
// per task, or each on its own call, all at once. Against the fake OpenAI-compatible server, through the real CLI.

const PROMPT = 'Open a small sourdough bakery in Copenhagen within a year';
const START = '--param=startTime=2026-03-01T09:00:00.000Z';
/** The tasks the option changes, and what a change of it rebuilds besides them (they read their files). */
const TAIL = ['ExecutiveSummaryTask', 'PremortemTask', 'QuestionsAndAnswersTask', 'ReviewPlanTask', 'SelfAuditTask'];
const REBUILT = [...TAIL, 'FullPlanPipeline', 'ReportTask'].sort();
/** The conversations asked as separate calls in parallel mode, by schema name, and their question counts. */
const CONVERSATIONS: Record<string, number> = { review_plan: 16, self_audit: 20, premortem: 3, questions_and_answers: 2 };

let cwd: string;
let server: FakeOpenAiServer | undefined;
beforeEach(() => {
  cwd = tempDir('plan-conversations-');
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  fs.rmSync(cwd, { recursive: true, force: true });
});

const schemaOf = (request: FakeRequest): string | undefined => request.body.response_format?.json_schema?.name;
const lastUser = (request: FakeRequest): string => (request.body.messages ?? []).filter((m) => m.role === 'user').at(-1)?.content ?? '';
/** The checklist item a self-audit request asks about (1–20). */
const checklistItem = (request: FakeRequest): number => Number(/Checklist item (\d+):/.exec(lastUser(request))?.[1]);
const query = <T>(sql: string, ...args: unknown[]): Promise<T[]> => storeQuery<T>(cwd, sql, ...args);

/** A model server whose behaviour a test can change between (or during) builds. */
async function modelServer(how: (request: FakeRequest) => FakeBehaviour): Promise<{ model: string; behave: (next: typeof how) => void }> {
  let current = how;
  server = await startFakeOpenAiServer({ handler: (request) => current(request) });
  return { model: `--model=openai-compatible:fake-model@${server.url}`, behave: (next) => (current = next) };
}

/** The most requests of `list` in flight at once, each taken to last at least `ms` (the server's delay). */
function mostAtOnce(list: readonly FakeRequest[], ms: number): number {
  const at = list.map((r) => r.receivedAt).sort((a, b) => a - b);
  return Math.max(0, ...at.map((t) => at.filter((u) => u >= t && u < t + ms).length));
}

/** A JSON value's shape: keys and types, arrays as the union of their elements' shapes (lengths ignored). */
function shape(value: unknown): string {
  if (Array.isArray(value)) return `[${[...new Set(value.map(shape))].sort().join('|')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}:${shape(v)}`)
      .join(',')}}`;
  }
  return value === null ? 'null' : typeof value;
}

/** The keys a recorded call of a `*_raw.json` may have (RecordedCall). */
const CALL_KEYS = new Set(['schema', 'itemKey', 'turn', 'model', 'offline', 'messages', 'answer']);

/** A file's shape: a JSON file by its shape (a raw file by its response), any other by its kind and being non-empty. */
function fileShape(file: string): string {
  const text = fs.readFileSync(file, 'utf8');
  if (!file.endsWith('.json')) return `${path.extname(file)} ${text.trim() === '' ? 'empty' : 'text'}`;
  const data = JSON.parse(text) as { response?: unknown; calls?: Record<string, unknown>[] };
  if (!file.endsWith('_raw.json') || !Array.isArray(data.calls)) return shape(data);
  for (const call of data.calls) for (const key of Object.keys(call)) expect(CALL_KEYS.has(key), `${file}: call key ${key}`).toBe(true);
  return `raw ${shape(data.response)}`;
}

/** The review tail answers only after `ms`, so the requests a build has in flight at once can be seen. */
const slowTail =
  (ms: number) =>
  (request: FakeRequest): FakeBehaviour =>
    (schemaOf(request) ?? '') in CONVERSATIONS ? { kind: 'delay', ms, next: offlineLikeAnswer(request) } : offlineLikeAnswer(request);

describe('--conversations parallel (the default of a new run)', () => {
  it('writes every file of the catalogue in the shapes sequential writes, and asks each conversation’s questions at once', async () => {
    const { model } = await modelServer(slowTail(250));
    const par = await runPlan(['build', 'runs/par', '--prompt', PROMPT, START, model, '--llm-concurrency', '16'], { cwd });
    expect(par.exit, par.stderr).toBe(0);
    const parRequests = [...server!.requests];
    const seq = await runPlan(['build', 'runs/seq', '--prompt', PROMPT, START, model, '--llm-concurrency', '16', '--conversations', 'sequential'], {
      cwd,
    });
    expect(seq.exit, seq.stderr).toBe(0);
    const seqRequests = server!.requests.slice(parRequests.length);

    const [parRun, seqRun] = await Promise.all(
      ['runs/par', 'runs/seq'].map(
        async (dir) => (await query<{ params_json: string }>('SELECT params_json FROM runs WHERE run_dir = ?', path.join(cwd, dir)))[0]!,
      ),
    );
    expect(JSON.parse(parRun!.params_json).conversations).toBe('parallel');
    expect(JSON.parse(seqRun!.params_json).conversations).toBe('sequential');

    const names = (dir: string) =>
      fs
        .readdirSync(path.join(cwd, dir))
        .filter((f) => !f.startsWith('.plan-'))
        .sort();
    expect(names('runs/par')).toEqual(names('runs/seq'));
    for (const file of names('runs/par')) {
      expect(fileShape(path.join(cwd, 'runs', 'par', file)), file).toBe(fileShape(path.join(cwd, 'runs', 'seq', file)));
    }

    for (const [schema, questions] of Object.entries(CONVERSATIONS)) {
      const parallel = parRequests.filter((r) => schemaOf(r) === schema);
      const sequential = seqRequests.filter((r) => schemaOf(r) === schema);
      expect(parallel, schema).toHaveLength(questions);
      expect(sequential, schema).toHaveLength(questions);
      // Sequential: each turn waits for the answer before it; parallel: the questions overlap at the server.
      expect(mostAtOnce(sequential, 200), schema).toBe(1);
      expect(mostAtOnce(parallel, 200), schema).toBeGreaterThanOrEqual(Math.min(questions, 4));
      // Parallel: every request is the base context and one question, never another question's answer.
      expect(
        parallel.every((r) => r.body.messages?.length === 2),
        schema,
      ).toBe(true);
      expect(sequential.map((r) => r.body.messages?.length)).toEqual(Array.from({ length: questions }, (_, i) => 2 * i + 2));
    }
    expect(
      mostAtOnce(
        parRequests.filter((r) => schemaOf(r) === 'review_plan'),
        200,
      ),
    ).toBeGreaterThanOrEqual(8);
  });

  it('killed mid-conversation, resumes asking only the questions that had no answer', async () => {
    let hold = true;
    // Items 13–20 of the self-audit hang until the build is killed; the first twelve are answered.
    const { model, behave } = await modelServer((request) =>
      hold && schemaOf(request) === 'self_audit' && checklistItem(request) > 12 ? { kind: 'hang' } : offlineLikeAnswer(request),
    );
    const child = spawnPlan(['build', 'runs/demo', '--prompt', PROMPT, START, model, '--llm-concurrency', '8', '--json'], { cwd });
    const done = collect(child);
    const answered = (out: string): number =>
      jsonEvents(out).filter((e) => e.type === 'interaction-finished' && e.taskId === 'SelfAuditTask' && e.status === 'completed').length;
    await waitForOutput(child, (out) => answered(out) >= 12, 60_000);
    child.kill('SIGKILL');
    expect((await done).signal).toBe('SIGKILL');
    hold = false;
    behave((request) => offlineLikeAnswer(request));

    const before = server!.requests.length;
    const askedFor = (list: readonly FakeRequest[], item: number) =>
      list.filter((r) => schemaOf(r) === 'self_audit' && checklistItem(r) === item).length;
    for (let item = 1; item <= 12; item++) expect(askedFor(server!.requests, item), `item ${item}`).toBe(1);

    const resumed = await runPlan(['build', 'runs/demo', model, '--json'], { cwd });
    expect(resumed.exit, resumed.stderr).toBe(0);
    const after = server!.requests.slice(before);
    for (let item = 1; item <= 20; item++) expect(askedFor(after, item), `item ${item} after the resume`).toBe(item <= 12 ? 0 : 1);
    expect(resumed.stderr).toMatch(/abandoned attempt \d+ of SelfAuditTask/);
    const replayed = await query<{ item_key: string }>(
      "SELECT item_key FROM llm_interactions WHERE task_id = 'SelfAuditTask' AND status = 'replayed' ORDER BY item_key",
    );
    expect(replayed.map((r) => r.item_key).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `question-${i + 1}`).sort());
    const raw = JSON.parse(fs.readFileSync(path.join(cwd, 'runs', 'demo', '029-1-self_audit_raw.json'), 'utf8')) as {
      response: { checklist: unknown[] };
    };
    expect(raw.response.checklist).toHaveLength(20);
  });
});

describe('switching --conversations', () => {
  it('rebuilds only the tasks it changes (and what reads their files), says so, and stays as switched', async () => {
    const first = await runPlan(['build', 'runs/demo', '--prompt', PROMPT, '--speed', 'fast'], { cwd });
    expect(first.exit, first.stderr).toBe(0);

    const toSequential = await runPlan(['build', 'runs/demo', '--conversations', 'sequential', '--json'], { cwd });
    expect(toSequential.exit, toSequential.stderr).toBe(0);
    expect(toSequential.stderr).toContain(
      'run was built with --conversations parallel; continuing with sequential: the tasks it changes are rebuilt',
    );
    expect(startedTasks(toSequential.stdout).sort()).toEqual(REBUILT);
    const reasons = jsonEvents(toSequential.stdout).filter((e) => e.type === 'task-decided' && TAIL.includes(e.taskId as string));
    expect(reasons.map((e) => e.reason)).toEqual(TAIL.map(() => 'parameter conversations changed ("parallel" → unset)'));

    const again = await runPlan(['build', 'runs/demo', '--json'], { cwd });
    expect(again.exit, again.stderr).toBe(0);
    expect(startedTasks(again.stdout)).toEqual([]);
    expect(again.stderr).not.toContain('--conversations');

    const back = await runPlan(['build', 'runs/demo', '--conversations', 'parallel', '--json'], { cwd });
    expect(back.exit, back.stderr).toBe(0);
    expect(back.stderr).toContain('run was built with --conversations sequential; continuing with parallel');
    expect(startedTasks(back.stdout).sort()).toEqual(REBUILT);
  });
});

describe('a run made before the option (its stored parameters hold no conversations)', () => {
  it('resumes sequential: the turns it had are replayed, nothing built is asked again, nothing is announced', async () => {
    // Each self-audit turn takes 200 ms, so the build is killed in the middle of that conversation.
    const { model } = await modelServer((request) =>
      schemaOf(request) === 'self_audit' ? { kind: 'delay', ms: 200, next: offlineLikeAnswer(request) } : offlineLikeAnswer(request),
    );
    const child = spawnPlan(['build', 'runs/demo', '--prompt', PROMPT, START, model, '--conversations', 'sequential', '--json'], { cwd });
    const done = collect(child);
    const turns = (out: string): number =>
      jsonEvents(out).filter((e) => e.type === 'interaction-finished' && e.taskId === 'SelfAuditTask' && e.status === 'completed').length;
    await waitForOutput(child, (out) => turns(out) >= 5, 60_000);
    child.kill('SIGKILL');
    expect((await done).signal).toBe('SIGKILL');

    // What a run made before the option looks like: the same run, without the parameter.
    const db = new Database(path.join(cwd, 'runs', 'plan.db'));
    db.prepare("UPDATE runs SET params_json = json_remove(params_json, '$.conversations')").run();
    db.close();
    const built = new Set(
      (await query<{ task_id: string }>("SELECT task_id FROM task_attempts WHERE status = 'complete'")).map((row) => row.task_id),
    );
    const completedTurns = (
      await query<{ n: number }>("SELECT COUNT(*) AS n FROM llm_interactions WHERE task_id = 'SelfAuditTask' AND status = 'completed'")
    )[0]!.n;
    expect(completedTurns).toBeGreaterThanOrEqual(5);
    const before = server!.requests.length;
    const resumedAt = Date.now();

    const resumed = await runPlan(['build', 'runs/demo', model, '--json'], { cwd });
    expect(resumed.exit, resumed.stderr).toBe(0);
    expect(resumed.stderr).not.toContain('--conversations');
    expect(resumed.stderr).toMatch(/model calls? replayed from earlier attempts, not paid again/);
    const replayed = await query<{ n: number }>("SELECT COUNT(*) AS n FROM llm_interactions WHERE task_id = 'SelfAuditTask' AND status = 'replayed'");
    expect(replayed[0]!.n).toBe(completedTurns);
    // Nothing a finished task had asked is asked again, and the self-audit goes on as one conversation.
    const askedNow = await query<{ task_id: string }>(
      "SELECT DISTINCT task_id FROM llm_interactions WHERE status = 'completed' AND attempt_id IN (SELECT id FROM task_attempts WHERE started_at >= ?)",
      resumedAt,
    );
    expect(askedNow.map((r) => r.task_id).filter((id) => built.has(id))).toEqual([]);
    const audit = server!.requests.slice(before).filter((r) => schemaOf(r) === 'self_audit');
    expect(audit.map((r) => r.body.messages?.length)).toEqual(Array.from({ length: 20 - completedTurns }, (_, i) => 2 * (completedTurns + i) + 2));
    const [run] = await query<{ params_json: string }>('SELECT params_json FROM runs');
    expect(JSON.parse(run!.params_json)).not.toHaveProperty('conversations');

    const again = await runPlan(['build', 'runs/demo', model, '--json'], { cwd });
    expect(startedTasks(again.stdout)).toEqual([]);
  });
});
