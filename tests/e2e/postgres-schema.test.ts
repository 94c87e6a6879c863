import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { collect, diamondPipeline, runPlan, spawnPlan, tempDir } from '../support/cli.js';
import { adminQuery, freshSchemaUrl, noteWhenPostgresMissing, POSTGRES_URL } from '../support/postgres.js';
import { latestPostgresSchemaVersion, postgresMigrations } from '../../src/store/postgres/migrations.js';

// The PostgreSQL schema's own life: made once when many builders arrive at a new database together, and
// refused — with nothing touched — when a newer plan has moved it past what this one knows.

noteWhenPostgresMissing('tests/e2e/postgres-schema.test.ts');

let dirs: string[] = [];
let drops: (() => Promise<void>)[] = [];
const newDir = (): string => {
  const dir = tempDir('plan-pg-schema-');
  dirs.push(dir);
  return dir;
};
const newSchema = async (): Promise<{ url: string; schema: string }> => {
  const fresh = await freshSchemaUrl();
  drops.push(fresh.drop);
  return fresh;
};
afterEach(async () => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  for (const drop of drops) await drop();
  dirs = [];
  drops = [];
});

const schemaExists = async (schema: string): Promise<boolean> =>
  (await adminQuery('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [schema])).rows.length === 1;

describe.skipIf(POSTGRES_URL === undefined)('the PostgreSQL schema', () => {
  it('four builds arriving at a new schema at once make it once and all succeed', async () => {
    const { url, schema } = await newSchema();
    expect(await schemaExists(schema)).toBe(false);
    const cwd = newDir();
    const builds = [1, 2, 3, 4].map((k) =>
      collect(spawnPlan(['build', `runs/r${k}`, '--pipeline', diamondPipeline, '--param', `seed=run ${k}`, '--db', url], { cwd })),
    );
    const results = await Promise.all(builds);
    for (const result of results) expect(result.exit, result.stderr).toBe(0);
    const versions = await adminQuery(`SELECT version FROM ${schema}.schema_version ORDER BY version`);
    expect(versions.rows.map((row) => Number(row.version))).toEqual(postgresMigrations.map((m) => m.version));
    const runs = await adminQuery(`SELECT status FROM ${schema}.runs`);
    expect(runs.rows.map((row) => row.status)).toEqual(['complete', 'complete', 'complete', 'complete']);
  });

  it('a schema made by a newer plan is refused in one line, exit 2, and nothing in it is changed', async () => {
    const { url, schema } = await newSchema();
    const cwd = newDir();
    const first = await runPlan(['build', 'runs/demo', '--pipeline', diamondPipeline, '--db', url], { cwd });
    expect(first.exit, first.stderr).toBe(0);
    await adminQuery(`INSERT INTO ${schema}.schema_version (version, applied_at) VALUES (99, 0)`);
    const before = await adminQuery(`SELECT id, status, updated_at FROM ${schema}.runs`);
    const attemptsBefore = await adminQuery(`SELECT COUNT(*)::int AS n FROM ${schema}.task_attempts`);

    for (const args of [
      ['list', '--db', url],
      ['status', 'runs/demo', '--db', url],
      ['build', 'runs/demo', '--db', url],
      ['build', 'runs/other', '--pipeline', diamondPipeline, '--db', url],
    ]) {
      const refused = await runPlan(args, { cwd });
      expect(refused.exit, `${args.join(' ')}: ${refused.stderr}`).toBe(2);
      const lines = refused.stderr.trim().split('\n');
      expect(lines, refused.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(
        new RegExp(`^plan: database \\S+ has schema version 99, newer than this plan knows \\(${latestPostgresSchemaVersion}\\): upgrade plan$`),
      );
    }
    expect((await adminQuery(`SELECT id, status, updated_at FROM ${schema}.runs`)).rows).toEqual(before.rows);
    expect((await adminQuery(`SELECT COUNT(*)::int AS n FROM ${schema}.task_attempts`)).rows).toEqual(attemptsBefore.rows);
    expect(fs.existsSync(`${cwd}/runs/other`)).toBe(false);
  });
});
