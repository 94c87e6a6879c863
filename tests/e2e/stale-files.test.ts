import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { diamondPipeline, runPlan, tempDir } from '../support/cli.js';

// Files of a task that left the pipeline stay in the run dir, read and replaced by nothing: plan status says so,
// and plan clean --stale-files removes them (their versions stay in the database).

let cwd: string;
beforeEach(() => {
  cwd = tempDir('plan-stale-files-');
});
afterEach(() => {
  fs.rmSync(cwd, { recursive: true, force: true });
});

const withoutBang = { FIXTURE_NO_BANG: '1' };

describe('stale files', () => {
  it('plan status reports the files of a task that left the pipeline; plan clean --stale-files removes them, keeping their versions', async () => {
    expect((await runPlan(['build', 'runs/demo', '--pipeline', diamondPipeline], { cwd })).exit).toBe(0);
    expect((await runPlan(['build', 'runs/demo'], { cwd, env: withoutBang })).exit).toBe(0);
    const status = await runPlan(['status', 'runs/demo'], { cwd, env: withoutBang });
    expect(status.stdout).toContain('1 stale file of tasks no longer in the pipeline: bang.txt (plan clean --stale-files runs/demo removes them)');
    const json = JSON.parse((await runPlan(['status', 'runs/demo', '--json'], { cwd, env: withoutBang })).stdout) as { staleFiles: string[] };
    expect(json.staleFiles).toEqual(['bang.txt']);

    const dry = await runPlan(['clean', '--stale-files', 'runs/demo', '--dry-run'], { cwd, env: withoutBang });
    expect(dry.stdout).toBe('would remove 1 stale file (dry run, nothing removed):\n  bang.txt\n');
    const refused = await runPlan(['clean', '--stale-files', 'runs/demo'], { cwd, env: withoutBang });
    expect(refused.exit).toBe(2);
    expect(fs.existsSync(path.join(cwd, 'runs', 'demo', 'bang.txt'))).toBe(true);

    const removed = await runPlan(['clean', '--stale-files', 'runs/demo', '--yes'], { cwd, env: withoutBang });
    expect(removed.stdout).toBe('removed 1 stale file (their versions stay in the database)\n');
    expect(fs.existsSync(path.join(cwd, 'runs', 'demo', 'bang.txt'))).toBe(false);
    expect(fs.existsSync(path.join(cwd, 'runs', 'demo', 'join.txt'))).toBe(true);
    expect((await runPlan(['cat', 'runs/demo', 'bang.txt'], { cwd, env: withoutBang })).stdout).toBe('seed one\n!');
    expect((await runPlan(['status', 'runs/demo'], { cwd, env: withoutBang })).stdout).not.toContain('stale file');
  });
});
