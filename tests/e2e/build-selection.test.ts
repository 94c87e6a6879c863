import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { diamondPipeline, jsonEvents, runPlan, startedTasks, tempDir } from '../support/cli.js';

let cwd: string;
beforeEach(() => {
  cwd = tempDir('plan-select-');
});
afterEach(() => {
  fs.rmSync(cwd, { recursive: true, force: true });
});

const diamond = (args: string[]) => runPlan(['build', 'runs/demo', '--pipeline', diamondPipeline, '--json', ...args], { cwd });

describe('choosing what plan build builds', () => {
  it('--until builds only what the task needs; --from rebuilds it and everything downstream', async () => {
    const until = await diamond(['--until', 'Upper']);
    expect(until.exit, until.stderr).toBe(0);
    expect(startedTasks(until.stdout)).toEqual(['Seed(seed=one)', 'Upper']);
    expect(fs.existsSync(path.join(cwd, 'runs', 'demo', 'join.txt'))).toBe(false);

    const rest = await diamond([]);
    expect(startedTasks(rest.stdout).sort()).toEqual(['Bang', 'Join', 'Shout']);

    const from = await diamond(['--from', 'Shout']);
    expect(startedTasks(from.stdout)).toEqual(['Shout', 'Join']);
    const both = await diamond(['--from', 'Seed', '--until', 'Bang']);
    expect(startedTasks(both.stdout)).toEqual(['Seed(seed=one)', 'Bang']);

    const unknown = await diamond(['--until', 'Nope']);
    expect(unknown.exit).toBe(2);
    expect(unknown.stderr.trim()).toBe("plan: unknown task 'Nope' (see 'plan status' for the task names)");
  });

  it('--summarize writes the run as JSON: tasks, states, attempts, calls, tokens, cost', async () => {
    const result = await runPlan(['build', 'runs/demo', '--prompt', 'A tiny bakery', '--speed', 'fast', '--summarize', 'out/summary.json'], { cwd });
    expect(result.exit, result.stderr).toBe(0);
    const summary = JSON.parse(fs.readFileSync(path.join(cwd, 'out', 'summary.json'), 'utf8')) as {
      status: string;
      tasks: { id: string; state: string; attempts: number; calls: number; lastAttempt: { status: string } }[];
      totals: { calls: number; costUsd: number };
    };
    expect(summary.status).toBe('success');
    expect(summary.tasks).toHaveLength(63);
    const premise = summary.tasks.find((t) => t.id === 'PremiseAttackTask')!;
    expect(premise).toMatchObject({ state: 'missing', attempts: 1, calls: 2, lastAttempt: { status: 'complete' } });
    expect(summary.totals.calls).toBe(summary.tasks.reduce((n, t) => n + t.calls, 0));
    expect(summary.totals.costUsd).toBe(0);

    const inside = await runPlan(['build', 'runs/demo', '--summarize', 'runs/demo/summary.json'], { cwd });
    expect(inside.exit).toBe(2);
  });

  it('--dry-run estimates model calls and cost for the model in use, learning from earlier runs', async () => {
    const first = await runPlan(
      ['build', 'runs/new', '--prompt', 'A tiny bakery', '--speed', 'fast', '--dry-run', '--json', '--model', 'openai:gpt-4o-mini'],
      { cwd },
    );
    expect(first.exit, first.stderr).toBe(0);
    const typical = jsonEvents(first.stdout).find((e) => e.type === 'estimate') as Record<string, number | string>;
    expect(typical).toMatchObject({ model: 'openai:gpt-4o-mini', fromHistory: 0 });
    expect(typical.calls).toBeGreaterThan(40);
    expect(typical.costUsd).toBeGreaterThan(0);

    const built = await runPlan(['build', 'runs/old', '--prompt', 'A tiny bakery', '--speed', 'fast', '--json'], { cwd });
    const madeCalls = jsonEvents(built.stdout).filter((e) => e.type === 'interaction-finished').length;
    const learned = await runPlan(['build', 'runs/next', '--prompt', 'Another bakery', '--speed', 'fast', '--dry-run', '--json'], { cwd });
    const estimate = jsonEvents(learned.stdout).find((e) => e.type === 'estimate') as Record<string, number>;
    expect(estimate.fromTypical).toBe(0);
    expect(estimate.calls).toBe(madeCalls);
    expect(estimate.costUsd).toBe(0);

    const human = await runPlan(['build', 'runs/next', '--prompt', 'Another bakery', '--dry-run', '--model', 'openai:gpt-4o-mini'], { cwd });
    expect(human.stdout).toMatch(/^model calls: ~\d+ \(~[\d,]+ input \/ ~[\d,]+ output tokens\), ~\$\d+\.\d{4} on openai:gpt-4o-mini/m);
  });
});

describe('what plan build refuses, and how it says so', () => {
  const refused = async (args: string[]): Promise<string> => {
    const result = await runPlan(args, { cwd });
    expect(result.exit, result.stderr).toBe(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    return lines[0]!;
  };

  it('a new prompt for a run of your own pipeline names its parameters and its root, not a task it does not have', async () => {
    expect((await diamond(['--prompt', 'first'])).exit).toBe(0);
    const line = await refused(['build', 'runs/demo', '--prompt', 'second']);
    expect(line).toMatch(
      /^plan: run \S+ was created with a different prompt; pipeline diamond gets it as its parameter prompt \(parameters: prompt, startTime\); to rebuild with this one add --force Join \(its root\)$/,
    );
    const forced = await diamond(['--prompt', 'second', '--force', 'Join']);
    expect(forced.exit, forced.stderr).toBe(0);
    expect(startedTasks(forced.stdout)).toEqual(['Join']);
  });

  it('a --prompt-file that is not UTF-8 text: refused, nothing stored', async () => {
    fs.writeFileSync(path.join(cwd, 'binary.dat'), Buffer.from([0x41, 0x00, 0x01, 0x42, 0x0a]));
    expect(await refused(['build', 'runs/new', '--prompt-file', 'binary.dat', '--speed', 'fast'])).toBe(
      'plan: --prompt-file binary.dat holds NUL bytes: it is not a text file; give the prompt as UTF-8 text',
    );
    fs.writeFileSync(path.join(cwd, 'latin1.txt'), Buffer.from('Caf\xe9 in K\xf8benhavn\n', 'latin1'));
    expect(await refused(['build', 'runs/new', '--prompt-file', 'latin1.txt', '--speed', 'fast'])).toBe(
      'plan: --prompt-file latin1.txt is not UTF-8 text; save it as UTF-8 (e.g. iconv -f latin1 -t utf-8)',
    );
    expect(fs.existsSync(path.join(cwd, 'runs'))).toBe(false);
  });

  it('-j that is not a number shows the value given', async () => {
    expect(await refused(['build', 'runs/demo', '-j', 'abc'])).toBe("plan: -j must be a whole number ≥ 1 ('abc' is not a number)");
    expect(await refused(['build', 'runs/demo', '-j', '0'])).toBe('plan: -j must be a whole number ≥ 1 (got 0)');
    expect(await refused(['build', 'runs/demo', '--llm-concurrency', 'lots'])).toBe(
      "plan: --llm-concurrency must be a whole number ≥ 1 ('lots' is not a number)",
    );
  });
});
