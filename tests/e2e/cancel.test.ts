import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect, diamondPipeline, jsonEvents, runPlan, snapshotDir, spawnPlan, tempDir, waitForOutput } from '../support/cli.js';

let cwd: string;
beforeEach(() => {
  cwd = tempDir('plan-cancel-');
});
afterEach(() => {
  fs.rmSync(cwd, { recursive: true, force: true });
});

describe('plan cancel', () => {
  it('stops a build running in another process within 2 s (exit 130, tasks cancelled); a later build finishes the run', async () => {
    const build = spawnPlan(['build', 'runs/demo', '--pipeline', diamondPipeline, '--json'], { cwd, env: { FIXTURE_SLOW_MS: '20000' } });
    const done = collect(build);
    await waitForOutput(build, (out) => out.includes('"task-started"'));

    const asked = Date.now();
    const cancel = await runPlan(['cancel', 'runs/demo', '--json'], { cwd });
    const stopped = await done;
    expect(stopped.exit).toBe(130);
    expect(Date.now() - asked).toBeLessThan(2_000);
    expect(cancel.exit, cancel.stderr).toBe(0);
    expect(JSON.parse(cancel.stdout)).toMatchObject({ outcome: 'stopped', holder: { pid: build.pid } });
    expect(
      jsonEvents(stopped.stdout)
        .filter((e) => e.type === 'task-cancelled')
        .map((e) => e.taskId),
    ).toEqual(['Seed(seed=one)']);

    const resumed = await runPlan(['build', 'runs/demo'], { cwd });
    expect(resumed.exit, resumed.stderr).toBe(0);
    expect(Object.keys(snapshotDir(path.join(cwd, 'runs', 'demo')))).toContain('join.txt');
  });

  it('says there is nothing to cancel when no build runs, and a bad run dir is a one-line error (exit 2)', async () => {
    await runPlan(['build', 'runs/demo', '--pipeline', diamondPipeline], { cwd });
    const idle = await runPlan(['cancel', 'runs/demo'], { cwd });
    expect(idle.exit).toBe(0);
    expect(idle.stdout).toMatch(/^no build of run \S+ is running \(last status complete\); nothing to cancel/);
    const missing = await runPlan(['cancel', 'runs/nope'], { cwd });
    expect(missing.exit).toBe(2);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
  });
});
