import { defineConfig } from 'vitest/config';

/**
 * E2E suites that run a second time with the store on PostgreSQL (the `postgres` project), when
 * PLAN_TEST_POSTGRES_URL names a server (`.ci/run` sets it). Each test's working dir gets a schema of its
 * own (tests/support/cli.ts). Suites that read SQLite's file directly run on SQLite only; the PostgreSQL
 * store's own suites (tests/e2e/postgres-store.test.ts, the store contract) run in the default project.
 */
const ON_BOTH_STORES = [
  'tests/e2e/abandoned-calls.test.ts',
  'tests/e2e/adopt-original.test.ts',
  'tests/e2e/build-selection.test.ts',
  'tests/e2e/cancel.test.ts',
  'tests/e2e/dry-run-estimate.test.ts',
  'tests/e2e/edit-replaced.test.ts',
  'tests/e2e/inspect-explain.test.ts',
  'tests/e2e/inspect-restore.test.ts',
  'tests/e2e/pin.test.ts',
  'tests/e2e/safety-gate.test.ts',
  'tests/e2e/stale-files.test.ts',
];

const postgres = process.env.PLAN_TEST_POSTGRES_URL;
if (postgres === undefined || postgres === '') {
  console.log(`postgres project skipped (${ON_BOTH_STORES.length} e2e suites on PostgreSQL): PLAN_TEST_POSTGRES_URL is not set`);
}

const shared = {
  testTimeout: 60_000,
  hookTimeout: 60_000,
  // End-to-end tests spawn real CLI processes; two cores are shared by everything.
  maxWorkers: 2,
};

export default defineConfig({
  test: {
    ...shared,
    projects: [
      { extends: true, test: { name: 'sqlite', include: ['tests/**/*.test.ts'] } },
      ...(postgres === undefined || postgres === ''
        ? []
        : [
            {
              extends: true,
              test: {
                name: 'postgres',
                include: ON_BOTH_STORES,
                env: { PLAN_TEST_STORE: 'postgres' },
                globalSetup: ['tests/support/postgres-project-teardown.ts'],
              },
            },
          ]),
    ],
  },
});
