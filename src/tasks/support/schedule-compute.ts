import { addDays } from './dates.js';
import { scheduleUnits, type WbsNode } from './wbs-model.js';

export interface DependencyInput {
  dependent_task_id: string;
  depends_on_task_ids: readonly string[];
}

export interface ScheduleInput {
  /** The first day, `YYYY-MM-DD`. */
  startDate: string;
  root: WbsNode;
  dependencies: readonly DependencyInput[];
  /** Realistic days per schedule unit (a task, or a phase without tasks); a missing one gets `defaultDays`. */
  durations: ReadonlyMap<string, number>;
  defaultDays?: number;
}

export interface ScheduledItem {
  id: string;
  parentId: string | null;
  depth: number;
  name: string;
  /** First day, `YYYY-MM-DD`. */
  start: string;
  /** Last day (inclusive), `YYYY-MM-DD`. */
  end: string;
  days: number;
  /** Offset of the first day from the project start, in days. */
  offset: number;
  /** The schedule units this one waits for (only for units). */
  dependsOn: string[];
}

/**
 * Dates for the whole WBS. Units (tasks) start when all their predecessors have finished; a dependency on a
 * phase means on all its tasks, one on a subtask means on its task; unknown ids, self-references and edges
 * that would close a cycle are ignored. Phases and the project span their children; subtasks split their
 * task's days in order.
 */
export function computeSchedule(input: ScheduleInput): ScheduledItem[] {
  const units = scheduleUnits(input.root);
  const unitIds = new Set(units.map((u) => u.id));
  const expand = expander(input.root, unitIds);
  const preds = new Map<string, Set<string>>(units.map((u) => [u.id, new Set<string>()]));
  for (const dep of input.dependencies) {
    for (const dependent of expand(dep.dependent_task_id)) {
      for (const id of dep.depends_on_task_ids) {
        for (const pred of expand(id)) if (pred !== dependent && !expand(dep.dependent_task_id).includes(pred)) preds.get(dependent)?.add(pred);
      }
    }
  }
  const days = (id: string): number => clampDays(input.durations.get(id) ?? input.defaultDays ?? 1);
  const offsets = new Map<string, number>();
  const visiting = new Set<string>();
  const offsetOf = (id: string): number => {
    const known = offsets.get(id);
    if (known !== undefined) return known;
    visiting.add(id);
    let offset = 0;
    for (const pred of preds.get(id) ?? []) {
      if (visiting.has(pred)) {
        preds.get(id)?.delete(pred); // closes a cycle: ignored
        continue;
      }
      offset = Math.max(offset, offsetOf(pred) + days(pred));
    }
    visiting.delete(id);
    offsets.set(id, offset);
    return offset;
  };
  for (const unit of units) offsetOf(unit.id);

  const items: ScheduledItem[] = [];
  const item = (node: WbsNode, parentId: string | null, depth: number, offset: number, length: number, dependsOn: string[] = []): ScheduledItem => ({
    id: node.id,
    parentId,
    depth,
    name: node.name,
    offset,
    days: length,
    start: addDays(input.startDate, offset),
    end: addDays(input.startDate, offset + length - 1),
    dependsOn,
  });
  const place = (node: WbsNode, parentId: string | null, depth: number): ScheduledItem => {
    if (unitIds.has(node.id)) {
      const unit = item(node, parentId, depth, offsets.get(node.id) ?? 0, days(node.id), [...(preds.get(node.id) ?? [])]);
      items.push(unit);
      for (const [child, offset, length] of splitSubtasks(node.children, unit)) items.push(item(child, node.id, depth + 1, offset, length));
      return unit;
    }
    const index = items.length;
    const children = node.children.map((child) => place(child, node.id, depth + 1));
    const first = children.length > 0 ? Math.min(...children.map((c) => c.offset)) : 0;
    const last = children.length > 0 ? Math.max(...children.map((c) => c.offset + c.days)) : 1;
    const span = item(node, parentId, depth, first, Math.max(1, last - first));
    items.splice(index, 0, span);
    return span;
  };
  place(input.root, null, 0);
  return items;
}

/** Subtasks run one after another inside their task: its days shared out in order, at least a day each. */
function splitSubtasks(children: readonly WbsNode[], parent: ScheduledItem): [WbsNode, number, number][] {
  const n = children.length;
  return children.map((child, i) => {
    if (parent.days < n) return [child, parent.offset + Math.floor((i * parent.days) / n), 1];
    const from = Math.floor((i * parent.days) / n);
    const to = Math.floor(((i + 1) * parent.days) / n);
    return [child, parent.offset + from, to - from];
  });
}

/** Maps any WBS id to the schedule units it stands for. */
function expander(root: WbsNode, unitIds: ReadonlySet<string>): (id: string) => string[] {
  const map = new Map<string, string[]>();
  for (const phase of root.children) {
    const phaseUnits = phase.children.length > 0 ? phase.children.map((c) => c.id) : [phase.id];
    map.set(phase.id, phaseUnits);
    for (const task of phase.children) {
      map.set(task.id, [task.id]);
      for (const sub of task.children) map.set(sub.id, [task.id]);
    }
  }
  return (id) => (map.get(id.trim()) ?? []).filter((u) => unitIds.has(u));
}

/** A model's day count as a sane whole number of days (at least one, at most ten years). */
export function clampDays(days: number): number {
  return Number.isFinite(days) ? Math.min(3650, Math.max(1, Math.round(days))) : 1;
}
