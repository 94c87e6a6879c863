#!/usr/bin/env node
// The benchmarks of issue 10, side by side on this machine.
//
//   npm run bench                 short run (a few minutes): N = 1,000 with every tool that finishes a build
//                                 in reasonable time; N = 10,000 with plan, the floor and ninja (the figures
//                                 the targets are stated against); then bench/persistence.js
//   npm run bench -- --full       everything: N = 1,000, 10,000 and 100,000, every peer and phase where it
//                                 finishes in reasonable time (peers at 100k: full build and no-op only)
//
// Options: --sizes 1000,10000  --reps 3  --tools plan,floor,ninja,…  -j 4  --budget SECONDS (skip a tool whose
// build is expected to take longer)  --work DIR  --keep  --no-install  --no-persistence
// --baseline DIR: also time another checkout of plan (its dist built), as tool `plan-baseline`, in the same
// repetitions: `plan ÷ baseline` then says whether a change made the engine faster or slower.
//
// Phases, each measured as a fresh process (so wall times include start-up) under /usr/bin/time -v, after a
// `sync` so that no build pays for the previous one's pending disk writes:
//   (a) full build   (b) no-op   (c) touch one layer-1 output without changing it
//   (d) delete one mid-layer output   (e) change the first line of one layer-1 output
// Within one repetition each tool runs its phases in sequence on its own dir; the order of the tools rotates
// from one repetition to the next, so slow drift of a shared machine spreads over all of them. Figures are
// medians; ratios are medians of the per-repetition ratios.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { downstreamCone, layerCount, nodeFile, nodeInputs, nodes } from './layered/dag.mjs';
import { emitPeerBuildFiles, PEER_FILES } from './layered/emit.mjs';
import { expectedContents } from './layered/expected.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
const LAYERED = path.join(here, 'layered.js');
const FLOOR = path.join(here, 'floor.js');
const PERSISTENCE = path.join(here, 'persistence.js');

const { values: opts } = parseArgs({
  options: {
    full: { type: 'boolean', default: false },
    sizes: { type: 'string' },
    reps: { type: 'string', default: '3' },
    tools: { type: 'string' },
    jobs: { type: 'string', short: 'j' },
    budget: { type: 'string' },
    work: { type: 'string' },
    out: { type: 'string', default: path.join(here, 'results') },
    keep: { type: 'boolean', default: false },
    'no-install': { type: 'boolean', default: false },
    'no-persistence': { type: 'boolean', default: false },
    baseline: { type: 'string' },
  },
});

const FULL = opts.full;
const SIZES = (opts.sizes ?? (FULL ? '1000,10000,100000' : '1000,10000')).split(',').map(Number);
const REPS = Number(opts.reps);
const JOBS = Number(opts.jobs ?? os.availableParallelism() + 2); // ninja's own default
// A single build expected to take longer than this is not run (the figure is reported as skipped).
const BUDGET_S = Number(opts.budget ?? (FULL ? 150 : 15));
const WORK = path.resolve(opts.work ?? path.join(os.tmpdir(), `plan-bench-${process.pid}`));

const PHASES = ['a', 'b', 'c', 'd', 'e'];
const PHASE_NAMES = {
  a: '(a) full build',
  b: '(b) no-op',
  c: '(c) touch a layer-1 output',
  d: '(d) delete a mid-layer output',
  e: '(e) edit a layer-1 output',
};

const node = process.execPath;
/** Each tool: how to run one build in `base`, where its outputs land, and which phases it takes part in. */
const TOOLS = [
  {
    id: 'plan',
    label: 'plan',
    phases: PHASES,
    outDir: (base) => path.join(base, 'run'),
    command: (base, n) => [node, [LAYERED, 'build', path.join(base, 'run'), '--n', String(n), '-j', String(JOBS), '--json']],
  },
  {
    id: 'floor',
    label: 'floor',
    phases: ['a'],
    outDir: (base) => path.join(base, 'run'),
    command: (base, n) => [node, [FLOOR, path.join(base, 'run'), '--n', String(n), '--json']],
  },
  {
    id: 'plan-full',
    label: 'plan --durability full',
    phases: ['a'],
    outDir: (base) => path.join(base, 'run'),
    command: (base, n) => [node, [LAYERED, 'build', path.join(base, 'run'), '--n', String(n), '-j', String(JOBS), '--durability', 'full', '--json']],
  },
  {
    id: 'ninja',
    label: 'ninja',
    peer: true,
    binary: 'ninja',
    phases: PHASES,
    command: () => ['ninja', ['-j', String(JOBS)]],
    version: ['ninja', ['--version']],
  },
  {
    id: 'make',
    label: 'make',
    peer: true,
    binary: 'make',
    phases: PHASES,
    command: () => ['make', ['-j', String(JOBS), '-s']],
    version: ['make', ['--version']],
  },
  {
    id: 'doit',
    label: 'doit',
    peer: true,
    binary: 'doit',
    phases: PHASES,
    command: () => ['doit', ['-n', String(JOBS), '-P', 'thread']],
    version: ['doit', ['--version']],
  },
  {
    id: 'snakemake',
    label: 'snakemake',
    peer: true,
    binary: 'snakemake',
    phases: PHASES,
    command: () => ['snakemake', ['--cores', String(JOBS), '--quiet']],
    version: ['snakemake', ['--version']],
  },
];
if (opts.baseline !== undefined) {
  const baseline = path.resolve(opts.baseline);
  const layered = path.join(baseline, 'bench', 'layered.js');
  if (!fs.existsSync(path.join(baseline, 'dist', 'index.js'))) throw new Error(`--baseline ${baseline}: no dist/ there (run npx tsc in it)`);
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['-C', baseline, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {}
  TOOLS.splice(1, 0, {
    id: 'plan-baseline',
    label: `plan at ${commit} (baseline)`,
    phases: PHASES,
    outDir: (base) => path.join(base, 'run'),
    command: (base, n) => [node, [layered, 'build', path.join(base, 'run'), '--n', String(n), '-j', String(JOBS), '--json']],
  });
}
for (const tool of TOOLS) tool.outDir ??= (base) => base;
const selected = opts.tools === undefined ? TOOLS : TOOLS.filter((t) => opts.tools.split(',').includes(t.id));

function log(line) {
  process.stderr.write(`${line}\n`);
}

function which(binary) {
  return spawnSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' }).stdout.trim() || null;
}

/** The peers come from Debian: install the missing ones (apt-get update only if the install fails). */
function ensurePeers() {
  const wanted = { ninja: 'ninja-build', make: 'make', doit: 'python3-doit', snakemake: 'snakemake', hyperfine: 'hyperfine' };
  const missing = Object.keys(wanted).filter((binary) => which(binary) === null);
  if (!fs.existsSync('/usr/bin/time')) missing.push('time');
  if (missing.length === 0 || opts['no-install']) return;
  log(`installing the peers from Debian (${missing.join(', ')} missing)…`);
  const packages = ['ninja-build', 'make', 'python3-doit', 'snakemake', 'hyperfine', 'time'];
  const install = () =>
    spawnSync('apt-get', ['install', '-y', ...packages], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  if (install().status !== 0) {
    spawnSync('apt-get', ['update'], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (install().status !== 0) log('could not install the peers: the missing ones are left out');
  }
}

function firstLineOf(command, args) {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  return (
    `${result.stdout ?? ''}${result.stderr ?? ''}`
      .split('\n')
      .find((l) => l.trim() !== '')
      ?.trim() ?? null
  );
}

/** A hash of the compiled engine and store: tells whether dist/ changed under a run (a shared work tree). */
function distFingerprint() {
  const hash = createHash('sha256');
  for (const sub of ['engine', 'store']) {
    const dir = path.join(repo, 'dist', sub);
    for (const name of fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.js'))
      .sort())
      hash.update(name).update(fs.readFileSync(path.join(dir, name)));
  }
  return hash.digest('hex').slice(0, 12);
}

function machineInfo() {
  const cpuinfo = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  const versions = { node: process.version };
  for (const tool of TOOLS) if (tool.version && which(tool.binary)) versions[tool.id] = firstLineOf(...tool.version);
  versions.sqlite = firstLineOf(node, [
    '-e',
    "const D=require('better-sqlite3');console.log(new D(':memory:').prepare('select sqlite_version() v').get().v)",
  ]);
  return {
    date: new Date().toISOString(),
    nproc: Number(firstLineOf('nproc', [])),
    cpuModel: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown',
    memTotalMb: Math.round(os.totalmem() / 2 ** 20),
    free: spawnSync('free', ['-m'], { encoding: 'utf8' }).stdout,
    kernel: `${os.type()} ${os.release()}`,
    loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
    commit: firstLineOf('git', ['-C', repo, 'rev-parse', '--short', 'HEAD']),
    dirtyWorkTree: spawnSync('git', ['-C', repo, 'status', '--porcelain', '--untracked-files=no', 'src'], { encoding: 'utf8' }).stdout.trim() !== '',
    distAtStart: distFingerprint(),
    // Where the builds write: a virtual disk and a tmpfs give very different file-system costs.
    workDir: WORK,
    workFileSystem: firstLineOf('stat', ['-f', '-c', '%T', path.dirname(WORK)]),
    versions,
  };
}

const median = (xs) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** (mtime, inode, size) of every output: a file whose triple changed was written by the build. */
function statSnapshot(dir, files) {
  const snapshot = new Map();
  for (const file of files) {
    try {
      const s = fs.lstatSync(path.join(dir, file), { bigint: true });
      snapshot.set(file, `${s.mtimeNs}:${s.ino}:${s.size}`);
    } catch {
      snapshot.set(file, null);
    }
  }
  return snapshot;
}

function filesWritten(before, after) {
  let count = 0;
  for (const [file, stat] of after) if (stat !== null && stat !== before.get(file)) count++;
  return count;
}

function checkContents(dir, expected) {
  const wrong = [];
  for (const [file, content] of expected) {
    let actual = null;
    try {
      actual = fs.readFileSync(path.join(dir, file), 'utf8');
    } catch {
      /* missing */
    }
    if (actual !== content) wrong.push(file);
  }
  return wrong;
}

/**
 * Flushes the writes still pending from the previous build (its files, a removed dir) before the next one is
 * timed: on a shared virtual disk the kernel's writeback of one tool's 10,000 files otherwise lands in the
 * system time of whichever tool runs next. The page cache is kept: every tool starts warm.
 */
function settleDisk() {
  spawnSync('sync', [], { stdio: 'ignore' });
}

/** One build as a fresh process under /usr/bin/time -v: wall time, peak RSS, exit status, stdout. */
function measure(tool, base, n) {
  const [command, args] = tool.command(base, n);
  const timeFile = path.join(WORK, 'time.txt');
  const outFile = path.join(WORK, 'stdout.txt');
  const errFile = path.join(WORK, 'stderr.txt');
  const out = fs.openSync(outFile, 'w');
  const err = fs.openSync(errFile, 'w');
  const started = process.hrtime.bigint();
  const result = spawnSync('/usr/bin/time', ['-v', '-o', timeFile, command, ...args], {
    cwd: base,
    stdio: ['ignore', out, err],
    env: { ...process.env, NO_COLOR: '1' },
  });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  fs.closeSync(out);
  fs.closeSync(err);
  const timeText = fs.existsSync(timeFile) ? fs.readFileSync(timeFile, 'utf8') : '';
  const maxRssKb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(timeText)?.[1] ?? NaN);
  // user + system time of the build and every process it waited for (ninja's shells included)
  const cpuMs = ['User', 'System'].reduce(
    (sum, kind) => sum + Number(new RegExp(`${kind} time \\(seconds\\): ([\\d.]+)`).exec(timeText)?.[1] ?? NaN) * 1000,
    0,
  );
  const stdout = fs.readFileSync(outFile, 'utf8');
  const stderr = fs.readFileSync(errFile, 'utf8');
  return { wallMs, cpuMs, maxRssKb, status: result.status, stdout, stderr };
}

/** Puts the dir in the state the phase starts from; returns what was done, for the log. */
function mutate(phase, outDir, n) {
  const layerOne = nodeFile(1, 0);
  switch (phase) {
    case 'c': {
      sleep(20); // a file-system timestamp tick: the touch must be newer than every output
      const now = new Date();
      fs.utimesSync(path.join(outDir, layerOne), now, now);
      return `touched ${layerOne}`;
    }
    case 'd': {
      const file = nodeFile(midLayer(n), 0);
      fs.rmSync(path.join(outDir, file));
      return `deleted ${file}`;
    }
    case 'e': {
      sleep(20);
      const file = path.join(outDir, layerOne);
      fs.writeFileSync(file, `edited ${fs.readFileSync(file, 'utf8')}`);
      return `edited the first line of ${layerOne}`;
    }
    default:
      return null;
  }
}

const midLayer = (n) => Math.floor(layerCount(n) / 2);

/** Tasks that must run in each phase for a tool with content hashes and early cutoff (plan). */
function expectedRan(phase, n) {
  return { a: n, b: 0, c: 0, d: 1, e: readersOfChangedInputs(n) }[phase];
}

const readersCache = new Map();
/**
 * (e): the tasks one of whose inputs differs after the edit of L1-0. Every file starts with its own task's name,
 * so the edit changes the files of L1-0's readers but not their first lines: with early cutoff the rebuild stops
 * one layer further, well inside the downstream cone, which a tool without early cutoff re-runs whole.
 */
function readersOfChangedInputs(n) {
  if (!readersCache.has(n)) {
    const edited = nodeFile(1, 0);
    const before = expectedContents(n);
    const after = expectedContents(n, { [edited]: `edited ${before.get(edited)}` });
    let count = 0;
    for (const [layer, index] of nodes(n)) {
      if (nodeFile(layer, index) === edited) continue;
      if (nodeInputs(layer, index).some(([l, i]) => before.get(nodeFile(l, i)) !== after.get(nodeFile(l, i)))) count++;
    }
    readersCache.set(n, count);
  }
  return readersCache.get(n);
}

/** Which phases a tool takes part in at size n, or why not. */
function phasesFor(tool, n) {
  // ~25 s for a 1,000-task build here: too slow for the short run's few minutes
  if (tool.id === 'snakemake' && !FULL) return { phases: [], note: 'only with --full (too slow for the short run)' };
  if (!tool.peer || n <= 1000 || (FULL && n <= 10000)) return { phases: tool.phases };
  if (tool.id === 'ninja' || FULL)
    return { phases: tool.phases.filter((p) => p === 'a' || p === 'b'), note: 'full build and no-op only at this size' };
  return { phases: [], note: 'only with --full' };
}

// ---------------------------------------------------------------------------------------------------------

function main() {
  ensurePeers();
  fs.mkdirSync(WORK, { recursive: true });
  const machine = machineInfo();
  const available = selected.filter((tool) => !tool.peer || which(tool.binary) !== null);
  for (const tool of selected) if (!available.includes(tool)) log(`${tool.id}: not installed, left out`);
  log(`benchmarking on ${machine.nproc} CPUs (${machine.cpuModel}), load ${machine.loadAverageAtStart.join(' ')}; work dir ${WORK}`);

  const raw = [];
  const skipped = []; // { n, tool, reason }
  const checks = []; // { n, tool, phase, wrong }
  const stoppedAt = new Map(); // tool id → reason it stopped (too slow or failed): no larger size either

  for (const n of SIZES) {
    const template = path.join(WORK, `n${n}`, 'template');
    emitPeerBuildFiles(template, n);
    const files = [...nodes(n)].map(([l, i]) => nodeFile(l, i));
    const expected = expectedContents(n);
    const edited = expectedContents(n, { [nodeFile(1, 0)]: `edited ${expected.get(nodeFile(1, 0))}` });

    const plans = new Map();
    for (const tool of available) {
      if (stoppedAt.has(tool.id)) {
        skipped.push({ n, tool: tool.id, reason: stoppedAt.get(tool.id) });
        continue;
      }
      const { phases, note } = phasesFor(tool, n);
      if (phases.length === 0) {
        skipped.push({ n, tool: tool.id, reason: note });
        continue;
      }
      const estimate = estimateFullBuildS(raw, tool.id, n);
      if (estimate !== null && estimate > BUDGET_S) {
        const reason = `a full build would take ~${Math.round(estimate)} s (budget ${BUDGET_S} s; --budget to change)`;
        skipped.push({ n, tool: tool.id, reason });
        stoppedAt.set(tool.id, reason);
        continue;
      }
      if (note) skipped.push({ n, tool: tool.id, reason: note, partial: true });
      plans.set(tool.id, phases);
    }

    for (let rep = 0; rep < REPS; rep++) {
      const active = available.filter((tool) => plans.has(tool.id) && !stoppedAt.has(tool.id));
      const order = active.map((_, k) => active[(k + rep) % active.length]);
      for (const tool of order) {
        const base = path.join(WORK, `n${n}`, tool.id);
        fs.rmSync(base, { recursive: true, force: true });
        fs.mkdirSync(base, { recursive: true });
        if (tool.peer) fs.copyFileSync(path.join(template, PEER_FILES[tool.id]), path.join(base, PEER_FILES[tool.id]));
        const outDir = tool.outDir(base);
        for (const phase of plans.get(tool.id)) {
          const change = mutate(phase, outDir, n);
          const before = statSnapshot(outDir, files);
          settleDisk();
          const m = measure(tool, base, n);
          const written = filesWritten(before, statSnapshot(outDir, files));
          let report = null;
          if (!tool.peer) {
            try {
              report = JSON.parse(m.stdout.trim().split('\n').at(-1));
            } catch {
              /* reported below as a failure */
            }
          }
          const ran = report?.ran ?? written;
          const row = {
            n,
            tool: tool.id,
            rep,
            phase,
            wallMs: round(m.wallMs),
            cpuMs: round(m.cpuMs),
            maxRssKb: m.maxRssKb,
            ran,
            filesWritten: written,
            status: m.status,
            change,
          };
          if (report?.buildMs !== undefined) row.inProcessMs = report.buildMs;
          raw.push(row);
          log(
            `n=${n} rep ${rep + 1}/${REPS} ${tool.id.padEnd(9)} ${PHASE_NAMES[phase].padEnd(30)} ${(m.wallMs / 1000).toFixed(3).padStart(8)} s  ` +
              `ran ${String(ran).padStart(6)}  ${Math.round(m.maxRssKb / 1024)} MB${m.status === 0 ? '' : `  EXIT ${m.status}`}`,
          );
          if (m.status !== 0) {
            const reason = `failed at n=${n}, phase ${phase} (exit ${m.status}): ${m.stderr.trim().split('\n').slice(-3).join(' / ')}`;
            log(`  ${reason}`);
            stoppedAt.set(tool.id, reason);
            break;
          }
          if (rep === 0 && (phase === 'a' || phase === 'e')) {
            const wrong = checkContents(outDir, phase === 'a' ? expected : edited);
            checks.push({ n, tool: tool.id, phase, wrong: wrong.length, sample: wrong.slice(0, 5) });
            if (wrong.length > 0) log(`  WRONG CONTENT in ${wrong.length} files, e.g. ${wrong.slice(0, 3).join(', ')}`);
          }
          if (m.wallMs > BUDGET_S * 1000 * 1.5 && phase === 'a') {
            stoppedAt.set(tool.id, `a full build at n=${n} took ${Math.round(m.wallMs / 1000)} s (budget ${BUDGET_S} s)`);
          }
        }
      }
    }
    if (!opts.keep) fs.rmSync(path.join(WORK, `n${n}`), { recursive: true, force: true });
  }

  machine.loadAverageAtEnd = os.loadavg().map((l) => Math.round(l * 100) / 100);
  machine.distAtEnd = distFingerprint();
  if (machine.distAtEnd !== machine.distAtStart) log('dist/ changed during the run (someone compiled): the figures mix two builds of the engine');
  const summary = summarize(raw);
  const targets = evaluateTargets(raw, summary);
  const results = {
    benchmark: 'layered',
    mode: FULL ? 'full' : 'short',
    machine,
    config: { sizes: SIZES, reps: REPS, jobs: JOBS, budgetS: BUDGET_S, width: 10 },
    summary,
    targets,
    skipped,
    checks,
    raw,
  };
  fs.mkdirSync(opts.out, { recursive: true });
  const stem = path.join(opts.out, `${machine.date.slice(0, 10)}-layered`);
  fs.writeFileSync(`${stem}.json`, `${JSON.stringify(results, null, 2)}\n`);
  const markdown = renderMarkdown(results);
  fs.writeFileSync(`${stem}.md`, markdown);
  process.stdout.write(markdown);
  log(`\nwrote ${path.relative(process.cwd(), stem)}.json and .md`);
  if (!opts.keep) fs.rmSync(WORK, { recursive: true, force: true });

  if (!opts['no-persistence']) {
    log('\nbench/persistence.js …');
    const args = [PERSISTENCE, '--out', opts.out, ...(FULL ? ['--n', '10000'] : [])];
    spawnSync(node, args, { stdio: 'inherit' });
  }
}

/** A tool's full-build time at n, extrapolated linearly from the largest smaller size it ran at. */
function estimateFullBuildS(raw, toolId, n) {
  const sizes = [...new Set(raw.filter((r) => r.tool === toolId && r.phase === 'a' && r.n < n).map((r) => r.n))];
  if (sizes.length === 0) return null;
  const from = Math.max(...sizes);
  const wall = median(raw.filter((r) => r.tool === toolId && r.phase === 'a' && r.n === from).map((r) => r.wallMs));
  return (wall / 1000) * (n / from);
}

function summarize(raw) {
  const groups = new Map();
  for (const r of raw) {
    if (r.status !== 0) continue;
    const key = `${r.n}|${r.tool}|${r.phase}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(r);
  }
  const perRep = (n, phase, tool, rep) => raw.find((r) => r.n === n && r.phase === phase && r.tool === tool && r.rep === rep && r.status === 0);
  const ratioTo = (rows, reference) => {
    const ratios = rows
      .map((r) => [r, perRep(r.n, r.phase, reference, r.rep)])
      .filter(([, ref]) => ref)
      .map(([r, ref]) => r.wallMs / ref.wallMs);
    return ratios.length > 0 ? round(median(ratios), 3) : null;
  };
  const summary = [];
  for (const rows of groups.values()) {
    const { n, tool, phase } = rows[0];
    const ranValues = [...new Set(rows.map((r) => r.ran))];
    summary.push({
      n,
      tool,
      phase,
      reps: rows.length,
      wallMs: round(median(rows.map((r) => r.wallMs))),
      minWallMs: round(Math.min(...rows.map((r) => r.wallMs))),
      cpuMs: round(median(rows.map((r) => r.cpuMs))),
      maxRssMb: round(median(rows.map((r) => r.maxRssKb)) / 1024, 1),
      ran: ranValues.length === 1 ? ranValues[0] : ranValues,
      expectedRan: tool.startsWith('plan') || tool === 'floor' ? expectedRan(phase, n) : undefined,
      toFloor: phase === 'a' && tool !== 'floor' ? ratioTo(rows, 'floor') : null,
      toNinja: tool !== 'ninja' ? ratioTo(rows, 'ninja') : null,
      toBaseline: tool === 'plan' ? ratioTo(rows, 'plan-baseline') : null,
    });
  }
  return summary;
}

function evaluateTargets(raw, summary) {
  const get = (n, tool, phase) => summary.find((s) => s.n === n && s.tool === tool && s.phase === phase);
  const targets = [];
  const add = (name, measured, holds, detail) => targets.push({ target: name, measured, holds, detail });
  const a10 = get(10000, 'plan', 'a');
  if (a10?.toFloor != null) add('(a) full build, 10k: ≤ 1.5× the floor', `${a10.toFloor}×`, a10.toFloor <= 1.5);
  if (a10?.toNinja != null) add("(a) full build, 10k: ≤ 0.25× ninja's time", `${a10.toNinja}×`, a10.toNinja <= 0.25);
  const full10 = get(10000, 'plan-full', 'a');
  if (full10?.toNinja != null) add("(a) full build, 10k, --durability full: ≤ 0.75× ninja's time", `${full10.toNinja}×`, full10.toNinja <= 0.75);
  const a100 = get(100000, 'plan', 'a');
  if (a100 && a10) {
    const growth = round(a100.wallMs / a10.wallMs, 2);
    add('(a) full build, 100k: ≤ 11× the 10k time', `${growth}×`, growth <= 11);
  }
  const b10 = get(10000, 'plan', 'b');
  if (b10) add('(b) no-op, 10k: ≤ 0.3 s wall, Node start-up included', `${(b10.wallMs / 1000).toFixed(3)} s`, b10.wallMs <= 300);
  if (b10?.toNinja != null) add("(b) no-op, 10k: ≤ 5× ninja's no-op", `${b10.toNinja}×`, b10.toNinja <= 5);
  for (const [phase, words] of [
    ['c', '(c) touch: 0 tasks re-run'],
    ['d', '(d) delete: exactly 1 task re-runs'],
    ['e', '(e) edit: only its downstream cone re-runs (with early cutoff: only the readers of changed files)'],
  ]) {
    const rows = raw.filter((r) => r.tool === 'plan' && r.phase === phase && r.status === 0);
    if (rows.length === 0) continue;
    const bad = rows.filter((r) => r.ran !== expectedRan(phase, r.n));
    const counts = [...new Set(rows.map((r) => `${r.ran}/${expectedRan(phase, r.n)}`))].join(', ');
    add(words, `ran/expected: ${counts}`, bad.length === 0);
  }
  const rss10 = raw.filter((r) => r.tool === 'plan' && r.n === 10000 && r.status === 0).map((r) => r.maxRssKb / 1024);
  if (rss10.length > 0) add('peak RSS at 10k: ≤ 150 MB', `${Math.round(Math.max(...rss10))} MB (max over phases)`, Math.max(...rss10) <= 150);
  return targets;
}

function round(x, digits = 1) {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function seconds(ms) {
  if (ms == null) return '–';
  return ms < 1000 ? `${(ms / 1000).toFixed(3)} s` : ms < 10_000 ? `${(ms / 1000).toFixed(2)} s` : `${(ms / 1000).toFixed(1)} s`;
}

function renderMarkdown(results) {
  const { machine, summary, config } = results;
  const toolIds = TOOLS.map((t) => t.id).filter((id) => summary.some((s) => s.tool === id));
  const label = (id) => TOOLS.find((t) => t.id === id).label;
  const get = (n, tool, phase) => summary.find((s) => s.n === n && s.tool === tool && s.phase === phase);
  const versions = Object.entries(machine.versions)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const out = [];
  out.push(`# Layered DAG benchmark, ${machine.date.slice(0, 10)} (${results.mode} run)`, '');
  out.push(
    `Machine: ${machine.nproc} CPUs (${machine.cpuModel}), ${Math.round(machine.memTotalMb / 1024)} GiB RAM, ${machine.kernel}; ` +
      `load average ${machine.loadAverageAtStart.join(' / ')} at the start, ${machine.loadAverageAtEnd.join(' / ')} at the end (a shared machine). ` +
      `Versions: ${versions}; plan at ${machine.commit}${machine.dirtyWorkTree ? ' with uncommitted changes in src/' : ''} ` +
      `(dist ${machine.distAtStart}${machine.distAtEnd !== machine.distAtStart ? `, changed to ${machine.distAtEnd} during the run` : ''}). ` +
      `Builds write under ${machine.workDir} (file system: ${machine.workFileSystem ?? 'unknown'}).`,
    '',
  );
  out.push(
    `Each figure is the median of ${config.reps} repetitions, tools alternating; every build is a fresh process timed from outside ` +
      `(Node start-up included), all tools at -j ${config.jobs}. Ratios are medians of per-repetition ratios. ` +
      '"ran": tasks run (plan: its own count; others: output files rewritten). The floor is a bare loop doing only the durable work.',
    '',
  );
  for (const n of config.sizes) {
    if (!summary.some((s) => s.n === n)) continue;
    out.push(`## N = ${n.toLocaleString('en-US')}`, '');
    const withBaseline = toolIds.includes('plan-baseline');
    out.push(`| phase | ${toolIds.map(label).join(' | ')} | plan ÷ floor | plan ÷ ninja |${withBaseline ? ' plan ÷ baseline |' : ''}`);
    out.push(`|---|${toolIds.map(() => '---:').join('|')}|---:|---:|${withBaseline ? '---:|' : ''}`);
    for (const phase of PHASES) {
      if (!toolIds.some((id) => get(n, id, phase))) continue;
      const cells = toolIds.map((id) => {
        const s = get(n, id, phase);
        return s && s.reps < config.reps ? `${seconds(s.wallMs)} (${s.reps} run${s.reps > 1 ? 's' : ''})` : seconds(s?.wallMs);
      });
      const plan = get(n, 'plan', phase);
      out.push(
        `| ${PHASE_NAMES[phase]} | ${cells.join(' | ')} | ${ratio(plan?.toFloor)} | ${ratio(plan?.toNinja)} |${withBaseline ? ` ${ratio(plan?.toBaseline)} |` : ''}`,
      );
    }
    out.push('', `CPU time, user + system, every child process included (N = ${n.toLocaleString('en-US')}):`, '');
    out.push(`| phase | ${toolIds.map(label).join(' | ')} |`);
    out.push(`|---|${toolIds.map(() => '---:').join('|')}|`);
    for (const phase of PHASES) {
      if (!toolIds.some((id) => get(n, id, phase))) continue;
      out.push(`| ${PHASE_NAMES[phase]} | ${toolIds.map((id) => seconds(get(n, id, phase)?.cpuMs)).join(' | ')} |`);
    }
    out.push('', `Tasks ran · peak RSS (N = ${n.toLocaleString('en-US')}):`, '');
    out.push(`| phase | must run (early cutoff) | ${toolIds.map(label).join(' | ')} |`);
    out.push(`|---|---:|${toolIds.map(() => '---:').join('|')}|`);
    for (const phase of PHASES) {
      if (!toolIds.some((id) => get(n, id, phase))) continue;
      const cells = toolIds.map((id) => {
        const s = get(n, id, phase);
        return s ? `${Array.isArray(s.ran) ? s.ran.join('/') : s.ran} · ${Math.round(s.maxRssMb)} MB` : '–';
      });
      out.push(`| ${PHASE_NAMES[phase]} | ${expectedRan(phase, n)} | ${cells.join(' | ')} |`);
    }
    out.push('');
  }
  if (results.targets.length > 0) {
    out.push('## Targets (issue 10, part 1)', '', '| target | measured | holds |', '|---|---|---|');
    for (const t of results.targets) out.push(`| ${t.target} | ${t.measured} | ${t.holds ? 'yes' : '**no**'} |`);
    out.push('');
  }
  const notes = results.skipped.map((s) => `- ${s.tool} at N = ${s.n.toLocaleString('en-US')}: ${s.reason}`);
  const wrong = results.checks
    .filter((c) => c.wrong > 0)
    .map((c) => `- ${c.tool} at N = ${c.n}, phase ${c.phase}: ${c.wrong} files with wrong content (${c.sample.join(', ')})`);
  const checked = results.checks.filter((c) => c.wrong === 0).length;
  out.push('## Notes', '');
  for (const n of config.sizes) {
    if (!summary.some((s) => s.n === n && s.phase === 'e')) continue;
    out.push(
      `- (e) at N = ${n.toLocaleString('en-US')}: the downstream cone of L1-0 holds ${downstreamCone(n, 1, 0)} tasks; a tool without early cutoff ` +
        `re-runs it whole. Every file starts with its own task's name, so only the ${readersOfChangedInputs(n)} tasks whose input changed must run.`,
    );
  }
  out.push('- make, ninja and snakemake judge by modification times, doit and plan by content hashes (doit: md5 of its file_dep).');
  if (summary.some((s) => s.tool === 'snakemake' && s.phase === 'd' && s.ran === 0)) {
    out.push('- snakemake does not rebuild a missing intermediate file while the final targets are up to date: hence its 0 in (d).');
  }
  out.push(
    `- Output checked byte for byte against the expected content after (a) and (e) of the first repetition: ${checked} checks passed${wrong.length ? `, ${wrong.length} failed` : ''}.`,
  );
  out.push(...wrong, ...notes, '');
  return `${out.join('\n')}`;
}

function ratio(x) {
  return x == null ? '–' : `${x.toFixed(2)}×`;
}

main();
