import type { AttemptRecord, RunRecord } from '../../store/store.js';
import { isoTime, type UiContext } from '../context.js';
import type { Decision, GraphTask } from '../engine-callbacks.js';
import { notFound } from '../http.js';
import { layoutGraph, NODE_HEIGHT, NODE_WIDTH, type Point } from '../layout.js';
import { scrub } from '../scrub.js';
import { activityByTask, shownState, type ShownState } from '../states.js';
import { buildTimeline } from '../timeline.js';
import { runDurationMs } from './runs.js';

/** A run's page: what it is, its graph with every task's state and figures, its attempts and totals. */

export interface GraphNode {
  id: string;
  /** The next build's decision, as `plan graph --json` gives it; null when the run dir is not on this machine. */
  state: Decision['state'] | null;
  /** What the page shows: the decision with what is happening now laid over it (see states.ts). */
  shown: ShownState;
  reason: string;
  outputs: string[];
  durationMs: number | null;
  calls: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  unpricedCalls: number;
  attempts: number;
  x: number;
  y: number;
}

export interface AttemptView {
  id: number;
  taskId: string;
  status: AttemptRecord['status'];
  error: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
}

export async function loadRun(ctx: UiContext, runId: string): Promise<RunRecord> {
  const run = await ctx.store.getRun(runId);
  if (run === null) throw notFound(`no run ${runId} in ${ctx.location}`);
  return run;
}

export function attemptView(a: AttemptRecord): AttemptView {
  return {
    id: a.id,
    taskId: a.taskId,
    status: a.status,
    error: a.error,
    startedAt: isoTime(a.startedAt),
    finishedAt: isoTime(a.finishedAt),
    durationMs: a.finishedAt === null ? null : a.finishedAt - a.startedAt,
  };
}

export async function runDetail(ctx: UiContext, runId: string) {
  const run = await loadRun(ctx, runId);
  const [[shown], tasksOrNull, decisions, attempts, spend, totals, calls] = await Promise.all([
    ctx.engine.shownStatuses([run]),
    ctx.engine.graph(run).catch(() => null),
    ctx.engine.decide(run).catch(() => null),
    ctx.store.listAttempts(run.id),
    ctx.store.summarizeSpend('task', { runId: run.id }),
    ctx.store.runTotals(run.id),
    ctx.store.listInteractionSummaries(run.id),
  ]);
  const live = shown!.status === 'running';
  const activity = activityByTask(attempts);
  const cost = new Map(spend.map((row) => [row.key, row]));
  // Without the pipeline (not installed here) the graph is the tasks the store knows, without edges.
  const tasks: readonly GraphTask[] = tasksOrNull ?? [...activity.keys()].map((id) => ({ id, requires: [], outputs: [] }));
  const started = performance.now();
  const layout = layoutGraph(tasks);
  const layoutMs = performance.now() - started;
  const nodes: GraphNode[] = tasks.map((task) => {
    const decision = decisions?.get(task.id) ?? null;
    const act = activity.get(task.id);
    const shownTask = shownState(decisions === null ? null : (decision ?? { state: 'missing', reason: 'not decided' }), act, live);
    const spent = cost.get(task.id);
    const at: Point = layout.nodes[task.id] ?? { x: 0, y: 0 };
    return {
      id: task.id,
      state: decisions === null ? null : (decision?.state ?? 'missing'),
      shown: shownTask.state,
      reason: shownTask.reason,
      outputs: [...task.outputs],
      durationMs: act?.durationMs ?? null,
      calls: spent?.calls ?? 0,
      inputTokens: spent?.inputTokens ?? 0,
      outputTokens: spent?.outputTokens ?? 0,
      costUsd: spent?.costUsd ?? 0,
      unpricedCalls: spent?.unpricedCalls ?? 0,
      attempts: act?.attempts ?? 0,
      x: at.x,
      y: at.y,
    };
  });
  const notes: string[] = [];
  if (decisions === null) {
    notes.push(
      `the run dir ${run.runDir} is not on this machine: states come from the database alone (each task's newest attempt), not from the files`,
    );
  }
  if (tasksOrNull === null)
    notes.push(`its pipeline ${run.pipeline} cannot be loaded here: the graph shows the tasks the database knows, without edges`);
  const { settings, ...params } = run.params;
  return {
    run: {
      id: run.id,
      runDir: run.runDir,
      db: ctx.location,
      pipeline: run.pipeline,
      params: scrub(params),
      settings: scrub(settings ?? null),
      status: shown!.status,
      statusReason: shown!.statusReason,
      cancelRequestedAt: isoTime(run.cancelRequestedAt),
      createdAt: isoTime(run.createdAt),
      updatedAt: isoTime(run.updatedAt),
    },
    local: decisions !== null,
    live,
    notes,
    graph: {
      width: layout.width,
      height: layout.height,
      nodeWidth: NODE_WIDTH,
      nodeHeight: NODE_HEIGHT,
      nodes,
      /** Every edge, as `plan graph --json` gives them. */
      edges: tasks.flatMap((task) => task.requires.map((dep) => ({ from: dep, to: task.id }))),
      /** The edges drawn: those no longer path implies, routed. */
      paths: layout.paths,
      /** How the graph was laid out (`dagre`, or `layered` for a big one) and how long that took here (0 when cached). */
      layout: { method: layout.method, ms: Math.round(layoutMs * 10) / 10 },
    },
    timeline: buildTimeline(attempts, calls, tasks, { now: Date.now(), live }),
    attempts: attempts.map(attemptView),
    totals: {
      tasks: tasks.length,
      tasksBuilt: totals.tasksBuilt,
      tasksFailed: totals.tasksFailed,
      attempts: totals.attempts,
      files: totals.files,
      versions: totals.versions,
      calls: totals.calls,
      failedCalls: totals.failedCalls,
      inputTokens: totals.inputTokens,
      outputTokens: totals.outputTokens,
      costUsd: totals.costUsd,
      unpricedCalls: totals.unpricedCalls,
      models: scrub(totals.models),
      durationMs: runDurationMs(totals),
    },
  };
}
