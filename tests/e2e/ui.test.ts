import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Dialog, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { CHROMIUM, launchBrowser, noteWhenBrowserMissing, type LaunchedBrowser } from '../support/browser.js';
import { collect, diamondPipeline, jsonEvents, repoRoot, runPlan, spawnPlan, tempDir, waitForOutput } from '../support/cli.js';
import { startFakeOpenAiServer, type FakeOpenAiServer, type FakeRequest } from '../support/fake-openai-server.js';

/**
 * `plan ui` as a person uses it: the real CLI serving a real database of real builds, a real headless Chromium
 * (Debian's, never a download) reading it — the runs, a 63-task plan's graph, a build in another process
 * turning a node missing → running → fresh without a reload, a task, a file version, a model call, cancelling
 * a build from the page, the plan's stages collapsed and a collapsed stage following a build — and hostile model
 * text that must stay text. Two timings are measured and printed:
 * navigation to the graph drawn, and a task's attempt committed to its node changing on the page.
 */

noteWhenBrowserMissing('tests/e2e/ui.test.ts');

const HOSTILE = '<script>alert(1)</script> "><img src=x onerror=alert(1)>';
const API_KEY = 'sk-test-NEVER-ON-A-PAGE-41b7e9';
const SHOTS = process.env.PLAN_UI_SCREENSHOTS === '1' ? path.join(repoRoot, 'docs', 'ui') : null;

/** A pipeline whose outputs carry the hostile text in every kind of file the page renders. */
const HOSTILE_FILES = `import { Task, file } from ${JSON.stringify(pathToFileURL(path.join(repoRoot, 'dist', 'index.js')).href)};
const H = ${JSON.stringify(HOSTILE)};
class Hostile extends Task {
  output() {
    return { md: file('notes.md'), json: file('data.json'), csv: file('table.csv'), html: file('page.html') };
  }
  async run(ctx) {
    const o = this.output();
    ctx.write(o.md, '# Notes ' + H + '\\n\\nSome *emphasis* and **strong** text ' + H + '\\n\\n- one ' + H + '\\n- two\\n\\n\`\`\`\\n' + H + '\\n\`\`\`\\n');
    ctx.write(o.json, JSON.stringify({ title: H, items: [H] }));
    ctx.write(o.csv, 'name,value\\n"' + H.replace(/"/g, '""') + '",1\\n');
    ctx.write(o.html, '<!doctype html><html><body><h1 id="report">Report</h1><p>' + H + '</p><script>parent.alert(2)</script></body></html>');
  }
}
export const pipeline = { name: 'hostile-files', roots: () => [new Hostile()] };
`;

/**
 * A pipeline of its own in stages: each task names its stage (a `stage` property), and sleeps STAGED_SLOW_MS
 * (abortable) before writing, so a page can watch a build go. Intake (a, b) → Work (c, d) → Ship (e).
 */
const STAGED_FILES = `import { Task, file } from ${JSON.stringify(pathToFileURL(path.join(repoRoot, 'dist', 'index.js')).href)};
const sleep = (ms, signal) => new Promise((resolve, reject) => {
  const timer = setTimeout(resolve, ms);
  signal.addEventListener('abort', () => { clearTimeout(timer); reject(signal.reason); }, { once: true });
});
class Step extends Task {
  constructor(name, stage, deps = []) {
    super({ name });
    this.stage = stage;
    this.deps = deps;
  }
  requires() { return this.deps; }
  output() { return file(this.params.name + '.txt'); }
  async run(ctx) {
    const slow = Number(process.env.STAGED_SLOW_MS ?? 0);
    if (slow > 0) await sleep(slow, ctx.signal);
    ctx.write(this.output(), this.params.name + '\\n');
  }
}
export const pipeline = {
  name: 'staged',
  roots() {
    const a = new Step('a', 'Intake');
    const b = new Step('b', 'Intake', [a]);
    const c = new Step('c', 'Work', [b]);
    const d = new Step('d', 'Work', [a]);
    return [new Step('e', 'Ship', [c, d])];
  },
};
`;

/** Answers every request of tests/fixtures/llm-pipeline.mjs with the hostile text in every string. */
function hostileAnswer(request: FakeRequest) {
  if (request.body.response_format !== undefined) return { kind: 'json' as const, value: { title: `Idea ${HOSTILE}`, steps: [`Step ${HOSTILE}`] } };
  return { kind: 'text' as const, text: `Summary ${HOSTILE}` };
}

let cwd: string;
let ui: ChildProcess;
let uiExit: ReturnType<typeof collect>;
let url: string;
let launched: LaunchedBrowser;
let model: FakeOpenAiServer;
const dialogs: string[] = [];
const timings: Record<string, number> = {};

const runIdOf = (name: string): string =>
  (JSON.parse(fs.readFileSync(path.join(cwd, 'runs', name, '.plan-run.json'), 'utf8')) as { runId: string }).runId;

async function newPage(): Promise<Page> {
  const page = await launched.context.newPage();
  page.on('dialog', (dialog: Dialog) => {
    dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    void dialog.dismiss();
  });
  return page;
}

async function build(args: string[], env: Record<string, string> = {}): Promise<void> {
  const result = await runPlan(['build', ...args], { cwd, env });
  expect(result.exit, result.stderr).toBe(0);
}

describe('plan ui on the command line', () => {
  it('refuses a bad --port and a missing database with one line (exit 2)', async () => {
    const dir = tempDir('plan-ui-args-');
    try {
      const port = await runPlan(['ui', '--port', '70000'], { cwd: dir });
      expect(port.exit).toBe(2);
      expect(port.stderr).toBe('plan: --port must be a whole number 0–65535 (got 70000)\n');
      const none = await runPlan(['ui', '--port', '0'], { cwd: dir });
      expect(none.exit).toBe(2);
      expect(none.stderr).toMatch(/^plan: no database at .*runs\/plan\.db/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('prints its URL; another host only with a warning; --open without a browser does not fail; SIGINT and SIGTERM stop it (exit 0)', async () => {
    const dir = tempDir('plan-ui-cli-');
    try {
      const built = await runPlan(['build', 'runs/demo', '--pipeline', diamondPipeline], { cwd: dir });
      expect(built.exit, built.stderr).toBe(0);
      for (const [signal, extra] of [
        ['SIGINT', ['--open']],
        ['SIGTERM', ['--host', '0.0.0.0']],
      ] as const) {
        // No xdg-open on PATH: --open must not fail.
        const child = spawnPlan(['ui', '--port', '0', ...extra], { cwd: dir, env: { PATH: path.dirname(process.execPath) } });
        const done = collect(child);
        await waitForOutput(child, (out) => out.includes('\n'));
        child.kill(signal);
        const result = await done;
        expect(result.exit, `${signal}: ${result.signal} ${result.stderr}`).toBe(0);
        if (extra[0] === '--host') {
          expect(result.stdout).toMatch(/^plan ui: http:\/\/0\.0\.0\.0:\d+\/\n$/);
          expect(result.stderr).toMatch(/^plan: warning: listening on 0\.0\.0\.0: anyone who can reach this address can read every run/);
        } else {
          expect(result.stdout).toMatch(/^plan ui: http:\/\/127\.0\.0\.1:\d+\/\n$/);
          expect(result.stderr).not.toContain('warning');
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(CHROMIUM === undefined)('plan ui in a real browser', () => {
  beforeAll(async () => {
    cwd = tempDir('plan-ui-e2e-');
    await build(['runs/demo', '--prompt', 'Open a bakery']);
    model = await startFakeOpenAiServer({ handler: hostileAnswer });
    await build(
      ['runs/hostile', '--pipeline', path.join(repoRoot, 'tests', 'fixtures', 'llm-pipeline.mjs'), `--model=openai-compatible:hostile@${model.url}`],
      {
        OPENAI_COMPATIBLE_API_KEY: API_KEY,
      },
    );
    fs.writeFileSync(path.join(cwd, 'hostile-files.mjs'), HOSTILE_FILES);
    await build(['runs/files', '--pipeline', path.join(cwd, 'hostile-files.mjs')]);
    await build(['runs/slow', '--pipeline', diamondPipeline]);
    // Priced calls for the costs page (the hostile run's are of unknown price).
    await build(
      [
        'runs/priced',
        '--pipeline',
        path.join(repoRoot, 'tests', 'fixtures', 'llm-pipeline.mjs'),
        `--model=openai-compatible:priced@${model.url}`,
        '--price',
        '0.5,1.5',
      ],
      { OPENAI_COMPATIBLE_API_KEY: API_KEY },
    );
    // A person's edit of a task's output, stored as a version by the next build.
    await build(['runs/edited', '--pipeline', diamondPipeline]);
    fs.writeFileSync(path.join(cwd, 'runs', 'edited', 'upper', 'upper.txt'), 'SEED ONE\nA PERSON WAS HERE\n');
    await build(['runs/edited']);
    await build(['runs/rebuild', '--pipeline', diamondPipeline]);
    fs.writeFileSync(path.join(cwd, 'staged.mjs'), STAGED_FILES);
    await build(['runs/staged', '--pipeline', path.join(cwd, 'staged.mjs')]);

    // The key is in the dashboard's environment too: it must reach no page. The builds it starts (rebuilds)
    // get its environment: each of their tasks takes 700 ms, so a page can watch them run.
    ui = spawnPlan(['ui', '--port', '0', '--db', 'runs/plan.db'], {
      cwd,
      env: { OPENAI_COMPATIBLE_API_KEY: API_KEY, OPENAI_API_KEY: API_KEY, FIXTURE_SLOW_MS: '700' },
    });
    let out = '';
    ui.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    uiExit = collect(ui);
    await waitForOutput(ui, (seen) => /plan ui: http:\/\/127\.0\.0\.1:\d+\/\n/.test(seen));
    url = /plan ui: (\S+)\n/.exec(out)![1]!;
    launched = await launchBrowser();
  }, 180_000);

  afterAll(async () => {
    await launched?.close();
    await model?.close();
    if (ui !== undefined) {
      ui.kill('SIGTERM');
      const result = await uiExit;
      expect(result.exit, result.stderr).toBe(0);
    }
    if (cwd !== undefined) fs.rmSync(cwd, { recursive: true, force: true });
    console.log(
      `ui timings: navigation → run page graph drawn ${timings.graphDrawnMs?.toFixed(0)} ms (63 tasks; first load ${timings.firstGraphDrawnMs?.toFixed(0)} ms); ` +
        `timeline drawn ${timings.timelineDrawnMs?.toFixed(0)} ms (${timings.timelineOnlyMs?.toFixed(0)} ms after the graph); costs page drawn ${timings.costsDrawnMs?.toFixed(0)} ms; ` +
        `attempt committed → node running ${timings.runningMs?.toFixed(0)} ms, persisted → node fresh ${timings.freshMs?.toFixed(0)} ms; ` +
        `rebuild preview (dry run) ${timings.previewMs?.toFixed(0)} ms`,
    );
  });

  it('the runs page lists every run with plan list’s status, tasks, calls and cost', async () => {
    const page = await newPage();
    await page.goto(url);
    const listed = JSON.parse((await runPlan(['list', '--json'], { cwd })).stdout) as {
      runs: { id: string; status: string; tasks: { built: number; total: number }; calls: number; costUsd: number }[];
    };
    await page.waitForSelector('table.runs-table');
    const rows = page.locator('table.runs-table tbody tr');
    expect(await rows.count()).toBe(listed.runs.length);
    // Newest first, as plan list.
    const ids = await page.locator('table.runs-table tbody tr td:first-child').allTextContents();
    expect(ids).toEqual(listed.runs.map((r) => r.id));
    const demo = listed.runs.find((r) => r.id === runIdOf('demo'))!;
    const cells = await page.locator(`table.runs-table tbody tr:has(a:text-is("${demo.id}")) td`).allTextContents();
    expect(cells.slice(1, 6)).toEqual(['complete', '63/63', String(demo.calls), expect.any(String), '$0']);
    expect(cells.at(-1)).toBe('Open a bakery');
    // The status filter narrows the list (and says how many).
    await page.selectOption('select[name=status]', 'running');
    await page.waitForSelector('text=no runs match');
    await page.selectOption('select[name=status]', '');
    await page.fill('input[name=q]', 'bakery');
    await page.waitForFunction(() => document.querySelectorAll('table.runs-table tbody tr').length === 1);
    if (SHOTS !== null) {
      await page.fill('input[name=q]', '');
      await page.waitForFunction(() => document.querySelectorAll('table.runs-table tbody tr').length > 1);
      await page.screenshot({ path: path.join(SHOTS, 'runs.png') });
    }
    await page.close();
  });

  it('the run page draws all 63 tasks of the plan, each in the state plan graph gives, and opens a task on click', async () => {
    const page = await newPage();
    const graph = JSON.parse((await runPlan(['graph', 'runs/demo', '--json'], { cwd })).stdout) as { nodes: { id: string; state: string }[] };
    const runId = runIdOf('demo');
    // First load of the page (layout perhaps not cached yet), then as a person gets there: from the runs page.
    await page.goto(`${url}runs/${runId}`);
    await page.waitForSelector('svg .node');
    timings.firstGraphDrawnMs = await page.evaluate(() => performance.getEntriesByName('graph-drawn')[0]!.startTime);
    await page.goto(url);
    await page.click(`a:text-is("${runId}")`);
    await page.waitForSelector('svg .node');
    timings.graphDrawnMs = await page.evaluate(() => performance.getEntriesByName('graph-drawn')[0]!.startTime);
    expect(timings.graphDrawnMs).toBeLessThan(5_000);

    expect(await page.locator('svg .node').count()).toBe(63);
    const states = await page.$$eval('svg .node', (nodes) => nodes.map((n) => [(n as SVGGElement).dataset.task!, (n as SVGGElement).dataset.state!]));
    expect(Object.fromEntries(states)).toEqual(Object.fromEntries(graph.nodes.map((n) => [n.id, n.state])));
    expect(await page.locator('svg path.edge').count()).toBeGreaterThan(62);
    await expect(page.locator('.graph-tools').textContent()).resolves.toContain('63 tasks');
    if (SHOTS !== null) await page.screenshot({ path: path.join(SHOTS, 'run.png') });

    // Zoom and pan change the view, not the graph.
    const before = await page.getAttribute('svg .world', 'transform');
    await page.click('button[title="zoom out"]');
    expect(await page.getAttribute('svg .world', 'transform')).not.toBe(before);
    await page.mouse.move(700, 700);
    await page.mouse.down();
    await page.mouse.move(500, 650, { steps: 4 });
    await page.mouse.up();
    const panned = await page.getAttribute('svg .world', 'transform');
    expect(panned).not.toBe(before);

    // The whole graph in view, then a click on a box opens its task.
    await page.click('button:text-is("fit")');
    await page.click('svg .node[data-task="ReviewPlanTask"]');
    await page.waitForURL(/\/tasks\/ReviewPlanTask$/);
    await page.waitForSelector('pre.explain');
    await page.close();
  });

  it('collapses the plan’s stages: one box per stage with its task count, states and summed calls; a click expands one; the address keeps it', async () => {
    const page = await newPage();
    const runId = runIdOf('demo');
    type Node = { id: string; kind: string; stage: string | null; calls: number; members?: string[]; states?: Record<string, number> };
    const full = (await (await page.request.get(`${url}api/runs/${runId}`)).json()) as {
      graph: { nodes: Node[]; stages: { name: string; tasks: number }[] };
    };
    const stages = full.graph.stages;
    expect(stages.length).toBeGreaterThan(10);
    expect(stages.reduce((sum, s) => sum + s.tasks, 0)).toBe(63);
    expect(stages[0]!.name).toBe('Setup');
    expect(full.graph.nodes.every((n) => n.stage !== null)).toBe(true);

    await page.goto(`${url}runs/${runId}`);
    await page.waitForSelector('svg .node[data-task]');
    await page.click('button[data-action="collapse-stages"]');
    await page.waitForSelector('svg .node.stage');
    expect(page.url()).toMatch(/\?collapse=all$/);
    expect(await page.locator('svg .node.stage').count()).toBe(stages.length);
    expect(await page.locator('svg .node[data-task]').count()).toBe(0);
    // Each box: the stage's name and task count, how many of its tasks show each state, their calls summed.
    const boxes = await page.$$eval('svg .node.stage', (nodes) =>
      nodes.map((n) => ({ stage: (n as SVGGElement).dataset.stage!, texts: Array.from(n.querySelectorAll('text')).map((t) => t.textContent) })),
    );
    for (const stage of stages) {
      const box = boxes.find((b) => b.stage === stage.name)!;
      const calls = full.graph.nodes.filter((n) => n.stage === stage.name).reduce((sum, n) => sum + n.calls, 0);
      const label = `${stage.name} · ${stage.tasks} task${stage.tasks === 1 ? '' : 's'}`;
      expect(box.texts[0]).toBe(label.length > 30 ? `${label.slice(0, 29)}…` : label);
      expect(box.texts[1]).toBe(`${stage.tasks} fresh`);
      expect(box.texts[2]).toMatch(calls > 0 ? new RegExp(`^${calls} calls? · \\$0`) : /^\d+ attempts?/);
    }
    expect(await page.textContent('.graph-tools')).toContain(
      `63 tasks in ${stages.length} boxes, ${stages.length} of ${stages.length} stages collapsed`,
    );
    // Edges between stages, aggregated.
    expect(await page.locator('svg path.edge').count()).toBeGreaterThan(stages.length - 2);
    if (SHOTS !== null) await page.screenshot({ path: path.join(SHOTS, 'stages.png') });

    // A click on a stage expands it alone: its tasks are drawn, the other stages stay collapsed.
    const governance = full.graph.nodes.filter((n) => n.stage === 'Governance').map((n) => n.id);
    await page.click('button:text-is("fit")');
    await page.click('svg .node.stage[data-stage="Governance"]');
    await page.waitForSelector('svg .node[data-task="ConsolidateGovernanceTask"]');
    expect((await page.$$eval('svg .node[data-task]', (nodes) => nodes.map((n) => (n as SVGGElement).dataset.task!))).sort()).toEqual(
      governance.sort(),
    );
    expect(await page.locator('svg .node.stage').count()).toBe(stages.length - 1);
    expect(new URL(page.url()).searchParams.getAll('collapse')).toEqual(stages.map((s) => s.name).filter((n) => n !== 'Governance'));
    // The address keeps it: a reload draws the same.
    await page.reload();
    await page.waitForSelector('svg .node.stage');
    expect(await page.locator('svg .node.stage').count()).toBe(stages.length - 1);
    // One stage from the list; then everything expanded again.
    await page.click('.stage-menu summary');
    await page.locator('.stage-menu input[value="Setup"]').uncheck();
    await page.waitForFunction((n) => document.querySelectorAll('svg .node.stage').length === n, stages.length - 2);
    expect(await page.locator('.stage-menu').getAttribute('open')).toBe('');
    await page.click('button[data-action="expand-stages"]');
    await page.waitForFunction(() => document.querySelectorAll('svg .node[data-task]').length === 63);
    expect(await page.locator('svg .node.stage').count()).toBe(0);
    expect(new URL(page.url()).searchParams.has('collapse')).toBe(false);

    // A pipeline without stages: no control.
    await page.goto(`${url}runs/${runIdOf('slow')}`);
    await page.waitForSelector('svg .node[data-task="Join"]');
    expect(await page.locator('.stage-tools button').count()).toBe(0);
    await page.close();
  });

  it('a collapsed stage follows a build in another process: missing → running → fresh, without reload', async () => {
    const page = await newPage();
    const runId = runIdOf('staged');
    fs.rmSync(path.join(cwd, 'runs', 'staged', 'c.txt'));
    await page.goto(`${url}runs/${runId}?collapse=all`);
    await page.waitForSelector('svg .node.stage[data-stage="Work"][data-state="missing"]');
    await page.waitForSelector('.live[data-state="live"]');
    expect(await page.locator('svg .node.stage').count()).toBe(3);
    expect(await page.textContent('svg .node.stage[data-stage="Work"] text.facts')).toBe('1 fresh · 1 missing');
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { seen: typeof seen }).seen = seen;
      const box = document.querySelector<SVGGElement>('svg .node.stage[data-stage="Work"]')!;
      // Changes of the state only: a refresh that sets the same state again (the run turning running before
      // its task starts) is no step.
      let last = box.dataset.state;
      new MutationObserver(() => {
        if (box.dataset.state === last) return;
        last = box.dataset.state;
        seen.push(last!);
      }).observe(box, { attributes: true, attributeFilter: ['data-state'] });
    });
    const slow = spawnPlan(['build', 'runs/staged', '--json'], { cwd, env: { STAGED_SLOW_MS: '1500' } });
    const result = await collect(slow);
    expect(result.exit, result.stderr).toBe(0);
    expect(
      jsonEvents(result.stdout)
        .filter((e) => e.type === 'task-started')
        .map((e) => e.taskId),
    ).toEqual(['Step(name=c)']);
    await page.waitForSelector('svg .node.stage[data-stage="Work"][data-state="fresh"]', { timeout: 5_000 });
    // c is written again byte for byte: e, which reads it, stays fresh (early cutoff).
    expect(await page.getAttribute('svg .node.stage[data-stage="Ship"]', 'data-state')).toBe('fresh');
    expect(await page.evaluate(() => (window as unknown as { seen: string[] }).seen)).toEqual(['running', 'fresh']);
    expect(await page.textContent('svg .node.stage[data-stage="Work"] text.facts')).toBe('2 fresh');
    expect(await page.evaluate(() => performance.getEntriesByType('navigation').length)).toBe(1);
    await page.close();
  });

  it('the run page’s timeline: a bar per task of the built plan, the critical path along its edges highlighted', async () => {
    const page = await newPage();
    const runId = runIdOf('demo');
    const graph = JSON.parse((await runPlan(['graph', 'runs/demo', '--json'], { cwd })).stdout) as {
      nodes: { id: string }[];
      edges: { from: string; to: string }[];
    };
    await page.goto(`${url}runs/${runId}`);
    await page.waitForSelector('svg.timeline .row');
    const marks = await page.evaluate(() => Object.fromEntries(performance.getEntriesByType('mark').map((m) => [m.name, m.startTime])));
    timings.timelineDrawnMs = marks['timeline-drawn'];
    timings.timelineOnlyMs = marks['timeline-drawn']! - marks['graph-drawn']!;
    // Built once: one row and one bar per task of the plan.
    expect(await page.locator('svg.timeline .row').count()).toBe(63);
    expect(await page.locator('svg.timeline .bar').count()).toBe(63);
    expect((await page.$$eval('svg.timeline .row', (rows) => rows.map((r) => (r as SVGGElement).dataset.task!))).sort()).toEqual(
      graph.nodes.map((n) => n.id).sort(),
    );
    expect(await page.locator('svg.timeline .bar.status-complete').count()).toBe(63);
    expect(await page.locator('svg.timeline .call').count()).toBeGreaterThan(0);
    // The critical path: highlighted in the timeline and in the graph, a chain of the graph's edges ending at the last task to finish.
    const { timeline } = (await (await page.request.get(`${url}api/runs/${runId}`)).json()) as {
      timeline: { criticalPath: string[]; rows: { taskId: string; attempts: { end: number }[] }[] };
    };
    const critical = await page.$$eval('svg.timeline .row.critical', (rows) => rows.map((r) => (r as SVGGElement).dataset.task!));
    expect(critical.length).toBeGreaterThan(5);
    expect(new Set(critical)).toEqual(new Set(timeline.criticalPath));
    const graphCritical = await page.$$eval('svg.graph .node.critical', (nodes) => nodes.map((n) => (n as SVGGElement).dataset.task!));
    expect(new Set(graphCritical)).toEqual(new Set(timeline.criticalPath));
    const edges = new Set(graph.edges.map((e) => `${e.from}>${e.to}`));
    for (let i = 1; i < timeline.criticalPath.length; i++)
      expect(edges.has(`${timeline.criticalPath[i - 1]}>${timeline.criticalPath[i]}`)).toBe(true);
    const lastEnd = Math.max(...timeline.rows.flatMap((r) => r.attempts.map((a) => a.end)));
    const lastRow = timeline.rows.find((r) => r.taskId === timeline.criticalPath.at(-1))!;
    expect(Math.max(...lastRow.attempts.map((a) => a.end))).toBe(lastEnd);
    expect(await page.locator('svg.timeline path.critical-link').count()).toBe(timeline.criticalPath.length - 1);
    expect(await page.textContent('.timeline-summary')).toMatch(/^last build: 63 tasks in .* · critical path \d+ tasks/);
    if (SHOTS !== null) {
      await page.locator('#timeline').scrollIntoViewIfNeeded();
      await page.locator('#timeline').screenshot({ path: path.join(SHOTS, 'timeline.png') });
    }
    // A click on a row opens its task.
    await page.click(`svg.timeline .row[data-task="${timeline.criticalPath[0]}"] .row-label`);
    await page.waitForURL(new RegExp(`/tasks/${timeline.criticalPath[0]}$`));
    await page.close();
  });

  it('the costs page: per run, task, model and day, its totals those of plan costs --json; unpriced calls unknown', async () => {
    const page = await newPage();
    await page.goto(url);
    await page.click('header a:text-is("costs")');
    await page.waitForURL(/\/costs$/);
    await page.waitForSelector('section.costs-day table.cost-table');
    timings.costsDrawnMs = await page.evaluate(() => performance.getEntriesByName('costs-drawn')[0]!.startTime);
    type Cli = {
      rows: { key: string; calls: number; costUsd: number | null }[];
      total: { calls: number; inputTokens: number; costUsd: number | null };
    };
    for (const by of ['run', 'task', 'model', 'day']) {
      const cli = JSON.parse((await runPlan(['costs', '--by', by, '--json'], { cwd })).stdout) as Cli;
      const api = (await (await page.request.get(`${url}api/costs?by=${by}`)).json()) as Cli & { rows: Record<string, unknown>[] };
      expect(api.rows.map(({ knownCostUsd: _k, unpricedCalls: _u, ...rest }) => rest)).toEqual(cli.rows);
      const section = page.locator(`section.costs-${by}`);
      expect(await section.locator('table tbody tr').count()).toBe(cli.rows.length);
      expect(await section.locator('svg.cost-chart rect.cost-bar').count()).toBe(Math.min(25, cli.rows.length));
      const total = await section.locator('table tfoot td').allTextContents();
      expect(total[0]).toBe('total');
      expect(total[1]).toBe(String(cli.total.calls));
      expect(total[3]).toBe(cli.total.inputTokens.toLocaleString('en-US'));
      // Some calls have no price: the total is a lower bound, as plan costs prints it.
      expect(cli.total.costUsd).toBeNull();
      expect(total[6]).toMatch(/^≥ \$[\d.]+ \+ \d+ calls of unknown price$/);
    }
    const byModel = JSON.parse((await runPlan(['costs', '--by', 'model', '--json'], { cwd })).stdout) as Cli;
    const unpriced = byModel.rows.find((r) => r.costUsd === null)!;
    const cells = await page.locator(`section.costs-model tbody tr:has(td:text-is("${unpriced.key}")) td`).allTextContents();
    expect(cells.at(-1)).toBe('unknown');
    const priced = byModel.rows.find((r) => r.costUsd !== null && r.costUsd > 0)!;
    const pricedCells = await page.locator(`section.costs-model tbody tr:has(td:text-is("${priced.key}")) td`).allTextContents();
    expect(pricedCells.at(-1)).toMatch(/^\$/);
    // Since 7 days: the same (every call is from today); a run's row opens the run.
    await page.selectOption('select[name=since]', '7d');
    await page.waitForURL(/since=7d/);
    await page.waitForFunction(() => document.querySelector('main > p.muted')?.textContent?.includes(' since '));
    expect(await page.locator('section.costs-run tbody tr').count()).toBe(
      (JSON.parse((await runPlan(['costs', '--by', 'run', '--since', '7d', '--json'], { cwd })).stdout) as Cli).rows.length,
    );
    if (SHOTS !== null) {
      await page.selectOption('select[name=since]', 'all');
      await page.waitForFunction(() => document.querySelector('main > p.muted')?.textContent?.includes('all time'));
      await page.screenshot({ path: path.join(SHOTS, 'costs.png') });
    }
    await page.locator('section.costs-run tbody a').first().click();
    await page.waitForURL(/\/runs\/[^/]+$/);
    await page.close();
  });

  it('a diff of a person’s edit against the task’s version shows the edited line', async () => {
    const page = await newPage();
    const runId = runIdOf('edited');
    await page.goto(`${url}runs/${runId}/tasks/Upper`);
    const details = page.locator('details[data-path="upper/upper.txt"]');
    await details.locator('summary').click();
    await details.locator('.diff-panel[data-ready] table.diff').waitFor();
    expect(await details.locator('select[name=from] option:checked').textContent()).toMatch(/^v1 · task/);
    expect(await details.locator('select[name=to] option:checked').textContent()).toMatch(/^v2 · edit/);
    expect(await details.locator('table.diff tr.add td.text').allTextContents()).toEqual(['A PERSON WAS HERE']);
    expect(await details.locator('table.diff tr.del').count()).toBe(0);
    expect(await details.locator('.diff-head').textContent()).toBe('v1 (task) → v2 (edit) · +1 −0 lines');
    // The other way round, chosen on the page.
    await details.locator('select[name=from]').selectOption('2');
    await details.locator('select[name=to]').selectOption('1');
    await page.waitForFunction(() => document.querySelector('.diff-head')?.textContent?.startsWith('v2 (edit) → v1 (task)'));
    expect(await details.locator('table.diff tr.del td.text').allTextContents()).toEqual(['A PERSON WAS HERE']);
    // And on the file page.
    await page.goto(`${url}runs/${runId}/file?path=upper/upper.txt&version=1`);
    await page.waitForSelector('.diff-panel[data-ready] table.diff tr.add');
    expect(await page.locator('table.diff tr.add td.text').allTextContents()).toEqual(['A PERSON WAS HERE']);
    await page.close();
  });

  it('rebuilds from a task’s page: the dry run names the tasks, confirm runs plan build; the nodes go running → fresh; it exits 0', async () => {
    const runId = runIdOf('rebuild');
    const runPage = await newPage();
    await runPage.goto(`${url}runs/${runId}`);
    await runPage.waitForSelector('svg .node[data-task="Join"][data-state="fresh"]');
    await runPage.waitForSelector('.live[data-state="live"]');
    await runPage.evaluate(() => {
      const seen: Record<string, string[]> = {};
      (window as unknown as { seen: typeof seen }).seen = seen;
      for (const task of ['Upper', 'Shout', 'Join', 'Bang']) {
        const node = document.querySelector<SVGGElement>(`svg .node[data-task="${task}"]`)!;
        // From the state shown now; a refresh that sets the same state again is no change.
        seen[task] = [node.dataset.state!];
        new MutationObserver(() => {
          if (seen[task]!.at(-1) !== node.dataset.state) seen[task]!.push(node.dataset.state!);
        }).observe(node, { attributes: true, attributeFilter: ['data-state'] });
      }
    });

    const page = await newPage();
    await page.goto(`${url}runs/${runId}/tasks/Upper`);
    // This task alone: the dry run of --force Upper --until Upper, its text as the command prints it.
    const started = Date.now();
    await page.click('button[data-scope="task"]');
    await page.waitForSelector('.would-run li');
    timings.previewMs = Date.now() - started;
    expect(await page.$$eval('.would-run li', (items) => items.map((li) => (li as HTMLElement).dataset.task))).toEqual(['Upper']);
    const alone = await runPlan(['build', 'runs/rebuild', '--force', 'Upper', '--until', 'Upper', '--dry-run'], { cwd });
    expect(await page.textContent('pre.dry-run')).toBe(alone.stdout + alone.stderr);
    expect(await page.textContent('.rebuild-preview code')).toBe('plan build runs/rebuild --force Upper --until Upper --dry-run');
    await page.click('button:text-is("Dismiss")');

    // It and everything downstream: --from Upper.
    await page.click('button[data-scope="downstream"]');
    await page.waitForSelector('.would-run li');
    expect(await page.$$eval('.would-run li', (items) => items.map((li) => (li as HTMLElement).dataset.task))).toEqual(['Upper', 'Shout', 'Join']);
    const downstream = await runPlan(['build', 'runs/rebuild', '--from', 'Upper', '--dry-run'], { cwd });
    expect(await page.textContent('pre.dry-run')).toBe(downstream.stdout + downstream.stderr);
    expect(await page.textContent('.rebuild-estimate')).toBe(downstream.stdout.trim().split('\n').at(-1));
    expect(await page.textContent('.rebuild-summary')).toBe(downstream.stderr.trim());
    const attemptsBefore = JSON.parse((await runPlan(['show', 'runs/rebuild', '--json'], { cwd })).stdout) as { totals: { attempts: number } };

    await page.click('button:text-is("Run it")');
    await page.waitForSelector('.rebuild-job[data-state="running"]');
    await page.waitForSelector('.rebuild-job[data-exit="0"]', { timeout: 30_000 });
    expect(await page.textContent('.rebuild-job code')).toBe('plan build runs/rebuild --from Upper --json');
    const log = await page.textContent('.rebuild-log');
    for (const task of ['Upper', 'Shout', 'Join']) expect(log).toContain(`done  ${task} `);
    expect(log).toMatch(/build success: ran 3 tasks, 2 fresh of 5/);
    expect(await page.textContent('.rebuild-status')).toMatch(/3 done of 3 started · exited 0/);

    // The run's page saw it: its nodes went running → fresh, Bang stayed as it was; its panel says exit 0.
    await runPage.waitForSelector('.rebuild-job[data-exit="0"]', { timeout: 10_000 });
    await runPage.waitForSelector('svg .node[data-task="Join"][data-state="fresh"]');
    await runPage.waitForFunction(() => {
      const join = (window as unknown as { seen: Record<string, string[]> }).seen.Join!;
      return join.includes('running') && join.at(-1) === 'fresh';
    });
    const seen = await runPage.evaluate(() => (window as unknown as { seen: Record<string, string[]> }).seen);
    // (A task downstream may show stale for a moment: its input changed, it has not started yet.)
    for (const task of ['Upper', 'Shout', 'Join'])
      expect(
        seen[task]!.filter((state) => state !== 'stale'),
        task,
      ).toEqual(['fresh', 'running', 'fresh']);
    expect(seen.Bang).toEqual(['fresh']);
    expect(await runPage.evaluate(() => performance.getEntriesByType('navigation').length)).toBe(1);
    // What the build did, as the CLI sees it: every task fresh, three more attempts.
    const graph = JSON.parse((await runPlan(['graph', 'runs/rebuild', '--json'], { cwd })).stdout) as { nodes: { state: string }[] };
    expect(graph.nodes.map((n) => n.state)).toEqual(['fresh', 'fresh', 'fresh', 'fresh', 'fresh']);
    const attemptsAfter = JSON.parse((await runPlan(['show', 'runs/rebuild', '--json'], { cwd })).stdout) as { totals: { attempts: number } };
    expect(attemptsAfter.totals.attempts).toBe(attemptsBefore.totals.attempts + 3);
    await runPage.close();
    await page.close();
  });

  it('a task shows plan explain’s text, its files rendered by kind, its calls; a file version and a model call open', async () => {
    const page = await newPage();
    const runId = runIdOf('demo');
    const explained = await runPlan(['explain', 'runs/demo', 'ReviewPlanTask'], { cwd });
    await page.goto(`${url}runs/${runId}/tasks/ReviewPlanTask`);
    await page.waitForSelector('pre.explain');
    expect(await page.textContent('pre.explain')).toBe(explained.stdout);
    // Its Markdown output rendered (headings as elements), and each version a link to the file page.
    const details = page.locator('details', { hasText: '.md' }).first();
    await details.locator('summary').click();
    await details.locator('.markdown').waitFor();
    expect(await details.locator('.markdown h1, .markdown h2, .markdown p').count()).toBeGreaterThan(0);
    await details.locator('.versions a').first().click();
    await page.waitForURL(/\/file\?path=.*&version=1$/);
    await page.waitForSelector('.file-content');
    expect(await page.textContent('h1')).toMatch(/\.md v1$/);

    await page.goto(`${url}runs/${runId}/tasks/ReviewPlanTask`);
    await page.locator('table a[href*="/calls/"]').first().click();
    await page.waitForURL(/\/calls\/\d+$/);
    await page.waitForSelector('section.message');
    const id = Number(/calls\/(\d+)$/.exec(page.url())![1]);
    const call = JSON.parse((await runPlan(['llm', 'runs/demo', '--id', String(id), '--json'], { cwd })).stdout) as {
      status: string;
      messages: { role: string; content: string }[];
      inputTokens: number;
    };
    expect(await page.textContent('h1')).toContain(`Call ${id} ${call.status}`);
    expect(await page.locator('section.message h3').allTextContents()).toEqual(call.messages.map((m) => m.role));
    expect(await page.locator('section.message pre').first().textContent()).toBe(call.messages[0]!.content);
    expect(await page.textContent('dl.facts')).toContain(`${call.inputTokens} in`);
    if (SHOTS !== null) await page.screenshot({ path: path.join(SHOTS, 'call.png') });
    await page.close();
  });

  it('a build in another process shows on the open run page without reload: missing → running → fresh', async () => {
    const page = await newPage();
    const runId = runIdOf('slow');
    fs.rmSync(path.join(cwd, 'runs', 'slow', 'join.txt'));
    await page.goto(`${url}runs/${runId}`);
    await page.waitForSelector('svg .node[data-task="Join"][data-state="missing"]');
    await page.waitForSelector('.live[data-state="live"]');
    // Every change of the node's state, with the time it showed (same clock as this process: one machine).
    await page.evaluate(() => {
      const seen: [string, number][] = [];
      (window as unknown as { seen: typeof seen }).seen = seen;
      const node = document.querySelector<SVGGElement>('svg .node[data-task="Join"]')!;
      new MutationObserver(() => {
        if (seen.at(-1)?.[0] !== node.dataset.state) seen.push([node.dataset.state!, performance.timeOrigin + performance.now()]);
      }).observe(node, { attributes: true, attributeFilter: ['data-state'] });
    });

    const store: Store = await openSqliteStore(path.join(cwd, 'runs', 'plan.db'));
    const before = (await store.listAttempts(runId, 'Join')).at(-1)!.id;
    const committed: Record<string, number> = {};
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const attempt = (await store.listAttempts(runId, 'Join')).at(-1);
        const status = attempt?.status === 'complete' ? 'persisted' : attempt?.status;
        if (attempt !== undefined && attempt.id > before && status !== undefined && committed[status] === undefined) committed[status] = Date.now();
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    try {
      const slow = spawnPlan(['build', 'runs/slow', '--json'], { cwd, env: { FIXTURE_SLOW_MS: '1500' } });
      const result = await collect(slow);
      expect(result.exit, result.stderr).toBe(0);
      expect(
        jsonEvents(result.stdout)
          .filter((e) => e.type === 'task-started')
          .map((e) => e.taskId),
      ).toEqual(['Join']);
      await page.waitForSelector('svg .node[data-task="Join"][data-state="fresh"]', { timeout: 5_000 });
    } finally {
      watching = false;
      await watcher;
      await store.close();
    }
    const seen = await page.evaluate(() => (window as unknown as { seen: [string, number][] }).seen);
    expect(seen.map(([state]) => state)).toEqual(['running', 'fresh']);
    // Same document all along: no navigation happened.
    expect(await page.evaluate(() => performance.getEntriesByType('navigation').length)).toBe(1);
    timings.runningMs = seen[0]![1] - committed.running!;
    timings.freshMs = seen[1]![1] - committed.persisted!;
    expect(timings.runningMs).toBeLessThan(5_000);
    expect(timings.freshMs).toBeLessThan(5_000);
    await page.close();
  });

  it('cancels a running build from its page: the build exits 130, its task recorded cancelled', async () => {
    const page = await launched.context.newPage();
    // The page asks before cancelling: accept that one confirm.
    page.on('dialog', (dialog) => void (dialog.type() === 'confirm' ? dialog.accept() : dialog.dismiss()));
    const slow = spawnPlan(['build', 'runs/cancel', '--pipeline', diamondPipeline, '--json'], { cwd, env: { FIXTURE_SLOW_MS: '20000' } });
    const done = collect(slow);
    await waitForOutput(slow, (out) => out.includes('"task-started"'));
    await page.goto(`${url}runs/${runIdOf('cancel')}`);
    await page.waitForSelector('svg .node[data-state="running"]');
    await page.click('button:text-is("Cancel build")');
    const stopped = await done;
    expect(stopped.exit).toBe(130);
    expect(
      jsonEvents(stopped.stdout)
        .filter((e) => e.type === 'task-cancelled')
        .map((e) => e.taskId),
    ).toEqual(['Seed(seed=one)']);
    await page.waitForSelector('h1 .badge:text-is("cancelled")', { timeout: 5_000 });
    await page.close();
  });

  it('hostile model text and files show as text: no dialog, no script, no injected element; HTML only in the sandboxed frame', async () => {
    const page = await newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const hostile = runIdOf('hostile');
    const calls = JSON.parse((await runPlan(['llm', 'runs/hostile', '--json'], { cwd })).stdout) as { interactions: { id: number }[] };
    expect(calls.interactions.length).toBeGreaterThanOrEqual(3);
    for (const call of calls.interactions) {
      await page.goto(`${url}runs/${hostile}/calls/${call.id}`);
      await page.waitForSelector('pre.response');
      // As text (in a JSON answer its quote is escaped): the tags are there to read, not to run.
      const response = await page.textContent('pre.response');
      expect(response).toContain('<script>alert(1)</script>');
      expect(response).toContain('><img src=x onerror=alert(1)>');
    }
    await page.goto(`${url}runs/${hostile}/tasks/Summary`);
    await page.locator('details summary').first().click();
    await page.waitForSelector('.markdown');
    expect(await page.textContent('.markdown')).toContain(HOSTILE);

    const files = runIdOf('files');
    for (const [file, selector] of [
      ['notes.md', '.markdown'],
      ['data.json', 'pre.json'],
      ['table.csv', 'table.csv'],
    ] as const) {
      await page.goto(`${url}runs/${files}/file?path=${file}`);
      await page.waitForSelector(selector);
      expect(await page.textContent(selector), file).toContain(file === 'data.json' ? JSON.stringify(HOSTILE).slice(1, -1) : HOSTILE);
    }
    await page.goto(`${url}runs/${files}/file?path=notes.md`);
    await page.waitForSelector('.markdown h1');
    expect(await page.textContent('.markdown h1')).toBe(`Notes ${HOSTILE}`);
    expect(await page.textContent('.markdown em')).toBe('emphasis');

    await page.goto(`${url}runs/${files}/file?path=page.html`);
    const frame = page.locator('iframe');
    await frame.waitFor();
    expect(await frame.getAttribute('sandbox')).toBe('');
    const inner = page.frameLocator('iframe').locator('#report');
    await inner.waitFor();
    expect(await inner.textContent()).toBe('Report');
    const raw = await page.request.get(`${url}api/runs/${files}/raw?path=page.html`);
    expect(raw.headers()['content-security-policy']).toMatch(/^sandbox; default-src 'none'/);

    // Nothing ran: no dialog on any page, no injected image or script in the dashboard's own document.
    await page.waitForTimeout(300);
    expect(dialogs).toEqual([]);
    expect(errors).toEqual([]);
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('script:not([src])').count()).toBe(0);

    // And no API key anywhere the dashboard answers.
    for (const apiPath of [
      'api/runs',
      `api/runs/${hostile}`,
      `api/runs/${hostile}/tasks/Ideas`,
      `api/runs/${hostile}/calls/${calls.interactions[0]!.id}`,
      'api/costs?by=model',
      `api/runs/${hostile}/rebuild`,
    ]) {
      expect(await (await page.request.get(`${url}${apiPath}`)).text()).not.toContain(API_KEY);
    }
    await page.close();
  });
});
