import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect, diamondPipeline, jsonEvents, runPlan, snapshotDir, spawnPlan, startedTasks, tempDir, waitForOutput } from '../support/cli.js';
import { storeQuery } from '../support/store-rows.js';

// Crash tests really kill a child `plan build` with SIGKILL, then check that the next build completes the run,
// that no task whose attempt reached `persisted` runs again, and that the files equal an uninterrupted build's.

let cwd: string;
let reference: Record<string, string>;

beforeEach(async () => {
  cwd = tempDir('plan-crash-');
  const refCwd = tempDir('plan-ref-');
  const ref = await runPlan(['build', 'runs/demo', '--pipeline', diamondPipeline], { cwd: refCwd });
  expect(ref.exit).toBe(0);
  reference = snapshotDir(path.join(refCwd, 'runs', 'demo'));
  fs.rmSync(refCwd, { recursive: true, force: true });
});
afterEach(() => {
  fs.rmSync(cwd, { recursive: true, force: true });
});

const runDir = (): string => path.join(cwd, 'runs', 'demo');

function attemptStatuses(): Promise<{ task_id: string; status: string }[]> {
  return storeQuery(cwd, 'SELECT task_id, status FROM task_attempts ORDER BY id');
}

describe('kill -9', () => {
  it('mid-run: the next build abandons the running attempt, re-runs only unpersisted tasks, and matches', async () => {
    const child = spawnPlan(['build', 'runs/demo', '--pipeline', diamondPipeline, '--json', '-j', '1'], {
      cwd,
      env: { FIXTURE_SLOW_MS: '300' },
    });
    const done = collect(child);
    // Kill while the third task runs: two have persisted by then.
    await waitForOutput(child, (out) => startedTasks(out).length === 3);
    child.kill('SIGKILL');
    const killed = await done;
    expect(killed.signal).toBe('SIGKILL');
    const persistedBefore = jsonEvents(killed.stdout)
      .filter((e) => e.type === 'task-persisted')
      .map((e) => e.taskId as string);
    expect(persistedBefore).toHaveLength(2);
    expect((await attemptStatuses()).filter((a) => a.status === 'running')).toHaveLength(1);

    const resumed = await runPlan(['build', 'runs/demo', '--json'], { cwd });
    expect(resumed.exit).toBe(0);
    const rerun = startedTasks(resumed.stdout);
    expect(rerun).toHaveLength(3);
    for (const taskId of persistedBefore) expect(rerun).not.toContain(taskId);
    expect(snapshotDir(runDir())).toEqual(reference);
    const statuses = await attemptStatuses();
    expect(statuses.filter((a) => a.status === 'running')).toEqual([]);
    expect(statuses.filter((a) => a.status === 'abandoned')).toHaveLength(1);
    expect(fs.readdirSync(runDir(), { recursive: true }).filter((f) => String(f).includes('.plan-tmp-'))).toEqual([]);
  });

  it('between persist and materialize: the next build writes the files from the database without re-running', async () => {
    const killed = await runPlan(['build', 'runs/demo', '--pipeline', diamondPipeline, '--json', '-j', '1'], {
      cwd,
      env: { PLAN_TEST_HOOK: 'kill-after-persist:Shout' },
    });
    expect(killed.signal).toBe('SIGKILL');
    expect(fs.existsSync(path.join(runDir(), 'shout.txt'))).toBe(false);
    expect((await attemptStatuses()).find((a) => a.task_id === 'Shout')?.status).toBe('persisted');

    const resumed = await runPlan(['build', 'runs/demo', '--json'], { cwd });
    expect(resumed.exit).toBe(0);
    const events = jsonEvents(resumed.stdout);
    expect(events.find((e) => e.type === 'task-recovered')).toMatchObject({ taskId: 'Shout', files: ['shout.txt', 'shout.json'] });
    const rerun = startedTasks(resumed.stdout);
    expect(rerun).not.toContain('Shout');
    expect(snapshotDir(runDir())).toEqual(reference);
    expect((await attemptStatuses()).find((a) => a.task_id === 'Shout')?.status).toBe('complete');
  });

  it('SIGINT stops the build: running tasks are cancelled, exit 130, and the next build finishes the run', async () => {
    const child = spawnPlan(['build', 'runs/demo', '--pipeline', diamondPipeline, '--json'], { cwd, env: { FIXTURE_SLOW_MS: '10000' } });
    const done = collect(child);
    await waitForOutput(child, (out) => out.includes('"task-started"'));
    const sent = Date.now();
    child.kill('SIGINT');
    const interrupted = await done;
    expect(interrupted.exit).toBe(130);
    expect(Date.now() - sent).toBeLessThan(2_000);
    expect(jsonEvents(interrupted.stdout).find((e) => e.type === 'build-finished')).toMatchObject({ status: 'cancelled' });
    expect(await attemptStatuses()).toEqual([{ task_id: 'Seed(seed=one)', status: 'cancelled' }]);
    expect(fs.existsSync(path.join(runDir(), '.plan-lock'))).toBe(false);

    const resumed = await runPlan(['build', 'runs/demo'], { cwd });
    expect(resumed.exit).toBe(0);
    expect(snapshotDir(runDir())).toEqual(reference);
  });
});
