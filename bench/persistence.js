#!/usr/bin/env node
// Issue 10, part 3: what persistence costs.
//
//   node bench/persistence.js [--n 3000] [--reps 5] [--out bench/results] [--silo DIR]
//
// 1. Per-task cost of the DB-first path: the layered DAG built in-process with the SQLite store, against the
//    same build with persistence switched off (bench/memory-store.js: a Store that keeps only what build()
//    reads back). Each build is its own process, the two alternate; the difference per task is the price of
//    durability, reported in µs and as a share of a 1 s model call.
// 2. Database size of a real plan: every file of a real run (shared/data/real-run-silo, ~8 MB) stored through the
//    store's content path as one run and one attempt, then every file restored from the database and compared
//    byte for byte.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
const PIPELINE = path.join(here, 'layered', 'pipeline.mjs');
const DEFAULT_SILO = path.resolve(repo, '..', 'shared', 'data', 'real-run-silo');
const MODEL_CALL_US = 1_000_000;

const { values: opts } = parseArgs({
  options: {
    n: { type: 'string', default: '3000' },
    reps: { type: 'string', default: '5' },
    jobs: { type: 'string', short: 'j', default: '8' },
    out: { type: 'string', default: path.join(here, 'results') },
    silo: { type: 'string', default: DEFAULT_SILO },
    child: { type: 'string' },
    dir: { type: 'string' },
  },
});

/** Child: one full build of the layered DAG into opts.dir with the given store; prints { buildMs }. */
async function child(kind) {
  const { build } = await import('../dist/index.js');
  const { pipeline } = await import(PIPELINE);
  const runDir = path.join(opts.dir, 'run');
  let store;
  if (kind === 'sqlite') {
    const { openSqliteStore } = await import('../dist/index.js');
    store = await openSqliteStore(path.join(opts.dir, 'plan.db'));
  } else {
    const { MemoryStore } = await import('./memory-store.js');
    store = new MemoryStore();
  }
  const params = { n: opts.n };
  const run = await store.createRun({ runDir, pipeline: PIPELINE, params });
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const result = await build({ roots: pipeline.roots(params), runDir, runId: run.id, store, concurrency: Number(opts.jobs) });
  const buildMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  await store.close();
  if (result.status !== 'success' || result.summary.ran !== Number(opts.n)) throw new Error(`build ${result.status}, ran ${result.summary.ran}`);
  process.stdout.write(`${JSON.stringify({ kind, buildMs, cpuMs, ran: result.summary.ran })}\n`);
}

function perTaskCost(work) {
  const n = Number(opts.n);
  const reps = Number(opts.reps);
  const times = { sqlite: [], memory: [] };
  const cpuTimes = { sqlite: [], memory: [] };
  for (let rep = 0; rep < reps; rep++) {
    const order = rep % 2 === 0 ? ['sqlite', 'memory'] : ['memory', 'sqlite'];
    for (const kind of order) {
      const dir = path.join(work, `${kind}-${rep}`);
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(dir, { recursive: true });
      const result = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', kind, '--dir', dir, '--n', String(n), '-j', opts.jobs], {
        encoding: 'utf8',
      });
      if (result.status !== 0) throw new Error(`${kind} build failed: ${result.stderr}`);
      const { buildMs, cpuMs } = JSON.parse(result.stdout.trim().split('\n').at(-1));
      times[kind].push(buildMs);
      cpuTimes[kind].push(cpuMs);
      process.stderr.write(
        `  ${kind.padEnd(6)} build of ${n} tasks: ${(buildMs / 1000).toFixed(3)} s wall, ${(cpuMs / 1000).toFixed(3)} s CPU (${((buildMs * 1000) / n).toFixed(0)} µs/task)\n`,
      );
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  const sqliteMs = median(times.sqlite);
  const memoryMs = median(times.memory);
  const perTaskSqliteUs = (sqliteMs * 1000) / n;
  const perTaskMemoryUs = (memoryMs * 1000) / n;
  const overheadUs = perTaskSqliteUs - perTaskMemoryUs;
  // CPU time (user + system, the libuv threads' file I/O included) is what a shared machine disturbs least.
  const cpuPerTaskSqliteUs = (median(cpuTimes.sqlite) * 1000) / n;
  const cpuPerTaskMemoryUs = (median(cpuTimes.memory) * 1000) / n;
  return {
    n,
    reps,
    jobs: Number(opts.jobs),
    buildMs: times,
    cpuMs: cpuTimes,
    cpuPerTaskSqliteUs: round(cpuPerTaskSqliteUs),
    cpuPerTaskMemoryUs: round(cpuPerTaskMemoryUs),
    cpuPersistenceUsPerTask: round(cpuPerTaskSqliteUs - cpuPerTaskMemoryUs),
    cpuPercentOfOneSecondCall: round(((cpuPerTaskSqliteUs - cpuPerTaskMemoryUs) / MODEL_CALL_US) * 100, 3),
    perTaskSqliteUs: round(perTaskSqliteUs),
    perTaskMemoryUs: round(perTaskMemoryUs),
    persistenceUsPerTask: round(overheadUs),
    percentOfOneSecondCall: round((overheadUs / MODEL_CALL_US) * 100, 3),
    engineUsPerTaskWithPersistence: round(perTaskSqliteUs),
    percentOfOneSecondCallWholeEngine: round((perTaskSqliteUs / MODEL_CALL_US) * 100, 3),
  };
}

async function storageOfRealPlan(work) {
  const { openSqliteStore } = await import('../dist/index.js');
  const silo = path.resolve(opts.silo);
  const files = listFiles(silo);
  const sourceBytes = files.reduce((sum, f) => sum + fs.statSync(path.join(silo, f)).size, 0);
  const dbPath = path.join(work, 'silo.db');
  const runDir = path.join(work, 'silo-run');

  let started = performance.now();
  let store = await openSqliteStore(dbPath);
  const run = await store.createRun({ runDir, pipeline: 'real-run-silo', params: { source: silo } });
  const attemptId = await store.startAttempt(run.id, 'RealPlan');
  const outputs = files.map((file) => {
    const bytes = fs.readFileSync(path.join(silo, file));
    return { path: file, sha256: createHash('sha256').update(bytes).digest('hex'), bytes };
  });
  await store.persistAttempt(attemptId, JSON.stringify({ version: '1', params: {}, inputs: {} }), outputs);
  await store.completeAttempt(attemptId, []);
  await store.close(); // checkpoints the WAL into the database file
  const storeMs = performance.now() - started;
  const dbBytes = fs.statSync(dbPath).size + sizeIfExists(`${dbPath}-wal`);

  started = performance.now();
  store = await openSqliteStore(dbPath);
  let identical = 0;
  const different = [];
  for (const output of outputs) {
    const bytes = await store.readContent(run.id, output.path);
    const target = path.join(runDir, output.path);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, bytes);
    if (bytes !== null && Buffer.compare(fs.readFileSync(target), fs.readFileSync(path.join(silo, output.path))) === 0) identical++;
    else different.push(output.path);
  }
  await store.close();
  const restoreMs = performance.now() - started;
  return {
    source: path.relative(repo, silo),
    files: files.length,
    sourceBytes,
    dbBytes,
    dbMb: round(dbBytes / 1e6, 2),
    compressionRatio: round(sourceBytes / dbBytes, 2),
    storeMs: round(storeMs),
    restoreMs: round(restoreMs),
    identical,
    different,
  };
}

function listFiles(dir, prefix = '') {
  const files = [];
  for (const entry of fs.readdirSync(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) files.push(...listFiles(dir, rel));
    else if (entry.isFile()) files.push(rel);
  }
  return files.sort();
}

function sizeIfExists(file) {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function round(x, digits = 1) {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function renderMarkdown(r) {
  const c = r.perTask;
  const s = r.storage;
  return [
    `# Persistence and storage, ${r.date.slice(0, 10)}`,
    '',
    `Machine: ${r.machine.nproc} CPUs (${r.machine.cpuModel}), load average ${r.machine.loadAverage.join(' / ')}; Node ${process.version}; plan at ${r.machine.commit}.`,
    '',
    `## Per-task cost of the DB-first path (layered DAG, N = ${c.n.toLocaleString('en-US')}, -j ${c.jobs}, median of ${c.reps} in-process builds each, alternating)`,
    '',
    '| build | wall µs per task | CPU µs per task |',
    '|---|---:|---:|',
    `| SQLite store (content + attempt committed before each file is written) | ${c.perTaskSqliteUs} | ${c.cpuPerTaskSqliteUs} |`,
    `| persistence switched off (bench/memory-store.js) | ${c.perTaskMemoryUs} | ${c.cpuPerTaskMemoryUs} |`,
    `| **persistence** | **${c.persistenceUsPerTask}** | **${c.cpuPersistenceUsPerTask}** |`,
    '',
    `Persistence costs ${c.persistenceUsPerTask} µs of wall time per task (${c.cpuPersistenceUsPerTask} µs of CPU): ` +
      `**${c.percentOfOneSecondCall}% of a 1 s model call** (target < 1%: ${c.percentOfOneSecondCall < 1 ? 'holds' : '**missed**'}). ` +
      `The whole engine with persistence, ${c.perTaskSqliteUs} µs per task, is ${c.percentOfOneSecondCallWholeEngine}% of such a call.`,
    '',
    '## Database size of a real plan',
    '',
    '| | |',
    '|---|---:|',
    `| files (${s.source}) | ${s.files} |`,
    `| their size | ${(s.sourceBytes / 1e6).toFixed(2)} MB |`,
    `| database after storing them as one run | **${s.dbMb} MB** (${s.compressionRatio}× smaller; target ≤ 5 MB: ${s.dbMb <= 5 ? 'holds' : '**missed**'}) |`,
    `| time to store (open, one attempt, one transaction, close) | ${(s.storeMs / 1000).toFixed(3)} s |`,
    `| time to restore every file from the database | ${(s.restoreMs / 1000).toFixed(3)} s |`,
    `| restored byte-identical | ${s.identical} of ${s.files}${s.different.length ? ` (different: ${s.different.join(', ')})` : ''} |`,
    '',
  ].join('\n');
}

async function main() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'plan-persistence-'));
  try {
    process.stderr.write(`per-task cost, N = ${opts.n}, ${opts.reps} repetitions:\n`);
    const perTask = perTaskCost(work);
    process.stderr.write('storing and restoring the real run…\n');
    const storage = await storageOfRealPlan(work);
    const cpuinfo = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
    const results = {
      benchmark: 'persistence',
      date: new Date().toISOString(),
      machine: {
        nproc: os.availableParallelism(),
        cpuModel: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? 'unknown',
        loadAverage: os.loadavg().map((l) => round(l, 2)),
        commit: spawnSync('git', ['-C', repo, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim(),
        node: process.version,
      },
      perTask,
      storage,
    };
    fs.mkdirSync(opts.out, { recursive: true });
    const stem = path.join(opts.out, `${results.date.slice(0, 10)}-persistence`);
    fs.writeFileSync(`${stem}.json`, `${JSON.stringify(results, null, 2)}\n`);
    const markdown = renderMarkdown(results);
    fs.writeFileSync(`${stem}.md`, markdown);
    process.stdout.write(markdown);
    process.stderr.write(`\nwrote ${path.relative(process.cwd(), stem)}.json and .md\n`);
    if (storage.different.length > 0) process.exitCode = 1;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (opts.child !== undefined) await child(opts.child);
else await main();
