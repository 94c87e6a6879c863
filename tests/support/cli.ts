import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const planBin = path.join(repoRoot, 'bin', 'plan.js');
export const diamondPipeline = path.join(repoRoot, 'tests', 'fixtures', 'diamond-pipeline.mjs');

export interface CliResult {
  exit: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A fresh temp folder for one test, removed by the caller's afterEach when it likes. */
export function tempDir(prefix = 'plan-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Runs the real CLI, the way a user does, and collects its output. */
export function runPlan(args: string[], options: { cwd: string; env?: Record<string, string | undefined> }): Promise<CliResult> {
  const child = spawnPlan(args, options);
  return collect(child);
}

export function spawnPlan(args: string[], options: { cwd: string; env?: Record<string, string | undefined> }): ChildProcess {
  return spawn(process.execPath, [planBin, ...args], {
    cwd: options.cwd,
    env: { ...process.env, NO_COLOR: '1', CI: '1', ...storeEnv(args, options), ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export function collect(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (exit, signal) => resolve({ exit, signal, stdout, stderr }));
  });
}

/** Build events printed by `--json`. */
export function jsonEvents(stdout: string): Array<Record<string, unknown> & { type: string }> {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown> & { type: string });
}

/** Ids of the tasks that were started, in order, from `--json` output. */
export function startedTasks(stdout: string): string[] {
  return jsonEvents(stdout)
    .filter((e) => e.type === 'task-started')
    .map((e) => e.taskId as string);
}

/** Every file of a dir (relative path → content), leaving out the engine's own dotfiles. */
export function snapshotDir(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || entry.name.startsWith('.plan-')) continue;
    const full = path.join(entry.parentPath, entry.name);
    files[path.relative(dir, full)] = fs.readFileSync(full, 'utf8');
  }
  return files;
}

/** Resolves once `predicate` holds for the output so far (checked as output arrives). */
export function waitForOutput(child: ChildProcess, predicate: (stdout: string) => boolean, timeoutMs = 20_000): Promise<void> {
  let seen = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for output; saw:\n${seen}`)), timeoutMs);
    child.stdout?.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (predicate(seen)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

/**
 * The `postgres` test project (vitest.config.ts) runs e2e suites again with the store on PostgreSQL: each
 * working directory a test uses gets a schema of its own (the SQLite store's default is a file per dir), unless
 * the test names a database itself. Schemas are dropped by tests/support/postgres-project-teardown.ts.
 */
function storeEnv(args: readonly string[], options: { cwd: string; env?: Record<string, string | undefined> }): Record<string, string> {
  if (options.env !== undefined && 'PLAN_DB' in options.env) return {};
  if (args.some((arg) => arg === '--db' || arg.startsWith('--db='))) return {};
  const url = testStoreUrl(options.cwd);
  return url === undefined ? {} : { PLAN_DB: url };
}

export const E2E_SCHEMA_PREFIX = 'plan_e2e_';

/** The schema the `postgres` project gives a working dir: the prefix and the first 16 hex of sha256(resolved dir). */
export function e2eSchemaFor(cwd: string): string {
  return `${E2E_SCHEMA_PREFIX}${createHash('sha256').update(path.resolve(cwd)).digest('hex').slice(0, 16)}`;
}

/**
 * The PLAN_DB a CLI process started in `cwd` gets in the `postgres` project (PLAN_TEST_STORE=postgres and
 * PLAN_TEST_POSTGRES_URL set); undefined otherwise (the SQLite default, `runs/plan.db` beside the run dirs).
 */
export function testStoreUrl(cwd: string): string | undefined {
  const base = process.env.PLAN_TEST_POSTGRES_URL;
  if (process.env.PLAN_TEST_STORE !== 'postgres' || base === undefined || base === '') return undefined;
  const url = new URL(base);
  url.searchParams.set('schema', e2eSchemaFor(cwd));
  return url.toString();
}
