import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runPlan, tempDir } from '../support/cli.js';
import { buildDiamond, expectUsageError, planJson } from '../support/inspect.js';

let cwd: string;
beforeEach(() => {
  cwd = tempDir('plan-explain-');
});
afterEach(() => {
  fs.rmSync(cwd, { recursive: true, force: true });
});

const runDir = (): string => path.join(cwd, 'runs', 'demo');

interface InputChange {
  kind: 'input';
  path: string;
  change: string;
  before: string | null;
  after: string | null;
  owner: string | null;
  cause: string | null;
  version: number | null;
}

interface TaskExplanation {
  id: string;
  state: string;
  reason: string;
  wouldRun: boolean;
  version: string;
  changes: (InputChange | { kind: 'version'; before: string; after: string } | { kind: 'parameter'; name: string })[];
  upstream: { id: string; state: string; reason: string }[];
  causes: { id: string; state: string; reason: string }[];
  failedUpstream: { id: string; status: string; error: string | null }[];
  outputs: { path: string; state: string; sha256: string | null; storedSha256: string | null }[];
  lastBuilt: { attemptId: number; at: string } | null;
  lastAttempt: { attemptId: number; status: string; error: string | null } | null;
}

interface Explanation {
  runId: string;
  runDir: string;
  subject: 'task' | 'file';
  file: {
    path: string;
    owner: string | null;
    declared: boolean;
    onDisk: string;
    versions: number;
    newest: { version: number; source: string } | null;
  } | null;
  task: TaskExplanation;
}

const explain = (target: string, env: Record<string, string> = {}) => planJson<Explanation>(cwd, ['explain', 'runs/demo', target], env);

describe('plan explain', () => {
  it('a fresh task: up to date, no changes, its outputs present', async () => {
    expect((await buildDiamond(cwd)).exit).toBe(0);
    const result = await explain('Upper');
    expect(result.subject).toBe('task');
    expect(result.file).toBeNull();
    expect(result.task).toMatchObject({
      id: 'Upper',
      state: 'fresh',
      reason: 'up to date',
      wouldRun: false,
      version: '1',
      changes: [],
      upstream: [],
    });
    expect(result.task.outputs).toEqual([
      { path: 'upper/upper.txt', state: 'present', sha256: expect.any(String), storedSha256: expect.any(String) },
    ]);
    expect(result.task.lastBuilt?.attemptId).toBe(result.task.lastAttempt?.attemptId);
  });

  it('names the input a person edited, with old → new hash and its upstream file, before and after the build records it', async () => {
    expect((await buildDiamond(cwd)).exit).toBe(0);
    fs.writeFileSync(path.join(runDir(), 'seed.txt'), 'seed edited by hand\n');

    // Not built yet: the edit is only on disk.
    const before = await explain('Upper');
    expect(before.task.state).toBe('stale');
    expect(before.task.reason).toMatch(/^input seed\.txt changed \([0-9a-f]{12} → [0-9a-f]{12}\)$/);
    const change = before.task.changes[0] as InputChange;
    expect(before.task.changes).toHaveLength(1);
    expect(change).toMatchObject({
      kind: 'input',
      path: 'seed.txt',
      change: 'changed',
      owner: 'Seed(seed=one)',
      cause: 'unrecorded-edit',
      version: null,
    });
    expect(change.before).not.toBe(change.after);
    expect(before.task.reason).toContain(`${change.before!.slice(0, 12)} → ${change.after!.slice(0, 12)}`);

    const human = await runPlan(['explain', 'runs/demo', 'Upper'], { cwd });
    expect(human.exit).toBe(0);
    expect(human.stdout).toContain('input seed.txt (output of Seed(seed=one)) changed');
    expect(human.stdout).toContain('edited by a person since the last build');

    // A build that records the edit but fails to rebuild Upper: the edit is now a stored version (source edit).
    expect((await runPlan(['build', 'runs/demo'], { cwd, env: { FIXTURE_FAIL: 'Upper' } })).exit).toBe(1);
    const after = await explain('Upper');
    expect(after.task.state).toBe('stale');
    expect(after.task.changes[0]).toMatchObject({ kind: 'input', path: 'seed.txt', cause: 'edit', version: 2, after: change.after });
    expect(after.task.lastAttempt).toMatchObject({ status: 'failed', error: 'Upper was told to fail' });
    const recorded = await runPlan(['explain', 'runs/demo', 'Upper'], { cwd });
    expect(recorded.stdout).toContain('edited by a person (version 2');

    // Downstream of the failure: Shout waits on it.
    const shout = await explain('Shout');
    expect(shout.task.failedUpstream).toEqual([{ id: 'Upper', attemptId: expect.any(Number), status: 'failed', error: 'Upper was told to fail' }]);
    expect(shout.task.upstream.map((u) => u.id)).toEqual(['Upper']);
  });

  it('an input rebuilt by its task is a rebuild, and a version bump names old → new version', async () => {
    expect((await buildDiamond(cwd)).exit).toBe(0);
    // Upper is rebuilt at version 2 (its output changes); Shout fails, so it still reads the old upper.txt.
    const env = { FIXTURE_VERSION: 'Upper=2' };
    expect((await runPlan(['build', 'runs/demo'], { cwd, env: { ...env, FIXTURE_FAIL: 'Shout' } })).exit).toBe(1);
    const shout = await explain('Shout', env);
    expect(shout.task.changes).toEqual([
      expect.objectContaining({ kind: 'input', path: 'upper/upper.txt', change: 'changed', owner: 'Upper', cause: 'rebuild', version: 2 }),
    ]);

    const bumped = await explain('Upper', { FIXTURE_VERSION: 'Upper=3' });
    expect(bumped.task).toMatchObject({ state: 'stale', reason: 'version changed (2 → 3)', version: '3' });
    expect(bumped.task.changes).toEqual([{ kind: 'version', before: '2', after: '3' }]);
  });

  it('a file: which task owns it, its versions, and that task’s explanation; a missing output and the upstream chain', async () => {
    expect((await buildDiamond(cwd)).exit).toBe(0);
    fs.rmSync(path.join(runDir(), 'bang.txt'));

    const file = await explain('bang.txt');
    expect(file.subject).toBe('file');
    expect(file.file).toMatchObject({
      path: 'bang.txt',
      owner: 'Bang',
      declared: true,
      onDisk: 'missing',
      versions: 1,
      newest: { version: 1, source: 'task' },
    });
    expect(file.task).toMatchObject({ id: 'Bang', state: 'missing', reason: 'output bang.txt is missing', wouldRun: true });

    // An extra (undeclared) file resolves to the task that wrote it; a path from where the user stands works too.
    const extra = await explain('runs/demo/extra/join-count.txt');
    expect(extra.file).toMatchObject({ path: 'extra/join-count.txt', owner: 'Join', declared: false, onDisk: 'present' });

    const join = extra.task;
    expect(join).toMatchObject({ id: 'Join', state: 'stale', reason: 'upstream Bang will run' });
    expect(join.upstream).toEqual([{ id: 'Bang', state: 'missing', reason: 'output bang.txt is missing' }]);
    expect(join.causes).toEqual([{ id: 'Bang', state: 'missing', reason: 'output bang.txt is missing' }]);
  });

  it('resolves a class name to its task id; a task of a run never built is missing', async () => {
    expect((await buildDiamond(cwd, 'demo', [], { FIXTURE_FAIL: 'Seed' })).exit).toBe(1);
    const seed = await explain('Seed');
    expect(seed.task).toMatchObject({ id: 'Seed(seed=one)', state: 'missing', reason: 'never built', lastBuilt: null });
    expect(seed.task.lastAttempt).toMatchObject({ status: 'failed', error: 'Seed was told to fail' });
    const join = await explain('Join');
    // Tasks never built run for a reason of their own; the failure that stopped them is reported separately.
    expect(join.task.causes.map((c) => [c.id, c.reason])).toEqual([
      ['Shout', 'never built'],
      ['Bang', 'never built'],
    ]);
    expect(join.task.failedUpstream.map((f) => f.id)).toEqual(['Seed(seed=one)']);
  });

  it('bad input: unknown task or file, a dir that is not a run, a missing run dir → one-line error, exit 2', async () => {
    expect((await buildDiamond(cwd)).exit).toBe(0);
    const unknown = expectUsageError(await runPlan(['explain', 'runs/demo', 'Nope'], { cwd }));
    expect(unknown).toMatch(/^plan: unknown task or file 'Nope' in run /);
    fs.mkdirSync(path.join(cwd, 'runs', 'empty'));
    expect(expectUsageError(await runPlan(['explain', 'runs/empty', 'Upper'], { cwd }))).toMatch(/^plan: runs\/empty is not a run dir/);
    expect(expectUsageError(await runPlan(['explain', 'runs/gone', 'Upper'], { cwd }))).toBe('plan: run dir runs/gone does not exist');
    expect(expectUsageError(await runPlan(['explain', 'elsewhere/x', 'Upper'], { cwd }))).toBe('plan: run dir elsewhere/x does not exist');
  });
});

describe('plan graph', () => {
  interface Graph {
    runId: string;
    nodes: { id: string; state: string; reason: string; outputs: string[]; durationMs: number | null; calls: number; costUsd: number }[];
    edges: { from: string; to: string }[];
  }

  it('--format json: every task with its state, outputs and duration, every edge', async () => {
    expect((await buildDiamond(cwd)).exit).toBe(0);
    fs.rmSync(path.join(runDir(), 'shout.json'));
    const graph = await planJson<Graph>(cwd, ['graph', 'runs/demo', '--format', 'json']);
    expect(graph.nodes.map((n) => n.id)).toEqual(['Seed(seed=one)', 'Upper', 'Bang', 'Shout', 'Join']);
    expect(graph.nodes.find((n) => n.id === 'Shout')).toMatchObject({ state: 'missing', outputs: ['shout.txt', 'shout.json'], calls: 0, costUsd: 0 });
    expect(graph.nodes.find((n) => n.id === 'Join')).toMatchObject({ state: 'stale', reason: 'upstream Shout will run' });
    expect(graph.nodes.every((n) => typeof n.durationMs === 'number')).toBe(true);
    expect(graph.edges).toEqual(
      expect.arrayContaining([
        { from: 'Seed(seed=one)', to: 'Upper' },
        { from: 'Seed(seed=one)', to: 'Bang' },
        { from: 'Upper', to: 'Shout' },
        { from: 'Shout', to: 'Join' },
        { from: 'Bang', to: 'Join' },
      ]),
    );
    expect(graph.edges).toHaveLength(5);
    // --json is the same as --format json.
    expect(await planJson<Graph>(cwd, ['graph', 'runs/demo'])).toEqual(graph);
  });

  it('--format dot and mermaid: one node per task with its state, one edge per dependency', async () => {
    expect((await buildDiamond(cwd)).exit).toBe(0);
    const dot = await runPlan(['graph', 'runs/demo', '--format', 'dot'], { cwd });
    expect(dot.exit).toBe(0);
    expect(dot.stdout).toMatch(/^digraph plan \{/);
    expect(dot.stdout).toMatch(/"Seed\(seed=one\)" \[label="Seed\(seed=one\)\\nfresh · \d+ms"/);
    expect(dot.stdout).toContain('"Bang" -> "Join";');
    expect(dot.stdout.match(/ -> /g)).toHaveLength(5);

    const mermaid = await runPlan(['graph', 'runs/demo', '--format', 'mermaid'], { cwd });
    expect(mermaid.exit).toBe(0);
    expect(mermaid.stdout).toMatch(/^flowchart LR\n/);
    expect(mermaid.stdout).toMatch(/t0\["Seed\(seed=one\)<br\/>fresh · \d+ms"\]:::fresh/);
    expect(mermaid.stdout.match(/ --> /g)).toHaveLength(5);

    const bad = await runPlan(['graph', 'runs/demo', '--format', 'png'], { cwd });
    expect(bad.exit).toBe(2);
  });
});
