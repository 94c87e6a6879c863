#!/usr/bin/env node
// The dashboard (`plan ui`) as a person waits for it, in a real headless Chromium.
//
//   node bench/ui.js [--reps 10] [--slow-ms 1000] [--n 1000] [--postgres URL] [--out bench/results] [--name ui] [--work DIR]
//
// In a temp work dir: the offline 63-task plan built (`plan build runs/demo --prompt …`), the diamond fixture
// (tests/fixtures/diamond-pipeline.mjs) and the 1,000-task layered pipeline (`node bench/layered.js build
// runs/layered --n 1000 --db runs/plan.db`, as tests/e2e/ui-big.test.ts), all in one database. Then, with
// Debian's headless Chromium driven by playwright-core through tests/support/browser.ts (compiled with the
// project's tsc; a fresh profile, never a download), each repetition:
//
// - starts a fresh `plan ui --port 0` (nothing cached on the server: the pipeline not loaded, no layout), opens
//   the 63-task run's page (first load), then again (cached), then the costs page; and on another fresh server,
//   as a person gets there: the runs page, a second's look, a click on the run (the list warms up its first runs);
// - asks the fresh server for the 1,000-task run's JSON once (pipeline, decisions and layout made) and again
//   (cached), opens its page, and times a zoom (click → the next frame painted);
// - and, on one server for all repetitions, the live latency: with the diamond run's page open, a build in
//   another process (`plan build runs/slow --json`, each task FIXTURE_SLOW_MS long, only Join to do) and the
//   database polled every 5 ms from here: the commit of Join's attempt (running, then persisted) → its node
//   showing `running`, then `fresh` (one clock: one machine). The `--json` event's arrival is a second
//   reference (it is printed after the commit). With --postgres URL, the same again on a PostgreSQL schema of
//   its own (dropped after), where the dashboard is told of each commit (LISTEN/NOTIFY) instead of polling.
// - and the 63-task run's page with every stage collapsed (`?collapse=all`), first and cached.
//
// The page's own marks (performance.mark, from navigation start): `run-data` (its JSON in hand), `graph-drawn`,
// `timeline-drawn`, `run-drawn` (attempts too), `run-painted` (the first frame after: a click is answered from
// here), `costs-drawn`. Figures are medians and p90 (nearest rank) of the repetitions, against the issue's
// targets; the machine (CPU, cores, load average at start and end, Node, Chromium) is written with them to
// bench/results/<date>-<name>.{md,json}.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { importTestSupport } from './test-support.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
const node = process.execPath;
const PLAN = path.join(repo, 'bin', 'plan.js');
const DIAMOND = path.join(repo, 'tests', 'fixtures', 'diamond-pipeline.mjs');
const PROMPT = 'Open a small sourdough bakery in Copenhagen';
const START_TIME = '--param=startTime=2026-03-01T09:00:00.000Z';

/** The issue's targets. */
const TARGET_INTERACTIVE_MS = 300;
const TARGET_LIVE_MS = 500;
/** Our reading of "a 1,000-task graph usable": drawn, and a zoom repaints within a frame budget a hand does not notice. */
const TARGET_BIG_ZOOM_MS = 100;
/** How long a person looks at the runs page before clicking a run. */
const THINK_MS = 1_000;

const { values: opts } = parseArgs({
  options: {
    reps: { type: 'string', default: '10' },
    'slow-ms': { type: 'string', default: '1000' },
    n: { type: 'string', default: '1000' },
    out: { type: 'string', default: path.join(here, 'results') },
    name: { type: 'string', default: 'ui' },
    work: { type: 'string' },
    postgres: { type: 'string' },
  },
});
const wholeNumber = (value, name, min) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be a whole number ≥ ${min} (got ${value})`);
  return n;
};
const REPS = wholeNumber(opts.reps, 'reps', 1);
const SLOW_MS = wholeNumber(opts['slow-ms'], 'slow-ms', 100);
const N = wholeNumber(opts.n, 'n', 10);

function log(line) {
  process.stderr.write(`${line}\n`);
}

const sorted = (xs) => xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
function median(xs) {
  const s = sorted(xs);
  if (s.length === 0) return null;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
function p90(xs) {
  const s = sorted(xs);
  return s.length === 0 ? null : s[Math.ceil(0.9 * s.length) - 1];
}
const round = (x) => (x === null ? null : Math.round(x * 10) / 10);

function mustRun(file, args, cwd, what, env = {}) {
  const result = spawnSync(file, args, { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', CI: '1', ...env } });
  if (result.status !== 0)
    throw new Error(`${what} failed (exit ${result.status}): ${(result.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}`);
  return result;
}

function firstLine(file, args) {
  const result = spawnSync(file, args, { encoding: 'utf8' });
  return (result.stdout ?? '').split('\n')[0]?.trim() ?? '';
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
    commit: firstLine('git', ['-C', repo, 'describe', '--always', '--dirty']),
    loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

const runIdOf = (cwd, name) => JSON.parse(fs.readFileSync(path.join(cwd, 'runs', name, '.plan-run.json'), 'utf8')).runId;

/** A fresh `plan ui --port 0` on the work dir's database; resolves once it has printed its URL. */
async function startUi(cwd, db = 'runs/plan.db') {
  const child = spawn(node, [PLAN, 'ui', '--port', '0', '--db', db], {
    cwd,
    env: { ...process.env, NO_COLOR: '1', CI: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`plan ui printed no URL in 20 s: ${stderr}`)), 20_000);
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      out += chunk;
      const match = /plan ui: (\S+)\n/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.on('close', () => reject(new Error(`plan ui exited: ${stderr}`)));
  });
  return {
    url,
    async stop() {
      child.kill('SIGTERM');
      const { code } = await exited;
      if (code !== 0) throw new Error(`plan ui exited ${code}: ${stderr}`);
    },
  };
}

/** The page's marks, by name (ms from navigation start). */
const marksOf = (page) => page.evaluate(() => Object.fromEntries(performance.getEntriesByType('mark').map((m) => [m.name, m.startTime])));

/** Opens a run's page and waits for it to be drawn and painted; its marks. */
async function loadRunPage(page, url, runId, query = '', timeout = 60_000) {
  await page.goto(`${url}runs/${runId}${query}`);
  await page.waitForFunction(() => performance.getEntriesByName('run-painted').length > 0, undefined, { timeout, polling: 10 });
  return marksOf(page);
}

/** Click → the next frame painted (ms), in the page. */
const frameAfterClick = (page, selector) =>
  page.evaluate(
    (sel) =>
      new Promise((resolve) => {
        const started = performance.now();
        document.querySelector(sel).click();
        requestAnimationFrame(() => setTimeout(() => resolve(performance.now() - started), 0));
      }),
    selector,
  );

async function timedFetch(url) {
  const started = performance.now();
  const res = await fetch(url);
  const body = await res.text();
  if (!res.ok) throw new Error(`${url}: ${res.status} ${body.slice(0, 200)}`);
  return { ms: performance.now() - started, body };
}

/**
 * With the diamond run's page open on a `plan ui` over `db`, REPS builds of its Join in another process: the
 * commit of Join's attempt (running, then persisted), seen by polling `store` every 5 ms, → its node showing
 * `running`, then `fresh`; and the same from the build's `--json` event read here.
 */
async function liveLatency(prefix, db, store, runId, dirName) {
  const ui = await startUi(work, db);
  const page = await launched.context.newPage();
  try {
    for (let rep = 0; rep < REPS; rep++) {
      fs.rmSync(path.join(work, 'runs', dirName, 'join.txt'), { force: true });
      await page.goto(`${ui.url}runs/${runId}`);
      await page.waitForSelector('svg .node[data-task="Join"][data-state="missing"]');
      await page.waitForSelector('.live[data-state="live"]');
      await page.evaluate(() => {
        const seen = [];
        window.seen = seen;
        const box = document.querySelector('svg .node[data-task="Join"]');
        new MutationObserver(() => {
          if (seen.at(-1)?.[0] !== box.dataset.state) seen.push([box.dataset.state, performance.timeOrigin + performance.now()]);
        }).observe(box, { attributes: true, attributeFilter: ['data-state'] });
      });
      const before = (await store.listAttempts(runId, 'Join')).at(-1)?.id ?? 0;
      const committed = {};
      let watching = true;
      const poller = (async () => {
        while (watching) {
          const attempt = (await store.listAttempts(runId, 'Join')).at(-1);
          const status = attempt?.status === 'complete' ? 'persisted' : attempt?.status;
          if (attempt !== undefined && attempt.id > before && status !== undefined && committed[status] === undefined) committed[status] = Date.now();
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      const eventAt = {};
      const build = spawn(node, [PLAN, 'build', `runs/${dirName}`, '--json', '--db', db], {
        cwd: work,
        env: { ...process.env, NO_COLOR: '1', CI: '1', FIXTURE_SLOW_MS: String(SLOW_MS) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      readline.createInterface({ input: build.stdout }).on('line', (line) => {
        if (!line.startsWith('{')) return;
        const event = JSON.parse(line);
        if (event.taskId === 'Join' && eventAt[event.type] === undefined) eventAt[event.type] = Date.now();
      });
      let buildErr = '';
      build.stderr.setEncoding('utf8').on('data', (chunk) => (buildErr += chunk));
      const code = await new Promise((resolve) => build.on('close', resolve));
      if (code !== 0) throw new Error(`the slow build exited ${code}: ${buildErr}`);
      await page.waitForSelector('svg .node[data-task="Join"][data-state="fresh"]', { timeout: 10_000 });
      watching = false;
      await poller;
      const seen = await page.evaluate(() => window.seen);
      const shownAt = (state) => seen.find(([s]) => s === state)?.[1];
      if (committed.running === undefined || committed.persisted === undefined)
        throw new Error(`the poller saw no commit: ${JSON.stringify(committed)}`);
      add(`${prefix}.running`, shownAt('running') - committed.running);
      add(`${prefix}.fresh`, shownAt('fresh') - committed.persisted);
      add(`${prefix}.runningFromEvent`, shownAt('running') - eventAt['task-started']);
      add(`${prefix}.freshFromEvent`, shownAt('fresh') - eventAt['task-persisted']);
      facts[`${prefix}States`] = seen.map(([s]) => s).join(' → ');
      log(`${prefix}: repetition ${rep + 1}/${REPS} done (${facts[`${prefix}States`]})`);
    }
  } finally {
    await page.close();
    await ui.stop();
    await store.close();
  }
}

// --- the work dir -------------------------------------------------------------------------------------------

const machine = machineInfo();
log(`plan ui bench on ${machine.nproc} CPUs (${machine.cpuModel}), load ${machine.loadAverageAtStart.join(' ')}; ${REPS} repetitions`);
if (!fs.existsSync(path.join(repo, 'dist', 'ui', 'client', 'app.js'))) throw new Error('no dist/ui/client: run `npm run build` first');
const [{ CHROMIUM, launchBrowser }] = await importTestSupport(repo, 'plan-ui-bench', ['tests/support/browser.ts']);
if (CHROMIUM === undefined) throw new Error('no /usr/bin/chromium-headless-shell or /usr/bin/chromium (apt-get install chromium-headless-shell)');

const work = opts.work ?? fs.mkdtempSync(path.join(os.tmpdir(), 'plan-ui-bench-'));
fs.mkdirSync(path.join(work, 'runs'), { recursive: true });
let started = performance.now();
mustRun(node, [PLAN, 'build', 'runs/demo', '--prompt', PROMPT, START_TIME, '--db', 'runs/plan.db'], work, 'building the plan');
mustRun(node, [PLAN, 'build', 'runs/slow', '--pipeline', DIAMOND, '--db', 'runs/plan.db'], work, 'building the diamond');
log(`built the plan and the diamond in ${((performance.now() - started) / 1000).toFixed(1)} s`);
started = performance.now();
mustRun(
  node,
  [path.join(here, 'layered.js'), 'build', 'runs/layered', '--n', String(N), '--db', 'runs/plan.db'],
  work,
  'building the layered pipeline',
);
log(`built the ${N}-task layered pipeline in ${((performance.now() - started) / 1000).toFixed(1)} s`);
const demoId = runIdOf(work, 'demo');
const slowId = runIdOf(work, 'slow');
const bigId = runIdOf(work, 'layered');

const launched = await launchBrowser();
const chromiumVersion = launched.context.browser()?.version() ?? firstLine(CHROMIUM, ['--version']);
const samples = {};
const add = (name, value) => {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`${name}: no figure (${value})`);
  samples[name] = [...(samples[name] ?? []), value];
};
const facts = {};

try {
  // --- page loads, each repetition on a fresh server ----------------------------------------------------------
  for (let rep = 0; rep < REPS; rep++) {
    const ui = await startUi(work);
    const page = await launched.context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      let marks = await loadRunPage(page, ui.url, demoId);
      add('demo.first.data', marks['run-data']);
      add('demo.first.graphDrawn', marks['graph-drawn']);
      add('demo.first.timelineDrawn', marks['timeline-drawn']);
      add('demo.first.painted', marks['run-painted']);
      facts.demoNodes = await page.locator('svg.graph .node').count();
      marks = await loadRunPage(page, ui.url, demoId);
      add('demo.cached.data', marks['run-data']);
      add('demo.cached.graphDrawn', marks['graph-drawn']);
      add('demo.cached.timelineDrawn', marks['timeline-drawn']);
      add('demo.cached.timelineOnly', marks['timeline-drawn'] - marks['graph-drawn']);
      add('demo.cached.painted', marks['run-painted']);

      // Every stage collapsed: its layout made on the server (first), then cached.
      marks = await loadRunPage(page, ui.url, demoId, '?collapse=all');
      add('demo.collapsed.first.painted', marks['run-painted']);
      facts.demoStages = await page.locator('svg.graph .node.stage').count();
      marks = await loadRunPage(page, ui.url, demoId, '?collapse=all');
      add('demo.collapsed.cached.graphDrawn', marks['graph-drawn']);
      add('demo.collapsed.cached.painted', marks['run-painted']);

      await page.goto(`${ui.url}costs`);
      await page.waitForSelector('section.costs-day table.cost-table');
      add('costs.drawn', (await marksOf(page))['costs-drawn']);

      // The big run: its JSON from the fresh server (pipeline loaded, 1,000 tasks decided, laid out), then cached.
      const first = await timedFetch(`${ui.url}api/runs/${bigId}`);
      const detail = JSON.parse(first.body);
      add('big.api.first', first.ms);
      add('big.layout', detail.graph.layout.ms);
      facts.bigNodes = detail.graph.nodes.length;
      facts.bigEdges = detail.graph.edges.length;
      facts.bigPayloadKiB = Math.round(first.body.length / 1024);
      facts.bigLayoutMethod = detail.graph.layout.method;
      add('big.api.cached', (await timedFetch(`${ui.url}api/runs/${bigId}`)).ms);
      marks = await loadRunPage(page, ui.url, bigId);
      add('big.page.data', marks['run-data']);
      add('big.page.graphDrawn', marks['graph-drawn']);
      add('big.page.timelineDrawn', marks['timeline-drawn']);
      add('big.page.draw', marks['timeline-drawn'] - marks['run-data']);
      add('big.page.painted', marks['run-painted']);
      add('big.zoomFrame', await frameAfterClick(page, 'button[title="zoom out"]'));
      add('big.fitFrame', await frameAfterClick(page, '.graph-tools button[title="fit the whole graph"]'));
      if (errors.length > 0) throw new Error(`page errors: ${errors.join('; ')}`);
    } finally {
      await page.close();
      await ui.stop();
    }
    // As a person gets there on a fresh server: the runs page, then (a moment to find it: 1 s) a click on the run.
    const ui2 = await startUi(work);
    const page2 = await launched.context.newPage();
    try {
      await page2.goto(ui2.url);
      await page2.waitForSelector('table.runs-table');
      await page2.waitForTimeout(THINK_MS);
      await page2.click(`a:text-is("${demoId}")`);
      await page2.waitForFunction(() => performance.getEntriesByName('run-painted').length > 0, undefined, { polling: 10 });
      const marks = await marksOf(page2);
      add('demo.fromList.graphDrawn', marks['graph-drawn']);
      add('demo.fromList.painted', marks['run-painted']);
    } finally {
      await page2.close();
      await ui2.stop();
    }
    log(`page loads: repetition ${rep + 1}/${REPS} done`);
  }

  // --- live latency: one server, a build in another process -----------------------------------------------------
  const { openSqliteStore } = await import('../dist/store/sqlite/sqlite-store.js');
  await liveLatency('live', 'runs/plan.db', await openSqliteStore(path.join(work, 'runs', 'plan.db')), slowId, 'slow');
  if (opts.postgres) {
    // The same on PostgreSQL, where the dashboard is told of each commit (LISTEN/NOTIFY) instead of polling.
    const schema = `plan_ui_bench_${process.pid}`;
    const url = new URL(opts.postgres);
    url.searchParams.set('schema', schema);
    const pgDb = url.toString();
    try {
      mustRun(node, [PLAN, 'build', 'runs/pg-slow', '--pipeline', DIAMOND, '--db', pgDb], work, 'building the diamond on PostgreSQL');
      const { openPostgresStore } = await import('../dist/store/postgres/postgres-store.js');
      await liveLatency('pg', pgDb, await openPostgresStore(pgDb), runIdOf(work, 'pg-slow'), 'pg-slow');
    } finally {
      const { default: pg } = await import('pg');
      const client = new pg.Client({ connectionString: opts.postgres });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    }
  }
} finally {
  await launched.close();
}
machine.loadAverageAtEnd = os.loadavg().map((l) => Math.round(l * 100) / 100);
machine.chromium = chromiumVersion;
machine.chromiumPath = CHROMIUM;

// --- results ------------------------------------------------------------------------------------------------

const stat = (name) => ({ median: round(median(samples[name])), p90: round(p90(samples[name])), samples: samples[name].map(round) });
/** [figure, what it is, target (ms) or null, how the target is read] */
const FIGURES = [
  ['demo.first.data', '63-task run page, first load (fresh server): navigation → its JSON in hand', null],
  ['demo.first.graphDrawn', '… → graph drawn', null],
  ['demo.first.timelineDrawn', '… → timeline drawn', null],
  ['demo.first.painted', '… → whole page drawn and painted (interactive)', TARGET_INTERACTIVE_MS],
  [
    'demo.fromList.graphDrawn',
    `63-task run page, first, reached from the runs page (fresh server; clicked ${THINK_MS / 1000} s after the list is drawn): → graph drawn`,
    null,
  ],
  ['demo.fromList.painted', '… → whole page drawn and painted (interactive)', TARGET_INTERACTIVE_MS],
  ['demo.cached.data', '63-task run page, cached: navigation → its JSON in hand', null],
  ['demo.cached.graphDrawn', '… → graph drawn', null],
  ['demo.cached.timelineDrawn', '… → timeline drawn', null],
  ['demo.cached.timelineOnly', '… the timeline alone (after the graph)', null],
  ['demo.cached.painted', '… → whole page drawn and painted (interactive)', TARGET_INTERACTIVE_MS],
  ['demo.collapsed.first.painted', '63-task run page, every stage collapsed, first: navigation → drawn and painted', TARGET_INTERACTIVE_MS],
  ['demo.collapsed.cached.graphDrawn', '… cached: → graph drawn', null],
  ['demo.collapsed.cached.painted', '… cached: → drawn and painted', TARGET_INTERACTIVE_MS],
  ['costs.drawn', 'costs page: navigation → drawn', TARGET_INTERACTIVE_MS],
  ['live.running', "live: Join's attempt committed (running) → its node `running` on the page", TARGET_LIVE_MS],
  ['live.fresh', '… attempt persisted → its node `fresh`', TARGET_LIVE_MS],
  ['live.runningFromEvent', '… (the `task-started` event read here → node `running`)', null],
  ['live.freshFromEvent', '… (the `task-persisted` event read here → node `fresh`)', null],
  ...(opts.postgres
    ? [
        ['pg.running', 'live on PostgreSQL (told by LISTEN/NOTIFY): attempt committed (running) → node `running`', TARGET_LIVE_MS],
        ['pg.fresh', '… attempt persisted → node `fresh`', TARGET_LIVE_MS],
        ['pg.runningFromEvent', '… (the `task-started` event read here → node `running`)', null],
        ['pg.freshFromEvent', '… (the `task-persisted` event read here → node `fresh`)', null],
      ]
    : []),
  ['big.layout', `${N}-task graph: layout on the server (first look)`, null],
  ['big.api.first', '… its run JSON, first (pipeline loaded, tasks decided, laid out)', null],
  ['big.api.cached', '… its run JSON again (layout cached)', null],
  ['big.page.data', '… page: navigation → its JSON in hand', null],
  ['big.page.graphDrawn', '… → graph drawn', null],
  ['big.page.timelineDrawn', '… → timeline drawn', null],
  ['big.page.draw', '… drawing alone (JSON in hand → timeline drawn)', null],
  ['big.page.painted', '… → whole page drawn and painted', null],
  ['big.zoomFrame', '… a zoom: click → next frame painted', TARGET_BIG_ZOOM_MS],
  ['big.fitFrame', '… fit: click → next frame painted', TARGET_BIG_ZOOM_MS],
];
const rows = FIGURES.map(([name, what, target]) => {
  const s = stat(name);
  return { name, what, ...s, targetMs: target, meetsTarget: target === null ? null : s.p90 <= target };
});
const stamp = new Date().toISOString().slice(0, 10);
const results = {
  machine,
  reps: REPS,
  slowMs: SLOW_MS,
  n: N,
  facts,
  targets: { interactiveMs: TARGET_INTERACTIVE_MS, liveMs: TARGET_LIVE_MS, bigZoomFrameMs: TARGET_BIG_ZOOM_MS },
  rows,
};
fs.mkdirSync(opts.out, { recursive: true });
const jsonFile = path.join(opts.out, `${stamp}-${opts.name}.json`);
fs.writeFileSync(jsonFile, `${JSON.stringify(results, null, 2)}\n`);

const ms = (x) => (x === null ? '–' : `${Math.round(x)} ms`);
const md = [
  `# plan ui, ${machine.date}`,
  '',
  `${machine.nproc} × ${machine.cpuModel}, ${machine.memTotalMb} MB, ${machine.kernel}; Node ${machine.node}; Chromium ${machine.chromium} (${machine.chromiumPath}, headless, fresh profile); checkout ${machine.commit}.`,
  `Load average ${machine.loadAverageAtStart.join(' ')} at the start → ${machine.loadAverageAtEnd.join(' ')} at the end.`,
  `${REPS} repetitions; median and p90 (nearest rank). A target is met when the p90 is within it.`,
  `Page loads: a fresh \`plan ui --port 0\` per repetition (first load: nothing cached on the server), then the same page again (cached). ` +
    `Times are the page's own marks from navigation start; "painted" is the first frame after the whole page is drawn (from then a click is answered).`,
  `Live: one server; the diamond run's page open, \`plan build runs/slow --json\` in another process (FIXTURE_SLOW_MS=${SLOW_MS}, Join alone to build), ` +
    `the database polled every 5 ms from the bench for the commit; the dashboard polls a watched run every 200 ms (SQLite). States seen: ${facts.liveStates}.` +
    (opts.postgres
      ? ` Then the same on PostgreSQL (a schema of its own on ${new URL(opts.postgres).host}), where the dashboard is told of each commit by LISTEN/NOTIFY (a safety look every 5 s): ${facts.pgStates}.`
      : ''),
  `Collapsed: the plan's ${facts.demoStages} stages each one box (\`?collapse=all\`), the collapsed graph laid out on the server on the first load of each fresh server, cached after.`,
  `The big graph: bench/layered.js, ${facts.bigNodes} tasks, ${facts.bigEdges} edges, laid out by \`${facts.bigLayoutMethod}\`, its run JSON ${facts.bigPayloadKiB} KiB. ` +
    `"Usable" is read as: drawn, and a zoom or fit repaints within ${TARGET_BIG_ZOOM_MS} ms.`,
  '',
  '| figure | median | p90 | target | met |',
  '|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.what} | ${ms(r.median)} | ${ms(r.p90)} | ${r.targetMs === null ? '–' : `≤ ${r.targetMs} ms`} | ${r.meetsTarget === null ? '–' : r.meetsTarget ? 'yes' : '**no**'} |`,
  ),
  '',
].join('\n');
fs.writeFileSync(jsonFile.replace(/\.json$/, '.md'), md);
process.stdout.write(md);
if (!opts.work) fs.rmSync(work, { recursive: true, force: true });
