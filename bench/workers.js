#!/usr/bin/env node
// Workers (README § Scale out): 8 plans submitted at once to `plan worker` processes sharing a PostgreSQL store,
// model latencies replayed from ../shared/data/real-plan-calls/ (scaled), each worker at --llm-concurrency 4 as one
// API key's limit would be. Throughput with 1, 2 and 4 workers, side by side in one run (target ≥ 3.5× at 4 workers
// over 1), and how long a task waits from becoming ready to a worker starting it (target: median ≤ 50 ms, p99 ≤ 250 ms).
//
//   node bench/workers.js                   (~6 minutes on 2 cores: 1, 2 and 4 workers, one repetition; ~2 of
//                                            them at 1 worker)
//
// Options: --workers 1,2,4 (worker counts measured)  --plans 8 (plans submitted at once)  --scale 1/10 (time
// factor: a 4.5 s call is answered after 450 ms; a plan's ~420 s of replayed latency becomes ~42 s)
// --speed fast|full (default fast)  --reps 1 (configurations alternate; figures are medians, speed-ups medians
// of per-repetition ratios)  -j 4 (each worker's tasks at once)
// --llm-concurrency 4 (each worker's model calls at once)  --url postgres://postgres@127.0.0.1:5432/test (or
// PLAN_BENCH_POSTGRES_URL, else PLAN_TEST_POSTGRES_URL)  --timeout 600 (s per configuration)  --out bench/results
// --name workers (result files <date>-<STEM>.{json,md})  --keep (keep the temp dir with the workers' logs)
// --no-trace (workers without the statement trace below)  --shared-db (the schemas in the --url database itself,
// instead of a database of the bench's own)
//
// How it works
// - Needs dist/ compiled. The fake server (tests/support/fake-openai-server.ts, compiled into
//   node_modules/.cache/plan-workers-bench as bench/llm-plan.js does) runs in this process for the whole bench;
//   answers are the offline model's schema-valid content, lengthened to the real call's output size (as
//   bench/llm-plan.js does), so every run makes the same calls.
// - Which run sent a request: each plan is submitted with a model of its own (`openai-compatible:replay-<k>@<url>`),
//   which every request names. Which call it is: the JSON schema's name (or, without one, the start of the system
//   prompt) and how many such calls of the run came before.
// - Latencies: a calibration `plan build` (local, SQLite, zero latency, same speed) counts the calls of each kind and
//   orders the kinds by first arrival. Plan k replays the real plan k mod 4 (the files sorted): our calls laid out
//   in that order as slots 0..N-1 get real successful calls floor(g·R/N) (bench/llm-plan.js's `proportional`), each
//   answered after its recorded duration × scale.
// - A database of its own (`plan_bench_workers_<random>` on the --url server, dropped at the end) unless --shared-db:
//   graphile-worker announces a breaking migration (every fresh `_jobs` schema's first one) with NOTIFY
//   "worker:migrate" to the whole database, and every worker listening there shuts down (exit 0) — so a test or
//   another store making its queue in the same database would stop the bench's workers, and the bench's fresh
//   schemas would stop theirs.
// - Per configuration (W workers): a fresh schema (`?schema=plan_bench_workers_<random>`, dropped with its `_jobs`
//   schema afterwards); W `plan worker --name wI -j J --llm-concurrency C --scratch <temp>/wI/scratch` processes
//   started and waited for (their "takes tasks" line: start-up is not measured); then the plans submitted at once
//   (`plan submit --prompt … --speed S --param startTime=… --model … --llm-concurrency C×max(W) --json`, one process each);
//   makespan from the first submit's spawn until the runs table says every run is complete (polled every 100 ms);
//   then SIGTERM to the workers and their exit awaited.
// - Ready → start: started_at − ready_at of every task of every run (worker_tasks, both from the database's clock).
//   Split by whether a task slot was free for it when it became ready: fewer than W × J tasks running (between
//   started_at and finished_at) or ready before it and not started. With none free the wait is queueing for
//   capacity (and priority), not dispatch.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { importTestSupport } from './test-support.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const DATA_DIR = path.resolve(root, '..', 'shared', 'data', 'real-plan-calls');
const PLAN_BIN = path.join(root, 'bin', 'plan.js');
const USAGE =
  'usage: node bench/workers.js [--workers 1,2,4] [--plans 8] [--scale 1/10] [--speed fast|full] [--reps N] [-j 4] [--llm-concurrency 4]\n' +
  '         [--url postgres://…] [--timeout S] [--out DIR] [--name STEM] [--keep] [--no-trace] [--shared-db]';

function fail(message) {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      workers: { type: 'string', default: '1,2,4' },
      plans: { type: 'string', default: '8' },
      scale: { type: 'string', default: '1/10' },
      speed: { type: 'string', default: 'fast' },
      reps: { type: 'string', default: '1' },
      jobs: { type: 'string', short: 'j', default: '4' },
      'llm-concurrency': { type: 'string', default: '4' },
      url: { type: 'string' },
      timeout: { type: 'string', default: '600' },
      out: { type: 'string', default: path.join(here, 'results') },
      name: { type: 'string', default: 'workers' },
      keep: { type: 'boolean', default: false },
      'no-trace': { type: 'boolean', default: false },
      'shared-db': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (error) {
  fail(error.message);
}
if (opts.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

const WORKER_COUNTS = opts.workers.split(',').map(Number);
const PLANS = Number(opts.plans);
const SCALE = parseScale(opts.scale);
const SPEED = opts.speed;
const REPS = Number(opts.reps);
const JOBS = Number(opts.jobs);
const LLM_CONCURRENCY = Number(opts['llm-concurrency']);
const TIMEOUT_MS = Number(opts.timeout) * 1000;
const GIVEN_URL = opts.url ?? process.env.PLAN_BENCH_POSTGRES_URL ?? process.env.PLAN_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const OWN_DATABASE = opts['shared-db'] ? null : `plan_bench_workers_${randomBytes(4).toString('hex')}`;
/** The database the schemas are made in: the bench's own, or the given one with --shared-db. */
const BASE_URL = (() => {
  if (OWN_DATABASE === null) return GIVEN_URL;
  const u = new URL(GIVEN_URL);
  u.pathname = `/${OWN_DATABASE}`;
  u.searchParams.delete('schema');
  return u.toString();
})();
const START_TIME = '2026-01-01T00:00:00.000Z';
const CONVERSATIONS = 'parallel';
const POLL_MS = 100;
/** The issue's targets. */
const TARGET = { speedUp: 3.5, atWorkers: 4, medianMs: 50, p99Ms: 250 };
const whole = (n, min = 1) => Number.isInteger(n) && n >= min;
if (WORKER_COUNTS.some((w) => !whole(w))) fail(`--workers must be whole numbers ≥ 1 (got ${opts.workers})`);
if (!whole(PLANS)) fail(`--plans must be a whole number ≥ 1 (got ${opts.plans})`);
if (!(SCALE > 0 && SCALE <= 1)) fail(`--scale must be a fraction in (0, 1], e.g. 1/10 (got ${opts.scale})`);
if (SPEED !== 'fast' && SPEED !== 'full') fail(`--speed must be fast or full (got ${SPEED})`);
if (!whole(REPS)) fail(`--reps must be a whole number ≥ 1 (got ${opts.reps})`);
if (!whole(JOBS)) fail(`-j must be a whole number ≥ 1 (got ${opts.jobs})`);
if (!whole(LLM_CONCURRENCY)) fail(`--llm-concurrency must be a whole number ≥ 1 (got ${opts['llm-concurrency']})`);
if (!(TIMEOUT_MS > 0)) fail(`--timeout must be a number of seconds > 0 (got ${opts.timeout})`);
if (!/^[\w.-]+$/.test(opts.name)) fail(`--name must be a plain file name stem (got ${opts.name})`);
if (!fs.existsSync(path.join(root, 'dist', 'cli', 'commands', 'worker.js')))
  fail('the CLI (with plan worker) is not compiled: run `npm run build` first');

function parseScale(text) {
  const m = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(\d+(?:\.\d+)?)\s*$/.exec(text);
  return m ? Number(m[1]) / Number(m[2]) : Number(text);
}

// ---------------------------------------------------------------------------------------------------------
// Small helpers.

const log = (line) => process.stderr.write(`${line}\n`);
const sum = (xs) => xs.reduce((a, b) => a + b, 0);
const round = (x, digits = 1) => (x == null || Number.isNaN(x) ? null : Math.round(x * 10 ** digits) / 10 ** digits);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function median(xs) {
  const s = xs.filter((x) => x != null && !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return null;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Nearest-rank percentile of a list (p in [0, 1]). */
function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return null;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
}

function distribution(xs) {
  return {
    n: xs.length,
    medianMs: round(median(xs)),
    p90Ms: round(percentile(xs, 0.9)),
    p99Ms: round(percentile(xs, 0.99)),
    maxMs: xs.length === 0 ? null : round(Math.max(...xs)),
    meanMs: xs.length === 0 ? null : round(sum(xs) / xs.length),
  };
}

/** The most intervals [start, end) overlapping at once. */
function peakOverlap(intervals) {
  const points = intervals.flatMap(([a, b]) => [
    [a, 1],
    [b, -1],
  ]);
  points.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let now = 0;
  let peak = 0;
  for (const [, d] of points) {
    now += d;
    peak = Math.max(peak, now);
  }
  return peak;
}

const fmtS = (ms) => (ms == null ? '–' : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`);
const fmtMs = (ms) => (ms == null ? '–' : `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`);
const fmtX = (x) => (x == null ? '–' : `${x.toFixed(2)}×`);
const pct = (x) => (x == null ? '–' : `${Math.round(x * 100)}%`);
const yes = (holds) => (holds == null ? '–' : holds ? 'yes' : '**no**');
const fmtScale = (s) => (s >= 1 ? '1' : `1/${round(1 / s, 2)}`);

function shownUrl(url) {
  const u = new URL(url);
  u.password = '';
  return u.toString();
}

function schemaUrl(schema) {
  const u = new URL(BASE_URL);
  u.searchParams.set('schema', schema);
  return u.toString();
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU ms of a process (and its reaped children) from /proc, or null. */
function procCpuMs(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) * 1000) / CLK_TCK;
  } catch {
    return null;
  }
}

/** The machine's CPU time so far (/proc/stat, all cores): busy and total, in ticks; null off Linux. */
function machineCpu() {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
    return { busy: user + nice + system + irq + softirq + steal, total: user + nice + system + idle + iowait + irq + softirq + steal };
  } catch {
    return null;
  }
}

/** CPU ms of every postgres process of the local server (others' use of the shared server included), or null. */
function postgresCpuMs() {
  let total = 0;
  let found = false;
  let entries;
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return null;
  }
  for (const pid of entries) {
    if (!/^\d+$/.test(pid)) continue;
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) !== 'postgres') continue;
    found = true;
    total += procCpuMs(pid) ?? 0;
  }
  return found ? total : null;
}

// ---------------------------------------------------------------------------------------------------------
// The project's code and PostgreSQL.

const [{ startFakeOpenAiServer }] = await importTestSupport(root, 'plan-workers-bench', ['tests/support/fake-openai-server.ts']);
const { offlineAnswer, OFFLINE_MARK } = await import(pathToFileURL(path.join(root, 'dist', 'llm', 'index.js')).href);
const { default: pg } = await import('pg');
if (OWN_DATABASE !== null) {
  const server = new pg.Client({ connectionString: GIVEN_URL });
  await server.connect();
  await server.query(`CREATE DATABASE ${OWN_DATABASE}`);
  await server.end();
}
const admin = new pg.Client({ connectionString: BASE_URL });
await admin.connect();

async function dropOwnDatabase() {
  if (OWN_DATABASE === null) return;
  const server = new pg.Client({ connectionString: GIVEN_URL });
  await server.connect();
  try {
    await server.query(`DROP DATABASE IF EXISTS ${OWN_DATABASE} WITH (FORCE)`);
  } finally {
    await server.end();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Real plans: their successful calls in recorded order.

const REAL_PLANS = fs
  .readdirSync(DATA_DIR)
  .filter((f) => f.endsWith('.jsonl'))
  .sort()
  .map((f) => {
    const lines = fs
      .readFileSync(path.join(DATA_DIR, f), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const calls = lines
      .map((l, k) => ({
        line: k + 1,
        seconds: l.duration_seconds,
        output: l.output_tokens,
        ok: l.success !== false && Number.isFinite(l.output_tokens),
      }))
      .filter((c) => c.ok);
    return { name: path.basename(f, '.jsonl'), calls, sumSeconds: round(sum(calls.map((c) => c.seconds)), 1) };
  });
if (REAL_PLANS.length === 0) fail(`no real plans in ${DATA_DIR}`);

// ---------------------------------------------------------------------------------------------------------
// The prompts (distinct, about as long as each other) and the replaying server.

const PROMPTS = [
  'Plan the construction of an underground silo complex that can shelter several thousand people for years.',
  'Plan a community-owned solar farm for a rural town of 5,000 people, from permits to the first year of operation.',
  'Plan the launch of a repair café network across twelve neighbourhoods of a mid-sized European city.',
  'Plan a three-year research programme on sleep disorders with a dedicated clinical unit and forty patients.',
  'Plan the development of an open-world video game set in a fictional coastal city, with a team of sixty.',
  'Plan the restoration of a 19th-century canal and its locks for leisure boating and a riverside cycle path.',
  'Plan a regional food bank that collects surplus from supermarkets and farms and feeds 20,000 households.',
  'Plan the opening of a small sourdough bakery with a café corner in the centre of Copenhagen.',
];
const promptOf = (k) => (k < PROMPTS.length ? PROMPTS[k] : `${PROMPTS[k % PROMPTS.length]} (Variant ${Math.floor(k / PROMPTS.length) + 1}.)`);
/** The fixed text the answers are made from: the same shapes for every run, whatever its prompt. */
const ANSWER_SEED = PROMPTS[0];
const CHARS_PER_TOKEN = 4;

/** The kind of call a request is: its JSON schema's name, or the start of its system prompt. */
function callKind(body) {
  const name = body.response_format?.json_schema?.name;
  if (typeof name === 'string') return name;
  const system = body.messages?.[0]?.content ?? '';
  return `text:${String(system).slice(0, 40)}`;
}

function sentTokens(body) {
  const messages = (body.messages ?? []).map((m) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content))).join('\n');
  const schema = body.response_format?.json_schema?.schema;
  return Math.ceil((messages.length + (schema === undefined ? 0 : JSON.stringify(schema).length)) / CHARS_PER_TOKEN);
}

const FILLER_WORDS = ANSWER_SEED.toLowerCase()
  .match(/[a-z]{3,}/g)
  .filter((w, k, all) => all.indexOf(w) === k);

function filler(chars, seed) {
  const words = [];
  let length = 0;
  for (let k = seed; length < chars; k++) {
    const word = FILLER_WORDS[(k * 7) % FILLER_WORDS.length];
    words.push(word);
    length += word.length + 1;
  }
  return words.join(' ');
}

/** The offline model's content for `key`, its free-text strings lengthened until the answer is `targetChars` long (as bench/llm-plan.js). */
function replayAnswer(body, key, targetChars) {
  const format = body.response_format;
  const json = format?.json_schema ? { name: format.json_schema.name, schema: format.json_schema.schema } : null;
  const text = offlineAnswer({ messages: [{ role: 'user', content: `${key}: ${ANSWER_SEED}` }], json });
  if (json === null) return text.length >= targetChars ? text : `${text} ${filler(targetChars - text.length - 1, 0)}`;
  const value = JSON.parse(text);
  const strings = [];
  const walk = (node) => {
    const entries = Array.isArray(node) ? node.entries() : node !== null && typeof node === 'object' ? Object.entries(node) : [];
    for (const [k, v] of entries) {
      if (typeof v !== 'string') walk(v);
      else if (v.startsWith(OFFLINE_MARK)) strings.push([node, k]);
    }
  };
  walk(value);
  const deficit = targetChars - JSON.stringify(value).length;
  if (deficit > 0 && strings.length > 0) {
    const each = Math.ceil(deficit / strings.length);
    strings.forEach(([node, k], n) => {
      node[k] = `${node[k]} ${filler(each, n)}`;
    });
  }
  return JSON.stringify(value);
}

/**
 * What the server does now: `assignment` maps a request's model (one per run) to its real calls per kind (null:
 * answer at once, for the calibration); every request is recorded in `calls`.
 */
let phase = { assignment: null, counters: new Map(), calls: [], unassigned: 0 };

const server = await startFakeOpenAiServer({
  handler: (request) => {
    const t0 = performance.now();
    const handlerAt = Date.now();
    const model = String(request.body.model ?? '');
    const kind = callKind(request.body);
    const counterKey = `${model}\u0000${kind}`;
    const i = phase.counters.get(counterKey) ?? 0;
    phase.counters.set(counterKey, i + 1);
    const list = phase.assignment?.get(model)?.get(kind);
    const real = list === undefined || list.length === 0 ? null : (list[i] ?? list[i % list.length]);
    if (phase.assignment && (list === undefined || i >= list.length)) phase.unassigned++;
    const text = replayAnswer(request.body, `${kind}#${i}`, real ? real.output * CHARS_PER_TOKEN : 0);
    const usage = { prompt_tokens: sentTokens(request.body), completion_tokens: real ? real.output : Math.ceil(text.length / CHARS_PER_TOKEN) };
    const answer = { kind: 'text', text, usage };
    // The server's own time (reading the body, making the answer) counts towards the call's latency.
    const computeMs = performance.now() - t0 + Math.max(0, handlerAt - request.receivedAt);
    const targetMs = real ? real.seconds * 1000 * SCALE : 0;
    phase.calls.push({ model, kind, i, arrivedAt: request.receivedAt, answeredAt: request.receivedAt + Math.max(targetMs, computeMs), targetMs });
    const delayMs = Math.max(0, targetMs - computeMs);
    return delayMs > 0 ? { kind: 'delay', ms: delayMs, next: answer } : answer;
  },
});

// ---------------------------------------------------------------------------------------------------------
// The statement trace loaded into each worker (--import): see the header.

const TRACE_SOURCE = `
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
const pg = createRequire(${JSON.stringify(path.join(root, 'package.json'))})('pg');
const out = process.env.PLAN_BENCH_WORKERS_TRACE;
const now = () => performance.timeOrigin + performance.now();
const records = [];
const perClient = new WeakMap();
const stateOf = (client) => {
  let s = perClient.get(client);
  if (!s) perClient.set(client, (s = { connectAt: null, connectedAt: null, beginAt: null, open: [] }));
  return s;
};
const kindOf = (text) =>
  text === 'BEGIN' ? 'begin'
  : text === 'COMMIT' ? 'commit'
  : text.includes('_private_jobs as jobs') && text.includes('skip locked') ? 'getJob'
  : text.includes('claim_token = claim_token + 1') ? 'claim'
  : text.includes('deps_left = deps_left - 1') ? 'ready'
  : text.includes('SET claim_expires_at = ') && text.includes('unnest($3::text[]') ? 'heartbeat'
  : /^delete from \\S+\\._private_jobs/.test(text) || text.includes('prepare gwcj') ? 'complete'
  : null;
const connect = pg.Pool.prototype.connect;
pg.Pool.prototype.connect = function (...args) {
  const at = now();
  if (typeof args[0] === 'function') {
    const cb = args[0];
    return connect.call(this, (err, client, release) => {
      if (client) Object.assign(stateOf(client), { connectAt: at, connectedAt: now() });
      return cb(err, client, release);
    });
  }
  return connect.apply(this, args).then((client) => {
    Object.assign(stateOf(client), { connectAt: at, connectedAt: now() });
    return client;
  });
};
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function (config, ...rest) {
  const text = typeof config === 'string' ? config : config?.text;
  const kind = typeof text === 'string' ? kindOf(text) : null;
  if (kind === null) return query.call(this, config, ...rest);
  const values = (typeof config === 'object' && config.values) || (Array.isArray(rest[0]) ? rest[0] : []);
  const s = stateOf(this);
  const t0 = now();
  const done = (result) => {
    const t1 = now();
    if (kind === 'begin') { s.beginAt = t0; s.open = []; return; }
    if (kind === 'commit') { for (const r of s.open) Object.assign(r, { commitStart: t0, commitAt: t1 }); s.open = []; return; }
    const r = { kind, t0, t1 };
    if (kind === 'getJob') r.jobs = (result?.rows ?? []).map((j) => ({ runId: j.payload?.runId, taskId: j.payload?.taskId }));
    if (kind === 'claim') { Object.assign(r, { runId: values[0], taskId: values[1], taken: (result?.rowCount ?? 0) > 0, connectAt: s.connectAt, connectedAt: s.connectedAt, beginAt: s.beginAt }); s.open.push(r); }
    if (kind === 'heartbeat') { Object.assign(r, { connectAt: s.connectAt, held: values[3]?.length ?? 0, kept: result?.rowCount ?? 0 }); s.open.push(r); }
    if (kind === 'ready') { r.runId = values[0]; r.ready = (result?.rows ?? []).filter((x) => x.state === 'ready' && Number(x.deps_left) === 0).map((x) => x.task_id); s.open.push(r); }
    records.push(r);
  };
  const last = rest.length - 1;
  if (last >= 0 && typeof rest[last] === 'function') {
    const cb = rest[last];
    rest[last] = function (err, result) { if (!err) done(result); return cb.call(this, err, result); };
    return query.call(this, config, ...rest);
  }
  if (typeof config === 'object' && typeof config.callback === 'function') {
    const cb = config.callback;
    config.callback = function (err, result) { if (!err) done(result); return cb.call(this, err, result); };
    return query.call(this, config, ...rest);
  }
  const result = query.call(this, config, ...rest);
  if (result && typeof result.then === 'function') result.then(done, () => undefined);
  return result;
};
process.on('exit', () => fs.writeFileSync(out, JSON.stringify({ pid: process.pid, records })));
`;

// ---------------------------------------------------------------------------------------------------------
// Child processes.

const childEnv = () => {
  const env = { ...process.env, NO_COLOR: '1' };
  delete env.OPENAI_COMPATIBLE_API_KEY;
  delete env.PLAN_DB;
  return env;
};

/** Runs `plan …` to its end: exit code, stdout, stderr, wall ms. */
function runPlan(args, cwd) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [PLAN_BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, wallMs: performance.now() - t0, endedAt: Date.now() }));
  });
}

/** A `plan worker` process, its stderr kept in a file and in memory. */
function startWorker(url, name, dir, tracePreload) {
  fs.mkdirSync(dir, { recursive: true });
  const traceFile = tracePreload ? path.join(dir, 'trace.json') : null;
  const args = [
    ...(tracePreload ? ['--import', pathToFileURL(tracePreload).href] : []),
    PLAN_BIN,
    'worker',
    '--db',
    url,
    '--name',
    name,
    '-j',
    String(JOBS),
    '--llm-concurrency',
    String(LLM_CONCURRENCY),
    '--scratch',
    path.join(dir, 'scratch'),
  ];
  const env = { ...childEnv(), ...(traceFile ? { PLAN_BENCH_WORKERS_TRACE: traceFile } : {}) };
  const child = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env });
  const logFile = fs.createWriteStream(path.join(dir, 'worker.log'));
  const w = { name, child, pid: child.pid, stderr: '', stdout: '', ready: null, exited: null, logFile, traceFile };
  w.exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  w.ready = new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      w.stderr += d;
      logFile.write(d);
      if (/takes tasks/.test(w.stderr)) resolve();
    });
    child.stdout.on('data', (d) => (w.stdout += d));
    w.exited.then(({ code, signal }) =>
      reject(new Error(`worker ${name} exited (${code ?? signal}) before taking tasks: ${w.stderr.trim().slice(-500)}`)),
    );
  });
  return w;
}

async function stopWorker(w) {
  w.cpuMs = procCpuMs(w.pid);
  if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
  const t0 = performance.now();
  const timer = setTimeout(() => {
    if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  }, 30_000);
  const { code, signal } = await w.exited;
  clearTimeout(timer);
  w.logFile.end();
  return { code, signal, stopMs: round(performance.now() - t0) };
}

// ---------------------------------------------------------------------------------------------------------
// Calibration: which calls a plan makes, in which order of kinds.

async function calibrate(work) {
  phase = { assignment: null, counters: new Map(), calls: [], unassigned: 0 };
  const dir = path.join(work, 'calibration');
  fs.mkdirSync(dir, { recursive: true });
  const result = await runPlan(
    [
      'build',
      path.join(dir, 'run'),
      '--db',
      path.join(dir, 'plan.db'),
      '--prompt',
      promptOf(0),
      '--speed',
      SPEED,
      '--conversations',
      CONVERSATIONS,
      `--param=startTime=${START_TIME}`,
      '--model',
      `openai-compatible:calibration@${server.url}`,
      '-j',
      '8',
      '--llm-concurrency',
      '8',
      '--json',
    ],
    dir,
  );
  if (result.code !== 0) throw new Error(`the calibration build exited ${result.code}: ${result.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  const order = [];
  const counts = new Map();
  for (const c of [...phase.calls].sort((a, b) => a.arrivedAt - b.arrivedAt)) {
    if (!counts.has(c.kind)) order.push(c.kind);
    counts.set(c.kind, (counts.get(c.kind) ?? 0) + 1);
  }
  return { order, counts, calls: phase.calls.length, wallMs: round(result.wallMs) };
}

/** Per kind, the real calls of `real` our calls replay (slot g ← real call floor(g·R/N)). */
function assign(real, calibration) {
  const slots = calibration.order.flatMap((kind) => Array.from({ length: calibration.counts.get(kind) }, () => kind));
  const N = slots.length;
  const R = real.calls.length;
  const byKind = new Map();
  slots.forEach((kind, g) => {
    if (!byKind.has(kind)) byKind.set(kind, []);
    byKind.get(kind).push(real.calls[Math.floor((g * R) / N)]);
  });
  const seconds = sum([...byKind.values()].flat().map((c) => c.seconds));
  return { byKind, seconds };
}

// ---------------------------------------------------------------------------------------------------------
// One configuration: W workers, PLANS plans submitted at once.

async function measure(W, rep, work, calibration, tracePreload) {
  const schema = `plan_bench_workers_${randomBytes(5).toString('hex')}`;
  const url = schemaUrl(schema);
  const dir = path.join(work, `w${W}-rep${rep}`);
  fs.mkdirSync(dir, { recursive: true });
  const problems = [];
  const models = Array.from({ length: PLANS }, (_, k) => `replay-${k}`);
  const assignment = new Map(models.map((m, k) => [m, assign(REAL_PLANS[k % REAL_PLANS.length], calibration).byKind]));
  let workers = [];
  try {
    // Workers first, each waited for: they make the schemas (store and queue) and their start-up is not measured.
    workers = Array.from({ length: W }, (_, i) => startWorker(url, `w${i + 1}`, path.join(dir, `w${i + 1}`), tracePreload));
    await Promise.all(workers.map((w) => w.ready));
    phase = { assignment, counters: new Map(), calls: [], unassigned: 0 };
    const benchCpu0 = process.cpuUsage();
    const pgCpu0 = postgresCpuMs();
    const machine0 = machineCpu();
    const workerCpu0 = workers.map((w) => procCpuMs(w.pid));
    const t0 = Date.now();
    const submits = await Promise.all(
      models.map((model, k) =>
        runPlan(
          [
            'submit',
            '--db',
            url,
            '--prompt',
            promptOf(k),
            '--speed',
            SPEED,
            '--conversations',
            CONVERSATIONS,
            '--param',
            `startTime=${START_TIME}`,
            '--model',
            `openai-compatible:${model}@${server.url}`,
            // A run's --llm-concurrency is held across all workers together (the server's own limit); each
            // worker's --llm-concurrency is one API key's: the server takes as many as the most workers have.
            '--llm-concurrency',
            String(LLM_CONCURRENCY * Math.max(...WORKER_COUNTS)),
            '--json',
          ],
          dir,
        ),
      ),
    );
    const runIdOfPlan = submits.map((s, k) => {
      if (s.code !== 0) {
        problems.push(`submit of plan ${k} exited ${s.code}: ${s.stderr.trim().split('\n').slice(-2).join(' | ')}`);
        return null;
      }
      return JSON.parse(s.stdout.trim().split('\n').at(-1)).runId;
    });
    const runIds = runIdOfPlan.filter((id) => id !== null);
    const submittedMs = Math.max(...submits.map((s) => s.endedAt)) - t0;
    // Poll until every run has ended.
    let statuses = [];
    let endedAt = null;
    for (;;) {
      statuses = (await admin.query(`SELECT id, status, status_reason FROM ${schema}.runs WHERE id = ANY($1)`, [runIds])).rows;
      if (statuses.length === runIds.length && statuses.every((r) => ['complete', 'failed', 'cancelled'].includes(r.status))) {
        endedAt = Date.now();
        break;
      }
      if (Date.now() - t0 > TIMEOUT_MS) {
        problems.push(`timed out after ${TIMEOUT_MS / 1000} s: ${statuses.map((r) => `${r.id} ${r.status}`).join(', ')}`);
        break;
      }
      if (workers.some((w) => w.child.exitCode !== null)) {
        problems.push(
          `a worker exited during the run: ${workers
            .filter((w) => w.child.exitCode !== null)
            .map(
              (w) =>
                `${w.name} exit ${w.child.exitCode}${/breaking migration/.test(w.stderr) ? ' (graphile-worker saw a "breaking migration" NOTIFY)' : ''}`,
            )
            .join(', ')}`,
        );
        break;
      }
      await sleep(POLL_MS);
    }
    const cpu = {
      workersMs: round(sum(workers.map((w, i) => (procCpuMs(w.pid) ?? 0) - (workerCpu0[i] ?? 0)))),
      benchMs: round(
        (() => {
          const u = process.cpuUsage(benchCpu0);
          return (u.user + u.system) / 1000;
        })(),
      ),
      postgresMs: pgCpu0 === null ? null : round(postgresCpuMs() - pgCpu0),
      machineBusyShare: (() => {
        const m1 = machineCpu();
        return machine0 && m1 ? round((m1.busy - machine0.busy) / (m1.total - machine0.total), 3) : null;
      })(),
    };
    for (const r of statuses)
      if (r.status !== 'complete') problems.push(`run ${r.id} ended ${r.status}${r.status_reason ? ` (${r.status_reason})` : ''}`);
    if (phase.unassigned > 0) problems.push(`${phase.unassigned} calls beyond the calibrated count of their kind (latency reused)`);

    // The facts, before the workers stop (a SIGTERM gives back nothing here: every run has ended).
    const tasks = (
      await admin.query(
        `SELECT t.run_id, t.task_id, t.state, t.outcome, t.worker_id, w.name AS worker, t.requires_json, t.ready_at, t.started_at, t.finished_at, t.claim_token
           FROM ${schema}.worker_tasks t LEFT JOIN ${schema}.workers w ON w.id = t.worker_id WHERE t.run_id = ANY($1)`,
        [runIds],
      )
    ).rows.map((r) => ({
      ...r,
      ready_at: r.ready_at === null ? null : Number(r.ready_at),
      started_at: r.started_at === null ? null : Number(r.started_at),
      finished_at: r.finished_at === null ? null : Number(r.finished_at),
      requires: JSON.parse(r.requires_json),
      claim_token: Number(r.claim_token),
    }));
    const interactions = (
      await admin.query(
        `SELECT i.run_id, i.task_id, i.status, i.started_at, i.finished_at, t.worker_id
           FROM ${schema}.llm_interactions i LEFT JOIN ${schema}.worker_tasks t ON t.run_id = i.run_id AND t.task_id = i.task_id WHERE i.run_id = ANY($1)`,
        [runIds],
      )
    ).rows.map((r) => ({ ...r, started_at: Number(r.started_at), finished_at: r.finished_at === null ? null : Number(r.finished_at) }));
    const runsEnded = (
      await admin.query(`SELECT run_id, handed_at, finished_at FROM ${schema}.worker_runs WHERE run_id = ANY($1)`, [runIds])
    ).rows.map((r) => ({ runId: r.run_id, handedAt: Number(r.handed_at), finishedAt: r.finished_at === null ? null : Number(r.finished_at) }));
    const workerRows = (await admin.query(`SELECT id, name FROM ${schema}.workers`)).rows;
    const attempts = (
      await admin.query(
        `SELECT status, COUNT(*)::int AS n, (array_agg(task_id || COALESCE(': ' || error, '') ORDER BY id))[1:5] AS examples
           FROM ${schema}.task_attempts WHERE run_id = ANY($1) GROUP BY status`,
        [runIds],
      )
    ).rows;
    const serverCalls = phase.calls;

    const stops = [];
    for (const w of workers) stops.push(await stopWorker(w));
    workers.forEach((w, i) => {
      if (stops[i].code !== 0) problems.push(`worker ${w.name} exited ${stops[i].code ?? stops[i].signal} on SIGTERM`);
    });
    const traces = workers.map((w) => {
      if (!w.traceFile) return null;
      try {
        return { name: w.name, ...JSON.parse(fs.readFileSync(w.traceFile, 'utf8')) };
      } catch (error) {
        problems.push(`no trace from worker ${w.name}: ${error.message}`);
        return null;
      }
    });

    return analyse({
      W,
      rep,
      schema,
      t0,
      endedAt,
      submittedMs,
      submits,
      runIds,
      runIdOfPlan,
      statuses,
      tasks,
      interactions,
      runsEnded,
      workerRows,
      attempts,
      traces: traces.filter((t) => t !== null),
      serverCalls,
      workers,
      stops,
      cpu,
      problems,
      models,
    });
  } finally {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch((e) => log(`could not drop ${schema}: ${e.message}`));
    await admin.query(`DROP SCHEMA IF EXISTS ${schema}_jobs CASCADE`).catch((e) => log(`could not drop ${schema}_jobs: ${e.message}`));
  }
}

/** Worker stderr lines worth a look: anything but the usual started / ran / finished lines. */
function oddLines(stderr) {
  return stderr
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.replace(/^\S+Z /, ''))
    .filter(
      (l) =>
        !/: (started|ran|fresh|pinned)$/.test(l) &&
        !/^run \S+ finished: complete$/.test(l) &&
        !/ takes tasks, /.test(l) &&
        !/ stopped: \d+ ran/.test(l),
    );
}

const COMPONENTS = [
  ['finishRest', 'rest of the finish transaction (ready UPDATE → COMMIT sent: add_job, run end check)'],
  ['commit', 'COMMIT'],
  ['wake', 'wake-up (COMMIT → the get_job that returns it starts)'],
  ['getJob', 'get_job'],
  ['toConnect', 'job handler → pool connect'],
  ['connectWait', 'waiting for a pool connection'],
  ['claimTxn', 'claim transaction (BEGIN → claiming UPDATE answered)'],
];

/** Where each dependent's ready → start went, from the workers' statement traces (see the header). */
function traceBreakdown(traces, lat) {
  if (traces.length === 0) return null;
  const readyOf = new Map();
  const getJobOf = new Map();
  const claimOf = new Map();
  let getJobs = 0;
  let emptyGetJobs = 0;
  // Tasks claimed more than once: was the first claim committed while a heartbeat of the same worker was in
  // flight (its list of claims taken before the claim, its answer after)? Such a claim is not in the answer.
  const claimsByKey = new Map();
  let heartbeats = 0;
  for (const tr of traces) {
    const beats = tr.records.filter((r) => r.kind === 'heartbeat' && r.connectAt != null && r.commitAt != null);
    heartbeats += beats.length;
    for (const r of tr.records) {
      if (r.kind !== 'claim' || !r.taken) continue;
      const key = `${r.runId}/${r.taskId}`;
      const during = r.commitAt != null && beats.some((b) => b.connectAt < r.commitAt && r.commitAt < b.commitAt);
      if (!claimsByKey.has(key)) claimsByKey.set(key, []);
      claimsByKey.get(key).push({ worker: tr.name, t0: r.t0, during });
    }
  }
  const reclaimed = [...claimsByKey.values()].filter((cs) => cs.length > 1).map((cs) => cs.sort((a, b) => a.t0 - b.t0));
  const claims = [...claimsByKey.values()].flat();
  const released = {
    tasks: reclaimed.length,
    firstClaimDuringHeartbeat: reclaimed.filter((cs) => cs[0].during).length,
    claimsDuringHeartbeat: claims.filter((c) => c.during).length,
    claims: claims.length,
    heartbeats,
  };
  for (const tr of traces) {
    for (const r of tr.records) {
      if (r.kind === 'ready') for (const id of r.ready) readyOf.set(`${r.runId}/${id}`, { ...r, worker: tr.name });
      else if (r.kind === 'getJob') {
        getJobs++;
        if (r.jobs.length === 0) emptyGetJobs++;
        for (const j of r.jobs) {
          const key = `${j.runId}/${j.taskId}`;
          if (!getJobOf.has(key) || getJobOf.get(key).t0 > r.t0) getJobOf.set(key, { ...r, worker: tr.name });
        }
      } else if (r.kind === 'claim' && r.taken) {
        const key = `${r.runId}/${r.taskId}`;
        if (!claimOf.has(key) || claimOf.get(key).t0 > r.t0) claimOf.set(key, { ...r, worker: tr.name });
      }
    }
  }
  const rows = [];
  for (const x of lat) {
    const ready = readyOf.get(x.key);
    const job = getJobOf.get(x.key);
    const claim = claimOf.get(x.key);
    if (!ready || !job || !claim || ready.commitAt == null || claim.connectAt == null || claim.beginAt == null) continue;
    // A task given back and queued again: its ready_at is the second queueing, not this ready UPDATE.
    if ((claimsByKey.get(x.key)?.length ?? 0) > 1) continue;
    const row = {
      free: x.free,
      sameWorker: ready.worker === claim.worker,
      measuredMs: x.ms,
      finishRest: ready.commitStart - ready.t0,
      commit: ready.commitAt - ready.commitStart,
      wake: job.t0 - ready.commitAt,
      getJob: job.t1 - job.t0,
      toConnect: claim.connectAt - job.t1,
      connectWait: claim.connectedAt - claim.connectAt,
      claimTxn: claim.t1 - claim.beginAt,
    };
    row.sumMs = sum(COMPONENTS.map(([k]) => row[k])) + (claim.beginAt - claim.connectedAt);
    rows.push(row);
  }
  const of = (subset) => ({
    n: subset.length,
    measured: distribution(subset.map((r) => r.measuredMs)),
    sum: distribution(subset.map((r) => r.sumMs)),
    ...Object.fromEntries(COMPONENTS.map(([k]) => [k, distribution(subset.map((r) => r[k]))])),
  });
  return {
    traced: rows.length,
    released,
    getJobs,
    emptyGetJobs,
    slotFree: of(rows.filter((r) => r.free)),
    slotFreeSameWorker: of(rows.filter((r) => r.free && r.sameWorker)),
    slotFreeOtherWorker: of(rows.filter((r) => r.free && !r.sameWorker)),
    noSlotFree: of(rows.filter((r) => !r.free)),
  };
}

function analyse(m) {
  const { W, tasks, interactions, serverCalls, problems } = m;
  const capacity = W * JOBS;
  const makespanMs = m.endedAt === null ? null : m.endedAt - m.t0;
  const lastFinish = Math.max(...m.runsEnded.map((r) => r.finishedAt ?? Number.NaN));
  const makespanDbMs = Number.isFinite(lastFinish) ? lastFinish - m.t0 : null;

  // Ready → start, and whether a slot was free when the task became ready.
  const started = tasks.filter((t) => t.ready_at !== null && t.started_at !== null);
  const byKey = new Map(tasks.map((t) => [`${t.run_id}/${t.task_id}`, t]));
  const endOf = (t) => t.finished_at ?? Number.POSITIVE_INFINITY;
  const lat = started.map((t) => {
    // Running, or ready before it (or with it) and not started yet: what the slots owe before this task, whatever the priorities.
    const busy = started.filter(
      (u) => u !== t && ((u.started_at <= t.ready_at && endOf(u) > t.ready_at) || (u.ready_at <= t.ready_at && u.started_at > t.ready_at)),
    ).length;
    // The dependency whose end made it ready (the last to finish), and whether the same worker then took it.
    let last = null;
    for (const dep of t.requires) {
      const d = byKey.get(`${t.run_id}/${dep}`);
      if (d && (last === null || d.finished_at > last.finished_at)) last = d;
    }
    return {
      key: `${t.run_id}/${t.task_id}`,
      ms: t.started_at - t.ready_at,
      free: busy < capacity,
      initial: t.requires.length === 0,
      sameWorker: last !== null && last.worker_id === t.worker_id,
    };
  });
  const ms = (xs) => xs.map((x) => x.ms);
  const readyToStart = {
    all: distribution(ms(lat)),
    slotFree: distribution(ms(lat.filter((x) => x.free))),
    noSlotFree: distribution(ms(lat.filter((x) => !x.free))),
    freeSameWorker: distribution(ms(lat.filter((x) => x.free && !x.initial && x.sameWorker))),
    freeOtherWorker: distribution(ms(lat.filter((x) => x.free && !x.initial && !x.sameWorker))),
    freeFirstTasks: distribution(ms(lat.filter((x) => x.free && x.initial))),
    over250: lat.filter((x) => x.ms > 250).length,
    over250SlotFree: lat.filter((x) => x.ms > 250 && x.free).length,
  };

  const dispatch = traceBreakdown(m.traces, lat);

  // Use of the task slots and of the model.
  const taskMs = sum(started.filter((t) => t.finished_at !== null).map((t) => t.finished_at - t.started_at));
  // Each task's time outside its model calls (started → finished minus the union of its calls' intervals).
  const callsOf = new Map();
  for (const i of interactions) {
    if (i.finished_at === null) continue;
    const key = `${i.run_id}/${i.task_id}`;
    if (!callsOf.has(key)) callsOf.set(key, []);
    callsOf.get(key).push([i.started_at, i.finished_at]);
  }
  const unionMs = (intervals) => {
    let total = 0;
    let end = Number.NEGATIVE_INFINITY;
    for (const [a, b] of [...intervals].sort((x, y) => x[0] - y[0])) {
      if (b <= end) continue;
      total += b - Math.max(a, end);
      end = b;
    }
    return total;
  };
  const ownMs = started
    .filter((t) => t.finished_at !== null)
    .map((t) => t.finished_at - t.started_at - unionMs(callsOf.get(`${t.run_id}/${t.task_id}`) ?? []));
  const modelMs = sum([...callsOf.values()].map(unionMs));
  const utilization = makespanMs ? taskMs / (makespanMs * capacity) : null;
  const names = new Map(m.workerRows.map((r) => [r.id, r.name]));
  const perWorker = m.workerRows
    .map((r) => {
      const mine = interactions.filter((i) => i.worker_id === r.id && i.finished_at !== null);
      return {
        name: r.name,
        tasks: tasks.filter((t) => t.worker_id === r.id).length,
        modelCalls: mine.length,
        peakCallsInFlight: peakOverlap(mine.map((i) => [i.started_at, i.finished_at])),
        peakTasksRunning: peakOverlap(
          started.filter((t) => t.worker_id === r.id && t.finished_at !== null).map((t) => [t.started_at, t.finished_at]),
        ),
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  const serverPeak = peakOverlap(serverCalls.map((c) => [c.arrivedAt, c.answeredAt]));
  const serverLatencyMs = sum(serverCalls.map((c) => c.answeredAt - c.arrivedAt));
  const perRunServer = m.models.map((model) => serverCalls.filter((c) => c.model === model).length);
  // Completed calls recorded by the engine against requests at the server, per plan.
  const perRunDb = m.runIdOfPlan.map((id) => (id === null ? null : interactions.filter((i) => i.run_id === id && i.status === 'completed').length));
  perRunServer.forEach((n, k) => {
    if (perRunDb[k] !== null && n !== perRunDb[k])
      problems.push(`plan ${k}: ${n} requests at the server, ${perRunDb[k]} completed calls recorded by the engine`);
  });
  const notes = [];
  const notCompleted = interactions.filter((i) => i.status !== 'completed');
  // Cancelled: calls of an attempt a worker gave back (the task ran again); anything else is a problem.
  for (const status of new Set(notCompleted.map((i) => i.status))) {
    const n = notCompleted.filter((i) => i.status === status).length;
    (status === 'cancelled' ? notes : problems).push(`${n} model calls recorded ${status}`);
  }
  const outcomes = {};
  for (const t of tasks)
    outcomes[`${t.state}${t.outcome ? `/${t.outcome}` : ''}`] = (outcomes[`${t.state}${t.outcome ? `/${t.outcome}` : ''}`] ?? 0) + 1;
  for (const a of m.attempts) {
    // A cancelled attempt is one a worker gave back (the task ran again); failed or abandoned ones are problems.
    if (a.status !== 'complete')
      (a.status === 'cancelled' ? notes : problems).push(`${a.n} task attempts ended ${a.status} (e.g. ${a.examples.join('; ')})`);
  }
  const reclaimed = tasks.filter((t) => t.claim_token > 1).length;
  if (reclaimed > 0) notes.push(`${reclaimed} tasks were claimed more than once (given back, "released", and queued again)`);

  // Lower bounds from the measured task durations: each run's chain, and all the work over the slots.
  const chainMs = (runId) => {
    const mine = tasks.filter((t) => t.run_id === runId);
    const dur = new Map(mine.map((t) => [t.task_id, t.finished_at !== null && t.started_at !== null ? t.finished_at - t.started_at : 0]));
    const memo = new Map();
    const finish = (id) => {
      if (memo.has(id)) return memo.get(id);
      const t = mine.find((x) => x.task_id === id);
      const v = (dur.get(id) ?? 0) + Math.max(0, ...(t?.requires ?? []).map(finish));
      memo.set(id, v);
      return v;
    };
    return Math.max(...mine.map((t) => finish(t.task_id)));
  };
  const criticalPathMs = Math.max(...m.runIds.map(chainMs));
  const workBoundMs = taskMs / capacity;
  const perRun = m.runIds.map((id) => {
    const r = m.runsEnded.find((x) => x.runId === id);
    return { runId: id, handedMs: r ? r.handedAt - m.t0 : null, finishedMs: r?.finishedAt ? r.finishedAt - m.t0 : null, chainMs: chainMs(id) };
  });

  const odd = m.workers.flatMap((w) => oddLines(w.stderr).map((l) => `${w.name}: ${l}`));
  const workerCpu = round(m.cpu.workersMs);
  return {
    workers: W,
    rep: m.rep,
    schema: m.schema,
    capacity,
    makespanMs,
    makespanDbMs,
    throughputPerMin: makespanMs ? round((m.runIds.length / makespanMs) * 60_000, 2) : null,
    submitMs: round(m.submittedMs),
    submitWallMs: m.submits.map((s) => round(s.wallMs)),
    runs: m.statuses.map((r) => ({ id: r.id, status: r.status })),
    perRun,
    tasks: tasks.length,
    outcomes,
    readyToStart,
    dispatch,
    attempts: m.attempts,
    utilization: round(utilization, 3),
    taskMsTotal: taskMs,
    taskModelMsTotal: modelMs,
    taskOwnMs: { ...distribution(ownMs), totalMs: round(sum(ownMs)) },
    criticalPathMs,
    workBoundMs: round(workBoundMs),
    lowerBoundMs: round(Math.max(criticalPathMs, workBoundMs)),
    serverCalls: serverCalls.length,
    serverCallsPerRun: perRunServer,
    serverLatencySumMs: round(serverLatencyMs),
    serverPeakInFlight: serverPeak,
    perWorker,
    cpu: {
      ...m.cpu,
      workersMs: workerCpu,
      ofTwoCoresShare: makespanMs ? round((workerCpu + m.cpu.benchMs + (m.cpu.postgresMs ?? 0)) / (makespanMs * os.cpus().length), 3) : null,
    },
    stops: m.stops,
    workerStderrLines: m.workers.map((w) => w.stderr.split('\n').filter((l) => l.trim() !== '').length),
    oddWorkerLines: odd.slice(0, 30),
    oddWorkerLineCount: odd.length,
    problems,
    notes,
    names: Object.fromEntries(names),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Summary over repetitions, and the report.

function summarize(configs) {
  const byW = new Map(WORKER_COUNTS.map((W) => [W, configs.filter((c) => c.workers === W)]));
  const base = WORKER_COUNTS[0];
  const rows = WORKER_COUNTS.map((W) => {
    const cs = byW.get(W);
    const speedUps = cs.map((c) => {
      const b = configs.find((x) => x.workers === base && x.rep === c.rep);
      return b?.makespanMs && c.makespanMs ? b.makespanMs / c.makespanMs : null;
    });
    const med = (f) => median(cs.map(f));
    return {
      workers: W,
      reps: cs.length,
      makespanMs: med((c) => c.makespanMs),
      throughputPerMin: round(
        med((c) => c.throughputPerMin),
        2,
      ),
      speedUp: round(median(speedUps), 3),
      speedUps: speedUps.map((x) => round(x, 3)),
      readyToStart: {
        medianMs: round(med((c) => c.readyToStart.all.medianMs)),
        p90Ms: round(med((c) => c.readyToStart.all.p90Ms)),
        p99Ms: round(med((c) => c.readyToStart.all.p99Ms)),
        maxMs: round(med((c) => c.readyToStart.all.maxMs)),
      },
      slotFree: {
        n: med((c) => c.readyToStart.slotFree.n),
        medianMs: round(med((c) => c.readyToStart.slotFree.medianMs)),
        p90Ms: round(med((c) => c.readyToStart.slotFree.p90Ms)),
        p99Ms: round(med((c) => c.readyToStart.slotFree.p99Ms)),
        maxMs: round(med((c) => c.readyToStart.slotFree.maxMs)),
      },
      serverCalls: med((c) => c.serverCalls),
      utilization: round(
        med((c) => c.utilization),
        3,
      ),
      lowerBoundMs: med((c) => c.lowerBoundMs),
      criticalPathMs: med((c) => c.criticalPathMs),
      workBoundMs: med((c) => c.workBoundMs),
      serverPeakInFlight: med((c) => c.serverPeakInFlight),
      peakCallsPerWorker: Math.max(...cs.flatMap((c) => c.perWorker.map((w) => w.peakCallsInFlight))),
      cpuShare: round(
        med((c) => c.cpu.ofTwoCoresShare),
        3,
      ),
      machineBusy: round(
        med((c) => c.cpu.machineBusyShare),
        3,
      ),
      taskOwnMedianMs: round(med((c) => c.taskOwnMs.medianMs)),
      taskMsTotal: med((c) => c.taskMsTotal),
      medianMet: med((c) => c.readyToStart.all.medianMs) <= TARGET.medianMs,
      p99Met: med((c) => c.readyToStart.all.p99Ms) <= TARGET.p99Ms,
      allComplete: cs.every((c) => c.runs.length === PLANS && c.runs.every((r) => r.status === 'complete')),
    };
  });
  const at = rows.find((r) => r.workers === TARGET.atWorkers);
  return {
    rows,
    speedUpTarget:
      at && base === 1
        ? { workers: TARGET.atWorkers, speedUp: at.speedUp, target: TARGET.speedUp, met: at.speedUp != null && at.speedUp >= TARGET.speedUp }
        : null,
  };
}

function machineInfo() {
  const cpuinfo = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  const git = (...args) => spawnSync('git', ['-C', root, ...args], { encoding: 'utf8' }).stdout.trim();
  return {
    date: new Date().toISOString(),
    cpuModel: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memTotalMb: Math.round(os.totalmem() / 2 ** 20),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    commit: git('rev-parse', '--short', 'HEAD'),
    dirtySrc: git('status', '--porcelain', '--', 'src').length > 0,
    loadAverageAtStart: os.loadavg().map((l) => round(l, 2)),
  };
}

function markdown(results) {
  const { machine: mc, config, calibration, summary, configs } = results;
  const out = [];
  out.push(`# Workers: ${config.plans} plans submitted at once, 1–${Math.max(...config.workerCounts)} workers, ${mc.date.slice(0, 10)}`, '');
  out.push(
    `Machine: ${mc.cpuModel}, ${mc.cores} cores, ${Math.round(mc.memTotalMb / 1024)} GiB RAM, ${mc.kernel}; load average ${mc.loadAverageAtStart.join(' / ')} at the start, ` +
      `${mc.loadAverageAtEnd.join(' / ')} at the end (a shared machine). Node ${mc.node}, ${mc.postgres} on the same machine (${config.url}${config.ownDatabase ? ": a database of the bench's own, made and dropped by it" : ''}). ` +
      `plan at ${mc.commit}${mc.dirtySrc ? ' with uncommitted changes in src/' : ''}.`,
    '',
  );
  out.push(
    `Command: \`${config.command}\`. Each configuration: a fresh schema; W \`plan worker -j ${config.jobs} --llm-concurrency ${config.llmConcurrency}\` processes ` +
      `(each its own scratch dir), started and waited for; then ${config.plans} \`plan submit --speed ${config.speed} --conversations ${config.conversations} ` +
      `--param startTime=${START_TIME} --model openai-compatible:replay-<k>@<fake server>\` at once (distinct prompts, one process each). ` +
      `Makespan: first submit's spawn → every run \`complete\` in the runs table (polled every ${POLL_MS} ms). ` +
      `Latencies replayed at scale ${fmtScale(config.scale)} from ${REAL_PLANS.map((p) => `${p.name} (${p.calls.length} calls, ${p.sumSeconds} s)`).join(', ')}: ` +
      `plan k replays the k mod ${REAL_PLANS.length}-th. Our plan makes ${calibration.calls} calls (calibration build), so a plan replays ` +
      `${calibration.replayedSeconds.map((s) => `${round(s, 0)}`).join(' / ')} s of real latency (× ${fmtScale(config.scale)} = ` +
      `${calibration.replayedSeconds.map((s) => `${round(s * config.scale, 1)}`).join(' / ')} s). ` +
      `${config.reps > 1 ? `Medians of ${config.reps} repetitions (configurations alternating); speed-ups are medians of per-repetition ratios.` : 'One repetition.'}`,
    '',
  );
  out.push('## Targets', '', '| target | measured | met |', '|---|---|---|');
  const st = summary.speedUpTarget;
  if (st) out.push(`| throughput at ${st.workers} workers ≥ ${st.target}× that at 1 | ${fmtX(st.speedUp)} | ${yes(st.met)} |`);
  for (const r of summary.rows) {
    out.push(
      `| ready → start at ${r.workers} worker${r.workers > 1 ? 's' : ''}: median ≤ ${TARGET.medianMs} ms, p99 ≤ ${TARGET.p99Ms} ms | ${fmtMs(r.readyToStart.medianMs)}, ${fmtMs(r.readyToStart.p99Ms)} | ${yes(r.medianMet)}, ${yes(r.p99Met)} |`,
    );
  }
  out.push('');
  out.push(
    '| workers | task slots | makespan | plans/min | speed-up vs 1 | ready → start median | p90 | p99 | max | … when a slot was free: n, median, p99, max | model calls at the server | slot use | lower bound (chain · work) | Σ task time; a task outside its model calls, median | peak calls in flight: server, one worker | CPU of 2 cores: ours · whole machine |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|---|---|---|',
  );
  for (const r of summary.rows) {
    out.push(
      `| ${r.workers} | ${r.workers * config.jobs} | ${fmtS(r.makespanMs)} | ${r.throughputPerMin ?? '–'} | **${fmtX(r.speedUp)}** | ${fmtMs(r.readyToStart.medianMs)} | ${fmtMs(r.readyToStart.p90Ms)} | ` +
        `${fmtMs(r.readyToStart.p99Ms)} | ${fmtMs(r.readyToStart.maxMs)} | ${r.slotFree.n}, ${fmtMs(r.slotFree.medianMs)}, ${fmtMs(r.slotFree.p99Ms)}, ${fmtMs(r.slotFree.maxMs)} | ${r.serverCalls} | ` +
        `${r.utilization == null ? '–' : `${Math.round(r.utilization * 100)}%`} | ${fmtS(r.lowerBoundMs)} (${fmtS(r.criticalPathMs)} · ${fmtS(r.workBoundMs)}) | ${fmtS(r.taskMsTotal)}; ${fmtMs(r.taskOwnMedianMs)} | ` +
        `${r.serverPeakInFlight}, ${r.peakCallsPerWorker} | ${pct(r.cpuShare)} · ${pct(r.machineBusy)} |`,
    );
  }
  out.push('');
  out.push(
    '"Ready → start" is started_at − ready_at (worker_tasks, the database clock) over every task of every run: ready_at is set when the task becomes ready, ' +
      "inside the transaction that queues its job (handover, or the end of its last dependency); started_at inside the worker's claim. " +
      `"When a slot was free": the tasks that became ready while the tasks running anywhere (between started_at and finished_at) plus those ready before them and not yet started ` +
      `were fewer than W × ${config.jobs} — the others had to wait for a slot whatever the dispatch. ` +
      '"Slot use": Σ task durations ÷ (makespan × slots). "Lower bound": the longest chain of measured task durations ' +
      'in any run, or all task time ÷ slots, whichever is larger. "Peak calls in flight, one worker": from llm_interactions (after the limiter), the most at once on any one worker. ' +
      '"Σ task time": started_at → finished_at of every task; "outside its model calls": that minus the union of its calls (llm_interactions) — reading inputs from the database into scratch, ' +
      'deciding, running, persisting, finishing. "CPU of 2 cores": ours = the workers, this process (the fake server) and every postgres process (others\' backends too), ' +
      'over makespan × cores; whole machine = busy share of /proc/stat over the same time (other users of the shared machine included).',
    '',
  );
  out.push('## Ready → start, split', '');
  out.push(
    '| workers | rep | all: n, median, p99 | no slot free: n, median, p99 | slot free, first tasks (at submit): n, median, p99 | slot free, taken by the worker that finished its last dependency | slot free, taken by another worker | > 250 ms (of them with a slot free) |',
    '|---:|---:|---|---|---|---|---|---|',
  );
  const d = (x) => `${x.n}, ${fmtMs(x.medianMs)}, ${fmtMs(x.p99Ms)}`;
  for (const c of configs) {
    const r = c.readyToStart;
    out.push(
      `| ${c.workers} | ${c.rep} | ${d(r.all)} | ${d(r.noSlotFree)} | ${d(r.freeFirstTasks)} | ${d(r.freeSameWorker)} | ${d(r.freeOtherWorker)} | ${r.over250} (${r.over250SlotFree}) |`,
    );
  }
  out.push('');
  if (configs.some((c) => c.dispatch)) {
    out.push('## Where a dependent waits (statement traces in the workers)', '');
    out.push(
      'Tasks made ready by the end of a dependency, whose ready UPDATE, get_job and claim were all traced; medians (p90) in ms of each step, wall clock of the processes. ' +
        '"Sum" adds the steps (and BEGIN after the connection); "measured" is started_at − ready_at from the database.',
      '',
    );
    out.push(
      `| workers | rep | tasks | measured | sum | ${COMPONENTS.map(([, label]) => label).join(' | ')} | get_job calls (empty) |`,
      `|---:|---:|---|---:|---:|${COMPONENTS.map(() => '---:').join('|')}|---|`,
    );
    const cell = (x) => (x.n === 0 ? '–' : `${fmtMs(x.medianMs)} (${fmtMs(x.p90Ms)})`);
    for (const c of configs.filter((x) => x.dispatch)) {
      for (const [label, part] of [
        ['slot free', c.dispatch.slotFree],
        ['slot free, same worker', c.dispatch.slotFreeSameWorker],
        ['slot free, another worker', c.dispatch.slotFreeOtherWorker],
        ['no slot free', c.dispatch.noSlotFree],
      ]) {
        if (part.n === 0) continue;
        out.push(
          `| ${c.workers} | ${c.rep} | ${label}: ${part.n} | ${cell(part.measured)} | ${cell(part.sum)} | ${COMPONENTS.map(([k]) => cell(part[k])).join(' | ')} | ` +
            `${label === 'slot free' ? `${c.dispatch.getJobs} (${c.dispatch.emptyGetJobs})` : ''} |`,
        );
      }
    }
    out.push('');
    for (const c of configs.filter((x) => x.dispatch)) {
      const r = c.dispatch.released;
      out.push(
        `- ${c.workers} worker${c.workers > 1 ? 's' : ''}, rep ${c.rep}: ${r.tasks} tasks were claimed twice (given back, "released", and queued again); ` +
          `${r.firstClaimDuringHeartbeat} of them had their first claim committed while a heartbeat of the same worker was in flight ` +
          `(of all ${r.claims} claims, ${r.claimsDuringHeartbeat} were; ${r.heartbeats} heartbeats).`,
      );
    }
    out.push('');
  }
  out.push('## Per configuration', '');
  out.push(
    '| workers | rep | makespan (poll · last run end in DB) | submits done | runs | tasks | per worker: tasks, calls, peak calls in flight, peak tasks | server: calls, Σ latency, peak in flight | CPU: workers · server process · postgres | SIGTERM → exit |',
    '|---:|---:|---|---:|---|---:|---|---|---|---|',
  );
  for (const c of configs) {
    const counts = new Map();
    for (const r of c.runs) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
    const statuses = [...counts].map(([s, n]) => `${n} ${s}`).join(', ');
    out.push(
      `| ${c.workers} | ${c.rep} | ${fmtS(c.makespanMs)} · ${fmtS(c.makespanDbMs)} | ${fmtS(c.submitMs)} | ${statuses} | ${c.tasks} (${Object.entries(
        c.outcomes,
      )
        .map(([k, v]) => `${v} ${k}`)
        .join(', ')}) | ` +
        `${c.perWorker.map((w) => `${w.name} ${w.tasks}, ${w.modelCalls}, ${w.peakCallsInFlight}, ${w.peakTasksRunning}`).join('; ')} | ` +
        `${c.serverCalls}, ${fmtS(c.serverLatencySumMs)}, ${c.serverPeakInFlight} | ${fmtS(c.cpu.workersMs)} · ${fmtS(c.cpu.benchMs)} · ${fmtS(c.cpu.postgresMs)} | ` +
        `${c.stops.map((s) => `${s.code ?? s.signal} in ${fmtMs(s.stopMs)}`).join(', ')} |`,
    );
  }
  out.push('');
  const problems = configs.flatMap((c) => c.problems.map((p) => `${c.workers} workers, rep ${c.rep}: ${p}`));
  const odd = configs.flatMap((c) => c.oddWorkerLines.map((l) => `${c.workers} workers, rep ${c.rep}: ${l}`));
  out.push('Problems (runs not complete, workers gone, calls missing): ', '', ...(problems.length ? problems.map((p) => `- ${p}`) : ['- none']), '');
  const notes = configs.flatMap((c) => c.notes.map((p) => `${c.workers} workers, rep ${c.rep}: ${p}`));
  for (const r of summary.rows) {
    if (r.peakCallsPerWorker > config.llmConcurrency)
      notes.push(
        `${r.workers} worker${r.workers > 1 ? 's' : ''}: up to ${r.peakCallsPerWorker} model calls at once on one worker (--llm-concurrency ${config.llmConcurrency}); ` +
          `at the server up to ${r.serverPeakInFlight} (W × ${config.llmConcurrency} = ${r.workers * config.llmConcurrency})`,
      );
  }
  out.push('Notes: ', '', ...(notes.length ? notes.map((p) => `- ${p}`) : ['- none']), '');
  out.push(
    'Worker stderr beyond the usual started / ran / run finished lines: ',
    '',
    ...(odd.length ? odd.slice(0, 40).map((l) => `- \`${l.replaceAll('`', "'")}\``) : ['- none']),
    '',
  );
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------------------

const machine = machineInfo();
machine.postgres = (await admin.query('SELECT version() AS v')).rows[0].v.split(' on ')[0];
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'plan-workers-bench-'));
log(
  `workers benchmark on ${machine.cores} cores (${machine.cpuModel}), load ${machine.loadAverageAtStart.join(' ')}; ${PLANS} plans, workers ${WORKER_COUNTS.join(',')}, ` +
    `-j ${JOBS} --llm-concurrency ${LLM_CONCURRENCY}, speed ${SPEED}, scale ${fmtScale(SCALE)}, ${REPS} rep(s); work in ${work}`,
);
let exitCode = 0;
try {
  const calibration = await calibrate(work);
  const replayedSeconds = REAL_PLANS.map((p) => assign(p, calibration).seconds);
  log(
    `calibration: ${calibration.calls} calls of ${calibration.order.length} kinds (${fmtS(calibration.wallMs)}); a plan replays ${replayedSeconds.map((s) => round(s, 0)).join(' / ')} s of real latency`,
  );
  const configs = [];
  const tracePreload = opts['no-trace'] ? null : path.join(work, 'trace.mjs');
  if (tracePreload) fs.writeFileSync(tracePreload, TRACE_SOURCE);
  for (let rep = 1; rep <= REPS; rep++) {
    for (const W of WORKER_COUNTS) {
      log(`rep ${rep}: ${W} worker(s)…`);
      const c = await measure(W, rep, work, calibration, tracePreload);
      configs.push(c);
      log(
        `  makespan ${fmtS(c.makespanMs)}, ${c.throughputPerMin} plans/min; ready → start median ${fmtMs(c.readyToStart.all.medianMs)}, p99 ${fmtMs(c.readyToStart.all.p99Ms)}, ` +
          `max ${fmtMs(c.readyToStart.all.maxMs)} (slot free: median ${fmtMs(c.readyToStart.slotFree.medianMs)}, p99 ${fmtMs(c.readyToStart.slotFree.p99Ms)}); ` +
          `${c.serverCalls} calls${c.problems.length ? `; problems: ${c.problems.join('; ')}` : ''}`,
      );
    }
  }
  machine.loadAverageAtEnd = os.loadavg().map((l) => round(l, 2));
  const summary = summarize(configs);
  const results = {
    benchmark: 'workers',
    machine,
    config: {
      command: ['node', 'bench/workers.js', ...process.argv.slice(2)].join(' '),
      workerCounts: WORKER_COUNTS,
      plans: PLANS,
      scale: SCALE,
      speed: SPEED,
      conversations: CONVERSATIONS,
      reps: REPS,
      jobs: JOBS,
      llmConcurrency: LLM_CONCURRENCY,
      url: shownUrl(BASE_URL),
      ownDatabase: OWN_DATABASE !== null,
      startTime: START_TIME,
      prompts: Array.from({ length: PLANS }, (_, k) => promptOf(k)),
      realPlans: REAL_PLANS.map((p) => ({ name: p.name, calls: p.calls.length, sumSeconds: p.sumSeconds })),
      targets: TARGET,
    },
    calibration: {
      calls: calibration.calls,
      kinds: calibration.order.length,
      wallMs: calibration.wallMs,
      replayedSeconds: replayedSeconds.map((s) => round(s, 1)),
    },
    summary,
    configs,
  };
  const md = markdown(results);
  fs.mkdirSync(opts.out, { recursive: true });
  const stem = path.join(opts.out, `${machine.date.slice(0, 10)}-${opts.name}`);
  fs.writeFileSync(`${stem}.json`, `${JSON.stringify(results, null, 1)}\n`);
  fs.writeFileSync(`${stem}.md`, `${md}\n`);
  log('');
  log(md);
  log(`results: ${path.relative(process.cwd(), stem)}.{json,md}`);
  if (configs.some((c) => c.problems.length > 0)) exitCode = 1;
} finally {
  await server.close();
  await admin.end();
  await dropOwnDatabase().catch((e) => log(`could not drop database ${OWN_DATABASE}: ${e.message}`));
  if (opts.keep) log(`kept ${work}`);
  else fs.rmSync(work, { recursive: true, force: true });
}
process.exit(exitCode);
