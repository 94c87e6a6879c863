import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diamondPipeline, runPlan, tempDir, type CliResult } from '../support/cli.js';
import { withStoreRows } from '../support/store-rows.js';

// Bad input is refused before anything is stored: one line on stderr starting `plan: `, exit 2, and the
// database and every run dir byte-identical afterwards (on PostgreSQL, where the database is not a file under
// runs/, every row of every table of the dir's schema the same). The runs/ folder holds a finished diamond run
// (runs/demo) and its database, so "nothing changed" is checked against a real store, for an existing run and
// for a new one.

let cwd: string;
beforeAll(async () => {
  cwd = tempDir('plan-bad-input-');
  const built = await runPlan(['build', 'runs/demo', '--pipeline', diamondPipeline, '--param', 'seed=one'], { cwd });
  expect(built.exit, built.stderr).toBe(0);
});
afterAll(() => {
  fs.rmSync(cwd, { recursive: true, force: true });
});

const PROMPT = 'Open a small sourdough bakery in Copenhagen within a year';

/**
 * sha256 of every file under runs/ (the SQLite database included), the row count of every table, and a sha256 of
 * every table's rows (what says "the database is unchanged" on PostgreSQL, whose database is no file here).
 * SQLite's `-shm` index and an empty `-wal` come and go with connections (this one's too) and hold no data: left out.
 */
async function storedState(): Promise<{ files: Record<string, string>; rows: Record<string, number>; contents: Record<string, string> }> {
  const runs = path.join(cwd, 'runs');
  const files: Record<string, string> = {};
  for (const entry of fs.readdirSync(runs, { recursive: true, withFileTypes: true })) {
    const full = path.join(entry.parentPath, entry.name);
    if (entry.name.endsWith('.db-shm') || (entry.name.endsWith('.db-wal') && fs.statSync(full).size === 0)) continue;
    files[path.relative(runs, full)] = entry.isFile()
      ? createHash('sha256').update(fs.readFileSync(full)).digest('hex')
      : entry.isDirectory()
        ? 'dir'
        : 'other';
  }
  return withStoreRows(cwd, async (db) => {
    const rows: Record<string, number> = {};
    const contents: Record<string, string> = {};
    for (const table of await db.tables()) {
      rows[table] = (await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM "${table}"`))!.n;
      const all = (await db.all<Record<string, unknown>>(`SELECT * FROM "${table}"`)).map((row) =>
        JSON.stringify(row, (_key, value: unknown) =>
          typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'Buffer'
            ? Buffer.from((value as { data: number[] }).data).toString('base64')
            : value,
        ),
      );
      contents[table] = createHash('sha256').update(all.sort().join('\n')).digest('hex');
    }
    return { files, rows, contents };
  });
}

/** Runs `plan …` and checks the bad-input contract: exit 2, one `plan: ` line, nothing stored changed. */
async function refused(args: string[], env: Record<string, string> = {}): Promise<string> {
  const before = await storedState();
  const result: CliResult = await runPlan(args, { cwd, env });
  const lines = result.stderr.trim().split('\n');
  expect({ exit: result.exit, lines: lines.length }, result.stderr).toEqual({ exit: 2, lines: 1 });
  expect(lines[0]).toMatch(/^plan: \S/);
  expect(result.stdout).toBe('');
  expect(await storedState()).toEqual(before);
  return lines[0]!;
}

const diamond = (runDir: string, ...extra: string[]): string[] => ['build', runDir, '--pipeline', diamondPipeline, '--param', 'seed=one', ...extra];

describe('bad input: one line, exit 2, nothing stored changed', () => {
  it('a new run dir without --prompt (the built-in pipeline needs one)', async () => {
    expect(await refused(['build', 'runs/new'])).toBe('plan: runs/new is not a run yet: give --prompt "…" or --prompt-file F to start one');
    expect(fs.existsSync(path.join(cwd, 'runs', 'new'))).toBe(false);
  });

  it('no command at all', async () => {
    expect(await refused([])).toBe('plan: name a command (plan --help lists them)');
  });

  it('a run dir path that is a file', async () => {
    fs.writeFileSync(path.join(cwd, 'runs', 'afile'), 'not a dir');
    expect(await refused(['build', 'runs/afile', '--prompt', PROMPT])).toBe('plan: runs/afile is a file, not a run directory');
    expect(await refused(['status', 'runs/afile'])).toMatch(/^plan: /);
  });

  it('an empty prompt, a whitespace-only prompt, an empty prompt file', async () => {
    expect(await refused(['build', 'runs/new', '--prompt', ''])).toBe('plan: the prompt is empty');
    expect(await refused(['build', 'runs/new', '--prompt', ' \n\t  '])).toBe('plan: the prompt is empty');
    fs.writeFileSync(path.join(cwd, 'empty.txt'), '\n\n');
    expect(await refused(['build', 'runs/new', '--prompt-file', 'empty.txt'])).toBe('plan: the prompt is empty');
  });

  it('a 1 MB prompt is refused with the limit named; a prompt of exactly 64 KiB is accepted', async () => {
    fs.writeFileSync(path.join(cwd, 'huge.txt'), `${PROMPT} `.repeat(Math.ceil(1_048_576 / (PROMPT.length + 1))).slice(0, 1_048_576));
    expect(await refused(['build', 'runs/new', '--prompt-file', 'huge.txt'])).toMatch(/^plan: the prompt is 1024 KiB, over the limit of 64 KiB/);
    // Through argv too (Linux caps one argument at 128 KiB, so 100 kB shows it).
    expect(await refused(['build', 'runs/new', '--prompt', 'x'.repeat(100_000)])).toMatch(/^plan: the prompt is 98 KiB, over the limit of 64 KiB/);

    fs.writeFileSync(path.join(cwd, 'limit.txt'), 'y'.repeat(64 * 1024));
    const before = await storedState();
    const atLimit = await runPlan(['build', 'runs/new', '--prompt-file', 'limit.txt', '--dry-run'], { cwd });
    expect(atLimit.exit, atLimit.stderr).toBe(0);
    expect(atLimit.stderr).toContain('dry run: 63 tasks would run');
    expect(await storedState()).toEqual(before);
  });

  it('an unknown task in --force, for an existing run and for a new one (no run is created for it)', async () => {
    expect(await refused(['build', 'runs/demo', '--force', 'Nope'])).toBe("plan: unknown task 'Nope' (see 'plan status' for the task names)");
    expect(await refused(diamond('runs/other', '--force', 'Upper', '--force', 'Nope'))).toBe(
      "plan: unknown task 'Nope' (see 'plan status' for the task names)",
    );
    expect(fs.existsSync(path.join(cwd, 'runs', 'other'))).toBe(false);
  });

  it('an unknown or malformed model spec', async () => {
    expect(await refused(['build', 'runs/demo', '--model', 'acme:thing'])).toContain('acme:thing');
    expect(await refused(['build', 'runs/new', '--prompt', PROMPT, '--model', 'openai-compatible:m'])).toContain('openai-compatible:m');
  });

  it('a malformed config file, and a --config file that does not exist', async () => {
    fs.writeFileSync(path.join(cwd, 'plan.config.json'), '{ "models": [ "offline", ');
    try {
      expect(await refused(['build', 'runs/demo'])).toMatch(/^plan: config file .*plan\.config\.json is not valid JSON/);
      fs.writeFileSync(path.join(cwd, 'plan.config.json'), '["offline"]');
      expect(await refused(['build', 'runs/demo'])).toMatch(/^plan: config file .*plan\.config\.json must hold a JSON object$/);
    } finally {
      fs.rmSync(path.join(cwd, 'plan.config.json'));
    }
    expect(await refused(['build', 'runs/demo', '--config', 'nowhere.json'])).toBe('plan: cannot read config file nowhere.json: ENOENT');
  });

  it('-j that is zero, negative, fractional or not a number', async () => {
    expect(await refused(['build', 'runs/demo', '-j', '0'])).toBe('plan: -j must be a whole number ≥ 1 (got 0)');
    expect(await refused(['build', 'runs/demo', '-j', '-1'])).toBe('plan: -j must be a whole number ≥ 1 (got -1)');
    expect(await refused(['build', 'runs/demo', '-j', '1.5'])).toBe('plan: -j must be a whole number ≥ 1 (got 1.5)');
    expect(await refused(['build', 'runs/demo', '--jobs=many'])).toBe("plan: -j must be a whole number ≥ 1 ('many' is not a number)");
  });

  it('a --prompt-file that cannot be read: missing, or a directory', async () => {
    expect(await refused(['build', 'runs/new', '--prompt-file', 'missing.txt'])).toBe('plan: cannot read --prompt-file missing.txt: ENOENT');
    fs.mkdirSync(path.join(cwd, 'adir'), { recursive: true });
    expect(await refused(['build', 'runs/new', '--prompt-file', 'adir'])).toBe('plan: cannot read --prompt-file adir: EISDIR');
  });

  it('a custom pipeline with a cycle: refused for a new run (no run row, no marker) and for an existing one', async () => {
    const cycle = { FIXTURE_CYCLE: '1' };
    expect(await refused(diamond('runs/cyclic'), cycle)).toBe('plan: cycle: Join → Loop → Join');
    expect(fs.existsSync(path.join(cwd, 'runs', 'cyclic'))).toBe(false);
    expect(await refused(['build', 'runs/demo'], cycle)).toBe('plan: cycle: Join → Loop → Join');
  });

  it('a custom pipeline with an output path escaping the run dir: refused, nothing written outside', async () => {
    const escapingOutput = { FIXTURE_ESCAPE: '1' };
    expect(await refused(diamond('runs/escaping'), escapingOutput)).toBe("plan: Bang: output '../escaped.txt' escapes the run directory");
    expect(await refused(['build', 'runs/demo'], escapingOutput)).toBe("plan: Bang: output '../escaped.txt' escapes the run directory");
    expect(fs.existsSync(path.join(cwd, 'runs', 'escaped.txt'))).toBe(false);
  });
});
