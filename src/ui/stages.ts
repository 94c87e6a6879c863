import type { GraphTask } from './engine-callbacks.js';
import type { ShownState } from './states.js';

/**
 * Collapsing a run's graph by stage. A pipeline's tasks may belong to stages (the plan pipeline's: the family
 * of tasks each file of src/tasks holds — setup, levers, scenarios, …); a collapsed stage is drawn as one node
 * standing for its tasks, and the edges between what is drawn are the task edges between them, aggregated
 * (one edge per pair, with how many it stands for). The collapsed graph is laid out like the full one: the
 * units, dependencies first, each requiring the units its tasks require.
 */

export interface StageSummary {
  name: string;
  /** How many of the graph's tasks are in it. */
  tasks: number;
}

/**
 * The graph's stages, dependencies first: in the order of the graph with every stage collapsed (ties by where a
 * stage's first task comes); none when no task has one.
 */
export function stagesOf(tasks: readonly GraphTask[]): StageSummary[] {
  const counts = new Map<string, number>();
  for (const task of tasks) if (task.stage !== undefined && task.stage !== '') counts.set(task.stage, (counts.get(task.stage) ?? 0) + 1);
  if (counts.size === 0) return [];
  const { units, stageOfUnit } = collapseGraph(tasks, new Set(counts.keys()));
  return units.flatMap((unit) => {
    const name = stageOfUnit.get(unit.id);
    return name === undefined ? [] : [{ name, tasks: counts.get(name)! }];
  });
}

/** `?collapse=all` collapses every stage; `?collapse=A&collapse=B` those named (a name the graph lacks is ignored). */
export function collapsedStages(wanted: readonly string[], stages: readonly StageSummary[]): Set<string> {
  if (wanted.includes('all')) return new Set(stages.map((s) => s.name));
  const known = new Set(stages.map((s) => s.name));
  return new Set(wanted.filter((name) => known.has(name)));
}

export interface CollapsedGraph {
  /** What is laid out and drawn: each task outside a collapsed stage, one unit per collapsed stage; dependencies first. */
  units: GraphTask[];
  /** A stage unit's id → its stage. */
  stageOfUnit: Map<string, string>;
  /** A unit's id → the tasks it stands for, in graph order (a task: itself). */
  members: Map<string, string[]>;
  /** Every edge between units, with how many task edges it stands for. */
  edges: { from: string; to: string; count: number }[];
  /**
   * Edges that go against the units' order: only when stages cut across each other so that the collapsed graph has
   * a cycle (A's task needs B's, and a task of B needs A's). They are not laid out; the page draws them straight.
   */
  backEdges: { from: string; to: string }[];
}

/** The graph with the stages in `collapsed` each made one unit (see above); `tasks` dependencies first. */
export function collapseGraph(tasks: readonly GraphTask[], collapsed: ReadonlySet<string>): CollapsedGraph {
  const taskIds = new Set(tasks.map((t) => t.id));
  const unitIdOfStage = new Map<string, string>();
  const stageOfUnit = new Map<string, string>();
  for (const stage of collapsed) {
    // A stage's node is named after it; a task of the same name (unlikely) pushes it further.
    let id = `stage:${stage}`;
    while (taskIds.has(id) || stageOfUnit.has(id)) id = `stage:${id}`;
    unitIdOfStage.set(stage, id);
    stageOfUnit.set(id, stage);
  }
  const unitOf = new Map<string, string>();
  const members = new Map<string, string[]>();
  /** Each unit's first task's place in the graph order: the units' order, where the edges leave it free. */
  const firstIndex = new Map<string, number>();
  for (const [index, task] of tasks.entries()) {
    const unit = task.stage !== undefined && collapsed.has(task.stage) ? unitIdOfStage.get(task.stage)! : task.id;
    unitOf.set(task.id, unit);
    if (!members.has(unit)) {
      members.set(unit, []);
      firstIndex.set(unit, index);
    }
    members.get(unit)!.push(task.id);
  }
  const counts = new Map<string, Map<string, number>>();
  for (const task of tasks) {
    const to = unitOf.get(task.id)!;
    for (const dep of task.requires) {
      const from = unitOf.get(dep);
      if (from === undefined || from === to) continue;
      const row = counts.get(to) ?? new Map<string, number>();
      row.set(from, (row.get(from) ?? 0) + 1);
      counts.set(to, row);
    }
  }
  const unitIds = [...members.keys()];
  // Dependencies first (Kahn), ties by where the unit's first task comes; a cycle is cut at its earliest unit.
  const waiting = new Map(unitIds.map((id) => [id, new Set(counts.get(id)?.keys() ?? [])]));
  const dependents = new Map<string, string[]>(unitIds.map((id) => [id, []]));
  for (const [to, row] of counts) for (const from of row.keys()) dependents.get(from)!.push(to);
  const order: string[] = [];
  const placed = new Set<string>();
  const byFirst = (a: string, b: string): number => firstIndex.get(a)! - firstIndex.get(b)!;
  let ready = unitIds.filter((id) => waiting.get(id)!.size === 0);
  while (order.length < unitIds.length) {
    if (ready.length === 0) ready = [unitIds.filter((id) => !placed.has(id)).sort(byFirst)[0]!];
    ready.sort(byFirst);
    const next = ready.shift()!;
    if (placed.has(next)) continue;
    placed.add(next);
    order.push(next);
    for (const dependent of dependents.get(next)!) {
      const left = waiting.get(dependent)!;
      left.delete(next);
      if (left.size === 0 && !placed.has(dependent)) ready.push(dependent);
    }
  }
  const position = new Map(order.map((id, i) => [id, i]));
  const edges: CollapsedGraph['edges'] = [];
  const backEdges: CollapsedGraph['backEdges'] = [];
  const units: GraphTask[] = order.map((id) => {
    const row = counts.get(id) ?? new Map<string, number>();
    const requires: string[] = [];
    for (const [from, count] of [...row].sort((a, b) => position.get(a[0])! - position.get(b[0])!)) {
      edges.push({ from, to: id, count });
      if (position.get(from)! < position.get(id)!) requires.push(from);
      else backEdges.push({ from, to: id });
    }
    const stage = stageOfUnit.get(id);
    return stage === undefined ? { id, requires, outputs: [] } : { id, requires, outputs: [], stage };
  });
  return { units, stageOfUnit, members, edges, backEdges };
}

/** Which state a collapsed stage shows: the most pressing of its tasks' (a running task first), else settled. */
const PRESSING: readonly ShownState[] = ['running', 'failed', 'cancelled', 'blocked', 'stale', 'missing'];

export function stageState(states: readonly ShownState[]): ShownState {
  for (const state of PRESSING) if (states.includes(state)) return state;
  return states.length > 0 && states.every((s) => s === 'pinned') ? 'pinned' : 'fresh';
}

/** The order states are counted in, as the page's legend. */
export const STATE_ORDER = ['fresh', 'running', 'stale', 'missing', 'failed', 'blocked', 'cancelled', 'pinned'] as const;

/** `5 fresh · 1 running`, in the legend's order. */
export function stateSummary(counts: Readonly<Record<string, number>>): string {
  const known = new Set<string>(STATE_ORDER);
  const names = [...STATE_ORDER, ...Object.keys(counts).filter((s) => !known.has(s))];
  return names
    .filter((s) => (counts[s] ?? 0) > 0)
    .map((s) => `${counts[s]} ${s}`)
    .join(' · ');
}
