import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { openStore } from '../../src/store/open.js';
import type { InteractionStatus } from '../../src/store/store.js';
import { diamondPipeline, repoRoot, runPlan, type CliResult } from './cli.js';

/** Helpers for the inspection commands' end-to-end tests (plan explain, restore, list, show, cat, …). */

export const bytesPipeline = path.join(repoRoot, 'tests', 'fixtures', 'bytes-pipeline.mjs');

/** Builds a diamond run at `runs/<name>` (seed=one unless given) and checks it succeeded. */
export async function buildDiamond(cwd: string, name = 'demo', extra: string[] = [], env: Record<string, string> = {}): Promise<CliResult> {
  const result = await runPlan(['build', `runs/${name}`, '--pipeline', diamondPipeline, '--param', 'seed=one', ...extra], { cwd, env });
  return result;
}

/** Runs a command with `--json`, checks exit 0 and an empty stderr, and parses stdout. */
export async function planJson<T = Record<string, unknown>>(cwd: string, args: string[], env: Record<string, string> = {}): Promise<T> {
  const result = await runPlan([...args, '--json'], { cwd, env });
  expect(result.stderr).toBe('');
  expect(result.exit).toBe(0);
  return JSON.parse(result.stdout) as T;
}

/** A bad input: exit 2 and exactly one line on stderr, starting `plan: `. Returns that line. */
export function expectUsageError(result: CliResult): string {
  expect(result.exit).toBe(2);
  const lines = result.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^plan: /);
  return lines[0]!;
}

/** Every file of a dir as bytes (relative path → Buffer), leaving out the engine's own dotfiles. */
export function readTree(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || entry.name.startsWith('.plan-')) continue;
    const full = path.join(entry.parentPath, entry.name);
    files.set(path.relative(dir, full).split(path.sep).join('/'), fs.readFileSync(full));
  }
  return files;
}

export interface FakeCall {
  taskId: string;
  model: string;
  status: Exclude<InteractionStatus, 'pending'>;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  durationMs: number;
  prompt?: string;
  response?: string;
  error?: string;
}

/**
 * Model calls recorded against a finished run, through the real store API, the way the LLM layer's recorder
 * writes them. (The CLI does not hand the LLM services to builds yet; once it does, these tests can make the
 * calls with a fixture pipeline and the offline model instead.) `db` is a SQLite file or a PostgreSQL URL
 * (tests/support/store-rows.ts `storeUrl`). Returns the interaction ids.
 */
export async function recordCalls(db: string, runDir: string, calls: readonly FakeCall[]): Promise<number[]> {
  const store = await openStore(db);
  try {
    const run = await store.findRunByDir(runDir);
    if (run === null) throw new Error(`no run for ${runDir}`);
    const ids: number[] = [];
    for (const [i, call] of calls.entries()) {
      const attempt = (await store.listAttempts(run.id, call.taskId)).at(-1);
      if (attempt === undefined) throw new Error(`no attempt of ${call.taskId}`);
      const id = await store.startInteraction({
        runId: run.id,
        taskId: call.taskId,
        attemptId: attempt.id,
        itemKey: null,
        turn: null,
        requestHash: `hash-${i}`,
        provider: 'openai-compatible',
        requestedModel: call.model,
        messages: [
          { role: 'system', content: 'You are terse.' },
          { role: 'user', content: call.prompt ?? `Say something about call ${i}.` },
        ],
      });
      await store.finishInteraction(id, {
        status: call.status,
        answeredModel: call.status === 'failed' ? null : call.model,
        responseText: call.response ?? (call.status === 'failed' ? null : `{"answer":"call ${i}"}`),
        errorClass: call.error ? 'HttpError' : null,
        errorMessage: call.error ?? null,
        httpStatus: call.error ? 500 : null,
        inputTokens: call.inputTokens,
        outputTokens: call.outputTokens,
        durationMs: call.durationMs,
        costUsd: call.costUsd,
        price: { inputPerM: 1, outputPerM: 2 },
      });
      ids.push(id);
    }
    return ids;
  } finally {
    await store.close();
  }
}
