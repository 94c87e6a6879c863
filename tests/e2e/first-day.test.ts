import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runPlan, tempDir } from '../support/cli.js';

// What a new user meets on the first day: messages that say enough, input that is refused before anything
// is made, and text that cannot take over the terminal.

let cwd: string;
beforeEach(() => {
  cwd = tempDir('plan-first-day-');
});
afterEach(() => {
  fs.rmSync(cwd, { recursive: true, force: true });
});

async function refused(args: string[], env: Record<string, string> = {}): Promise<string> {
  const result = await runPlan(args, { cwd, env });
  expect(result.exit, result.stderr).toBe(2);
  const lines = result.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

describe('usage messages', () => {
  it('a value outside the choices names the option, the value given and the choices', async () => {
    expect(await refused(['build', 'runs/demo', '--prompt', 'x', '--durability', 'nope'])).toBe(
      'plan: --durability must be one of "process", "full" (got "nope")',
    );
  });

  it('a missing positional argument is named, with the command usage', async () => {
    expect(await refused(['build'])).toBe('plan: plan build needs <run-dir> (plan build <run-dir>; see plan build --help)');
    expect(await refused(['cat', 'runs/demo'])).toBe('plan: plan cat needs <task-or-file> (plan cat <run-dir> <task-or-file>; see plan cat --help)');
  });
});

describe('where the database goes', () => {
  it('--db or PLAN_DB in a folder that does not exist is refused and nothing is created', async () => {
    const missing = path.join(cwd, 'no', 'such', 'dir', 'plan.db');
    expect(await refused(['build', 'runs/demo', '--prompt', 'x', '--db', missing])).toBe(
      `plan: the folder of database ${missing} does not exist; create it first, or point --db (or PLAN_DB) elsewhere`,
    );
    expect(await refused(['build', 'runs/demo', '--prompt', 'x'], { PLAN_DB: missing })).toContain('does not exist; create it first');
    expect(fs.existsSync(path.join(cwd, 'no'))).toBe(false);
    expect(fs.existsSync(path.join(cwd, 'runs'))).toBe(false);
  });

  it('says when it creates a database, and only then', async () => {
    const first = await runPlan(['build', 'runs/demo', '--prompt', 'A bakery', '--speed', 'fast'], { cwd });
    expect(first.exit).toBe(0);
    expect(first.stderr).toContain(`created new database ${path.join(fs.realpathSync(cwd), 'runs', 'plan.db')}`);
    const again = await runPlan(['build', 'runs/demo'], { cwd });
    expect(again.stderr).not.toContain('created new database');
  });

  it('plan status of a dir that is not a run creates no database', async () => {
    fs.mkdirSync(path.join(cwd, 'runs', 'empty'), { recursive: true });
    expect(await refused(['status', 'runs/empty'])).toMatch(/^plan: runs\/empty is not a run dir \(no database at .*plan\.db\)$/);
    expect(fs.readdirSync(path.join(cwd, 'runs'))).toEqual(['empty']);
  });
});

describe('text from prompts and models in the terminal', () => {
  it('control characters and ESC of a prompt are shown escaped in plan list and plan show, never sent raw', async () => {
    const hostile = 'A bakery \u001b[31mRED\u001b]0;pwned\u0007 plan';
    expect((await runPlan(['build', 'runs/demo', '--prompt', hostile, '--speed', 'fast'], { cwd })).exit).toBe(0);
    for (const args of [['list'], ['show', 'runs/demo']]) {
      const shown = await runPlan(args, { cwd });
      expect(shown.exit).toBe(0);
      expect(shown.stdout).not.toContain('\u001b');
      expect(shown.stdout).not.toContain('\u0007');
      expect(shown.stdout).toContain('\\x1b[31mRED');
    }
  });
});
