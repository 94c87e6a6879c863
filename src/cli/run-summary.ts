import fs from 'node:fs';
import path from 'node:path';
import type { BuildResult } from '../engine/build.js';
import type { InteractionSummary, Store } from '../store/store.js';
import { isUnpriced, jsonCost } from './format.js';

/**
 * `plan build --summarize FILE`: one JSON document about the run after this build — each task's state,
 * attempts and time, and the model calls, tokens and cost, per task and in total. Field names are stable.
 */
export interface RunSummary {
  runId: string;
  runDir: string;
  status: BuildResult['status'];
  build: BuildResult['summary'];
  tasks: TaskSummary[];
  /** `costUsd` is null (unknown) when a call used tokens of a model without a known price. */
  totals: { calls: number; failedCalls: number; inputTokens: number; outputTokens: number; costUsd: number | null };
}

export interface TaskSummary {
  id: string;
  state: string;
  reason: string;
  attempts: number;
  lastAttempt: { status: string; startedAt: number; durationMs: number | null } | null;
  calls: number;
  failedCalls: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number | null;
}

export async function summarizeRun(store: Store, runId: string, runDir: string, result: BuildResult): Promise<RunSummary> {
  const attempts = await store.listAttempts(runId);
  const calls = await store.listInteractionSummaries(runId);
  const tasks: TaskSummary[] = [...result.decisions].map(([id, decision]) => {
    const mine = attempts.filter((a) => a.taskId === id);
    const last = mine[mine.length - 1];
    const taskCalls = calls.filter((c) => c.taskId === id);
    return {
      id,
      state: decision.state,
      reason: decision.reason,
      attempts: mine.length,
      lastAttempt: last
        ? { status: last.status, startedAt: last.startedAt, durationMs: last.finishedAt === null ? null : last.finishedAt - last.startedAt }
        : null,
      // A rejected answer was an answer (paid for): a call, refused by the task after.
      calls: taskCalls.filter((c) => c.status === 'completed' || c.status === 'replayed' || c.status === 'rejected').length,
      failedCalls: taskCalls.filter((c) => c.status === 'failed').length,
      inputTokens: sum(taskCalls.map((c) => c.inputTokens ?? 0)),
      outputTokens: sum(taskCalls.map((c) => c.outputTokens ?? 0)),
      costUsd: costOf(taskCalls),
    };
  });
  return {
    runId,
    runDir,
    status: result.status,
    build: result.summary,
    tasks,
    totals: {
      calls: sum(tasks.map((t) => t.calls)),
      failedCalls: sum(tasks.map((t) => t.failedCalls)),
      inputTokens: sum(tasks.map((t) => t.inputTokens)),
      outputTokens: sum(tasks.map((t) => t.outputTokens)),
      costUsd: costOf(calls.filter((c) => result.decisions.has(c.taskId))),
    },
  };
}

export function writeSummary(file: string, summary: RunSummary): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(summary, null, 2)}\n`);
}

function costOf(calls: readonly InteractionSummary[]): number | null {
  return jsonCost(sum(calls.map((c) => c.costUsd ?? 0)), calls.filter(isUnpriced).length);
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
