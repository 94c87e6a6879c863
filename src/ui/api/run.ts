import type { AttemptRecord, RunRecord } from '../../store/store.js';
import { isoTime, type UiContext } from '../context.js';
import type { Decision, GraphTask } from '../engine-callbacks.js';
import { notFound } from '../http.js';
import { layoutGraph, NODE_HEIGHT, NODE_WIDTH, type Point } from '../layout.js';
import { scrub } from '../scrub.js';
import { collapsedStages, collapseGraph, stagesOf, stageState, stateSummary } from '../stages.js';
import { activityByTask, shownState, workerShownState, type ShownState } from '../states.js';
import { buildTimeline } from '../timeline.js';
import { runDurationMs } from '../../store/views.js';

/** A run's page: what it is, its graph with every task's state and figures, its attempts and totals. */

export interface GraphNode {
  /** A task's id; for a collapsed stage, `stage:<name>`. */
  id: string;
  /** A task, or a collapsed stage standing for its tasks (its figures their sums). */
  kind: 'task' | 'stage';
  /** The task's stage (null when its pipeline has none); a stage node's own name. */
  stage: string | null;
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
  /** A stage node: the tasks it stands for, and how many of them show each state. */
  members?: string[];
  states?: Partial<Record<ShownState, number>>;
  x: number;
  y: number;
}

export interface RunDetailOptions {
  /** Stages to draw collapsed, each as one node (`all`: every stage); from `?collapse=`. */
  collapse?: readonly string[];
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

export async function runDetail(ctx: UiContext, runId: string, options: RunDetailOptions = {}) {
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
  // With no run dir here, the workers' schedule (of a run handed to them) says more than the attempts do.
  const fromWorkers = decisions === null ? await ctx.engine.workerStates(run).catch(() => null) : null;
  const known = fromWorkers === null ? [...activity.keys()] : [...new Set([...fromWorkers.keys(), ...activity.keys()])];
  const tasks: readonly GraphTask[] = tasksOrNull ?? known.map((id) => ({ id, requires: [], outputs: [] }));
  const taskNodes = new Map<string, GraphNode>(
    tasks.map((task) => {
      const decision = decisions?.get(task.id) ?? null;
      const act = activity.get(task.id);
      const row = fromWorkers?.get(task.id);
      const shownTask =
        row !== undefined
          ? workerShownState(row)
          : shownState(decisions === null ? null : (decision ?? { state: 'missing', reason: 'not decided' }), act, live);
      const spent = cost.get(task.id);
      const node: GraphNode = {
        id: task.id,
        kind: 'task',
        stage: task.stage ?? null,
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
        x: 0,
        y: 0,
      };
      return [task.id, node];
    }),
  );
  const stages = stagesOf(tasks);
  const collapsed = collapsedStages(options.collapse ?? [], stages);
  // Collapsed stages: the graph of units (tasks and stages) is laid out instead, and cached the same way.
  const shape = collapsed.size === 0 ? null : collapseGraph(tasks, collapsed);
  const started = performance.now();
  const layout = layoutGraph(shape?.units ?? tasks);
  const layoutMs = performance.now() - started;
  const place = (node: GraphNode): GraphNode => {
    const at: Point = layout.nodes[node.id] ?? { x: 0, y: 0 };
    return { ...node, x: at.x, y: at.y };
  };
  const nodes: GraphNode[] =
    shape === null
      ? tasks.map((task) => place(taskNodes.get(task.id)!))
      : shape.units.map((unit) => {
          const stage = shape.stageOfUnit.get(unit.id);
          return place(stage === undefined ? taskNodes.get(unit.id)! : stageNode(unit.id, stage, shape.members.get(unit.id)!, taskNodes));
        });
  const edges =
    shape === null
      ? tasks.flatMap((task) => task.requires.map((dep): { from: string; to: string; count?: number } => ({ from: dep, to: task.id })))
      : shape.edges;
  // A cycle between collapsed stages (stages that cut across each other) is not laid out: its edges go straight.
  const paths = [
    ...layout.paths,
    ...(shape?.backEdges ?? []).map(({ from, to }) => {
      const a = layout.nodes[from] ?? { x: 0, y: 0 };
      const b = layout.nodes[to] ?? { x: 0, y: 0 };
      return { from, to, points: [a, b] };
    }),
  ];
  const notes: string[] = [];
  if (fromWorkers !== null) {
    const where = run.runDir === '' ? 'it has no run dir' : `its run dir ${run.runDir} is not on this machine`;
    notes.push(`the workers build this run (${where}): states are the workers' schedule, as plan status --run ${run.id} shows it`);
  } else if (decisions === null) {
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
      /** How many tasks the graph has, collapsed or not. */
      tasks: tasks.length,
      /** The pipeline's stages, in order (none: the page offers no collapsing), and those drawn collapsed. */
      stages,
      collapsed: stages.filter((s) => collapsed.has(s.name)).map((s) => s.name),
      nodes,
      /** Every edge, as `plan graph --json` gives them; between collapsed stages aggregated, each with how many it stands for. */
      edges,
      /** The edges drawn: those no longer path implies, routed. */
      paths,
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

/** A collapsed stage as one node: its tasks' states counted, the most pressing shown, their figures summed. */
function stageNode(id: string, stage: string, members: readonly string[], taskNodes: ReadonlyMap<string, GraphNode>): GraphNode {
  const parts = members.map((m) => taskNodes.get(m)!);
  const states: Partial<Record<ShownState, number>> = {};
  for (const part of parts) states[part.shown] = (states[part.shown] ?? 0) + 1;
  const sum = (pick: (n: GraphNode) => number): number => parts.reduce((total, n) => total + pick(n), 0);
  const durations = parts.map((n) => n.durationMs).filter((d): d is number => d !== null);
  const decided = parts.map((n) => n.state);
  return {
    id,
    kind: 'stage',
    stage,
    state: decided.includes(null) ? null : (stageState(decided as ShownState[]) as GraphNode['state']),
    shown: stageState(parts.map((n) => n.shown)),
    reason: `${members.length} tasks: ${stateSummary(states)}`,
    outputs: [],
    durationMs: durations.length === 0 ? null : sum((n) => n.durationMs ?? 0),
    calls: sum((n) => n.calls),
    inputTokens: sum((n) => n.inputTokens),
    outputTokens: sum((n) => n.outputTokens),
    costUsd: sum((n) => n.costUsd),
    unpricedCalls: sum((n) => n.unpricedCalls),
    attempts: sum((n) => n.attempts),
    members: [...members],
    states,
    x: 0,
    y: 0,
  };
}
