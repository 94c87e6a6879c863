import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * The PostgreSQL the suites run against, from PLAN_TEST_POSTGRES_URL (`.ci/run` sets it). Without it the
 * PostgreSQL variants skip, saying so once per file, so `npm test` passes on a laptop without a server.
 */
export const POSTGRES_URL: string | undefined = process.env.PLAN_TEST_POSTGRES_URL || undefined;

/** Call at the top of a file with PostgreSQL variants: prints the visible skip line when there is no server. */
export function noteWhenPostgresMissing(file: string): void {
  if (POSTGRES_URL === undefined) console.log(`${file}: PostgreSQL variants skipped (PLAN_TEST_POSTGRES_URL is not set)`);
}

/** A URL naming a new, empty schema of its own (`?schema=`); `drop()` removes it and everything in it. */
export async function freshSchemaUrl(): Promise<{ url: string; schema: string; drop: () => Promise<void> }> {
  if (POSTGRES_URL === undefined) throw new Error('PLAN_TEST_POSTGRES_URL is not set');
  const schema = `plan_test_${randomBytes(5).toString('hex')}`;
  const url = new URL(POSTGRES_URL);
  url.searchParams.set('schema', schema);
  return {
    url: url.toString(),
    schema,
    drop: async () => {
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

/** Runs one statement as the server's superuser connection (faults: terminating backends, holding locks). */
export async function adminQuery(text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  if (POSTGRES_URL === undefined) throw new Error('PLAN_TEST_POSTGRES_URL is not set');
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}
