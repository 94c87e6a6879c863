import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { repoRoot, runPlan, tempDir, type CliResult } from '../support/cli.js';
import { buildDiamond, bytesPipeline, expectUsageError, readTree } from '../support/inspect.js';
import { freshSchemaUrl, noteWhenPostgresMissing, POSTGRES_URL } from '../support/postgres.js';
import { normalizeExport } from '../support/run-export.js';

noteWhenPostgresMissing('tests/e2e/db-copy.test.ts');

const llmPipeline = path.join(repoRoot, 'tests', 'fixtures', 'llm-pipeline.mjs');

let cwd: string;
beforeEach(() => {
  cwd = tempDir('plan-db-copy-');
});
afterEach(() => {
  fs.rmSync(cwd, { recursive: true, force: true });
});

const runDir = (name: string): string => path.join(cwd, 'runs', name);
const sourceDb = (): string => path.join(cwd, 'runs', 'plan.db');
const runIdOf = (name: string): string => (JSON.parse(fs.readFileSync(path.join(runDir(name), '.plan-run.json'), 'utf8')) as { runId: string }).runId;
const plan = (args: string[]): Promise<CliResult> => runPlan(args, { cwd });
const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

interface Built {
  name: string;
  id: string;
  files: Map<string, Buffer>;
}

/**
 * Three runs in runs/plan.db, oldest first: model calls on the offline model (llm), binary, compressed, empty
 * and non-ASCII files (bytes), and a person's edit rebuilt into a second version (demo).
 */
async function buildRuns(): Promise<Built[]> {
  const llm = await plan(['build', 'runs/llm', '--pipeline', llmPipeline]);
  expect(llm.exit, llm.stderr).toBe(0);
  const bytes = await plan(['build', 'runs/bytes', '--pipeline', bytesPipeline]);
  expect(bytes.exit, bytes.stderr).toBe(0);
  expect((await buildDiamond(cwd)).exit).toBe(0);
  fs.writeFileSync(path.join(runDir('demo'), 'seed.txt'), 'seed one, edited\n');
  const rebuilt = await plan(['build', 'runs/demo']);
  expect(rebuilt.exit, rebuilt.stderr).toBe(0);
  return ['llm', 'bytes', 'demo'].map((name) => ({ name, id: runIdOf(name), files: readTree(runDir(name)) }));
}

function expectSameBytes(actual: Map<string, Buffer>, expected: Map<string, Buffer>): void {
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [filePath, bytes] of expected) expect(actual.get(filePath)!.equals(bytes), filePath).toBe(true);
}

/** `plan restore` of each run from `db` into a new dir gives the files of the original run dir, byte for byte. */
async function expectRestoresIdentical(runs: readonly Built[], db: string, into: string): Promise<void> {
  for (const run of runs) {
    const dir = path.join(cwd, into, run.name);
    const restored = await plan(['restore', dir, '--run', run.id, '--db', db]);
    expect(restored.exit, restored.stderr).toBe(0);
    expectSameBytes(readTree(dir), run.files);
  }
}

/** Every row of each run, in two SQLite databases, equal modulo the ids each gave (before a restore changes them). */
async function expectSameRows(runs: readonly Built[], a: string, b: string): Promise<void> {
  const one = await openSqliteStore(a);
  const other = await openSqliteStore(b);
  try {
    for (const run of runs) {
      const original = (await one.exportRun(run.id))!;
      const copied = (await other.exportRun(run.id))!;
      expect(copied, run.name).not.toBeNull();
      expect(normalizeExport(copied)).toEqual(normalizeExport(original));
    }
  } finally {
    await one.close();
    await other.close();
  }
}

/** The progress lines (stderr) of a copy of `runs` into `to`: copied or skipped, in this order. */
function expectProgress(stderr: string, runs: readonly Built[], action: 'copied' | 'skipped', to: string, calls: number[] = []): void {
  const lines = stderr
    .trim()
    .split('\n')
    .filter((line) => !line.startsWith('created new database '));
  expect(lines).toHaveLength(runs.length);
  for (const [index, run] of runs.entries()) {
    const position = `${index + 1}/${runs.length}`;
    if (action === 'skipped') expect(lines[index]).toBe(`skipped ${position} ${run.id}: already in ${to}`);
    else {
      const counts = calls[index] === undefined ? '\\d+ calls?' : `${calls[index]} calls?`;
      expect(lines[index]).toMatch(
        new RegExp(`^copied ${escapeRegExp(position)} ${escapeRegExp(run.id)} \\(\\d+ tasks?, ${counts}, \\d+\\.\\d (KB|MB)\\)$`),
      );
    }
  }
}

describe('plan db copy', () => {
  it('copies every run oldest first with a line per run; a second copy skips them all; restores are byte-identical', async () => {
    const runs = await buildRuns();
    const target = path.join(cwd, 'b.db');

    const copy = await plan(['db', 'copy', 'runs/plan.db', 'b.db']);
    expect(copy.exit, copy.stderr).toBe(0);
    expect(copy.stderr.split('\n')[0]).toBe(`created new database ${target}`);
    expectProgress(copy.stderr, runs, 'copied', target, [3, 0, 0]);
    expect(copy.stderr).toMatch(new RegExp(`copied 1/3 ${runs[0]!.id} \\(2 tasks, 3 calls, `));
    expect(copy.stdout).toBe(`copied 3 runs, skipped 0 (already there) from ${sourceDb()} to ${target}\n`);

    const again = await plan(['db', 'copy', 'runs/plan.db', 'b.db']);
    expect(again.exit, again.stderr).toBe(0);
    expectProgress(again.stderr, runs, 'skipped', target);
    expect(again.stdout).toBe(`copied 0 runs, skipped 3 (already there) from ${sourceDb()} to ${target}\n`);

    await expectSameRows(runs, sourceDb(), target);
    await expectRestoresIdentical(runs, target, 'restored');
    // The copy is a database like any other: the next build of a restored run has nothing to do.
    const next = await plan(['build', path.join('restored', 'demo'), '--db', 'b.db', '--json']);
    expect(next.exit, next.stderr).toBe(0);
    expect(next.stdout).not.toContain('"task-started"');
  });

  it('--run copies only the runs named; --json reports each run', async () => {
    const runs = await buildRuns();
    fs.mkdirSync(path.join(cwd, 'elsewhere'));
    const target = path.join(cwd, 'elsewhere', 'copy.db');
    // Named newest first: copied oldest first all the same.
    const copy = await plan(['db', 'copy', '--run', runs[2]!.id, 'runs/plan.db', 'elsewhere/copy.db', '--run', runs[0]!.id, '--json']);
    expect(copy.exit, copy.stderr).toBe(0);
    expectProgress(copy.stderr, [runs[0]!, runs[2]!], 'copied', target);
    const report = JSON.parse(copy.stdout) as Record<string, unknown>;
    expect(report).toEqual({
      from: sourceDb(),
      to: target,
      copied: 2,
      skipped: 0,
      runs: [
        { id: runs[0]!.id, action: 'copied', tasks: 2, calls: 3, bytes: expect.any(Number) },
        { id: runs[2]!.id, action: 'copied', tasks: 5, calls: 0, bytes: expect.any(Number) },
      ],
    });

    const rest = await plan(['db', 'copy', 'runs/plan.db', 'elsewhere/copy.db', '--json']);
    expect(rest.exit, rest.stderr).toBe(0);
    expect((JSON.parse(rest.stdout) as { runs: { id: string; action: string }[] }).runs).toEqual([
      { id: runs[0]!.id, action: 'skipped', tasks: null, calls: null, bytes: null },
      { id: runs[1]!.id, action: 'copied', tasks: 3, calls: 0, bytes: expect.any(Number) },
      { id: runs[2]!.id, action: 'skipped', tasks: null, calls: null, bytes: null },
    ]);
    await expectRestoresIdentical(runs, target, 'restored');
  });

  it('bad input: a missing source, a missing target folder, an unknown run, a copy into itself → one-line error, exit 2', async () => {
    expect(expectUsageError(await plan(['db', 'copy', 'nope.db', 'b.db']))).toBe(`plan: no database at ${path.join(cwd, 'nope.db')}`);
    expect(fs.existsSync(path.join(cwd, 'b.db'))).toBe(false);

    expect((await buildDiamond(cwd)).exit).toBe(0);
    expect(expectUsageError(await plan(['db', 'copy', 'runs/plan.db', 'no/such/dir/b.db']))).toMatch(
      /^plan: the folder of database .*no\/such\/dir\/b\.db does not exist/,
    );
    expect(expectUsageError(await plan(['db', 'copy', 'runs/plan.db', 'b.db', '--run', 'no-such-run']))).toBe(
      `plan: no run with id 'no-such-run' in ${sourceDb()}`,
    );
    // Nothing was made for a copy that could not start.
    expect(fs.existsSync(path.join(cwd, 'b.db'))).toBe(false);
    expect(expectUsageError(await plan(['db', 'copy', 'runs/plan.db', './runs/../runs/plan.db']))).toMatch(
      /^plan: cannot copy .*plan\.db into itself/,
    );
    fs.symlinkSync(sourceDb(), path.join(cwd, 'link.db'));
    expect(expectUsageError(await plan(['db', 'copy', 'runs/plan.db', 'link.db']))).toMatch(
      /^plan: cannot copy .*into itself \(.*link\.db is the same database\)/,
    );
    expect(expectUsageError(await plan(['db', 'copy', 'runs/plan.db']))).toMatch(/^plan: plan db/);
  });
});

describe.skipIf(!POSTGRES_URL)('plan db copy through PostgreSQL', () => {
  it('SQLite → PostgreSQL → SQLite keeps every row and every byte, and never prints the password', async () => {
    const runs = await buildRuns();
    const pg = await freshSchemaUrl();
    const password = decodeURIComponent(new URL(POSTGRES_URL!).password);
    const outputs: CliResult[] = [];
    try {
      const there = await plan(['db', 'copy', 'runs/plan.db', pg.url]);
      outputs.push(there);
      expect(there.exit, there.stderr).toBe(0);
      const shown = /^copied 3 runs, skipped 0 \(already there\) from (.+) to (postgres(?:ql)?:\/\/.+)\n$/.exec(there.stdout);
      expect(shown, there.stdout).not.toBeNull();
      expect(shown![1]).toBe(sourceDb());
      const pgLocation = shown![2]!;
      expectProgress(there.stderr, runs, 'copied', pgLocation, [3, 0, 0]);

      const again = await plan(['db', 'copy', 'runs/plan.db', pg.url]);
      outputs.push(again);
      expect(again.exit, again.stderr).toBe(0);
      expectProgress(again.stderr, runs, 'skipped', pgLocation);
      expect(again.stdout).toBe(`copied 0 runs, skipped 3 (already there) from ${sourceDb()} to ${pgLocation}\n`);

      const back = await plan(['db', 'copy', pg.url, 'back.db']);
      outputs.push(back);
      expect(back.exit, back.stderr).toBe(0);
      const backDb = path.join(cwd, 'back.db');
      expectProgress(back.stderr, runs, 'copied', backDb, [3, 0, 0]);
      expect(back.stdout).toBe(`copied 3 runs, skipped 0 (already there) from ${pgLocation} to ${backDb}\n`);
      await expectSameRows(runs, sourceDb(), backDb);
      await expectRestoresIdentical(runs, backDb, 'from-back');

      // And straight from PostgreSQL (after the copy back: a restore into the run's dir updates its rows).
      for (const run of runs) {
        const dir = path.join(cwd, 'from-pg', run.name);
        const restored = await plan(['restore', dir, '--run', run.id, '--db', pg.url]);
        outputs.push(restored);
        expect(restored.exit, restored.stderr).toBe(0);
        expectSameBytes(readTree(dir), run.files);
      }

      const self = await plan(['db', 'copy', pg.url, pg.url]);
      outputs.push(self);
      expect(expectUsageError(self)).toMatch(/into itself/);
    } finally {
      await pg.drop();
    }
    if (password !== '') for (const result of outputs) expect(result.stdout + result.stderr).not.toContain(password);
  });
});
