import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, launchBrowser, noteWhenBrowserMissing, type LaunchedBrowser } from '../support/browser.js';
import { collect, repoRoot, spawnPlan, tempDir, waitForOutput } from '../support/cli.js';

/**
 * The dashboard on a 1,000-task graph: the layered benchmark pipeline (bench/layered.js, 100 layers of 10,
 * 1,980 edges), built in full, opened by `plan ui`. The run page must stay usable: the server lays the graph
 * out (the cheap layered layout above 400 tasks; dagre takes ~5 s here), the page draws 1,000 boxes and the
 * timeline's 1,000 rows. The times are measured and printed, not held to tight bounds (2 shared cores).
 */

noteWhenBrowserMissing('tests/e2e/ui-big.test.ts');

const N = 1_000;

let cwd: string;
let ui: ChildProcess;
let uiExit: ReturnType<typeof collect>;
let url: string;
let launched: LaunchedBrowser;
let runId: string;
const timings: Record<string, number> = {};

describe.skipIf(CHROMIUM === undefined)('plan ui on a 1,000-task graph', () => {
  beforeAll(async () => {
    cwd = tempDir('plan-ui-big-');
    fs.mkdirSync(path.join(cwd, 'runs'));
    const started = performance.now();
    const built = await collect(
      spawn(process.execPath, [path.join(repoRoot, 'bench', 'layered.js'), 'build', 'runs/layered', '--n', String(N), '--db', 'runs/plan.db'], {
        cwd,
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    expect(built.exit, built.stderr).toBe(0);
    timings.buildMs = performance.now() - started;
    runId = (JSON.parse(fs.readFileSync(path.join(cwd, 'runs', 'layered', '.plan-run.json'), 'utf8')) as { runId: string }).runId;
    ui = spawnPlan(['ui', '--port', '0', '--db', 'runs/plan.db'], { cwd });
    let out = '';
    ui.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    uiExit = collect(ui);
    await waitForOutput(ui, (seen) => /plan ui: http:\/\/127\.0\.0\.1:\d+\/\n/.test(seen));
    url = /plan ui: (\S+)\n/.exec(out)![1]!;
    launched = await launchBrowser();
  }, 180_000);

  afterAll(async () => {
    await launched?.close();
    if (ui !== undefined) {
      ui.kill('SIGTERM');
      const result = await uiExit;
      expect(result.exit, result.stderr).toBe(0);
    }
    if (cwd !== undefined) fs.rmSync(cwd, { recursive: true, force: true });
    const ms = (name: string): string => `${timings[name]?.toFixed(0)} ms`;
    console.log(
      `ui on ${N} tasks: build ${ms('buildMs')}; first /api/runs/<id> ${ms('firstApiMs')} (layout ${ms('layoutMs')}, ${timings.payloadKiB?.toFixed(0)} KiB), ` +
        `again ${ms('secondApiMs')}; page: data ${ms('dataMs')} → graph drawn ${ms('graphDrawnMs')} → timeline drawn ${ms('timelineDrawnMs')} ` +
        `(drawing ${ms('drawMs')}); a second load ${ms('secondGraphDrawnMs')}`,
    );
  });

  it('lays the graph out cheaply on the server and the run page draws every task, its edges and its timeline', async () => {
    // The first look at the run (its pipeline loaded, 1,000 files decided, the layout made), then again (cached).
    let started = performance.now();
    const first = await fetch(`${url}api/runs/${runId}`);
    const body = await first.text();
    timings.firstApiMs = performance.now() - started;
    timings.payloadKiB = body.length / 1024;
    const detail = JSON.parse(body) as {
      graph: { nodes: { id: string; shown: string }[]; edges: unknown[]; paths: unknown[]; layout: { method: string; ms: number } };
      timeline: { rows: unknown[]; criticalPath: string[] };
    };
    expect(detail.graph.nodes).toHaveLength(N);
    expect(detail.graph.layout.method).toBe('layered');
    timings.layoutMs = detail.graph.layout.ms;
    expect(detail.graph.edges).toHaveLength(1_980);
    expect(detail.graph.nodes.every((n) => n.shown === 'fresh')).toBe(true);
    expect(detail.timeline.rows).toHaveLength(N);
    // The longest chain runs through all 100 layers.
    expect(detail.timeline.criticalPath).toHaveLength(100);
    started = performance.now();
    await (await fetch(`${url}api/runs/${runId}`)).text();
    timings.secondApiMs = performance.now() - started;

    const page = await launched.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${url}runs/${runId}`);
    await page.waitForSelector('svg.timeline .row', { timeout: 60_000 });
    const marks = await page.evaluate(() => Object.fromEntries(performance.getEntriesByType('mark').map((m) => [m.name, m.startTime])));
    timings.dataMs = marks['run-data']!;
    timings.graphDrawnMs = marks['graph-drawn']!;
    timings.timelineDrawnMs = marks['timeline-drawn']!;
    timings.drawMs = marks['timeline-drawn']! - marks['run-data']!;
    expect(await page.locator('svg.graph .node').count()).toBe(N);
    expect(await page.locator('svg.graph path.edge').count()).toBe(1_980);
    expect(await page.locator('svg.timeline .row').count()).toBe(N);
    expect(await page.locator('svg.graph .node.critical').count()).toBe(100);
    expect(timings.timelineDrawnMs).toBeLessThan(30_000);

    // Still usable: zoom, fit, and a click on a box opens its task.
    const before = await page.getAttribute('svg .world', 'transform');
    await page.click('button[title="zoom out"]');
    expect(await page.getAttribute('svg .world', 'transform')).not.toBe(before);
    await page.click('button:text-is("fit")');
    await page.locator('svg.timeline .row').first().scrollIntoViewIfNeeded();
    await page.click('svg.timeline .row[data-task="Node(index=0,layer=0)"] .row-label');
    await page.waitForURL(/\/tasks\/Node\(index%3D0%2Clayer%3D0\)$|\/tasks\/Node\(index=0,layer=0\)$/);
    await page.waitForSelector('pre.explain');

    await page.goto(`${url}runs/${runId}`);
    await page.waitForSelector('svg.timeline .row', { timeout: 60_000 });
    timings.secondGraphDrawnMs = await page.evaluate(() => performance.getEntriesByName('graph-drawn')[0]!.startTime);
    expect(errors).toEqual([]);
    await page.close();
  });
});
