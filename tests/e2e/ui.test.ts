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
 * a build from the page — and hostile model text that must stay text. Two timings are measured and printed:
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

    // The key is in the dashboard's environment too: it must reach no page.
    ui = spawnPlan(['ui', '--port', '0', '--db', 'runs/plan.db'], { cwd, env: { OPENAI_COMPATIBLE_API_KEY: API_KEY, OPENAI_API_KEY: API_KEY } });
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
        `attempt committed → node running ${timings.runningMs?.toFixed(0)} ms, persisted → node fresh ${timings.freshMs?.toFixed(0)} ms`,
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
    ]) {
      expect(await (await page.request.get(`${url}${apiPath}`)).text()).not.toContain(API_KEY);
    }
    await page.close();
  });
});
