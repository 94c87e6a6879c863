import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { jsonEvents, runPlan, startedTasks, tempDir } from '../support/cli.js';
import { buildDiamond, bytesPipeline, expectUsageError, planJson, readTree } from '../support/inspect.js';

let cwd: string;
beforeEach(() => {
  cwd = tempDir('plan-restore-');
});
afterEach(() => {
  fs.rmSync(cwd, { recursive: true, force: true });
});

const runDir = (name = 'demo'): string => path.join(cwd, 'runs', name);

interface Restored {
  runId: string;
  runDir: string;
  into: string;
  marker: boolean;
  written: number;
  unchanged: number;
  kept: number;
  files: { path: string; version: number; sha256: string; size: number; action: string }[];
}

function marker(dir: string): { runId: string } | null {
  const file = path.join(dir, '.plan-run.json');
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as { runId: string }) : null;
}

function expectSameBytes(actual: Map<string, Buffer>, expected: Map<string, Buffer>): void {
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [filePath, bytes] of expected) expect(actual.get(filePath)!.equals(bytes), filePath).toBe(true);
}

describe('plan restore', () => {
  it('--into an empty dir reproduces every file byte for byte: binary, compressed, empty and non-ASCII names', async () => {
    const built = await runPlan(['build', 'runs/bytes', '--pipeline', bytesPipeline], { cwd });
    expect(built.exit).toBe(0);
    const original = readTree(runDir('bytes'));
    expect(original.get('data/blob.bin')!.length).toBe(4096);
    expect(original.get('data/empty.txt')!.length).toBe(0);

    const into = path.join(cwd, 'copy');
    fs.mkdirSync(into);
    const restored = await planJson<Restored>(cwd, ['restore', 'runs/bytes', '--into', into]);
    expect(restored).toMatchObject({ into, marker: false, written: 4, unchanged: 0, kept: 0 });
    expect(restored.files.map((f) => f.path)).toEqual(['data/blob.bin', 'data/empty.txt', 'digest.txt', 'notes/résumé ünïcode.md']);
    expectSameBytes(readTree(into), original);
    // A copy is not the run dir: no marker, and the run still belongs to its own dir.
    expect(marker(into)).toBeNull();
    expect(restored.runDir).toBe(runDir('bytes'));
  });

  it('a wiped run dir: writes every file back with its marker; the next build has nothing to do', async () => {
    expect((await buildDiamond(cwd)).exit).toBe(0);
    // A person's edit is the newest version of its file: that is what comes back.
    fs.writeFileSync(path.join(runDir(), 'seed.txt'), 'seed one, edited\n');
    expect((await runPlan(['build', 'runs/demo'], { cwd })).exit).toBe(0);
    const original = readTree(runDir());
    const runId = marker(runDir())!.runId;

    fs.rmSync(runDir(), { recursive: true });
    const restored = await planJson<Restored>(cwd, ['restore', 'runs/demo']);
    expect(restored).toMatchObject({ runId, runDir: runDir(), marker: true, written: 7, unchanged: 0, kept: 0 });
    expect(restored.files.find((f) => f.path === 'seed.txt')).toMatchObject({ version: 2 });
    expectSameBytes(readTree(runDir()), original);
    expect(marker(runDir())).toEqual({ runId });

    const next = await runPlan(['build', 'runs/demo', '--json'], { cwd });
    expect(next.exit).toBe(0);
    expect(startedTasks(next.stdout)).toEqual([]);
    expect(jsonEvents(next.stdout).filter((e) => e.type === 'file-edited')).toEqual([]);

    // Again on the full dir: nothing to write.
    const again = await planJson<Restored>(cwd, ['restore', 'runs/demo']);
    expect(again).toMatchObject({ written: 0, unchanged: 7 });
  });

  it('--run <id> restores into an empty dir that has no marker, which becomes the run dir', async () => {
    expect((await buildDiamond(cwd)).exit).toBe(0);
    const original = readTree(runDir());
    const runId = marker(runDir())!.runId;
    fs.rmSync(runDir(), { recursive: true });
    fs.mkdirSync(runDir('moved'));

    const withoutId = expectUsageError(await runPlan(['restore', 'runs/moved'], { cwd }));
    expect(withoutId).toMatch(/give --run <id>/);

    const restored = await planJson<Restored>(cwd, ['restore', 'runs/moved', '--run', runId]);
    expect(restored).toMatchObject({ runId, runDir: runDir('moved'), marker: true, written: 7 });
    expectSameBytes(readTree(runDir('moved')), original);
    expect(marker(runDir('moved'))).toEqual({ runId });
    const status = await planJson<{ runId: string; runDir: string; counts: Record<string, number> }>(cwd, ['status', 'runs/moved']);
    expect(status).toMatchObject({ runId, runDir: runDir('moved'), counts: { fresh: 5, missing: 0, stale: 0, blocked: 0 } });
  });

  it('keeps a file that differs from the database (an unrecorded edit) unless --overwrite', async () => {
    expect((await buildDiamond(cwd)).exit).toBe(0);
    const original = readTree(runDir());
    fs.writeFileSync(path.join(runDir(), 'bang.txt'), 'hand edit\n');
    fs.rmSync(path.join(runDir(), 'join.txt'));

    const human = await runPlan(['restore', 'runs/demo'], { cwd });
    expect(human.exit).toBe(0);
    expect(human.stdout).toContain('kept bang.txt: it differs from the database');
    expect(human.stdout).toMatch(/restored 7 files of run \S+ into .*runs\/demo \(1 written, 5 already identical, 1 kept\)/);
    expect(fs.readFileSync(path.join(runDir(), 'bang.txt'), 'utf8')).toBe('hand edit\n');

    const overwritten = await planJson<Restored>(cwd, ['restore', 'runs/demo', '--overwrite']);
    expect(overwritten).toMatchObject({ written: 1, unchanged: 6, kept: 0 });
    expectSameBytes(readTree(runDir()), original);
  });

  it('bad input: unknown run id, a dir of another run, a missing unknown dir, a file → one-line error, exit 2', async () => {
    expect((await buildDiamond(cwd)).exit).toBe(0);
    expect((await buildDiamond(cwd, 'other')).exit).toBe(0);
    expect(expectUsageError(await runPlan(['restore', 'runs/new', '--run', 'no-such-run'], { cwd }))).toMatch(
      /^plan: no run with id 'no-such-run' in /,
    );
    const otherId = marker(runDir('other'))!.runId;
    expect(expectUsageError(await runPlan(['restore', 'runs/demo', '--run', otherId], { cwd }))).toMatch(/belongs to run .*, not /);
    expect(expectUsageError(await runPlan(['restore', 'runs/demo', '--into', 'runs/other'], { cwd }))).toMatch(/is the run dir of run /);
    expect(expectUsageError(await runPlan(['restore', 'runs/never'], { cwd }))).toMatch(/^plan: run dir runs\/never does not exist/);
    fs.writeFileSync(path.join(cwd, 'afile'), 'x');
    expect(expectUsageError(await runPlan(['restore', 'afile'], { cwd }))).toBe('plan: afile is a file, not a run directory');
    // No SQLite file beside a dir that does not exist; one database server that holds no run for it.
    const missing =
      process.env.PLAN_TEST_STORE === 'postgres' ? /^plan: run dir nowhere\/demo does not exist and .* has no run for it/ : /^plan: no database at /;
    expect(expectUsageError(await runPlan(['restore', 'nowhere/demo'], { cwd }))).toMatch(missing);
  });
});
