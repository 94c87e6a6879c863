import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { diamondPipeline, runPlan, tempDir } from '../support/cli.js';

// A person's edit is kept until the task that wrote the file has to run again (an input of its own changed):
// then the build says, before and when it happens, that it replaces the edit, and where the edit is kept.

let cwd: string;
beforeEach(() => {
  cwd = tempDir('plan-edit-replaced-');
});
afterEach(() => {
  fs.rmSync(cwd, { recursive: true, force: true });
});

const upper = (): string => path.join(cwd, 'runs', 'demo', 'upper', 'upper.txt');

describe('replacing a person edit', () => {
  it('is said by the dry run, plan explain and the build, which names the version that keeps the edit', async () => {
    expect((await runPlan(['build', 'runs/demo', '--pipeline', diamondPipeline], { cwd })).exit).toBe(0);
    fs.writeFileSync(upper(), 'MY OWN UPPER\n');
    const kept = await runPlan(['build', 'runs/demo'], { cwd });
    expect(kept.exit).toBe(0);
    expect(fs.readFileSync(upper(), 'utf8')).toBe('MY OWN UPPER\n');
    expect(kept.stderr).not.toContain('replaces your edit');

    // An input of Upper changes: Upper must run again, over the edit.
    fs.writeFileSync(path.join(cwd, 'runs', 'demo', 'seed.txt'), 'seed two\n');
    const dry = await runPlan(['build', 'runs/demo', '--dry-run'], { cwd });
    expect(dry.stdout).toMatch(/stale\s+Upper\s+input seed\.txt changed .* — replaces your edit of upper\/upper\.txt \(kept as v2\)/);
    const explained = await runPlan(['explain', 'runs/demo', 'Upper'], { cwd });
    expect(explained.stdout).toContain('replaces your edit of upper/upper.txt (kept as v2)');

    const rebuilt = await runPlan(['build', 'runs/demo'], { cwd });
    expect(rebuilt.exit).toBe(0);
    expect(rebuilt.stderr).toContain(
      'Upper replaces your edit of upper/upper.txt; your version is kept as v2: plan cat runs/demo upper/upper.txt --version 2',
    );
    expect(fs.readFileSync(upper(), 'utf8')).toBe('SEED TWO\n');
    const cat = await runPlan(['cat', 'runs/demo', 'upper/upper.txt', '--version', '2'], { cwd });
    expect(cat.stdout).toBe('MY OWN UPPER\n');
  });

  it('a file already in the run dir that the database never saw is stored as a version before a task writes over it', async () => {
    const runDir = path.join(cwd, 'runs', 'demo');
    fs.mkdirSync(runDir, { recursive: true });
    // Shout has two outputs; one is there already (copied in, made by hand): not adopted, so Shout runs.
    fs.writeFileSync(path.join(runDir, 'shout.txt'), 'A SHOUT FROM ELSEWHERE\n');
    const dry = await runPlan(['build', 'runs/demo', '--pipeline', diamondPipeline, '--dry-run'], { cwd });
    expect(dry.stdout).toMatch(/missing\s+Shout\s+never built — replaces your edit of shout\.txt \(stored as a version first\)/);
    const built = await runPlan(['build', 'runs/demo', '--pipeline', diamondPipeline], { cwd });
    expect(built.exit, built.stderr).toBe(0);
    expect(built.stderr).toContain('Shout replaces your edit of shout.txt; your version is kept as v1: plan cat runs/demo shout.txt --version 1');
    expect(fs.readFileSync(path.join(runDir, 'shout.txt'), 'utf8')).toBe('SEED ONE!!!\n');
    expect((await runPlan(['cat', 'runs/demo', 'shout.txt', '--version', '1'], { cwd })).stdout).toBe('A SHOUT FROM ELSEWHERE\n');
  });
});
