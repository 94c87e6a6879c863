#!/usr/bin/env node
// The layered-DAG benchmark's driver.
//
//   node bench/layered.js build <dir> --n N [--db PATH] [-j N] [--durability process|full] [--json]
//       Builds the layered pipeline (bench/layered/pipeline.mjs) in <dir> through the full DB-first path, the
//       way `plan build` does: the database beside the dir (or --db), a run created on first use, the run-dir
//       marker, the lock. Prints the wall time, how many tasks ran and the peak RSS.
//   node bench/layered.js emit <dir> --n N
//       Writes the equivalent build.ninja, Makefile, dodo.py and Snakefile into <dir>.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const PIPELINE = path.join(here, 'layered', 'pipeline.mjs');

const USAGE = `usage: node bench/layered.js build <dir> --n N [--db PATH] [-j N] [--durability process|full] [--json]
       node bench/layered.js emit <dir> --n N`;

function fail(message) {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

function parse(argv) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      n: { type: 'string' },
      db: { type: 'string' },
      jobs: { type: 'string', short: 'j', default: '8' },
      durability: { type: 'string', default: 'process' },
      json: { type: 'boolean', default: false },
    },
  });
  const [command, dir] = positionals;
  if (!['build', 'emit'].includes(command) || dir === undefined || positionals.length > 2) fail('give a command and a directory');
  const n = Number(values.n);
  if (!Number.isInteger(n) || n < 1) fail('--n must be a whole number ≥ 1');
  const jobs = Number(values.jobs);
  if (!Number.isInteger(jobs) || jobs < 1) fail('-j must be a whole number ≥ 1');
  if (!['process', 'full'].includes(values.durability)) fail('--durability is process or full');
  return { command, dir, n, db: values.db, jobs, durability: values.durability, json: values.json };
}

async function buildCommand(args) {
  // Loaded here, not at the top: `emit` needs none of the engine.
  const { build } = await import('../dist/index.js');
  const { checkRunDirPath, findRun, markRunDir, openStoreFor } = await import('../dist/cli/run-resolution.js');
  const { loadPipeline, pipelineSpecToStore } = await import('../dist/cli/pipelines.js');

  const runDir = checkRunDirPath(args.dir);
  const { store, location } = await openStoreFor(runDir, args.db, args.durability);
  let result;
  let buildMs;
  try {
    let run = await findRun(store, runDir);
    if (run === null) {
      run = await store.createRun({ runDir, pipeline: pipelineSpecToStore(PIPELINE), params: { n: String(args.n) } });
    } else if (String(run.params.n) !== String(args.n)) {
      fail(`run ${run.id} in ${runDir} was built with n=${String(run.params.n)}, not ${args.n}: use another dir`);
    }
    markRunDir(runDir, run);
    const pipeline = await loadPipeline(run.pipeline);
    const roots = pipeline.roots(run.params);
    const started = performance.now();
    result = await build({ roots, runDir, runId: run.id, store, concurrency: args.jobs });
    buildMs = performance.now() - started;
  } finally {
    await store.close();
  }

  const { summary, status } = result;
  const report = {
    status,
    n: args.n,
    tasks: summary.tasks,
    ran: summary.ran,
    fresh: summary.fresh,
    failed: summary.failed.length,
    buildMs: round(buildMs),
    // performance.now() counts from the start of the process: this includes Node's own start-up.
    sinceStartMs: round(performance.now()),
    maxRssKb: process.resourceUsage().maxRSS,
    durability: args.durability,
    jobs: args.jobs,
    db: location,
  };
  if (args.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else {
    process.stdout.write(
      `${status}: ran ${report.ran} of ${report.tasks} tasks (${report.fresh} fresh) — build ${(report.buildMs / 1000).toFixed(3)} s, ` +
        `${(report.sinceStartMs / 1000).toFixed(3)} s since process start, peak RSS ${(report.maxRssKb / 1024).toFixed(0)} MB\n`,
    );
  }
  process.exitCode = status === 'success' ? 0 : 1;
}

async function emitCommand(args) {
  const { emitPeerBuildFiles, PEER_FILES } = await import('./layered/emit.mjs');
  emitPeerBuildFiles(args.dir, args.n);
  process.stdout.write(`wrote ${Object.values(PEER_FILES).join(', ')} for ${args.n} tasks into ${args.dir}\n`);
}

function round(ms) {
  return Math.round(ms * 10) / 10;
}

const args = parse(process.argv.slice(2));
await (args.command === 'build' ? buildCommand(args) : emitCommand(args));
