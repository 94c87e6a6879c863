import { defineConfig } from 'vitest/config';

/**
 * E2E suites that run a second time with the store on PostgreSQL (the `postgres` project), when
 * PLAN_TEST_POSTGRES_URL names a server (`.ci/run` sets it). Each test's working dir gets a schema of its
 * own (tests/support/cli.ts); the suites read rows through tests/support/store-rows.ts, which opens that
 * schema or the SQLite file alike. Suites about SQLite's file itself (its bytes, corruption, locks, a full
 * disk: db-faults, file-faults) run on SQLite only, as do the few tests of these suites skipped with
 * `onPostgres` (each says why); the PostgreSQL store's own suites (tests/e2e/postgres-store.test.ts,
 * postgres-schema.test.ts, the store contract) run in the default project.
 */
const ON_BOTH_STORES = [
  'tests/e2e/abandoned-calls.test.ts',
  'tests/e2e/adopt-original.test.ts',
  'tests/e2e/bad-input.test.ts',
  'tests/e2e/build.test.ts',
  'tests/e2e/build-selection.test.ts',
  'tests/e2e/cancel.test.ts',
  'tests/e2e/crash.test.ts',
  'tests/e2e/crash-campaign.test.ts',
  'tests/e2e/dry-run-estimate.test.ts',
  'tests/e2e/edit-replaced.test.ts',
  'tests/e2e/inspect-explain.test.ts',
  'tests/e2e/inspect-restore.test.ts',
  'tests/e2e/inspect-runs.test.ts',
  'tests/e2e/llm-cli.test.ts',
  'tests/e2e/model-faults.test.ts',
  'tests/e2e/pin.test.ts',
  'tests/e2e/plan-pipeline.test.ts',
  'tests/e2e/recovery.test.ts',
  'tests/e2e/resume.test.ts',
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
