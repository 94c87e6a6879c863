#!/usr/bin/env node
// CLI start-up: what a person waits for on every inspect command and on a no-op build, side by side with an
// older checkout in one run.
//
//   node bench/startup.js [--baseline DIR] [--reps 15] [--out bench/results] [--work DIR]
//
// Each checkout gets a work dir of its own with the offline 63-task plan built once (`plan build runs/demo
// --prompt …`) and a no-op build after it, so every hash-cache entry is settled. Then, repetition after
// repetition, each command runs once per checkout, in alternating order, as a fresh `node <checkout>/bin/plan.js`
// process timed from outside (wall clock, Node start-up included). `node -e 0` is the floor: Node itself.
// Figures are medians; the ratio is this checkout ÷ the baseline, the median of the per-repetition ratios.
// A CPU profile of this checkout's `plan status` is summarized per file into bench/results/profiles/.
//
// DIR is a checkout with dist/ built and node_modules installed, e.g.
//   git worktree add /tmp/plan-base <commit> && (cd /tmp/plan-base && npm ci)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
const node = process.execPath;
const PROMPT = 'Open a small sourdough bakery in Copenhagen';
const START_TIME = '--param=startTime=2026-03-01T09:00:00.000Z';
const TARGET_S = 0.15;

const { values: opts } = parseArgs({
  options: {
    baseline: { type: 'string' },
    reps: { type: 'string', default: '15' },
    out: { type: 'string', default: path.join(here, 'results') },
    work: { type: 'string' },
  },
});
const REPS = Number(opts.reps);
if (!Number.isInteger(REPS) || REPS < 1) throw new Error(`--reps must be a whole number ≥ 1 (got ${opts.reps})`);

/** What is timed: a label, the arguments after `plan`, and whether the issue's ≤ 0.15 s target applies. */
const COMMANDS = [
  { id: 'version', args: ['--version'], target: false },
  { id: 'status', args: ['status', 'runs/demo'], target: true },
  { id: 'no-op build', args: ['build', 'runs/demo'], target: true },
  { id: 'list', args: ['list'], target: true },
  { id: 'show', args: ['show', 'runs/demo'], target: true },
  { id: 'explain', args: ['explain', 'runs/demo', 'SetupTask'], target: true },
  { id: 'cat', args: ['cat', 'runs/demo', 'SetupTask'], target: true },
  { id: 'history', args: ['history', 'runs/demo', '001-2-plan.txt'], target: true },
  { id: 'llm', args: ['llm', 'runs/demo'], target: true },
  { id: 'costs', args: ['costs'], target: true },
  { id: 'graph', args: ['graph', 'runs/demo'], target: true },
];

function log(line) {
  process.stderr.write(`${line}\n`);
}

const median = (xs) => {
  const s = xs.filter((x) => x != null).sort((a, b) => a - b);
  if (s.length === 0) return null;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function run(file, args, cwd) {
  const started = process.hrtime.bigint();
  const result = spawnSync(file, args, { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  return { status: result.status, ms, stdout: result.stdout, stderr: result.stderr };
}

function mustRun(file, args, cwd, what) {
  const result = run(file, args, cwd);
  if (result.status !== 0) throw new Error(`${what} failed (exit ${result.status}): ${result.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return result;
}

function firstLine(file, args) {
  const result = spawnSync(file, args, { encoding: 'utf8' });
  return (result.stdout ?? '').split('\n')[0]?.trim() ?? '';
}

/** A checkout to time: its bin/plan.js and a work dir with the plan built. */
function prepare(label, checkout, workRoot) {
  const bin = path.join(checkout, 'bin', 'plan.js');
  if (!fs.existsSync(path.join(checkout, 'dist', 'cli', 'main.js'))) throw new Error(`${checkout} has no dist/: build it first`);
  const cwd = path.join(workRoot, label);
  fs.rmSync(cwd, { recursive: true, force: true });
  fs.mkdirSync(cwd, { recursive: true });
  mustRun(node, [bin, 'build', 'runs/demo', '--prompt', PROMPT, START_TIME], cwd, `${label}: building the plan`);
  mustRun(node, [bin, 'build', 'runs/demo'], cwd, `${label}: the settling no-op build`);
  const commit = firstLine('git', ['-C', checkout, 'rev-parse', '--short', 'HEAD']);
  return { label, checkout, bin, cwd, commit };
}

function machineInfo() {
  const cpuinfo = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  return {
    date: new Date().toISOString(),
    nproc: os.cpus().length,
    cpuModel: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown',
    memTotalMb: Math.round(os.totalmem() / 2 ** 20),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

function profileStatus(subject, outDir, stamp) {
  const profDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plan-startup-prof-'));
  mustRun(
    node,
    ['--cpu-prof', '--cpu-prof-dir', profDir, '--cpu-prof-interval', '100', subject.bin, 'status', 'runs/demo'],
    subject.cwd,
    'profiling plan status',
  );
  const file = fs.readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  const profilesDir = path.join(outDir, 'profiles');
  fs.mkdirSync(profilesDir, { recursive: true });
  const target = path.join(profilesDir, `${stamp}-startup-status.cpuprofile`);
  fs.copyFileSync(path.join(profDir, file), target);
  fs.rmSync(profDir, { recursive: true, force: true });
  const summary = spawnSync(node, [path.join(here, 'profile-summary.js'), target, '--top', '20'], { cwd: repo, encoding: 'utf8' }).stdout;
  fs.writeFileSync(target.replace(/\.cpuprofile$/, '.txt'), summary);
  const modules = spawnSync(node, ['--input-type=module', '-e', MODULE_COUNTER, subject.bin, 'status', 'runs/demo'], {
    cwd: subject.cwd,
    encoding: 'utf8',
  });
  return {
    profile: path.relative(repo, target),
    summary: path.relative(repo, target.replace(/\.cpuprofile$/, '.txt')),
    modules: modules.stdout.trim(),
  };
}

/** Counts the modules `plan status` loads: ours, each package's, Node's. */
const MODULE_COUNTER = `
import { register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
const { port1, port2 } = new MessageChannel();
const seen = [];
port1.on('message', (url) => seen.push(url));
port1.unref();
register('data:text/javascript,' + encodeURIComponent('let port; export function initialize(d) { port = d.port; } export async function load(u, c, n) { port.postMessage(u); return n(u, c); }'), { data: { port: port2 }, transferList: [port2] });
process.argv = [process.argv[0], ...process.argv.slice(1)];
const out = process.stdout.write.bind(process.stdout);
process.stdout.write = () => true;
const { main } = await import(process.argv[1].replace(/bin\\/plan\\.js$/, 'dist/cli/main.js'));
await main(process.argv.slice(2));
await new Promise((r) => setTimeout(r, 50));
const count = {};
for (const url of seen) {
  const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(url);
  const key = m ? m[1] : url.startsWith('node:') ? 'node:*' : 'plan';
  count[key] = (count[key] ?? 0) + 1;
}
process.stdout.write = out;
console.log(Object.entries(count).sort((a, b) => b[1] - a[1]).map(([k, n]) => k + ' ' + n).join(', '));
`;

const workRoot = opts.work ?? fs.mkdtempSync(path.join(os.tmpdir(), 'plan-startup-'));
const machine = machineInfo();
log(`start-up on ${machine.nproc} CPUs (${machine.cpuModel}), load ${machine.loadAverageAtStart.join(' ')}; work dir ${workRoot}`);
const subjects = [prepare('this', repo, workRoot)];
if (opts.baseline) subjects.push(prepare('baseline', path.resolve(opts.baseline), workRoot));

const samples = new Map(); // `${command}|${label}` → ms[]
const floor = [];
for (let rep = 0; rep < REPS; rep++) {
  floor.push(run(node, ['-e', '0'], repo).ms);
  for (const command of COMMANDS) {
    const order = rep % 2 === 0 ? subjects : [...subjects].reverse();
    for (const subject of order) {
      const result = run(node, [subject.bin, ...command.args], subject.cwd);
      if (result.status !== 0)
        throw new Error(`${subject.label}: plan ${command.args.join(' ')} failed (exit ${result.status}): ${result.stderr.trim()}`);
      const key = `${command.id}|${subject.label}`;
      samples.set(key, [...(samples.get(key) ?? []), result.ms]);
    }
  }
  log(`repetition ${rep + 1}/${REPS} done`);
}
machine.loadAverageAtEnd = os.loadavg().map((l) => Math.round(l * 100) / 100);

const rows = COMMANDS.map((command) => {
  const mine = samples.get(`${command.id}|this`);
  const base = samples.get(`${command.id}|baseline`);
  const ratios = base ? mine.map((ms, i) => ms / base[i]) : [];
  const thisMs = median(mine);
  return {
    command: `plan ${command.args.join(' ')}`,
    thisMs: Math.round(thisMs),
    baselineMs: base ? Math.round(median(base)) : null,
    ratio: base ? Math.round(median(ratios) * 100) / 100 : null,
    meetsTarget: command.target ? thisMs / 1000 <= TARGET_S : null,
  };
});
const stamp = new Date().toISOString().slice(0, 10);
fs.mkdirSync(opts.out, { recursive: true });
const profile = profileStatus(subjects[0], opts.out, stamp);
const results = {
  machine,
  reps: REPS,
  targetSeconds: TARGET_S,
  floorMs: Math.round(median(floor)),
  subjects: subjects.map(({ label, checkout, commit }) => ({ label, checkout, commit })),
  rows,
  profile,
};
const jsonFile = path.join(opts.out, `${stamp}-startup.json`);
fs.writeFileSync(jsonFile, `${JSON.stringify(results, null, 2)}\n`);

const md = [
  `# CLI start-up, ${machine.date}`,
  '',
  `${machine.nproc} × ${machine.cpuModel}, ${machine.memTotalMb} MB, ${machine.kernel}, Node ${machine.node}; load ${machine.loadAverageAtStart.join(' ')} → ${machine.loadAverageAtEnd.join(' ')}.`,
  `Median of ${REPS} fresh processes each, alternating; \`node -e 0\` (the floor) ${results.floorMs} ms.`,
  `This: ${subjects[0].commit}${subjects[1] ? `; baseline: ${subjects[1].commit} (${subjects[1].checkout})` : ''}.`,
  '',
  `| command | this | ${subjects[1] ? 'baseline | this ÷ baseline | ' : ''}≤ ${TARGET_S} s |`,
  `|---|---|${subjects[1] ? '---|---|' : ''}---|`,
  ...rows.map(
    (r) =>
      `| \`${r.command}\` | ${(r.thisMs / 1000).toFixed(3)} s | ${subjects[1] ? `${(r.baselineMs / 1000).toFixed(3)} s | ${r.ratio.toFixed(2)}× | ` : ''}${r.meetsTarget === null ? '–' : r.meetsTarget ? 'yes' : '**no**'} |`,
  ),
  '',
  `Modules \`plan status\` loads: ${profile.modules}.`,
  `Profile of \`plan status\`: ${profile.profile} (summary ${profile.summary}).`,
  '',
].join('\n');
fs.writeFileSync(jsonFile.replace(/\.json$/, '.md'), md);
process.stdout.write(md);
if (!opts.work) fs.rmSync(workRoot, { recursive: true, force: true });
