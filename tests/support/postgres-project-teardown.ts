import pg from 'pg';

/**
 * globalSetup of the `postgres` test project: drops the schemas its e2e runs made (one per working directory,
 * see storeEnv in cli.ts), before the run (left by an aborted one) and after it.
 */
const PREFIX = 'plan_e2e_';

async function dropSchemas(): Promise<void> {
  const url = process.env.PLAN_TEST_POSTGRES_URL;
  if (url === undefined || url === '') return;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const found = await client.query<{ name: string }>('SELECT nspname AS name FROM pg_namespace WHERE starts_with(nspname, $1)', [PREFIX]);
    for (const { name } of found.rows) await client.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
  } finally {
    await client.end();
  }
}

export async function setup(): Promise<void> {
  await dropSchemas();
}

export async function teardown(): Promise<void> {
  await dropSchemas();
}
