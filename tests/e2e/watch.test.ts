import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect, diamondPipeline, runPlan, spawnPlan, tempDir, type CliResult } from '../support/cli.js';

type WatchEvent = Record<string, unknown> & { type: string };

let cwd: string;
let watchers: ChildProcess[] = [];
beforeEach(() => {
  cwd = tempDir();
});
afterEach(() => {
  for (const child of watchers) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  watchers = [];
  fs.rmSync(cwd, { recursive: true, force: true });
});

const runDir = (): string => path.join(cwd, 'runs', 'demo');
const build = () => runPlan(['build', 'runs/demo', '--pipeline', diamondPipeline, '--param', 'seed=one', '--json'], { cwd });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A running `plan watch --json`: its events as they arrive, and a way to wait for one. */
function startWatch(extra: string[] = [], env: Record<string, string> = {}) {
  const child = spawnPlan(['watch', 'runs/demo', '--json', ...extra], { cwd, env });
  watchers.push(child);
  const events: WatchEvent[] = [];
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) if (line.startsWith('{')) events.push(JSON.parse(line) as WatchEvent);
  });
  const result: Promise<CliResult> = collect(child);
  const ofType = (type: string) => events.filter((e) => e.type === type);
  async function waitFor(type: string, count = 1, timeoutMs = 20_000): Promise<WatchEvent> {
    const deadline = Date.now() + timeoutMs;
    while (ofType(type).length < count) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} × ${type}; saw ${JSON.stringify(events)}`);
      if (child.exitCode !== null) throw new Error(`plan watch exited ${child.exitCode}: ${(await result).stderr}`);
      await sleep(20);
    }
    return ofType(type)[count - 1]!;
  }
  /** Sends SIGINT; resolves with the result and how long it took to exit. */
  async function interrupt(): Promise<CliResult & { ms: number }> {
    const sent = Date.now();
    child.kill('SIGINT');
    const done = await result;
    return { ...done, ms: Date.now() - sent };
  }
  return { child, events, ofType, waitFor, interrupt };
}

async function waitUntil(predicate: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(20);
  }
}

function attempts(): { task_id: string; status: string }[] {
  const conn = new Database(path.join(cwd, 'runs', 'plan.db'), { readonly: true });
  try {
    return conn.prepare('SELECT task_id, status FROM task_attempts ORDER BY id').all() as { task_id: string; status: string }[];
  } finally {
    conn.close();
  }
}

describe('plan watch', () => {
  it('rebuilds exactly the dependents of an edited file, once: its own writes start no second rebuild', async () => {
    expect((await build()).exit).toBe(0);
    const watch = startWatch();
    const started = await watch.waitFor('watch-started');
    expect(started).toMatchObject({ runDir: runDir(), files: 7 });

    // White space only: Upper trims it (same output, so Shout stays fresh), Bang copies it (so Join re-runs).
    fs.appendFileSync(path.join(runDir(), 'seed.txt'), '   \n');
    const rebuild = await watch.waitFor('rebuild-started');
    expect(rebuild).toMatchObject({ trigger: 'change', changed: ['seed.txt'], removed: [] });
    const finished = await watch.waitFor('rebuild-finished');
    expect(finished.status).toBe('success');
    expect([...(finished.ran as string[])].sort()).toEqual(['Bang', 'Join', 'Upper']);
    expect(finished.wrote).toEqual(expect.arrayContaining(['bang.txt', 'join.txt']));
    expect(fs.readFileSync(path.join(runDir(), 'join.txt'), 'utf8')).toBe('SEED ONE!!!\n---\nseed one\n   \n!');

    // The rebuild wrote bang.txt, join.txt, upper/upper.txt …: none of that may start another rebuild.
    await sleep(1_500);
    expect(watch.ofType('rebuild-started')).toHaveLength(1);
    // And the run is as `plan build` leaves it: nothing left to do.
    const check = await runPlan(['build', 'runs/demo', '--dry-run', '--json'], { cwd });
    expect(check.stdout).not.toMatch(/"state":"(stale|missing)"/);

    const stopped = await watch.interrupt();
    expect(stopped.exit).toBe(130);
    expect(stopped.ms).toBeLessThan(2_000);
    expect(watch.events.at(-1)).toMatchObject({ type: 'watch-stopped', reason: 'interrupted' });
  });

  it('a deleted output is rebuilt by exactly its own task', async () => {
    expect((await build()).exit).toBe(0);
    const before = fs.readFileSync(path.join(runDir(), 'upper', 'upper.txt'), 'utf8');
    const watch = startWatch();
    await watch.waitFor('watch-started');

    fs.rmSync(path.join(runDir(), 'upper', 'upper.txt'));
    expect(await watch.waitFor('rebuild-started')).toMatchObject({ changed: ['upper/upper.txt'], removed: ['upper/upper.txt'] });
    const finished = await watch.waitFor('rebuild-finished');
    expect(finished).toMatchObject({ status: 'success', ran: ['Upper'] });
    expect(fs.readFileSync(path.join(runDir(), 'upper', 'upper.txt'), 'utf8')).toBe(before);

    await sleep(1_500);
    expect(watch.ofType('rebuild-started')).toHaveLength(1);
    expect((await watch.interrupt()).exit).toBe(130);
  });

  it("ignores the engine's own files and files no task writes", async () => {
    expect((await build()).exit).toBe(0);
    const watch = startWatch();
    await watch.waitFor('watch-started');
    fs.writeFileSync(path.join(runDir(), '.plan-tmp-123-seed.txt'), 'half written');
    fs.writeFileSync(path.join(runDir(), '.plan-lock'), '{}');
    fs.writeFileSync(path.join(runDir(), 'notes.txt'), 'my notes');
    // Same bytes as stored: a save without a change.
    fs.writeFileSync(path.join(runDir(), 'seed.txt'), fs.readFileSync(path.join(runDir(), 'seed.txt')));
    fs.rmSync(path.join(runDir(), '.plan-lock'));
    await sleep(1_500);
    expect(watch.ofType('rebuild-started')).toHaveLength(0);
    expect((await watch.interrupt()).exit).toBe(130);
  });

  it('Ctrl-C during a rebuild cancels it like plan build does (running tasks recorded cancelled) and exits 130 within 2 s', async () => {
    expect((await build()).exit).toBe(0);
    const watch = startWatch([], { FIXTURE_SLOW_MS: '10000' });
    await watch.waitFor('watch-started');
    const before = attempts().length;

    fs.appendFileSync(path.join(runDir(), 'seed.txt'), 'more\n');
    await watch.waitFor('rebuild-started');
    await waitUntil(
      () =>
        attempts()
          .slice(before)
          .filter((a) => a.status === 'running').length === 2,
    );

    const stopped = await watch.interrupt();
    expect(stopped.exit).toBe(130);
    expect(stopped.ms).toBeLessThan(2_000);
    const finished = watch.ofType('rebuild-finished');
    expect(finished).toHaveLength(1);
    expect(finished[0]).toMatchObject({ status: 'cancelled', exitCode: 130 });
    expect([...(finished[0]!.cancelled as string[])].sort()).toEqual(['Bang', 'Upper']);
    expect(watch.events.at(-1)?.type).toBe('watch-stopped');
    expect(
      attempts()
        .slice(before)
        .map((a) => `${a.task_id} ${a.status}`)
        .sort(),
    ).toEqual(['Bang cancelled', 'Upper cancelled']);
    expect(fs.existsSync(path.join(runDir(), '.plan-lock'))).toBe(false);

    // The run resumes with the next build.
    const resumed = await runPlan(['build', 'runs/demo', '--json'], { cwd });
    expect(resumed.exit).toBe(0);
  });

  it('waits for a build running in another process, then rebuilds what it left to do', async () => {
    expect((await build()).exit).toBe(0);
    fs.rmSync(path.join(runDir(), 'upper', 'upper.txt'));
    const watch = startWatch();
    await watch.waitFor('watch-started');
    const before = attempts().length;

    // Another terminal: a slow build that regenerates upper.txt. Once it is running (its decisions made),
    // bang.txt is deleted: that build will not notice, so the watcher must rebuild it, after that build.
    const other = collect(spawnPlan(['build', 'runs/demo', '--json'], { cwd, env: { FIXTURE_SLOW_MS: '1500' } }));
    await waitUntil(() =>
      attempts()
        .slice(before)
        .some((a) => a.task_id === 'Upper' && a.status === 'running'),
    );
    fs.rmSync(path.join(runDir(), 'bang.txt'));
    expect((await other).exit).toBe(0);

    const rebuild = await watch.waitFor('rebuild-started');
    expect(rebuild).toMatchObject({ changed: ['bang.txt'], removed: ['bang.txt'] });
    expect(await watch.waitFor('rebuild-finished')).toMatchObject({ status: 'success', ran: ['Bang'] });
    await sleep(1_500);
    expect(watch.ofType('rebuild-started')).toHaveLength(1);
    const stopped = await watch.interrupt();
    expect(stopped.exit).toBe(130);
    expect(stopped.stderr).toMatch(/another build \(pid \d+ on .+\) holds the run dir: rebuilding once it ends/);
  });

  it('--build-first builds on start; without it nothing runs until a file changes', async () => {
    expect((await build()).exit).toBe(0);
    fs.rmSync(path.join(runDir(), 'bang.txt'));
    const quiet = startWatch();
    await quiet.waitFor('watch-started');
    await sleep(800);
    expect(quiet.ofType('rebuild-started')).toHaveLength(0);
    expect((await quiet.interrupt()).exit).toBe(130);

    const eager = startWatch(['--build-first']);
    expect(await eager.waitFor('rebuild-started')).toMatchObject({ trigger: 'start', changed: [] });
    const finished = await eager.waitFor('rebuild-finished');
    expect(finished).toMatchObject({ status: 'success', ran: ['Bang'] });
    await sleep(1_500);
    expect(eager.ofType('rebuild-started')).toHaveLength(1);
    expect((await eager.interrupt()).exit).toBe(130);
  });

  it('prints plain lines without --json', async () => {
    expect((await build()).exit).toBe(0);
    const child = spawnPlan(['watch', 'runs/demo'], { cwd });
    watchers.push(child);
    const result = collect(child);
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await waitUntil(() => stderr.includes('watching 7 files in runs/demo'));
    fs.appendFileSync(path.join(runDir(), 'seed.txt'), '   \n');
    await waitUntil(() => stderr.includes('build complete'));
    child.kill('SIGINT');
    const done = await result;
    expect(done.exit).toBe(130);
    expect(done.stdout).toBe('');
    expect(done.stderr).toContain('seed.txt changed: rebuilding');
    expect(done.stderr).toMatch(/run {3}Upper — input seed\.txt changed/);
    expect(done.stderr).toMatch(/build complete: ran 3 tasks, 2 fresh of 5 in \S+ \(/);
    expect(done.stderr).toContain('stopped watching runs/demo');
  });

  it('a dir that is not a run is a one-line error, exit 2', async () => {
    fs.mkdirSync(path.join(cwd, 'runs', 'nothing'), { recursive: true });
    const result = await runPlan(['watch', 'runs/nothing'], { cwd });
    expect(result.exit).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^plan: runs\/nothing is not a run dir/);
  });
});
