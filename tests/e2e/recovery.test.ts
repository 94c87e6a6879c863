import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { diamondPipeline, jsonEvents, planBin, runPlan, snapshotDir, startedTasks, tempDir, testStoreUrl } from '../support/cli.js';
import { storeQuery, withStoreRows } from '../support/store-rows.js';

// Recovery of what a killed build left `persisted`, with real kills at the two moments a test cannot hit from
// outside (PLAN_TEST_HOOK): the next build must do what materialize would have done, and never write over a
// file a person changed in the meantime.

let cwd: string;
beforeEach(() => {
  cwd = tempDir('plan-recovery-');
});
afterEach(() => {
  fs.rmSync(cwd, { recursive: true, force: true });
});

const runDir = (): string => path.join(cwd, 'runs', 'demo');
const read = (file: string): string => fs.readFileSync(path.join(runDir(), file), 'utf8');
const sha256 = (text: string | Buffer): string => createHash('sha256').update(text).digest('hex');

function contentRows(filePath: string): Promise<{ version: number; source: string; sha256: string }[]> {
  return storeQuery(cwd, 'SELECT version, source, sha256 FROM plan_content WHERE path = ? ORDER BY version', filePath);
}

async function statusOf(taskId: string): Promise<string | undefined> {
  const row = await withStoreRows(cwd, (rows) =>
    rows.get<{ status: string }>('SELECT status FROM task_attempts WHERE task_id = ? ORDER BY id DESC LIMIT 1', taskId),
  );
  return row?.status;
}

const build = (env: Record<string, string> = {}, extra: string[] = []) =>
  runPlan(['build', 'runs/demo', '--pipeline', diamondPipeline, '--json', '-j', '1', ...extra], { cwd, env });

describe('recovery of a persisted attempt', () => {
  it('keeps a person edit made after the files were written but before the complete mark, stores it, and rebuilds what reads it', async () => {
    const killed = await build({ PLAN_TEST_HOOK: 'kill-after-materialize:Shout' });
    expect(killed.signal).toBe('SIGKILL');
    expect(await statusOf('Shout')).toBe('persisted');
    expect(read('shout.txt')).toBe('SEED ONE!!!\n');

    fs.writeFileSync(path.join(runDir(), 'shout.txt'), 'my own words\n');
    const resumed = await build();
    expect(resumed.exit).toBe(0);
    expect(read('shout.txt')).toBe('my own words\n');
    expect((await contentRows('shout.txt')).map((r) => [r.version, r.source, r.sha256])).toEqual([
      [1, 'task', sha256('SEED ONE!!!\n')],
      [2, 'edit', sha256('my own words\n')],
    ]);
    expect(jsonEvents(resumed.stdout).find((e) => e.type === 'file-edited')).toMatchObject({ taskId: 'Shout', path: 'shout.txt' });
    expect(startedTasks(resumed.stdout)).not.toContain('Shout');
    expect(read('join.txt')).toContain('my own words');
    expect(await statusOf('Shout')).toBe('complete');
  });

  it('rewrites a torn file (empty, or a strict prefix of the stored bytes) from the database instead of keeping it', async () => {
    const killed = await build({ PLAN_TEST_HOOK: 'kill-after-persist:Shout' });
    expect(killed.signal).toBe('SIGKILL');
    fs.writeFileSync(path.join(runDir(), 'shout.txt'), 'SEED O');
    fs.writeFileSync(path.join(runDir(), 'shout.json'), '');
    const resumed = await build();
    expect(resumed.exit).toBe(0);
    expect(read('shout.txt')).toBe('SEED ONE!!!\n');
    expect(read('shout.json')).toBe(JSON.stringify({ length: 'SEED ONE\n'.length }));
    expect((await contentRows('shout.txt')).map((r) => r.source)).toEqual(['task']);
    expect((await contentRows('shout.json')).map((r) => r.source)).toEqual(['task']);
    expect(jsonEvents(resumed.stdout).find((e) => e.type === 'task-recovered')).toMatchObject({
      taskId: 'Shout',
      files: ['shout.txt', 'shout.json'],
    });
  });

  it('removes the extra files of the task previous build that the persisted attempt no longer writes', async () => {
    expect((await build({ FIXTURE_JOIN_ITEMS: '3' })).exit).toBe(0);
    expect(read('extra/item-3.txt')).toBe('item 3 of 3');
    const killed = await build({ FIXTURE_JOIN_ITEMS: '2', FIXTURE_VERSION: 'Join=2', PLAN_TEST_HOOK: 'kill-after-persist:Join' });
    expect(killed.signal).toBe('SIGKILL');
    const resumed = await build({ FIXTURE_JOIN_ITEMS: '2', FIXTURE_VERSION: 'Join=2' });
    expect(resumed.exit).toBe(0);
    expect(startedTasks(resumed.stdout)).toEqual([]);
    expect(read('extra/item-2.txt')).toBe('item 2 of 2');
    expect(fs.existsSync(path.join(runDir(), 'extra/item-3.txt'))).toBe(false);
    // What is left is exactly what an uninterrupted build with two items writes.
    const refCwd = tempDir('plan-recovery-ref-');
    try {
      const ref = await runPlan(['build', 'runs/demo', '--pipeline', diamondPipeline], {
        cwd: refCwd,
        env: { FIXTURE_JOIN_ITEMS: '2', FIXTURE_VERSION: 'Join=2' },
      });
      expect(ref.exit).toBe(0);
      expect(snapshotDir(runDir())).toEqual(snapshotDir(path.join(refCwd, 'runs', 'demo')));
    } finally {
      fs.rmSync(refCwd, { recursive: true, force: true });
    }
  });
});

describe('--durability full', () => {
  /** The paths fsync was called on by the build, as strace shows them (`-y` prints an fd's path). */
  function fsyncedPaths(durability: string): string[] {
    const storeUrl = testStoreUrl(cwd);
    const log = path.join(cwd, `strace-${durability}.log`);
    const traced = spawnSync(
      'strace',
      [
        '-f',
        '-y',
        '-e',
        'trace=fsync,fdatasync',
        '-o',
        log,
        process.execPath,
        planBin,
        'build',
        'runs/demo',
        '--pipeline',
        diamondPipeline,
        '--durability',
        durability,
      ],
      // On the test project's store (in the `postgres` one, the dir's schema): the files' fsyncs are the engine's, whatever the store.
      { cwd, env: { ...process.env, NO_COLOR: '1', ...(storeUrl === undefined ? {} : { PLAN_DB: storeUrl }) }, encoding: 'utf8' },
    );
    expect(traced.status, traced.stderr).toBe(0);
    const lines = fs.readFileSync(log, 'utf8').split('\n');
    return lines.flatMap((line) => {
      const match = /f(?:data)?sync\(\d+<([^>]*)>\)\s+=\s+0/.exec(line);
      return match ? [match[1]!] : [];
    });
  }

  it('fsyncs every materialized file and its folder before the attempt is complete; durability process does not', () => {
    const full = fsyncedPaths('full');
    const real = fs.realpathSync(runDir());
    const files = ['seed.txt', 'upper/upper.txt', 'shout.txt', 'shout.json', 'bang.txt', 'join.txt', 'extra/join-count.txt'];
    for (const file of files) {
      const folder = path.dirname(path.join(real, file));
      // The bytes are fsynced under the temp name, before the rename makes them the file.
      expect(
        full.some((p) => p.startsWith(path.join(folder, `.plan-tmp-${path.basename(file)}.`))),
        file,
      ).toBe(true);
      expect(full, file).toContain(folder);
    }
    fs.rmSync(path.join(cwd, 'runs'), { recursive: true, force: true });
    const processOnly = fsyncedPaths('process');
    expect(processOnly.filter((p) => p.startsWith(real))).toEqual([]);
  });
});
