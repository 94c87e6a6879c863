import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { diamondPipeline, jsonEvents, repoRoot, runPlan, tempDir } from '../support/cli.js';

// `plan build --dry-run`: what would run and what its model calls would cost, from what earlier builds did.

const llmPipeline = path.join(repoRoot, 'tests', 'fixtures', 'llm-pipeline.mjs');

let cwd: string;
beforeEach(() => {
  cwd = tempDir('plan-estimate-');
});
afterEach(() => {
  fs.rmSync(cwd, { recursive: true, force: true });
});

async function estimateOf(args: string[]): Promise<Record<string, number | string>> {
  const result = await runPlan([...args, '--dry-run', '--json'], { cwd });
  expect(result.exit, result.stderr).toBe(0);
  return jsonEvents(result.stdout).find((e) => e.type === 'estimate') as Record<string, number | string>;
}

describe('the dry-run estimate', () => {
  it('of a new run counts one build of each task, however often an earlier run was rebuilt', async () => {
    // One build of the fixture makes 3 calls: Ideas 2, Summary 1.
    const first = await runPlan(['build', 'runs/old', '--pipeline', llmPipeline], { cwd });
    expect(first.exit, first.stderr).toBe(0);
    for (let rebuild = 0; rebuild < 2; rebuild++) {
      const forced = await runPlan(['build', 'runs/old', '--force', 'Ideas'], { cwd });
      expect(forced.exit, forced.stderr).toBe(0);
    }
    const other = await runPlan(['build', 'runs/other', '--pipeline', llmPipeline], { cwd });
    expect(other.exit, other.stderr).toBe(0);

    const estimate = await estimateOf(['build', 'runs/new', '--pipeline', llmPipeline]);
    expect(estimate).toMatchObject({ calls: 3, fromHistory: 2, fromTypical: 0 });
  });

  it('says "up to" when early cutoff may leave tasks fresh', async () => {
    const built = await runPlan(['build', 'runs/demo', '--pipeline', diamondPipeline], { cwd });
    expect(built.exit, built.stderr).toBe(0);
    fs.appendFileSync(path.join(cwd, 'runs', 'demo', 'seed.txt'), '  x');

    const dry = await runPlan(['build', 'runs/demo', '--dry-run'], { cwd });
    expect(dry.exit, dry.stderr).toBe(0);
    // Upper and Bang read the edited seed.txt; Shout and Join run only if Upper's or Bang's output changes.
    expect(dry.stderr).toContain('dry run: up to 4 tasks would run (2 of them only if what they read changes), 1 fresh, of 5');
    const estimate = await estimateOf(['build', 'runs/demo']);
    expect(estimate).toMatchObject({ tasks: 4, uncertainTasks: 2 });

    const fresh = await runPlan(['build', 'runs/new', '--dry-run', '--pipeline', diamondPipeline], { cwd });
    expect(fresh.stderr).toContain('dry run: 5 tasks would run, 0 fresh, of 5');
  });
});
