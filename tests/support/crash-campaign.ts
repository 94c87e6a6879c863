import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { startFakeOpenAiServer, type FakeRequest } from './fake-openai-server.js';
import { offlineLikeAnswer } from './fake-model.js';
import { testStoreUrl } from './cli.js';
import { openStoreRows, storeExists, withStoreRows, type StoreRows } from './store-rows.js';

/**
 * The crash campaign: the whole plan pipeline against the fake model server (small seeded latencies), killed
 * with SIGKILL at seeded random moments and resumed, again and again. Each round starts a new run, kills it
 * 1–`maxKillsPerRound` times, lets the next build finish, and then checks every invariant of ARCHITECTURE.md's
 * crash promise against an uninterrupted build of the same prompt and start time:
 *
 * - every file equals the uninterrupted build's, byte for byte (same set of files);
 * - every file in the run dir (engine `.plan-*` files aside) has a newest `plan_content` row with its sha256;
 * - no attempt is left `running`;
 * - no model call that had completed was asked again: per request (keyed by the hash of the messages the
 *   server received), the run holds exactly as many `completed` rows as the uninterrupted build needed
 *   answers, and no request reached the server once that many answers had been recorded `completed`.
 *   A call cut by the kill before its row was marked `completed` may be asked again, and is counted;
 * - on SQLite, `PRAGMA integrity_check` is ok (PostgreSQL has no database file of ours to check); no `.plan-tmp-*` file is left;
 * - no person's edit is lost: after about half the kills, a file on disk is edited, as a person would between
 *   builds; the database holds every edit as a version with source `edit`, and the final file holds the edit
 *   unless an edit upstream of it made its task run again. The kills that land right after a task's files
 *   are written (its attempt still `persisted`) prove that recovery keeps an edit. What an edit makes run
 *   again (the tasks downstream of it, from the reference build's stamps) is exempt from the comparisons
 *   with the uninterrupted build: its files are checked against their newest rows, its calls are new ones.
 *
 * Runs from vitest (tests/e2e/crash-campaign.test.ts, the short version) and from plain node
 * (bench/crash-campaign.js compiles this file with tsc, for the long version). The builds use the SQLite store
 * beside their run dirs, or, in the `postgres` test project, each dir's schema (tests/support/cli.ts); the rows
 * are read through tests/support/store-rows.ts either way.
 */

export interface CampaignOptions {
  /** Keep going until at least this many builds were killed. */
  kills: number;
  seed?: number;
  speed?: 'fast' | 'full';
  /** Most kills in one round before a build is let finish (each round draws 1..this). */
  maxKillsPerRound?: number;
  /** Latency of each fake model answer, drawn per request from [min, max] ms. */
  latencyMs?: readonly [number, number];
  /** The CLI launcher (default: bin/plan.js of this checkout, found from the working dir). */
  planBin?: string;
  /** Where the runs go (a temp dir by default); removed at the end unless `keep`. */
  workDir?: string;
  keep?: boolean;
  log?: (line: string) => void;
}

export interface CampaignResult {
  kills: number;
  resumes: number;
  rounds: number;
  violations: string[];
  durationMs: number;
  /** Model requests the server saw during the rounds, and how many of them re-asked a call cut by a kill. */
  requests: number;
  reaskedCutCalls: number;
  /** Answers served from the database instead of the model, over all rounds. */
  replayed: number;
  /** Tasks whose persisted files a resume wrote from the database (killed between persist and complete). */
  recovered: number;
  abandoned: number;
  /** Files a person edited between a kill and the next build, and how many of those edits were lost. */
  edits: number;
  /** What the killed build had printed last, per kill: where in a task's life the kills landed. */
  killedAfter: Record<string, number>;
  summary: string;
  /** Where the rounds ran; kept (with the failing rounds' run dirs) when there were violations. */
  workDir: string;
}

export const CAMPAIGN_PROMPT = 'Open a small sourdough bakery in Copenhagen within a year';
export const CAMPAIGN_START_TIME = '2026-03-01T09:00:00.000Z';

interface Build {
  exit: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** mulberry32: small, seedable, good enough to pick kill moments and latencies. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

/** The key a model request is counted under: the messages, as the server received them and as the row stores them. */
export function messagesKey(messages: unknown): string {
  return sha256(JSON.stringify(messages));
}

export async function runCrashCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const started = Date.now();
  const seed = options.seed ?? 1;
  const speed = options.speed ?? 'fast';
  const maxKillsPerRound = options.maxKillsPerRound ?? 3;
  const [minLatency, maxLatency] = options.latencyMs ?? [2, 40];
  const planBin = options.planBin ?? path.resolve('bin', 'plan.js');
  const log = options.log ?? (() => {});
  const random = seededRandom(seed);
  const workDir = options.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'plan-crash-campaign-'));
  fs.mkdirSync(workDir, { recursive: true });

  // Latency per request from the seed and the request itself, so a request waits the same whatever the order.
  const server = await startFakeOpenAiServer({
    handler: (request: FakeRequest) => {
      const draw = seededRandom(seed ^ parseInt(sha256(request.rawBody).slice(0, 8), 16))();
      return { kind: 'delay', ms: Math.round(minLatency + draw * (maxLatency - minLatency)), next: offlineLikeAnswer(request) };
    },
  });
  const model = `--model=openai-compatible:fake-model@${server.url}`;
  const args = ['build', 'runs/demo', '--prompt', CAMPAIGN_PROMPT, '--speed', speed, `--param=startTime=${CAMPAIGN_START_TIME}`, model, '--json'];

  const result: CampaignResult = {
    kills: 0,
    resumes: 0,
    rounds: 0,
    violations: [],
    durationMs: 0,
    requests: 0,
    reaskedCutCalls: 0,
    replayed: 0,
    recovered: 0,
    abandoned: 0,
    edits: 0,
    killedAfter: {},
    summary: '',
    workDir,
  };
  try {
    // The uninterrupted build: the files to match, and how many answers each distinct request needs.
    const referenceDir = path.join(workDir, 'reference');
    fs.mkdirSync(referenceDir, { recursive: true });
    const reference = await runToEnd(spawnBuild(planBin, args, referenceDir));
    if (reference.exit !== 0) throw new Error(`the uninterrupted build failed (exit ${reference.exit}):\n${reference.stderr}`);
    const expected = readTree(path.join(referenceDir, 'runs', 'demo'));
    const needed = countByKey(server.requests.map((r) => r.body.messages));
    const referenceEvents = reference.stdout.split('\n').length;
    const taskIds = [
      ...new Set(
        eventsOf(reference.stdout)
          .filter((e) => e.type === 'task-started')
          .map((e) => String(e.taskId)),
      ),
    ];
    const flow = await fileFlow(referenceDir);
    log(`reference: ${expected.size} files, ${server.requests.length} model requests, ${referenceEvents} events in ${Date.now() - started} ms`);

    while (result.kills < options.kills) {
      result.rounds++;
      const round = result.rounds;
      const cwd = path.join(workDir, `round-${round}`);
      fs.mkdirSync(cwd, { recursive: true });
      const firstRequest = server.requests.length;
      const killsWanted = 1 + Math.floor(random() * maxKillsPerRound);
      let killsThisRound = 0;
      let final: Build | null = null;
      const built = new Set<string>();
      const edits = new Map<string, Buffer>();
      for (let build = 0; final === null; build++) {
        if (build > 0) result.resumes++;
        if (killsThisRound >= killsWanted) {
          final = await runToEnd(spawnBuild(planBin, args, cwd));
          break;
        }
        // Now and then the kill lands in one of the windows a signal from outside can hardly hit (the engine's
        // test hook kills itself right there): a task's attempt is persisted and its files are not written yet,
        // or its files are written and the attempt is not marked complete yet.
        const unbuilt = taskIds.filter((id) => !built.has(id));
        const draw = random();
        const hookTask = draw < 0.25 && unbuilt.length > 0 ? unbuilt[Math.floor(random() * unbuilt.length)] : undefined;
        const hookPoint = draw < 0.12 ? 'kill-after-materialize' : 'kill-after-persist';
        const child = spawnBuild(planBin, args, cwd, hookTask === undefined ? undefined : `${hookPoint}:${hookTask}`);
        const outcome = hookTask === undefined ? await killAtRandomMoment(child, random, referenceEvents) : await runUntilHook(child);
        for (const id of finishedTasks(outcome.stdout)) built.add(id);
        if (hookTask !== undefined) built.add(hookTask);
        if (outcome.signal === 'SIGKILL') {
          killsThisRound++;
          result.kills++;
          const where = hookTask === undefined ? outcome.lastEvent : `${hookPoint} (hook)`;
          result.killedAfter[where] = (result.killedAfter[where] ?? 0) + 1;
          // A person edits an end product while nothing runs.
          if (random() < 0.5) {
            // The worst moment for an edit: files the killed build wrote whose attempt is not marked complete.
            const pending = await filesOfPersistedAttempts(cwd);
            const candidates = pending.length > 0 && random() < 0.7 ? pending : [...expected.keys()].sort();
            const edit = editSomeFile(path.join(cwd, 'runs', 'demo'), candidates, random, `round ${round}, kill ${killsThisRound}`);
            if (edit !== null) {
              edits.set(edit.path, edit.bytes);
              result.edits++;
            }
          }
        } else {
          final = outcome; // it finished before the kill landed
        }
        result.recovered += countEvents(outcome.stdout, 'task-recovered');
      }
      result.recovered += countEvents(final.stdout, 'task-recovered');
      const roundRequests = server.requests.slice(firstRequest);
      const violations = await checkInvariants({ cwd, final, expected, needed, requests: roundRequests, edits, flow });
      const stats = await roundStats(cwd);
      result.requests += roundRequests.length;
      result.replayed += stats.replayed;
      result.abandoned += stats.abandoned;
      result.reaskedCutCalls += roundRequests.length - stats.completed;
      for (const v of violations) result.violations.push(`round ${round}: ${v}`);
      log(
        `round ${round}: ${killsThisRound} kill(s), ${edits.size} edit(s), ${roundRequests.length} requests, ${stats.replayed} replayed, ` +
          `${stats.abandoned} abandoned attempts, ${violations.length} violation(s) · total kills ${result.kills}`,
      );
      for (const v of violations) log(`  VIOLATION ${v}`);
      if (violations.length === 0 && !options.keep) fs.rmSync(cwd, { recursive: true, force: true });
    }
  } finally {
    await server.close();
    if (!options.keep && result.violations.length === 0) fs.rmSync(workDir, { recursive: true, force: true });
  }
  result.durationMs = Date.now() - started;
  const where = Object.entries(result.killedAfter)
    .sort((a, b) => b[1] - a[1])
    .map(([event, n]) => `${event}×${n}`)
    .join(', ');
  result.summary =
    `crash campaign (seed ${seed}, --speed ${speed}): kills=${result.kills} resumes=${result.resumes} rounds=${result.rounds} ` +
    `violations=${result.violations.length} · ${result.edits} person edits · ${result.requests} model requests, ${result.reaskedCutCalls} re-asked cut calls, ` +
    `${result.replayed} replayed, ${result.recovered} tasks recovered, ${result.abandoned} attempts abandoned · ` +
    `${(result.durationMs / 1000).toFixed(1)} s · killed after: ${where}`;
  return result;
}

function spawnBuild(planBin: string, args: string[], cwd: string, hook?: string): ChildProcess {
  return spawn(process.execPath, [planBin, ...args], {
    cwd,
    // The store of the test project: SQLite's default file (no PLAN_DB), or in the `postgres` project the dir's schema.
    env: { ...process.env, NO_COLOR: '1', CI: '1', PLAN_DB: testStoreUrl(cwd), PLAN_TEST_HOOK: hook },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function runToEnd(child: ChildProcess): Promise<Build> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (exit, signal) => resolve({ exit, signal, stdout, stderr }));
  });
}

/**
 * Kills the build at a random moment: mostly after a random number of its events (so kills spread over the
 * whole build, wherever the time goes), sometimes after a random time from the start (so some land during
 * start-up and recovery); then a few more random milliseconds, so the kill falls between two events.
 */
async function killAtRandomMoment(child: ChildProcess, random: () => number, referenceEvents: number): Promise<Build & { lastEvent: string }> {
  const done = runToEnd(child);
  const byTime = random() < 0.25;
  const afterEvents = 1 + Math.floor(random() * referenceEvents * 0.95);
  const afterMs = Math.floor(random() * 1500);
  const jitterMs = Math.floor(random() * 15);
  let lines = 0;
  let fired = false;
  const fire = (): void => {
    if (fired) return;
    fired = true;
    setTimeout(() => child.kill('SIGKILL'), jitterMs);
  };
  if (byTime) setTimeout(fire, afterMs);
  else {
    child.stdout?.on('data', (chunk: Buffer) => {
      for (const byte of chunk) if (byte === 10) lines++;
      if (lines >= afterEvents) fire();
    });
  }
  const build = await done;
  const events = build.stdout.split('\n').filter((line) => line.startsWith('{'));
  let lastEvent = 'start-up';
  const last = events[events.length - 1];
  if (last !== undefined) {
    try {
      lastEvent = (JSON.parse(last) as { type: string }).type;
    } catch {
      lastEvent = 'partial line';
    }
  }
  return { ...build, lastEvent };
}

async function runUntilHook(child: ChildProcess): Promise<Build & { lastEvent: string }> {
  const build = await runToEnd(child);
  return { ...build, lastEvent: 'hook' };
}

/** Which task reads and writes which file, from a finished build's attempts; and each request's task. */
export interface FileFlow {
  readers: Map<string, string[]>;
  outputs: Map<string, string[]>;
  taskOfRequest: Map<string, string>;
}

/** Messages of a model call's row: deflated in `messages_z`, or (SQLite rows from before schema version 2) `messages_json`. */
function messagesOf(row: { messages_json?: string; messages_z?: Buffer | null }): unknown {
  return JSON.parse(row.messages_z ? inflateRawSync(row.messages_z).toString('utf8') : row.messages_json!);
}

/** The rows of the store the builds started in `cwd` used (read only). */
function storeOf(cwd: string): Promise<StoreRows> {
  return openStoreRows(cwd);
}

async function fileFlow(cwd: string): Promise<FileFlow> {
  const db = await storeOf(cwd);
  try {
    const readers = new Map<string, string[]>();
    const outputs = new Map<string, string[]>();
    const rows = await db.all<{
      task_id: string;
      stamp_json: string;
      outputs_json: string;
    }>("SELECT task_id, stamp_json, outputs_json FROM task_attempts WHERE status = 'complete'");
    for (const row of rows) {
      for (const input of Object.keys((JSON.parse(row.stamp_json) as { inputs: Record<string, string> }).inputs)) {
        readers.set(input, [...(readers.get(input) ?? []), row.task_id]);
      }
      outputs.set(row.task_id, Object.keys(JSON.parse(row.outputs_json) as Record<string, string>));
    }
    const taskOfRequest = new Map<string, string>();
    // `SELECT *`: SQLite's messages_json is not a column on PostgreSQL.
    for (const row of await db.all<{ task_id: string; messages_json?: string; messages_z?: Buffer | null }>('SELECT * FROM llm_interactions')) {
      taskOfRequest.set(messagesKey(messagesOf(row)), row.task_id);
    }
    return { readers, outputs, taskOfRequest };
  } finally {
    await db.close();
  }
}

/** The tasks that read the edited files, directly or through what they write, and every file they write. */
function downstreamOf(flow: FileFlow, edited: Iterable<string>): { tasks: Set<string>; files: Set<string> } {
  const tasks = new Set<string>();
  const files = new Set<string>();
  const queue = [...edited];
  while (queue.length > 0) {
    for (const task of flow.readers.get(queue.pop()!) ?? []) {
      if (tasks.has(task)) continue;
      tasks.add(task);
      for (const file of flow.outputs.get(task) ?? []) {
        files.add(file);
        queue.push(file);
      }
    }
  }
  return { tasks, files };
}

/** Output files of attempts left `persisted` (their files may be on disk already), sorted. */
async function filesOfPersistedAttempts(cwd: string): Promise<string[]> {
  if (!(await storeExists(cwd))) return [];
  const rows = await withStoreRows(cwd, (db) =>
    db.all<{ outputs_json: string }>("SELECT outputs_json FROM task_attempts WHERE status = 'persisted'"),
  );
  return rows.flatMap((row) => Object.keys(JSON.parse(row.outputs_json) as Record<string, string>)).sort();
}

/**
 * Edits one of `candidates` that is on disk now, the way a person would keep it readable: a JSON object gets a
 * note under a key of its own (still valid, same shape), any other text a line appended; CSV files are left alone. The
 * file only grows: an edit is never a prefix of the stored bytes (which recovery takes for a torn file).
 */
function editSomeFile(runDir: string, candidates: readonly string[], random: () => number, note: string): { path: string; bytes: Buffer } | null {
  const present = candidates.filter((file) => !file.endsWith('.csv') && fs.existsSync(path.join(runDir, file)));
  if (present.length === 0) return null;
  const file = present[Math.floor(random() * present.length)]!;
  const before = fs.readFileSync(path.join(runDir, file), 'utf8');
  const words = `edited by a person between builds (${note})`;
  let after = `${before}\n\n${words[0]!.toUpperCase()}${words.slice(1)}.\n`;
  if (file.endsWith('.json')) {
    // A note under a key of its own: the readers' schemas ignore unknown keys, so the file keeps its meaning.
    const parsed = JSON.parse(before) as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
    after = JSON.stringify({ ...parsed, edited_by_a_person: words }, null, 2);
  }
  const bytes = Buffer.from(after);
  fs.writeFileSync(path.join(runDir, file), bytes);
  return { path: file, bytes };
}

function eventsOf(stdout: string): { type: string; taskId?: unknown }[] {
  const events: { type: string; taskId?: unknown }[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      events.push(JSON.parse(line) as { type: string });
    } catch {
      // the line the kill cut short
    }
  }
  return events;
}

/** Tasks this build completed or recovered (their files are written: a hook on them would never fire). */
function finishedTasks(stdout: string): string[] {
  return eventsOf(stdout)
    .filter(
      (e) => e.type === 'task-complete' || e.type === 'task-recovered' || (e.type === 'task-decided' && (e as { state?: unknown }).state === 'fresh'),
    )
    .map((e) => String(e.taskId));
}

function countEvents(stdout: string, type: string): number {
  return stdout.split('\n').filter((line) => line.includes(`"type":"${type}"`)).length;
}

function countByKey(messages: unknown[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const m of messages) {
    const key = messagesKey(m);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** Every file of a dir as bytes, engine files (`.plan-*`) aside. */
export function readTree(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || entry.name.startsWith('.plan-')) continue;
    const full = path.join(entry.parentPath, entry.name);
    files.set(path.relative(dir, full), fs.readFileSync(full));
  }
  return files;
}

interface InvariantInput {
  cwd: string;
  final: Build;
  expected: ReadonlyMap<string, Buffer>;
  /** Answers the uninterrupted build needed, per request key. */
  needed: ReadonlyMap<string, number>;
  /** What the server received during this round, in arrival order. */
  requests: readonly FakeRequest[];
  /** Files a person edited during the round (path → the last bytes written): they must be kept. */
  edits?: ReadonlyMap<string, Buffer>;
  /** The reference build's file flow: what the edits made run again. Needed with `edits`. */
  flow?: FileFlow;
}

/** The invariants after a resume-to-completion; returns what is wrong (nothing, when all hold). */
export async function checkInvariants(input: InvariantInput): Promise<string[]> {
  const violations: string[] = [];
  const runDir = path.join(input.cwd, 'runs', 'demo');
  if (input.final.exit !== 0)
    violations.push(`the resume-to-completion build exited ${input.final.exit}: ${input.final.stderr.trim().split('\n').pop()}`);

  // 1. The files equal the uninterrupted build's, byte for byte; an edited one holds the person's edit; what an
  // edit made run again is rebuilt from other inputs, so it is only checked against its rows (2).
  const edits = input.edits ?? new Map<string, Buffer>();
  const downstream = input.flow === undefined ? { tasks: new Set<string>(), files: new Set<string>() } : downstreamOf(input.flow, edits.keys());
  const actual = readTree(runDir);
  for (const [file, bytes] of input.expected) {
    const got = actual.get(file);
    const edit = edits.get(file);
    if (downstream.files.has(file)) continue;
    if (got === undefined) violations.push(`${file} is missing`);
    else if (edit !== undefined && !got.equals(edit)) violations.push(`${file}: the person's edit was lost`);
    else if (edit === undefined && !got.equals(bytes)) violations.push(`${file} differs from the uninterrupted build`);
  }
  for (const file of actual.keys()) {
    if (!input.expected.has(file) && !(await isExtraOf(file, downstream.tasks, input.cwd)))
      violations.push(`${file} is not in the uninterrupted build`);
  }

  // 6. No temp file is left.
  for (const entry of fs.readdirSync(runDir, { recursive: true, withFileTypes: true })) {
    if (entry.name.startsWith('.plan-tmp-')) violations.push(`temp file ${entry.name} was left`);
  }

  const db = await storeOf(input.cwd);
  try {
    // 5. The database file is sound (SQLite's; PostgreSQL keeps no file of ours to check).
    if (db.kind === 'sqlite') {
      const integrity = (await db.get<{ integrity_check: string }>('PRAGMA integrity_check'))?.integrity_check;
      if (integrity !== 'ok') violations.push(`integrity_check: ${String(integrity)}`);
    }

    // 2. Every file has a newest content row with its sha256.
    const newest = new Map(
      (
        await db.all<{ path: string; sha256: string }>(
          'SELECT path, sha256 FROM plan_content c WHERE version = (SELECT MAX(version) FROM plan_content WHERE run_id = c.run_id AND path = c.path)',
        )
      ).map((row) => [row.path, row.sha256]),
    );
    for (const [file, bytes] of actual) {
      const stored = newest.get(file);
      if (stored === undefined) violations.push(`${file} has no plan_content row`);
      else if (stored !== sha256(bytes)) violations.push(`${file}: its newest plan_content row has another sha256`);
    }

    // 7. Every edit is stored as a version.
    for (const [file, bytes] of edits)
      if ((await db.get("SELECT 1 AS found FROM plan_content WHERE path = ? AND sha256 = ? AND source = 'edit'", file, sha256(bytes))) === undefined)
        violations.push(`${file}: the person's edit has no version`);

    // 3. No attempt is left running.
    const running = await db.all<{ task_id: string }>("SELECT task_id FROM task_attempts WHERE status = 'running'");
    for (const row of running) violations.push(`an attempt of ${row.task_id} is left running`);

    // 4. No completed model call was asked again.
    const rows = await db.all<{
      status: string;
      /** SQLite only, rows from before schema version 2. */
      messages_json?: string;
      /** Deflated messages (schema version 2 on); messages_json is empty then. */
      messages_z?: Buffer | null;
      finished_at: number | null;
    }>('SELECT * FROM llm_interactions');
    const completedAt = new Map<string, number[]>();
    const asked = new Map<string, number>();
    for (const row of rows) {
      const key = messagesKey(messagesOf(row));
      if (row.status !== 'replayed') asked.set(key, (asked.get(key) ?? 0) + 1);
      if (row.status === 'completed') completedAt.set(key, [...(completedAt.get(key) ?? []), row.finished_at ?? 0]);
    }
    const rebuilt = (key: string): boolean => downstream.tasks.has(input.flow?.taskOfRequest.get(key) ?? '');
    for (const [key, need] of input.needed) {
      if (rebuilt(key)) continue; // an edit upstream changed what this task asks, or whether it asks again
      const completed = completedAt.get(key)?.length ?? 0;
      if (completed > need) violations.push(`request ${key.slice(0, 12)} was answered ${completed} times; the build needs ${need}`);
      if (completed < need) violations.push(`request ${key.slice(0, 12)} has ${completed} completed rows; the build needs ${need}`);
    }
    const serverCounts = new Map<string, number>();
    for (const request of input.requests) {
      const key = messagesKey(request.body.messages);
      serverCounts.set(key, (serverCounts.get(key) ?? 0) + 1);
      const need = input.needed.get(key);
      if (need === undefined) {
        if (!(await rebuiltRequest(db, key, downstream.tasks)))
          violations.push(`the server got request ${key.slice(0, 12)}, which the uninterrupted build never made`);
        continue;
      }
      if (rebuilt(key)) continue;
      const answeredBefore = (completedAt.get(key) ?? []).filter((at) => at < request.receivedAt).length;
      if (answeredBefore >= need) {
        violations.push(`request ${key.slice(0, 12)} reached the server after its ${need} answer(s) had been recorded completed`);
      }
    }
    // Bookkeeping: every request the server saw has its row (inserted before sending), every completed row a request.
    for (const [key, count] of serverCounts) {
      if (count > (asked.get(key) ?? 0))
        violations.push(`request ${key.slice(0, 12)} reached the server ${count} times but has ${asked.get(key) ?? 0} rows`);
      if (count < (completedAt.get(key)?.length ?? 0)) violations.push(`request ${key.slice(0, 12)} has more completed rows than requests`);
    }
  } finally {
    await db.close();
  }
  return violations;
}

/** A request the reference never made is fine when a task that an edit made run again made it. */
async function rebuiltRequest(db: StoreRows, key: string, tasks: ReadonlySet<string>): Promise<boolean> {
  for (const row of await db.all<{ task_id: string; messages_json?: string; messages_z?: Buffer | null }>('SELECT * FROM llm_interactions')) {
    if (!tasks.has(row.task_id)) continue;
    if (messagesKey(messagesOf(row)) === key) return true;
  }
  return false;
}

/** A file outside the reference is fine when a task that an edit made run again wrote it (per-item files vary). */
async function isExtraOf(file: string, tasks: ReadonlySet<string>, cwd: string): Promise<boolean> {
  if (tasks.size === 0) return false;
  const row = await withStoreRows(cwd, (db) =>
    db.get<{ task_id: string }>('SELECT task_id FROM plan_content WHERE path = ? ORDER BY version DESC LIMIT 1', file),
  );
  return row !== undefined && tasks.has(row.task_id);
}

function roundStats(cwd: string): Promise<{ replayed: number; completed: number; abandoned: number }> {
  return withStoreRows(cwd, async (db) => {
    const count = async (sql: string): Promise<number> => (await db.get<{ n: number }>(sql))!.n;
    return {
      replayed: await count("SELECT COUNT(*) AS n FROM llm_interactions WHERE status = 'replayed'"),
      completed: await count("SELECT COUNT(*) AS n FROM llm_interactions WHERE status = 'completed'"),
      abandoned: await count("SELECT COUNT(*) AS n FROM task_attempts WHERE status = 'abandoned'"),
    };
  });
}
