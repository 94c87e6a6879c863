import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { diamondPipeline, jsonEvents, runPlan, startedTasks, tempDir } from '../support/cli.js';

// plan pin: a person fixes a file at what it holds; no build replaces it, and what reads it reads the pinned bytes.

let cwd: string;
beforeEach(() => {
  cwd = tempDir('plan-pin-');
});
afterEach(() => {
  fs.rmSync(cwd, { recursive: true, force: true });
});

const file = (name: string): string => path.join(cwd, 'runs', 'demo', name);
const plan = (...args: string[]) => runPlan(args, { cwd });

describe('plan pin', () => {
  it('a pinned file is never replaced: its task reports pinned and does not run, a deleted one comes back, unpin lets it go', async () => {
    expect((await plan('build', 'runs/demo', '--pipeline', diamondPipeline)).exit).toBe(0);
    fs.writeFileSync(file('upper/upper.txt'), 'MY OWN UPPER\n');
    const pinned = await plan('pin', 'runs/demo', 'upper/upper.txt');
    expect(pinned.exit, pinned.stderr).toBe(0);
    expect(pinned.stdout).toBe('pinned upper/upper.txt at v2: no build replaces it (plan unpin runs/demo upper/upper.txt lets it)\n');

    // Upper's input changes: it would run, but its file is pinned.
    fs.writeFileSync(file('seed.txt'), 'seed two\n');
    const dry = await plan('build', 'runs/demo', '--dry-run');
    expect(dry.stdout).toMatch(/pinned\s+Upper\s+pinned: upper\/upper\.txt/);
    const built = await plan('build', 'runs/demo', '--json');
    expect(built.exit).toBe(0);
    expect(startedTasks(built.stdout)).not.toContain('Upper');
    expect(jsonEvents(built.stdout).find((e) => e.type === 'task-decided' && e.taskId === 'Upper')).toMatchObject({ state: 'pinned' });
    expect(fs.readFileSync(file('upper/upper.txt'), 'utf8')).toBe('MY OWN UPPER\n');
    expect(fs.readFileSync(file('shout.txt'), 'utf8')).toBe('MY OWN UPPER!!!\n');
    const status = await plan('status', 'runs/demo', '--json');
    expect((JSON.parse(status.stdout) as { tasks: { id: string; state: string }[] }).tasks.find((t) => t.id === 'Upper')?.state).toBe('pinned');

    fs.rmSync(file('upper/upper.txt'));
    const healed = await plan('build', 'runs/demo', '--json');
    expect(startedTasks(healed.stdout)).toEqual([]);
    expect(fs.readFileSync(file('upper/upper.txt'), 'utf8')).toBe('MY OWN UPPER\n');

    expect((await plan('unpin', 'runs/demo', 'upper/upper.txt')).exit).toBe(0);
    const released = await plan('build', 'runs/demo', '--json');
    expect(startedTasks(released.stdout)).toContain('Upper');
    expect(fs.readFileSync(file('upper/upper.txt'), 'utf8')).toBe('SEED TWO\n');
  });

  it('refuses a file the run does not have, and unpin of a file that is not pinned, exit 2', async () => {
    expect((await plan('build', 'runs/demo', '--pipeline', diamondPipeline)).exit).toBe(0);
    const unknown = await plan('pin', 'runs/demo', 'nope.txt');
    expect(unknown.exit).toBe(2);
    expect(unknown.stderr.trim()).toMatch(/^plan: nope\.txt is not a file of run \S+ \(see plan show runs\/demo\)$/);
    const notPinned = await plan('unpin', 'runs/demo', 'seed.txt');
    expect(notPinned.exit).toBe(2);
    expect(notPinned.stderr.trim()).toMatch(/^plan: seed\.txt is not pinned in run \S+$/);
  });
});
