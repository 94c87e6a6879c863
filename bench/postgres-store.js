#!/usr/bin/env node
// The PostgreSQL store against the SQLite store, side by side in one run.
//
//   node bench/postgres-store.js [--n 10000] [--reps 3] [--url postgres://postgres@127.0.0.1:5432/test]
//                                [--concurrent 8] [--silo DIR] [--out bench/results] [--work DIR] [-j 8]
//                                [--no-diagnose] [--keep]
//   node bench/postgres-store.js --render bench/results/<date>-postgres-store.json     (the .md again from the figures)
//
// --url (or PLAN_BENCH_POSTGRES_URL, else PLAN_TEST_POSTGRES_URL) is the database; every build gets a schema of
// its own (`?schema=plan_bench_<random>`), dropped afterwards. Each build is a fresh process timed from outside,
// Node start-up included, after a `sync`; the stores alternate from one repetition to the next; figures are
// medians, ratios are medians of the per-repetition ratios (PostgreSQL ÷ SQLite).
//
// 1. Layered DAG, N tasks (bench/layered.js build … --db <db>): full build, then no-op, each store in a fresh dir.
// 2. The offline 63-task plan (`plan build … --prompt … --db <db>`): full build.
//    Per-task persistence cost on PostgreSQL = (PG full − SQLite full) ÷ N from 1, against a 1 s model call.
// 3. A real run dir (shared/data/real-run-silo) adopted as the README's "Bring an existing run dir" says:
//    pg_total_relation_size of every table of its schema, against the SQLite file.
// 4. --concurrent `plan build` processes of different runs at once on one schema, PLAN_DB_BUSY_TIMEOUT_MS=1000
//    (lock_timeout 1 s): a fresh schema (they race to create it), then again on the schema they made.
// 5. Where the time goes (unless --no-diagnose): every statement each store runs, counted and timed in the
//    build's own process; commits and WAL syncs of the server; the same builds with synchronous_commit off (a
//    database of the bench's own) and with SQLite at --durability full; CPU profiles of both full builds.
//
// Results: bench/results/<date>-postgres-store.{json,md}.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
const SELF = fileURLToPath(import.meta.url);
const LAYERED = path.join(here, 'layered.js');
const PLAN = path.join(repo, 'bin', 'plan.js');
const PROFILE_SUMMARY = path.join(here, 'profile-summary.js');
const DEFAULT_SILO = path.resolve(repo, '..', 'shared', 'data', 'real-run-silo');
const PROMPT = 'Open a small sourdough bakery in Copenhagen';
const START_TIME = '--param=startTime=2026-03-01T09:00:00.000Z';
const MODEL_CALL_US = 1_000_000;
const STORES = ['sqlite', 'postgres'];
const LABEL = { sqlite: 'SQLite', postgres: 'PostgreSQL' };

const { values: opts } = parseArgs({
  options: {
    n: { type: 'string', default: '10000' },
    reps: { type: 'string', default: '3' },
    jobs: { type: 'string', short: 'j', default: '8' },
    url: { type: 'string' },
    concurrent: { type: 'string', default: '8' },
    silo: { type: 'string', default: DEFAULT_SILO },
    out: { type: 'string', default: path.join(here, 'results') },
    work: { type: 'string' },
    keep: { type: 'boolean', default: false },
    'no-diagnose': { type: 'boolean', default: false },
    // re-renders the Markdown of a results JSON (no builds)
    render: { type: 'string' },
    // child mode: one build with every statement of its store counted (see traceChild)
    child: { type: 'string' },
    trace: { type: 'string' },
  },
  allowPositionals: true,
  strict: false,
});

const N = Number(opts.n);
const REPS = Number(opts.reps);
const JOBS = Number(opts.jobs);
const CONCURRENT = Number(opts.concurrent);
const BASE_URL = opts.url ?? process.env.PLAN_BENCH_POSTGRES_URL ?? process.env.PLAN_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const node = process.execPath;

function log(line) {
  process.stderr.write(`${line}\n`);
}

const median = (xs) => {
  const s = xs.filter((x) => x != null && !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return null;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function round(x, digits = 1) {
  if (x == null) return null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function seconds(ms) {
  if (ms == null) return '–';
  return ms < 1000 ? `${(ms / 1000).toFixed(3)} s` : ms < 10_000 ? `${(ms / 1000).toFixed(2)} s` : `${(ms / 1000).toFixed(1)} s`;
}

const ratio = (x) => (x == null ? '–' : `${x.toFixed(2)}×`);
const yes = (holds) => (holds ? 'yes' : '**no**');

// ---------------------------------------------------------------------------------------------------------------
// Child mode: one build (bench/layered.js or bin/plan.js, argv after `--`) in this process with its store's
// driver instrumented: every statement counted and timed by its text, written to --trace at exit.

function statementKey(text) {
  return text.replace(/\s+/g, ' ').trim().slice(0, 90);
}

async function traceChild() {
  const stats = new Map();
  const record = (text, ms) => {
    const key = statementKey(text);
    const s = stats.get(key) ?? { count: 0, ms: 0 };
    s.count++;
    s.ms += ms;
    stats.set(key, s);
  };
  let connections = 0;
  if (opts.child === 'postgres') {
    const { default: pg } = await import('pg');
    const query = pg.Client.prototype.query;
    pg.Client.prototype.query = function (config, ...rest) {
      const text = typeof config === 'string' ? config : config?.text;
      if (typeof text !== 'string') return query.call(this, config, ...rest);
      const started = performance.now();
      const done = () => record(text, performance.now() - started);
      const last = rest.length - 1;
      if (last >= 0 && typeof rest[last] === 'function') {
        const callback = rest[last];
        rest[last] = function (...answer) {
          done();
          return callback.apply(this, answer);
        };
        return query.call(this, config, ...rest);
      }
      const result = query.call(this, config, ...rest);
      if (result && typeof result.then === 'function') result.then(done, done);
      return result;
    };
    const connect = pg.Client.prototype.connect;
    pg.Client.prototype.connect = function (...args) {
      connections++;
      return connect.apply(this, args);
    };
  } else {
    const { default: Database } = await import('better-sqlite3');
    const probe = new Database(':memory:');
    const proto = Object.getPrototypeOf(probe.prepare('SELECT 1'));
    probe.close();
    for (const method of ['run', 'get', 'all', 'iterate']) {
      const original = proto[method];
      proto[method] = function (...args) {
        const started = performance.now();
        try {
          return original.apply(this, args);
        } finally {
          record(this.source, performance.now() - started);
        }
      };
    }
    const exec = Database.prototype.exec;
    Database.prototype.exec = function (sql) {
      const started = performance.now();
      try {
        return exec.call(this, sql);
      } finally {
        record(sql, performance.now() - started);
      }
    };
  }
  const started = performance.now();
  process.on('exit', () => {
    const statements = [...stats].map(([text, s]) => ({ text, count: s.count, ms: round(s.ms, 2) })).sort((a, b) => b.count - a.count);
    const trace = { store: opts.child, wallMs: round(performance.now() - started), connections, statements };
    fs.writeFileSync(opts.trace, `${JSON.stringify(trace)}\n`);
  });
  const split = process.argv.indexOf('--');
  const target = process.argv[split + 1];
  process.argv = [process.argv[0], target, ...process.argv.slice(split + 2)];
  await import(target);
}

// ---------------------------------------------------------------------------------------------------------------
// PostgreSQL: the bench's own connection, schemas, the server's counters.

let admin;

async function connectAdmin() {
  const { default: pg } = await import('pg');
  const url = new URL(BASE_URL);
  url.searchParams.delete('schema');
  admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  return pg;
}

function newSchema() {
  return `plan_bench_${randomBytes(5).toString('hex')}`;
}

/** The store's URL for a schema; `application_name` lets the bench see when the build's backends have gone. */
function pgUrl(schema, appName, base = BASE_URL) {
  const url = new URL(base);
  url.searchParams.set('schema', schema);
  url.searchParams.set('application_name', appName);
  return url.toString();
}

function shownUrl(url) {
  const u = new URL(url);
  u.password = '';
  return u.toString();
}

const createdSchemas = new Set();

async function dropSchema(schema, client = admin) {
  await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  createdSchemas.delete(schema);
}

/** After the build exits its backends may take a moment to end (and to flush their statistics). */
async function backendsGone(appName) {
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    const { rows } = await admin.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [appName]);
    if (rows[0].n === 0) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU ms of the local server: every postgres process, and the ended backends the postmaster reaped. Null when not local. */
function serverCpuMs() {
  let ticks = 0;
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
    const open = stat.indexOf('(');
    const close = stat.lastIndexOf(')');
    if (stat.slice(open + 1, close) !== 'postgres') continue;
    found = true;
    const fields = stat.slice(close + 2).split(' ');
    // fields[0] is the state (field 3): utime, stime, cutime, cstime are fields 14–17
    ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  }
  return found ? (ticks * 1000) / CLK_TCK : null;
}

/** Cluster-wide counters: commits of this database, WAL records, bytes, writes and syncs (pg_stat_wal, PG 14+). */
async function pgCounters() {
  const db = await admin.query('SELECT xact_commit::bigint AS commits FROM pg_stat_database WHERE datname = current_database()');
  let wal = {};
  try {
    const w = await admin.query(
      'SELECT wal_records::bigint AS records, wal_bytes::bigint AS bytes, wal_write::bigint AS writes, wal_sync::bigint AS syncs FROM pg_stat_wal',
    );
    wal = w.rows[0];
  } catch {
    /* before PostgreSQL 14 */
  }
  return {
    commits: Number(db.rows[0].commits),
    ...Object.fromEntries(Object.entries(wal).map(([k, v]) => [`wal_${k}`, Number(v)])),
    serverCpuMs: serverCpuMs(),
  };
}

function counterDelta(before, after) {
  const delta = {};
  for (const key of Object.keys(after)) delta[key] = after[key] == null || before[key] == null ? null : round(after[key] - before[key]);
  return delta;
}

/** pg_total_relation_size (heap, TOAST, indexes) of every table in the schema. */
async function schemaSize(schema) {
  const { rows } = await admin.query(
    `SELECT c.relname AS table, pg_total_relation_size(c.oid)::bigint AS bytes, pg_relation_size(c.oid)::bigint AS heap,
            pg_indexes_size(c.oid)::bigint AS indexes, c.reltuples::bigint AS rows
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY 2 DESC`,
    [schema],
  );
  const tables = rows.map((r) => ({ table: r.table, bytes: Number(r.bytes), heap: Number(r.heap), indexes: Number(r.indexes) }));
  return { bytes: tables.reduce((sum, t) => sum + t.bytes, 0), tables };
}

// ---------------------------------------------------------------------------------------------------------------
// Builds.

function settleDisk() {
  spawnSync('sync', [], { stdio: 'ignore' });
}

let WORK;

/** One build as a fresh process under /usr/bin/time -v: wall time, CPU of the process, peak RSS, exit status, output. */
function measure(command, args, { cwd, env } = {}) {
  const timeFile = path.join(WORK, 'time.txt');
  const outFile = path.join(WORK, 'stdout.txt');
  const errFile = path.join(WORK, 'stderr.txt');
  const out = fs.openSync(outFile, 'w');
  const err = fs.openSync(errFile, 'w');
  const timed = fs.existsSync('/usr/bin/time');
  fs.rmSync(timeFile, { force: true });
  const started = process.hrtime.bigint();
  const result = spawnSync(timed ? '/usr/bin/time' : command, timed ? ['-v', '-o', timeFile, command, ...args] : args, {
    cwd: cwd ?? WORK,
    stdio: ['ignore', out, err],
    env: { ...childEnv(), ...env },
  });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  fs.closeSync(out);
  fs.closeSync(err);
  const timeText = fs.existsSync(timeFile) ? fs.readFileSync(timeFile, 'utf8') : '';
  const maxRssKb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(timeText)?.[1] ?? Number.NaN);
  const cpuMs = ['User', 'System'].reduce(
    (sum, kind) => sum + Number(new RegExp(`${kind} time \\(seconds\\): ([\\d.]+)`).exec(timeText)?.[1] ?? Number.NaN) * 1000,
    0,
  );
  return { wallMs, cpuMs, maxRssKb, status: result.status, stdout: fs.readFileSync(outFile, 'utf8'), stderr: fs.readFileSync(errFile, 'utf8') };
}

/** The children never see a database the bench did not pass (a PLAN_DB in the shell would override nothing, but confuses). */
function childEnv() {
  const env = { ...process.env, NO_COLOR: '1' };
  delete env.PLAN_DB;
  delete env.PLAN_DB_BUSY_TIMEOUT_MS;
  return env;
}

function layeredArgs(runDir, db, n = N, extra = []) {
  return [LAYERED, 'build', runDir, '--n', String(n), '--db', db, '-j', String(JOBS), '--json', ...extra];
}

function planArgs(runDir, db, extra = []) {
  return [PLAN, 'build', runDir, '--prompt', PROMPT, START_TIME, '--db', db, ...extra];
}

function lastJson(stdout) {
  try {
    return JSON.parse(stdout.trim().split('\n').at(-1));
  } catch {
    return null;
  }
}

/** `build complete: ran 63 tasks, 0 fresh of 63 in 911ms` */
function planSummary(text) {
  const m = /ran (\d+) tasks?, (\d+) fresh of (\d+)/.exec(text);
  return m ? { ran: Number(m[1]), fresh: Number(m[2]), tasks: Number(m[3]) } : null;
}

function failure(what, m) {
  return new Error(`${what} exited ${m.status}: ${`${m.stderr}\n${m.stdout}`.trim().split('\n').slice(-5).join(' / ')}`);
}

/** A fresh database of each kind for one build: SQLite beside the run dir, PostgreSQL a schema of its own. */
function freshDb(store, base) {
  if (store === 'sqlite') return { db: path.join(base, 'plan.db'), schema: null, appName: null };
  const schema = newSchema();
  createdSchemas.add(schema);
  const appName = `plan-bench-${schema.slice('plan_bench_'.length)}`;
  return { db: pgUrl(schema, appName), schema, appName };
}

/** Times one build of `store`: server counters around it for PostgreSQL (read after its backends ended). */
async function timedBuild(store, handle, command, args, options) {
  settleDisk();
  const before = store === 'postgres' ? await pgCounters() : null;
  const m = measure(command, args, options);
  let server = null;
  if (store === 'postgres') {
    await backendsGone(handle.appName);
    server = counterDelta(before, await pgCounters());
  }
  return { ...m, server };
}

function fileList(dir, prefix = '') {
  const files = [];
  for (const entry of fs.readdirSync(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) files.push(...fileList(dir, rel));
    else if (entry.isFile()) files.push(rel);
  }
  return files.sort();
}

/** Files that differ between two run dirs (the engine's own `.plan-*` files aside). */
function compareDirs(a, b) {
  const ours = (f) => !path.basename(f).startsWith('.plan-');
  const left = fileList(a).filter(ours);
  const right = new Set(fileList(b).filter(ours));
  const different = [];
  for (const f of left) {
    if (!right.has(f)) different.push(`${f} (only in the SQLite build)`);
    else if (!fs.readFileSync(path.join(a, f)).equals(fs.readFileSync(path.join(b, f)))) different.push(f);
    right.delete(f);
  }
  for (const f of right) different.push(`${f} (only in the PostgreSQL build)`);
  return { files: left.length, different };
}

// ---------------------------------------------------------------------------------------------------------------
// 1. Layered DAG: full build and no-op.

async function layered() {
  const { expectedContents } = await import('./layered/expected.mjs');
  const { nodeFile, nodes } = await import('./layered/dag.mjs');
  const expected = expectedContents(N);
  const raw = [];
  const checks = [];
  for (let rep = 0; rep < REPS; rep++) {
    const order = rep % 2 === 0 ? STORES : [...STORES].reverse();
    for (const store of order) {
      const base = path.join(WORK, 'layered', `${store}-${rep}`);
      fs.rmSync(base, { recursive: true, force: true });
      fs.mkdirSync(base, { recursive: true });
      const handle = freshDb(store, base);
      const runDir = path.join(base, 'run');
      try {
        for (const phase of ['full', 'noop']) {
          const m = await timedBuild(store, handle, node, layeredArgs(runDir, handle.db));
          if (m.status !== 0) throw failure(`layered ${phase} build on ${store}`, m);
          const report = lastJson(m.stdout);
          const want = phase === 'full' ? N : 0;
          if (report?.ran !== want) throw new Error(`layered ${phase} build on ${store} ran ${report?.ran}, not ${want}`);
          raw.push({
            store,
            rep,
            phase,
            wallMs: round(m.wallMs),
            cpuMs: round(m.cpuMs),
            maxRssKb: m.maxRssKb,
            inProcessBuildMs: report.buildMs,
            sinceStartMs: report.sinceStartMs,
            ran: report.ran,
            server: m.server,
          });
          log(
            `layered N=${N} rep ${rep + 1}/${REPS} ${LABEL[store].padEnd(10)} ${phase.padEnd(4)} ${seconds(m.wallMs).padStart(8)}  ` +
              `(build ${seconds(report.buildMs)}, CPU ${seconds(m.cpuMs)}${m.server ? `, server CPU ${seconds(m.server.serverCpuMs)}, ${m.server.commits} commits, ${m.server.wal_syncs} WAL syncs` : ''})`,
          );
          if (rep === 0 && phase === 'full') {
            let wrong = 0;
            for (const [layer, index] of nodes(N)) {
              const file = nodeFile(layer, index);
              let actual = null;
              try {
                actual = fs.readFileSync(path.join(runDir, file), 'utf8');
              } catch {}
              if (actual !== expected.get(file)) wrong++;
            }
            checks.push({ section: 'layered', store, files: N, wrong });
            if (wrong > 0) log(`  WRONG CONTENT in ${wrong} files`);
          }
        }
      } finally {
        if (handle.schema) await dropSchema(handle.schema);
        if (!opts.keep) fs.rmSync(base, { recursive: true, force: true });
      }
    }
  }
  return { n: N, jobs: JOBS, reps: REPS, raw, checks, summary: summarizePairs(raw, ['full', 'noop']) };
}

/** Medians per store and phase; PostgreSQL ÷ SQLite as the median of per-repetition ratios and as the ratio of medians. */
function summarizePairs(raw, phases) {
  const summary = {};
  for (const phase of phases) {
    const of = (store) => raw.filter((r) => r.store === store && r.phase === phase);
    const entry = {};
    for (const store of STORES) {
      const rows = of(store);
      entry[store] = {
        wallMs: round(median(rows.map((r) => r.wallMs))),
        minWallMs: round(Math.min(...rows.map((r) => r.wallMs))),
        cpuMs: round(median(rows.map((r) => r.cpuMs))),
        inProcessBuildMs: round(median(rows.map((r) => r.inProcessBuildMs))),
        maxRssMb: round(median(rows.map((r) => r.maxRssKb)) / 1024),
      };
      if (store === 'postgres') {
        entry[store].serverCpuMs = round(median(rows.map((r) => r.server?.serverCpuMs)));
        entry[store].commits = median(rows.map((r) => r.server?.commits));
        entry[store].walSyncs = median(rows.map((r) => r.server?.wal_syncs));
        entry[store].walBytes = median(rows.map((r) => r.server?.wal_bytes));
      }
    }
    const perRep = of('postgres')
      .map((p) => [p, of('sqlite').find((s) => s.rep === p.rep)])
      .filter(([, s]) => s)
      .map(([p, s]) => p.wallMs / s.wallMs);
    entry.ratio = round(median(perRep), 3);
    entry.ratioOfMedians = round(entry.postgres.wallMs / entry.sqlite.wallMs, 3);
    entry.perRepRatios = perRep.map((r) => round(r, 3));
    summary[phase] = entry;
  }
  return summary;
}

// ---------------------------------------------------------------------------------------------------------------
// 2. The offline plan.

async function offlinePlan() {
  const raw = [];
  const checks = [];
  for (let rep = 0; rep < REPS; rep++) {
    const order = rep % 2 === 0 ? STORES : [...STORES].reverse();
    for (const store of order) {
      const base = path.join(WORK, 'plan', `${store}-${rep}`);
      fs.rmSync(base, { recursive: true, force: true });
      fs.mkdirSync(base, { recursive: true });
      const handle = freshDb(store, base);
      try {
        const m = await timedBuild(store, handle, node, planArgs(path.join(base, 'run'), handle.db), { cwd: base });
        if (m.status !== 0) throw failure(`plan build on ${store}`, m);
        const summary = planSummary(`${m.stdout}\n${m.stderr}`);
        if (summary?.ran !== 63) throw new Error(`plan build on ${store}: expected 63 tasks run, got ${JSON.stringify(summary)}`);
        raw.push({ store, rep, phase: 'full', wallMs: round(m.wallMs), cpuMs: round(m.cpuMs), maxRssKb: m.maxRssKb, ...summary, server: m.server });
        log(
          `offline plan rep ${rep + 1}/${REPS} ${LABEL[store].padEnd(10)} ${seconds(m.wallMs).padStart(8)}  (CPU ${seconds(m.cpuMs)}` +
            `${m.server ? `, server CPU ${seconds(m.server.serverCpuMs)}, ${m.server.commits} commits` : ''})`,
        );
      } finally {
        if (handle.schema) await dropSchema(handle.schema);
      }
    }
    if (rep === 0) {
      const compared = compareDirs(path.join(WORK, 'plan', 'sqlite-0', 'run'), path.join(WORK, 'plan', 'postgres-0', 'run'));
      checks.push({ section: 'offline plan', ...compared });
      if (compared.different.length > 0) log(`  the two stores' run dirs differ: ${compared.different.slice(0, 5).join(', ')}`);
    }
    if (!opts.keep) for (const store of STORES) fs.rmSync(path.join(WORK, 'plan', `${store}-${rep}`), { recursive: true, force: true });
  }
  return { reps: REPS, raw, checks, summary: summarizePairs(raw, ['full']) };
}

// ---------------------------------------------------------------------------------------------------------------
// 3. A real plan adopted, its size in each store.

async function realPlanSize() {
  const silo = path.resolve(opts.silo);
  const files = fileList(silo);
  const sourceBytes = files.reduce((sum, f) => sum + fs.statSync(path.join(silo, f)).size, 0);
  const result = { source: path.relative(repo, silo), files: files.length, sourceBytes };
  const dirs = {};
  for (const store of STORES) {
    const base = path.join(WORK, 'silo', store);
    fs.rmSync(base, { recursive: true, force: true });
    fs.mkdirSync(base, { recursive: true });
    const copy = path.join(base, 'silo');
    fs.cpSync(silo, copy, { recursive: true });
    dirs[store] = copy;
    const handle = freshDb(store, base);
    try {
      const m = await timedBuild(store, handle, node, [PLAN, 'build', copy, '--prompt-file', path.join(copy, '001-2-plan.txt'), '--db', handle.db], {
        cwd: base,
      });
      if (m.status !== 0) throw failure(`adopting the real run dir on ${store}`, m);
      const summary = planSummary(`${m.stdout}\n${m.stderr}`);
      const entry = { wallMs: round(m.wallMs), ...summary };
      if (store === 'sqlite') {
        const bytes = ['', '-wal', '-shm'].reduce(
          (sum, suffix) => sum + (fs.existsSync(handle.db + suffix) ? fs.statSync(handle.db + suffix).size : 0),
          0,
        );
        const { default: Database } = await import('better-sqlite3');
        const db = new Database(handle.db, { readonly: true });
        let tables = [];
        try {
          tables = db
            .prepare(
              `SELECT coalesce(m.tbl_name, s.name) AS tbl, sum(s.pgsize) AS bytes FROM dbstat s LEFT JOIN sqlite_master m ON m.name = s.name
                GROUP BY tbl ORDER BY bytes DESC`,
            )
            .all()
            .map((r) => ({ table: r.tbl, bytes: r.bytes }));
        } catch {
          /* no dbstat in this build of SQLite */
        }
        db.close();
        Object.assign(entry, { bytes, tables });
      } else {
        Object.assign(entry, await schemaSize(handle.schema));
        const content = await admin.query(
          `SELECT count(*)::int AS versions, sum(octet_length(data))::bigint AS stored, sum(size)::bigint AS size FROM ${handle.schema}.plan_content`,
        );
        entry.content = { versions: content.rows[0].versions, storedBytes: Number(content.rows[0].stored), sizeBytes: Number(content.rows[0].size) };
      }
      entry.mb = round(entry.bytes / 1e6, 2);
      result[store] = entry;
      log(`real plan on ${LABEL[store].padEnd(10)} ran ${summary?.ran}, ${summary?.fresh} fresh: ${entry.mb} MB of database (${seconds(m.wallMs)})`);
    } finally {
      if (handle.schema) await dropSchema(handle.schema);
    }
  }
  result.compared = compareDirs(dirs.sqlite, dirs.postgres);
  if (!opts.keep) fs.rmSync(path.join(WORK, 'silo'), { recursive: true, force: true });
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// 4. Concurrent builds of different runs on one schema.

function spawnBuild(args, env, cwd) {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const child = spawn(node, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (status) => resolve({ status, wallMs: Number(process.hrtime.bigint() - started) / 1e6, stdout, stderr }));
  });
}

async function concurrentBuilds() {
  const schema = newSchema();
  createdSchemas.add(schema);
  const appName = `plan-bench-${schema.slice('plan_bench_'.length)}`;
  const db = pgUrl(schema, appName);
  const env = { ...childEnv(), PLAN_DB_BUSY_TIMEOUT_MS: '1000' };
  const rounds = [];
  try {
    for (const [k, label] of [
      [0, 'fresh schema (all race to create it)'],
      [1, 'the schema they made'],
    ]) {
      const base = path.join(WORK, 'concurrent', `round-${k}`);
      fs.rmSync(base, { recursive: true, force: true });
      fs.mkdirSync(base, { recursive: true });
      settleDisk();
      const before = await pgCounters();
      const builds = await Promise.all(
        Array.from({ length: CONCURRENT }, (_, i) => spawnBuild(planArgs(path.join(base, `run-${i}`), db), env, base)),
      );
      await backendsGone(appName);
      const server = counterDelta(before, await pgCounters());
      const processes = builds.map((b, i) => {
        const summary = planSummary(`${b.stdout}\n${b.stderr}`);
        return {
          builder: i,
          status: b.status,
          wallMs: round(b.wallMs),
          ran: summary?.ran ?? null,
          error: b.status === 0 ? null : b.stderr.trim().split('\n').slice(-3).join(' / '),
        };
      });
      const { rows } = await admin.query(
        `SELECT count(DISTINCT run_id)::int AS runs, count(*) FILTER (WHERE status = 'complete')::int AS complete FROM ${schema}.task_attempts`,
      );
      const walls = processes.map((p) => p.wallMs);
      const entry = {
        round: k,
        label,
        processes,
        allExitedZero: processes.every((p) => p.status === 0),
        maxWallMs: round(Math.max(...walls)),
        medianWallMs: round(median(walls)),
        completeAttemptsInSchema: rows[0].complete,
        runsInSchema: rows[0].runs,
        server,
      };
      rounds.push(entry);
      log(
        `${CONCURRENT} concurrent plan builds, ${label}: exit ${processes.map((p) => p.status).join(' ')}; ` +
          `walls ${walls.map((w) => (w / 1000).toFixed(2)).join(' ')} s; max ${seconds(entry.maxWallMs)}`,
      );
      for (const p of processes) if (p.error) log(`  builder ${p.builder}: ${p.error}`);
      if (!opts.keep) fs.rmSync(base, { recursive: true, force: true });
    }
  } finally {
    await dropSchema(schema);
  }
  return { builds: CONCURRENT, busyTimeoutMs: 1000, rounds };
}

// ---------------------------------------------------------------------------------------------------------------
// 5. Where the time goes.

/** One build in a child process with its store's statements traced. */
async function tracedBuild(store, args, base) {
  const traceFile = path.join(base, `trace-${store}-${Math.random().toString(36).slice(2)}.json`);
  const m = measure(node, [SELF, '--child', store, '--trace', traceFile, '--', ...args], { cwd: base });
  if (m.status !== 0) throw failure(`traced build on ${store}`, m);
  return { wallMs: round(m.wallMs), cpuMs: round(m.cpuMs), report: lastJson(m.stdout), trace: JSON.parse(fs.readFileSync(traceFile, 'utf8')) };
}

function summarizeTrace(trace, tasks) {
  const total = trace.statements.reduce((sum, s) => sum + s.count, 0);
  const ms = trace.statements.reduce((sum, s) => sum + s.ms, 0);
  const commits = trace.statements.filter((s) => /^COMMIT/i.test(s.text)).reduce((sum, s) => sum + s.count, 0);
  const begins = trace.statements.filter((s) => /^BEGIN/i.test(s.text)).reduce((sum, s) => sum + s.count, 0);
  return {
    statements: total,
    perTask: round(total / tasks, 2),
    transactions: begins,
    commits,
    statementMs: round(ms),
    connections: trace.connections,
    top: trace.statements.slice(0, 12).map((s) => ({ ...s, perTask: round(s.count / tasks, 3), meanMs: round(s.ms / s.count, 3) })),
    slowest: [...trace.statements]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 8)
      .map((s) => ({ ...s, meanMs: round(s.ms / s.count, 3) })),
  };
}

/** Median round trip of `SELECT 1` and of a one-row autocommit INSERT (a commit: one WAL flush) from this process. */
async function latencies(pg, url, count = 300) {
  const client = new pg.Client({ connectionString: new URL(url).toString() });
  await client.connect();
  const time = async (text) => {
    const xs = [];
    for (let k = 0; k < count; k++) {
      const started = performance.now();
      await client.query(text);
      xs.push(performance.now() - started);
    }
    return round(median(xs), 3);
  };
  await client.query('CREATE TEMP TABLE bench_commit (x int)');
  const selectMs = await time('SELECT 1');
  const commitMs = await time('INSERT INTO bench_commit VALUES (1)');
  const { rows } = await client.query("SELECT current_setting('synchronous_commit') AS sc");
  await client.end();
  // A parameterized statement from 8 connections at once, as a build at -j 8 sends them: wall and this process's CPU per statement.
  const pool = new pg.Pool({ connectionString: url, max: 8 });
  const clients = await Promise.all(Array.from({ length: 8 }, () => pool.connect()));
  const total = 8 * 500;
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    clients.map(async (c) => {
      for (let k = 0; k < total / 8; k++) await c.query('SELECT $1::int AS k', [k]);
    }),
  );
  const wallUs = ((performance.now() - started) * 1000) / total;
  const used = process.cpuUsage(cpu);
  for (const c of clients) c.release();
  await pool.end();
  return {
    selectMs,
    commitMs,
    synchronousCommit: rows[0].sc,
    concurrent8: { wallUsPerStatement: round(wallUs), clientCpuUsPerStatement: round((used.user + used.system) / total) },
  };
}

/** Opening each store (connect, migrations) on a fresh database and on an existing one, in this process, alternating. */
async function openCost(reps = 5) {
  const { openStore } = await import('../dist/store/open.js');
  const raw = { sqliteFresh: [], sqliteExisting: [], postgresFresh: [], postgresExisting: [] };
  const dir = path.join(WORK, 'open-cost');
  fs.mkdirSync(dir, { recursive: true });
  for (let rep = 0; rep < reps; rep++) {
    const file = path.join(dir, `plan-${rep}.db`);
    const handle = freshDb('postgres', dir);
    const time = async (key, location) => {
      const started = performance.now();
      const store = await openStore(location);
      await store.close();
      raw[key].push(round(performance.now() - started, 2));
    };
    const order = rep % 2 === 0 ? ['sqlite', 'postgres'] : ['postgres', 'sqlite'];
    for (const store of order) {
      const location = store === 'sqlite' ? file : handle.db;
      await time(`${store}Fresh`, location);
      await time(`${store}Existing`, location);
    }
    await dropSchema(handle.schema);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return { reps, raw, medianMs: Object.fromEntries(Object.entries(raw).map(([k, xs]) => [k, round(median(xs), 2)])) };
}

async function profileBuild(store, handle, runDir, profDir) {
  fs.mkdirSync(profDir, { recursive: true });
  const m = measure(node, ['--cpu-prof', '--cpu-prof-dir', profDir, ...layeredArgs(runDir, handle.db)]);
  if (m.status !== 0) throw failure(`profiled build on ${store}`, m);
  const file = fs.readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  const s = spawnSync(node, [PROFILE_SUMMARY, path.join(profDir, file), '--json', '--top', '15'], { encoding: 'utf8', cwd: repo });
  return { wallMs: round(m.wallMs), ...JSON.parse(s.stdout) };
}

async function diagnose(pg) {
  const out = {};
  const base = path.join(WORK, 'diagnose');
  fs.mkdirSync(base, { recursive: true });
  // Statements of each store: layered full and no-op, the offline plan.
  out.statements = {};
  for (const store of STORES) {
    const dir = path.join(base, `trace-${store}`);
    fs.mkdirSync(dir, { recursive: true });
    const handle = freshDb(store, dir);
    try {
      const runDir = path.join(dir, 'run');
      const full = await tracedBuild(store, layeredArgs(runDir, handle.db), dir);
      const noop = await tracedBuild(store, layeredArgs(runDir, handle.db), dir);
      const planDb = store === 'sqlite' ? path.join(dir, 'plan-offline.db') : handle.db;
      const plan = await tracedBuild(store, planArgs(path.join(dir, 'plan-run'), planDb), dir);
      out.statements[store] = {
        layeredFull: { wallMs: full.wallMs, buildMs: full.report?.buildMs, ...summarizeTrace(full.trace, N) },
        layeredNoop: { wallMs: noop.wallMs, buildMs: noop.report?.buildMs, ...summarizeTrace(noop.trace, N) },
        plan: { wallMs: plan.wallMs, ...summarizeTrace(plan.trace, 63) },
      };
      log(
        `statements on ${LABEL[store]}: layered full ${out.statements[store].layeredFull.statements} (${out.statements[store].layeredFull.perTask}/task), ` +
          `no-op ${out.statements[store].layeredNoop.statements}, offline plan ${out.statements[store].plan.statements} (${out.statements[store].plan.perTask}/task)`,
      );
    } finally {
      if (handle.schema) await dropSchema(handle.schema);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  // The server's round trip and commit latency, synchronous_commit on and off.
  const asyncDb = 'plan_bench_async_commit';
  const asyncBase = new URL(BASE_URL);
  asyncBase.pathname = `/${asyncDb}`;
  asyncBase.searchParams.delete('schema');
  let haveAsync = false;
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${asyncDb}`);
    await admin.query(`CREATE DATABASE ${asyncDb}`);
    // Only connections to this database (the bench's own) commit without waiting for the WAL flush.
    await admin.query(`ALTER DATABASE ${asyncDb} SET synchronous_commit = off`);
    haveAsync = true;
  } catch (error) {
    log(`could not make a database with synchronous_commit off (${error.message}): that comparison is left out`);
  }
  try {
    const plain = new URL(BASE_URL);
    plain.searchParams.delete('schema');
    out.latency = { syncCommit: await latencies(pg, plain.toString()) };
    if (haveAsync) out.latency.asyncCommit = await latencies(pg, asyncBase.toString());
    out.openCost = await openCost();
    log(`opening a store (median ms): ${JSON.stringify(out.openCost.medianMs)}`);

    // The layered full build: PostgreSQL with synchronous_commit off, SQLite at --durability full, beside the plain two.
    const variants = [
      { id: 'sqlite', store: 'sqlite', label: 'SQLite (durability process: no fsync per commit)' },
      { id: 'sqlite-full', store: 'sqlite', label: 'SQLite --durability full (fsync per commit)', extra: ['--durability', 'full'] },
      { id: 'postgres', store: 'postgres', label: 'PostgreSQL, synchronous_commit on (WAL flush per commit)' },
    ];
    if (haveAsync)
      variants.push({ id: 'postgres-async', store: 'postgres', label: 'PostgreSQL, synchronous_commit off', base: asyncBase.toString() });
    const raw = [];
    for (let rep = 0; rep < REPS; rep++) {
      const order = variants.map((_, k) => variants[(k + rep) % variants.length]);
      for (const v of order) {
        const dir = path.join(base, `variant-${v.id}-${rep}`);
        fs.mkdirSync(dir, { recursive: true });
        let handle = freshDb(v.store, dir);
        if (v.base) handle = { ...handle, db: pgUrl(handle.schema, handle.appName, v.base) };
        try {
          const m = await timedBuild(v.store, handle, node, layeredArgs(path.join(dir, 'run'), handle.db, N, v.extra ?? []));
          if (m.status !== 0) throw failure(`layered build, ${v.label}`, m);
          raw.push({ variant: v.id, rep, wallMs: round(m.wallMs), cpuMs: round(m.cpuMs), server: m.server });
          log(`variant ${v.id.padEnd(14)} rep ${rep + 1}/${REPS} ${seconds(m.wallMs)}`);
        } finally {
          if (handle.schema) {
            if (v.base) {
              const client = new pg.Client({ connectionString: asyncBase.toString() });
              await client.connect();
              await dropSchema(handle.schema, client);
              await client.end();
            } else await dropSchema(handle.schema);
          }
          fs.rmSync(dir, { recursive: true, force: true });
        }
      }
    }
    out.variants = variants.map((v) => {
      const rows = raw.filter((r) => r.variant === v.id);
      return {
        id: v.id,
        label: v.label,
        wallMs: round(median(rows.map((r) => r.wallMs))),
        cpuMs: round(median(rows.map((r) => r.cpuMs))),
        serverCpuMs: v.store === 'postgres' ? round(median(rows.map((r) => r.server?.serverCpuMs))) : null,
        walSyncs: v.store === 'postgres' ? median(rows.map((r) => r.server?.wal_syncs)) : null,
      };
    });
    out.variantsRaw = raw;
  } finally {
    if (haveAsync) await admin.query(`DROP DATABASE IF EXISTS ${asyncDb}`);
  }

  // CPU profiles of the build process, full build on each store.
  out.profiles = {};
  for (const store of STORES) {
    const dir = path.join(base, `profile-${store}`);
    fs.mkdirSync(dir, { recursive: true });
    const handle = freshDb(store, dir);
    try {
      out.profiles[store] = await profileBuild(store, handle, path.join(dir, 'run'), path.join(dir, 'prof'));
      log(`profile on ${LABEL[store]}: ${out.profiles[store].totalMs} ms sampled`);
    } finally {
      if (handle.schema) await dropSchema(handle.schema);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Results.

function distFingerprint() {
  const hash = createHash('sha256');
  for (const sub of ['engine', 'store', 'store/postgres', 'store/sqlite']) {
    const dir = path.join(repo, 'dist', sub);
    if (!fs.existsSync(dir)) continue;
    for (const name of fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.js'))
      .sort())
      hash.update(name).update(fs.readFileSync(path.join(dir, name)));
  }
  return hash.digest('hex').slice(0, 12);
}

async function machineInfo() {
  const git = (...args) => spawnSync('git', ['-C', repo, ...args], { encoding: 'utf8' }).stdout.trim();
  const { rows } = await admin.query(
    `SELECT version() AS version, current_setting('synchronous_commit') AS synchronous_commit, current_setting('fsync') AS fsync,
            current_setting('wal_sync_method') AS wal_sync_method, current_setting('shared_buffers') AS shared_buffers,
            current_setting('shared_preload_libraries') AS preload`,
  );
  const { default: Database } = await import('better-sqlite3');
  const probe = new Database(':memory:');
  const sqlite = probe.prepare('SELECT sqlite_version() AS v').get().v;
  probe.close();
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    cpuModel: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memTotalMb: Math.round(os.totalmem() / 2 ** 20),
    kernel: `${os.type()} ${os.release()}`,
    loadAverageAtStart: os.loadavg().map((l) => round(l, 2)),
    node: process.version,
    sqlite,
    postgres: rows[0].version.split(' on ')[0],
    postgresSettings: {
      synchronous_commit: rows[0].synchronous_commit,
      fsync: rows[0].fsync,
      wal_sync_method: rows[0].wal_sync_method,
      shared_buffers: rows[0].shared_buffers,
      shared_preload_libraries: rows[0].preload,
    },
    postgresUrl: shownUrl(BASE_URL),
    postgresLocal: serverCpuMs() !== null,
    commit: git('rev-parse', '--short', 'HEAD'),
    dirtyWorkTree: git('status', '--porcelain', '--untracked-files=no', 'src') !== '',
    distAtStart: distFingerprint(),
    workDir: WORK,
    workFileSystem: spawnSync('stat', ['-f', '-c', '%T', WORK], { encoding: 'utf8' }).stdout.trim(),
  };
}

function renderMarkdown(r) {
  const { machine: m, layered: l, plan: p, perTask: pt, size: s, concurrent: c, targets } = r;
  const out = [];
  out.push(`# PostgreSQL store against SQLite, ${m.date.slice(0, 10)}`, '');
  out.push(
    `Machine: ${m.cpuModel}, ${m.cores} cores, ${Math.round(m.memTotalMb / 1024)} GiB RAM, ${m.kernel}; load average ${m.loadAverageAtStart.join(' / ')} at the start, ` +
      `${m.loadAverageAtEnd.join(' / ')} at the end (a shared machine). Node ${m.node}, SQLite ${m.sqlite}, ${m.postgres} on the same machine ` +
      `(${m.postgresUrl}; synchronous_commit=${m.postgresSettings.synchronous_commit}, fsync=${m.postgresSettings.fsync}, wal_sync_method=${m.postgresSettings.wal_sync_method}, ` +
      `shared_buffers=${m.postgresSettings.shared_buffers}×8 kB). plan at ${m.commit}${m.dirtyWorkTree ? ' with uncommitted changes in src/' : ''} ` +
      `(dist ${m.distAtStart}${m.distAtEnd !== m.distAtStart ? `, changed to ${m.distAtEnd} during the run: figures mix two builds` : ''}); builds under ${m.workDir} (${m.workFileSystem}).`,
    '',
    `Every build is a fresh process timed from outside (Node start-up included) after a \`sync\`; SQLite in a fresh dir with \`plan.db\` beside the run dir ` +
      `(durability \`process\`, the default), PostgreSQL in a fresh schema per build (\`?schema=plan_bench_<random>\`, dropped afterwards). ` +
      `Stores alternate, ${l.reps} repetitions; figures are medians, "PG ÷ SQLite" the median of per-repetition ratios (ratio of medians in brackets). ` +
      '"CPU" is the build process\'s own (user + system); "server CPU" is every postgres process of the local server over the build (others\' use of the shared server included).',
    '',
  );
  out.push('## Targets', '', '| target | measured | met |', '|---|---|---|');
  for (const t of targets) out.push(`| ${t.target} | ${t.measured} | ${yes(t.holds)} |`);
  out.push('');

  out.push(`## 1. Layered DAG, N = ${l.n.toLocaleString('en-US')}, -j ${l.jobs} (\`node bench/layered.js build <dir> --n ${l.n} --db <db>\`)`, '');
  out.push('| phase | SQLite | PostgreSQL | PG ÷ SQLite | target | SQLite CPU | PG CPU | PG server CPU | PG commits | PG WAL syncs |');
  out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const [phase, name, target] of [
    ['full', 'full build', 2.5],
    ['noop', 'no-op', 1.5],
  ]) {
    const e = l.summary[phase];
    out.push(
      `| ${name} | ${seconds(e.sqlite.wallMs)} | ${seconds(e.postgres.wallMs)} | **${ratio(e.ratio)}** (${ratio(e.ratioOfMedians)}) | ≤ ${target}× | ` +
        `${seconds(e.sqlite.cpuMs)} | ${seconds(e.postgres.cpuMs)} | ${seconds(e.postgres.serverCpuMs)} | ${e.postgres.commits ?? '–'} | ${e.postgres.walSyncs ?? '–'} |`,
    );
  }
  out.push(
    '',
    `In-process build time (bench/layered.js's own timer, after start-up and opening the store): full ${seconds(l.summary.full.sqlite.inProcessBuildMs)} SQLite, ` +
      `${seconds(l.summary.full.postgres.inProcessBuildMs)} PostgreSQL; no-op ${seconds(l.summary.noop.sqlite.inProcessBuildMs)} / ${seconds(l.summary.noop.postgres.inProcessBuildMs)}. ` +
      `Peak RSS full ${l.summary.full.sqlite.maxRssMb} / ${l.summary.full.postgres.maxRssMb} MB. Per-repetition ratios: full ${l.summary.full.perRepRatios.join(', ')}; no-op ${l.summary.noop.perRepRatios.join(', ')}. ` +
      `Output checked byte for byte after the first full build: ${l.checks.map((k) => `${LABEL[k.store]} ${k.files - k.wrong}/${k.files}`).join(', ')}.`,
    '',
  );

  const pe = p.summary.full;
  out.push('## 2. The offline 63-task plan (`plan build <dir> --prompt "…" --param=startTime=… --db <db>`)', '');
  out.push('| | SQLite | PostgreSQL | PG ÷ SQLite | target |', '|---|---:|---:|---:|---:|');
  out.push(
    `| full build | ${seconds(pe.sqlite.wallMs)} | ${seconds(pe.postgres.wallMs)} | **${ratio(pe.ratio)}** (${ratio(pe.ratioOfMedians)}) | ≤ 1.5× |`,
  );
  out.push(`| CPU of the build process | ${seconds(pe.sqlite.cpuMs)} | ${seconds(pe.postgres.cpuMs)} | | |`);
  out.push(`| server CPU · commits | | ${seconds(pe.postgres.serverCpuMs)} · ${pe.postgres.commits} | | |`);
  const pc = p.checks[0];
  out.push(
    '',
    `Per-repetition ratios ${pe.perRepRatios.join(', ')}. The two stores' run dirs after the first repetition: ${pc.files} files, ` +
      `${pc.different.length === 0 ? 'byte-identical' : `${pc.different.length} differ (${pc.different.slice(0, 5).join(', ')})`}.`,
    '',
  );
  out.push('**Per-task persistence cost on PostgreSQL** (from 1: (PG full − SQLite full) ÷ N, medians):', '');
  out.push('| | µs per task | of a 1 s model call | target |', '|---|---:|---:|---|');
  out.push(`| PostgreSQL over SQLite | **${pt.usPerTask}** | ${pt.percentOfOneSecondCall}% | < 1,000 µs, < 0.1%: ${yes(pt.holds)} |`);
  out.push(`| the whole PostgreSQL build (wall ÷ N) | ${pt.wholeBuildUsPerTask} | ${pt.wholeBuildPercent}% | |`);
  out.push('');

  out.push(`## 3. A real plan in the database (${s.source}, ${s.files} files, ${(s.sourceBytes / 1e6).toFixed(2)} MB)`, '');
  out.push(
    'Copied to a temp dir and adopted as the README\'s "Bring an existing run dir" says: `plan build <copy> --prompt-file <copy>/001-2-plan.txt --db <db>` ' +
      `(SQLite: ran ${s.sqlite.ran}, ${s.sqlite.fresh} fresh; PostgreSQL: ran ${s.postgres.ran}, ${s.postgres.fresh} fresh).`,
    '',
  );
  out.push('| | SQLite (file, -wal and -shm) | PostgreSQL (Σ pg_total_relation_size) | target |', '|---|---:|---:|---|');
  out.push(`| database | ${s.sqlite.mb} MB | **${s.postgres.mb} MB** | ≤ 5 MB: ${yes(s.postgres.mb <= 5)} |`);
  out.push(`| adopting build, wall | ${seconds(s.sqlite.wallMs)} | ${seconds(s.postgres.wallMs)} | |`);
  out.push('', 'By table (bytes; PostgreSQL: heap + TOAST + indexes; SQLite: dbstat pages of the table and its indexes):', '');
  out.push('| table | SQLite | PostgreSQL |', '|---|---:|---:|');
  const names = [...new Set([...s.postgres.tables.map((t) => t.table), ...s.sqlite.tables.map((t) => t.table)])];
  for (const name of names) {
    const a = s.sqlite.tables.find((t) => t.table === name);
    const b = s.postgres.tables.find((t) => t.table === name);
    out.push(`| ${name} | ${a ? a.bytes.toLocaleString('en-US') : '–'} | ${b ? b.bytes.toLocaleString('en-US') : '–'} |`);
  }
  out.push(
    '',
    `plan_content on PostgreSQL: ${s.postgres.content.versions} versions, ${(s.postgres.content.sizeBytes / 1e6).toFixed(2)} MB of files stored as ` +
      `${(s.postgres.content.storedBytes / 1e6).toFixed(2)} MB deflated. The two adopted dirs: ${s.compared.different.length === 0 ? 'byte-identical' : `${s.compared.different.length} files differ`}.`,
    '',
  );

  out.push(
    `## 4. ${c.builds} \`plan build\` processes of different runs at once on one schema (offline plan, PLAN_DB_BUSY_TIMEOUT_MS=${c.busyTimeoutMs})`,
    '',
  );
  out.push(`| round | exit codes | wall of each build | max | median | complete attempts in schema | commits |`, '|---|---|---|---:|---:|---:|---:|');
  for (const k of c.rounds) {
    out.push(
      `| ${k.label} | ${k.processes.map((x) => x.status).join(' ')} | ${k.processes.map((x) => (x.wallMs / 1000).toFixed(2)).join(' · ')} s | **${seconds(k.maxWallMs)}** | ` +
        `${seconds(k.medianWallMs)} | ${k.completeAttemptsInSchema} (${k.runsInSchema} runs) | ${k.server.commits} |`,
    );
  }
  out.push('', `One build alone (section 2): ${seconds(pe.postgres.wallMs)}; ${c.builds} at once share ${m.cores} cores with the server.`);
  for (const k of c.rounds) for (const x of k.processes) if (x.error) out.push(`- ${k.label}, builder ${x.builder}: ${x.error}`);
  out.push('');

  if (r.diagnose) out.push(...renderDiagnosis(r));
  return `${out.join('\n')}\n`;
}

function renderDiagnosis(r) {
  const d = r.diagnose;
  const { n: N, reps: REPS } = r.config;
  const out = ['## 5. Where the time goes', ''];
  const st = d.statements;
  out.push(
    'Every statement each store ran, counted and timed in the build process (the driver wrapped: pg `Client.query`, better-sqlite3 `Statement.run/get/all`; ' +
      'pg_stat_statements is not loaded on this server). "awaited" sums each statement\'s time from call to answer (PostgreSQL: statements overlap at -j ' +
      `${r.layered.jobs}).`,
    '',
  );
  out.push('| build | store | wall | statements | per task | transactions | awaited | connections |', '|---|---|---:|---:|---:|---:|---:|---:|');
  for (const [key, name, tasks] of [
    ['layeredFull', `layered full, N = ${N.toLocaleString('en-US')}`, N],
    ['layeredNoop', 'layered no-op', N],
    ['plan', 'offline plan, 63 tasks', 63],
  ]) {
    for (const store of STORES) {
      const e = st[store][key];
      out.push(
        `| ${name} | ${LABEL[store]} | ${seconds(e.wallMs)} | ${e.statements.toLocaleString('en-US')} | ${round(e.statements / tasks, 2)} | ${e.transactions} | ${seconds(e.statementMs)} | ${store === 'postgres' ? e.connections : '–'} |`,
      );
    }
  }
  out.push('', `PostgreSQL, layered full build, the most frequent statements:`, '');
  out.push('| statement | count | per task | mean ms | awaited |', '|---|---:|---:|---:|---:|');
  for (const s of st.postgres.layeredFull.top)
    out.push(`| \`${s.text.replace(/\|/g, '\\|')}\` | ${s.count} | ${s.perTask} | ${s.meanMs} | ${seconds(s.ms)} |`);
  out.push('', 'PostgreSQL, layered no-op, the statements awaited longest:', '');
  out.push('| statement | count | mean ms | awaited |', '|---|---:|---:|---:|');
  for (const s of st.postgres.layeredNoop.slowest) out.push(`| \`${s.text.replace(/\|/g, '\\|')}\` | ${s.count} | ${s.meanMs} | ${seconds(s.ms)} |`);
  out.push('', 'PostgreSQL, offline plan:', '');
  out.push('| statement | count | per task | mean ms | awaited |', '|---|---:|---:|---:|---:|');
  for (const s of st.postgres.plan.top)
    out.push(`| \`${s.text.replace(/\|/g, '\\|')}\` | ${s.count} | ${s.perTask} | ${s.meanMs} | ${seconds(s.ms)} |`);
  out.push('');
  if (d.latency) {
    const a = d.latency.asyncCommit;
    out.push(
      `Latency from a Node client on this machine (median of 300): \`SELECT 1\` ${d.latency.syncCommit.selectMs} ms; a one-row autocommit INSERT ` +
        `(a commit) ${d.latency.syncCommit.commitMs} ms with synchronous_commit on${a ? `, ${a.commitMs} ms with it off` : ''}. ` +
        `A parameterized \`SELECT\` from 8 connections at once: ${d.latency.syncCommit.concurrent8.wallUsPerStatement} µs of wall and ` +
        `${d.latency.syncCommit.concurrent8.clientCpuUsPerStatement} µs of the client's CPU per statement.`,
      '',
    );
  }
  if (d.openCost) {
    const o = d.openCost.medianMs;
    out.push(
      `Opening the store and closing it (in-process, module already loaded; median of ${d.openCost.reps}): SQLite ${o.sqliteFresh} ms new, ${o.sqliteExisting} ms existing; ` +
        `PostgreSQL ${o.postgresFresh} ms new schema (migrations), ${o.postgresExisting} ms existing.`,
      '',
    );
  }
  const lf = r.layered.summary.full;
  const pgStatements = st.postgres.layeredFull;
  out.push(
    `Per task of the layered full build (medians of section 1): PostgreSQL costs ${round(((lf.postgres.wallMs - lf.sqlite.wallMs) * 1000) / N)} µs more wall, ` +
      `${round(((lf.postgres.cpuMs - lf.sqlite.cpuMs) * 1000) / N)} µs more CPU in the build process, and ${round((lf.postgres.serverCpuMs * 1000) / N)} µs of server CPU; ` +
      `it sends ${pgStatements.perTask} statements (${round(pgStatements.transactions / N, 2)} transaction of four — BEGIN, UPDATE, INSERT, COMMIT — and ` +
      `${round((pgStatements.statements - 4 * pgStatements.transactions) / N, 2)} statements on their own; ` +
      `${round(lf.postgres.commits / N, 2)} commits per task counted by the server) against SQLite's ${st.sqlite.layeredFull.perTask} in-process statements in ${round(st.sqlite.layeredFull.transactions / N, 2)} transactions.`,
    '',
  );
  if (d.variants) {
    out.push(`Layered full build, N = ${N.toLocaleString('en-US')}, ${REPS} repetitions alternating:`, '');
    out.push('| configuration | wall | build CPU | server CPU | WAL syncs |', '|---|---:|---:|---:|---:|');
    for (const v of d.variants)
      out.push(`| ${v.label} | ${seconds(v.wallMs)} | ${seconds(v.cpuMs)} | ${seconds(v.serverCpuMs)} | ${v.walSyncs ?? '–'} |`);
    out.push('');
  }
  if (d.profiles) {
    out.push(`CPU profiles of the build process (\`node --cpu-prof bench/layered.js build … --n ${N}\`), self time by file:`, '');
    out.push('| SQLite | ms | % | PostgreSQL | ms | % |', '|---|---:|---:|---|---:|---:|');
    const a = d.profiles.sqlite.files;
    const b = d.profiles.postgres.files;
    for (let k = 0; k < Math.max(a.length, b.length); k++) {
      const x = a[k];
      const y = b[k];
      out.push(
        `| ${x ? `\`${x.key}\`` : ''} | ${x?.ms ?? ''} | ${x?.percent ?? ''} | ${y ? `\`${y.key}\`` : ''} | ${y?.ms ?? ''} | ${y?.percent ?? ''} |`,
      );
    }
    out.push(
      '',
      `Sampled: SQLite ${d.profiles.sqlite.totalMs} ms, PostgreSQL ${d.profiles.postgres.totalMs} ms (wall ${seconds(d.profiles.sqlite.wallMs)} / ${seconds(d.profiles.postgres.wallMs)}).`,
      '',
    );
  }
  return out;
}

function evaluateTargets(r) {
  const targets = [];
  const add = (target, measured, holds) => targets.push({ target, measured, holds });
  const lf = r.layered.summary.full;
  const ln = r.layered.summary.noop;
  add(
    `layered N = ${N.toLocaleString('en-US')}, full build: PostgreSQL ≤ 2.5× SQLite's wall`,
    `${ratio(lf.ratio)} (${seconds(lf.postgres.wallMs)} vs ${seconds(lf.sqlite.wallMs)})`,
    lf.ratio <= 2.5,
  );
  add(
    `layered N = ${N.toLocaleString('en-US')}, no-op: PostgreSQL ≤ 1.5× SQLite's`,
    `${ratio(ln.ratio)} (${seconds(ln.postgres.wallMs)} vs ${seconds(ln.sqlite.wallMs)})`,
    ln.ratio <= 1.5,
  );
  const pf = r.plan.summary.full;
  add(
    'offline 63-task plan, full build: ≤ 1.5×',
    `${ratio(pf.ratio)} (${seconds(pf.postgres.wallMs)} vs ${seconds(pf.sqlite.wallMs)})`,
    pf.ratio <= 1.5,
  );
  add(
    'per-task persistence cost on PostgreSQL < 1 ms (< 0.1% of a 1 s model call)',
    `${r.perTask.usPerTask} µs (${r.perTask.percentOfOneSecondCall}%)`,
    r.perTask.holds,
  );
  add(
    'a real plan (real-run-silo, adopted) in PostgreSQL ≤ 5 MB',
    `${r.size.postgres.mb} MB (SQLite ${r.size.sqlite.mb} MB)`,
    r.size.postgres.mb <= 5,
  );
  for (const k of r.concurrent.rounds) {
    add(
      `${r.concurrent.builds} concurrent builds on one schema, lock_timeout 1 s, ${k.label}: all exit 0`,
      `exit ${k.processes.map((x) => x.status).join(' ')}; max wall ${seconds(k.maxWallMs)}`,
      k.allExitedZero,
    );
  }
  return targets;
}

async function main() {
  WORK = path.resolve(opts.work ?? fs.mkdtempSync(path.join(os.tmpdir(), 'plan-pg-bench-')));
  fs.mkdirSync(WORK, { recursive: true });
  const pg = await connectAdmin();
  const machine = await machineInfo();
  log(`PostgreSQL store against SQLite: N = ${N}, ${REPS} repetitions, ${shownUrl(BASE_URL)}, work in ${WORK}`);
  try {
    const results = { benchmark: 'postgres-store', machine, config: { n: N, reps: REPS, jobs: JOBS, concurrent: CONCURRENT } };
    results.layered = await layered();
    results.plan = await offlinePlan();
    const lf = results.layered.summary.full;
    const usPerTask = ((lf.postgres.wallMs - lf.sqlite.wallMs) * 1000) / N;
    results.perTask = {
      usPerTask: round(usPerTask),
      percentOfOneSecondCall: round((usPerTask / MODEL_CALL_US) * 100, 4),
      wholeBuildUsPerTask: round((lf.postgres.wallMs * 1000) / N),
      wholeBuildPercent: round(((lf.postgres.wallMs * 1000) / N / MODEL_CALL_US) * 100, 4),
      holds: usPerTask < 1000,
    };
    results.size = await realPlanSize();
    results.concurrent = await concurrentBuilds();
    if (!opts['no-diagnose']) results.diagnose = await diagnose(pg);
    machine.loadAverageAtEnd = os.loadavg().map((l) => round(l, 2));
    machine.distAtEnd = distFingerprint();
    if (machine.distAtEnd !== machine.distAtStart) log('dist/ changed during the run (someone compiled): the figures mix two builds of the engine');
    results.targets = evaluateTargets(results);
    fs.mkdirSync(opts.out, { recursive: true });
    const stem = path.join(opts.out, `${machine.date.slice(0, 10)}-postgres-store`);
    fs.writeFileSync(`${stem}.json`, `${JSON.stringify(results, null, 2)}\n`);
    const markdown = renderMarkdown(results);
    fs.writeFileSync(`${stem}.md`, markdown);
    process.stdout.write(markdown);
    log(`\nwrote ${path.relative(process.cwd(), stem)}.json and .md`);
    if (results.targets.some((t) => !t.holds)) process.exitCode = 1;
  } finally {
    for (const schema of [...createdSchemas]) await dropSchema(schema).catch(() => undefined);
    await admin.end();
    if (!opts.keep) fs.rmSync(WORK, { recursive: true, force: true });
  }
}

if (opts.child !== undefined) await traceChild();
else if (opts.render !== undefined) {
  const results = JSON.parse(fs.readFileSync(opts.render, 'utf8'));
  const target = opts.render.replace(/\.json$/, '.md');
  fs.writeFileSync(target, renderMarkdown(results));
  log(`wrote ${target}`);
} else await main();
