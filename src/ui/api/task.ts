import { isoTime, type UiContext } from '../context.js';
import { notFound } from '../http.js';
import { activityByTask, shownState, workerShownState } from '../states.js';
import { attemptView, loadRun } from './run.js';
import { callSummary } from './calls.js';

/** A task's page: why it would or would not run (`plan explain`'s text), its files and versions, attempts and model calls. */

export interface FileVersions {
  path: string;
  /** Declared by the task's `output()`, rather than an extra file it wrote. */
  declared: boolean;
  versions: { version: number; source: string; size: number; sha256: string; attemptId: number | null; createdAt: string | null }[];
}

export async function taskDetail(ctx: UiContext, runId: string, taskId: string) {
  const run = await loadRun(ctx, runId);
  const [[shown], graph, decisions, attempts, versions, calls] = await Promise.all([
    ctx.engine.shownStatuses([run]),
    ctx.engine.graph(run).catch(() => null),
    ctx.engine.decide(run).catch(() => null),
    ctx.store.listAttempts(run.id, taskId),
    ctx.store.listContentVersions(run.id),
    ctx.store.listInteractionSummaries(run.id),
  ]);
  const task = graph?.find((t) => t.id === taskId) ?? null;
  const row = decisions === null ? (await ctx.engine.workerStates(run).catch(() => null))?.get(taskId) : undefined;
  if (task === null && attempts.length === 0 && row === undefined) throw notFound(`run ${run.id} has no task ${taskId}`);
  const decision = decisions === null ? null : (decisions.get(taskId) ?? { state: 'missing' as const, reason: 'not decided' });
  // As on the run's page: without the run dir here, the workers' schedule when they build the run.
  const state = row !== undefined ? workerShownState(row) : shownState(decision, activityByTask(attempts).get(taskId), shown!.status === 'running');
  const explanation = decisions === null || task === null ? null : await ctx.engine.explain(run, taskId).catch(() => null);

  const declared = new Set(task?.outputs ?? []);
  const files = new Map<string, FileVersions>();
  for (const p of declared) files.set(p, { path: p, declared: true, versions: [] });
  for (const v of versions) {
    if (v.taskId !== taskId && !declared.has(v.path)) continue;
    const entry = files.get(v.path) ?? { path: v.path, declared: false, versions: [] };
    entry.versions.push({
      version: v.version,
      source: v.source,
      size: v.size,
      sha256: v.sha256,
      attemptId: v.attemptId,
      createdAt: isoTime(v.createdAt),
    });
    files.set(v.path, entry);
  }
  const dependents = graph?.filter((t) => t.requires.includes(taskId)).map((t) => t.id) ?? [];
  return {
    runId: run.id,
    runStatus: shown!.status,
    local: decisions !== null,
    inGraph: task !== null,
    task: {
      id: taskId,
      state: decision?.state ?? null,
      shown: state.state,
      reason: state.reason,
      requires: task === null ? [] : [...task.requires],
      dependents,
    },
    explanation,
    files: [...files.values()],
    attempts: attempts.map(attemptView),
    calls: calls.filter((c) => c.taskId === taskId).map(callSummary),
  };
}
