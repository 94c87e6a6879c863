import { createRequire } from 'node:module';
import type { DirectedGraph } from 'graphology';
import { errorMessage, GraphError, UsageError } from './errors.js';
import { checkTargetPath, copyOf, ForeignCopyError, outputList, type FileTarget, type Outputs } from './target.js';
import { Task } from './task.js';

/** The planned build: every task reachable from the roots, in a deterministic topological order. */
export interface TaskGraph<S extends object = object> {
  readonly graph: DirectedGraph;
  readonly tasks: ReadonlyMap<string, Task<S>>;
  /** Dependencies before dependents; ties keep the order in which `requires()` named them. */
  readonly order: readonly string[];
  readonly requires: ReadonlyMap<string, readonly string[]>;
  readonly dependents: ReadonlyMap<string, readonly string[]>;
  /** Declared outputs of each task, as relative paths. */
  readonly outputs: ReadonlyMap<string, readonly string[]>;
  /** Which task declares each output path. */
  readonly ownerOf: ReadonlyMap<string, string>;
}

/**
 * Walks `requires()` from the roots into a DAG. Collects every problem (cycles with their full path, bad or
 * clashing output paths, `requires()`/`output()` that throw) and throws them together as one GraphError.
 */
export function planGraph<S extends object>(roots: readonly Task<S>[]): TaskGraph<S> {
  const problems: string[] = [];
  const tasks = new Map<string, Task<S>>();
  const requires = new Map<string, string[]>();
  const outputs = new Map<string, string[]>();
  const ownerOf = new Map<string, string>();

  // Iterative post-order walk, so deep chains do not overflow the stack and deps are added before dependents.
  const visiting = new Set<string>();
  const stack: { task: Task<S>; deps: readonly Task<S>[] | null; next: number }[] = roots.map((task) => ({ task, deps: null, next: 0 })).reverse();
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    if (frame.deps === null) checkIsTask(frame.task);
    const id = frame.task.id;
    if (frame.deps === null) {
      if (tasks.has(id) || visiting.has(id)) {
        stack.pop();
        continue;
      }
      visiting.add(id);
      frame.deps = callRequires(frame.task, problems);
    }
    if (frame.next < frame.deps.length) {
      const dep = frame.deps[frame.next++]!;
      if (!tasks.has(dep.id) && !visiting.has(dep.id)) stack.push({ task: dep, deps: null, next: 0 });
      continue;
    }
    stack.pop();
    visiting.delete(id);
    tasks.set(id, frame.task);
    requires.set(id, uniqueIds(frame.deps));
    outputs.set(id, declareOutputs(frame.task, ownerOf, problems));
  }

  const dependents = new Map<string, string[]>();
  for (const id of tasks.keys()) dependents.set(id, []);
  for (const [id, deps] of requires) for (const dep of deps) dependents.get(dep)!.push(id);

  const order = topologicalOrder(requires, dependents);
  // Only a graph with a cycle leaves tasks out of the order: then find each cycle's path for the message.
  if (order.length < tasks.size) for (const cycle of findCycles(requires)) problems.push(`cycle: ${cycle.join(' → ')}`);
  if (problems.length > 0) throw new GraphError(problems);

  let graph: DirectedGraph | undefined;
  return {
    // Built on demand (exports, graph algorithms): planning a 100k-task build does not pay for it.
    get graph(): DirectedGraph {
      graph ??= toGraphology(order, requires);
      return graph;
    },
    tasks,
    order,
    requires,
    dependents,
    outputs,
    ownerOf,
  };
}

/** Kahn's algorithm; ties keep insertion order (dependencies first, as `requires()` named them). */
function topologicalOrder(requires: ReadonlyMap<string, readonly string[]>, dependents: ReadonlyMap<string, readonly string[]>): string[] {
  const remaining = new Map<string, number>();
  const order: string[] = [];
  for (const [id, deps] of requires) {
    remaining.set(id, deps.length);
    if (deps.length === 0) order.push(id);
  }
  for (let i = 0; i < order.length; i++) {
    for (const dependent of dependents.get(order[i]!)!) {
      const left = remaining.get(dependent)! - 1;
      remaining.set(dependent, left);
      if (left === 0) order.push(dependent);
    }
  }
  return order;
}

function toGraphology(order: readonly string[], requires: ReadonlyMap<string, readonly string[]>): DirectedGraph {
  // Loaded on first use: a build that never exports its graph does not pay for loading graphology.
  const { DirectedGraph: Graph } = createRequire(import.meta.url)('graphology') as typeof import('graphology');
  const graph = new Graph();
  for (const id of order) graph.addNode(id);
  for (const id of order) for (const dep of requires.get(id)!) graph.mergeEdge(dep, id);
  return graph;
}

/**
 * Only this copy's tasks can be built: a task made from another installed copy of the package fails the whole
 * build at once (every task would repeat it), naming where that copy is, as far as its targets tell.
 */
function checkIsTask(value: unknown): void {
  if (value instanceof Task) return;
  if (!isTaskOfSomeCopy(value))
    throw new UsageError(
      `roots() and requires() must return tasks (instances of a class that extends Task), not ${JSON.stringify(value) ?? String(value)}`,
    );
  let outputs: unknown;
  try {
    outputs = value.output();
  } catch {
    outputs = undefined;
  }
  const targets = outputs !== null && typeof outputs === 'object' ? [outputs, ...Object.values(outputs)] : [];
  throw new ForeignCopyError(
    `task ${value.id}`,
    targets.find((target) => copyOf(target) !== null),
  );
}

/** An object whose class descends from a class named Task, as every copy's tasks do. */
function isTaskOfSomeCopy(value: unknown): value is Task {
  if (typeof value !== 'object' || value === null) return false;
  for (let proto = Object.getPrototypeOf(value); proto !== null; proto = Object.getPrototypeOf(proto)) {
    if (proto.constructor?.name === 'Task') return true;
  }
  return false;
}

function callRequires<S extends object>(task: Task<S>, problems: string[]): readonly Task<S>[] {
  try {
    // Read during the walk only, never kept or changed: no copy.
    return task.requires();
  } catch (error) {
    problems.push(`${task.id}: requires() threw: ${error instanceof Error ? error.message : String(error)}`);
    return [];
  }
}

function uniqueIds<S extends object>(deps: readonly Task<S>[]): string[] {
  const ids: string[] = [];
  // A task has a handful of dependencies: a scan is cheaper than a Set.
  for (const dep of deps) if (!ids.includes(dep.id)) ids.push(dep.id);
  return ids;
}

function declareOutputs<S extends object>(task: Task<S>, ownerOf: Map<string, string>, problems: string[]): string[] {
  let outputs: Outputs;
  try {
    outputs = task.output();
  } catch (error) {
    problems.push(`${task.id}: output() threw: ${errorMessage(error)}`);
    return [];
  }
  let targets: FileTarget[];
  try {
    targets = outputList(outputs);
  } catch (error) {
    if (error instanceof ForeignCopyError) throw error;
    problems.push(`${task.id}: ${errorMessage(error)}`);
    return [];
  }
  const paths: string[] = [];
  for (const target of targets) {
    const problem = checkTargetPath(target.path);
    if (problem !== null) {
      problems.push(`${task.id}: output '${target.path}' ${problem}`);
      continue;
    }
    const owner = ownerOf.get(target.path);
    if (owner !== undefined && owner !== task.id) {
      problems.push(`${task.id}: output '${target.path}' is also an output of ${owner}`);
      continue;
    }
    ownerOf.set(target.path, task.id);
    paths.push(target.path);
  }
  return paths;
}

/**
 * Every cycle, as the path of task ids that closes it (first id repeated at the end): one per strongly
 * connected component (Tarjan's algorithm, iterative), which is what a person needs to break them all.
 */
export function findCycles(requires: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const sccStack: string[] = [];
  const cycles: string[][] = [];
  let counter = 0;

  for (const start of requires.keys()) {
    if (index.has(start)) continue;
    const work: { id: string; next: number }[] = [{ id: start, next: 0 }];
    index.set(start, counter);
    low.set(start, counter++);
    sccStack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const deps = requires.get(frame.id) ?? [];
      if (frame.next < deps.length) {
        const dep = deps[frame.next++]!;
        if (!index.has(dep)) {
          index.set(dep, counter);
          low.set(dep, counter++);
          sccStack.push(dep);
          onStack.add(dep);
          work.push({ id: dep, next: 0 });
        } else if (onStack.has(dep)) {
          low.set(frame.id, Math.min(low.get(frame.id)!, index.get(dep)!));
        }
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1]!.id;
        low.set(parent, Math.min(low.get(parent)!, low.get(frame.id)!));
      }
      if (low.get(frame.id) === index.get(frame.id)) {
        const component: string[] = [];
        let member: string;
        do {
          member = sccStack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.id);
        const selfLoop = component.length === 1 && (requires.get(frame.id) ?? []).includes(frame.id);
        if (component.length > 1 || selfLoop) cycles.push(cyclePath(component, requires));
      }
    }
  }
  return cycles;
}

/** A closed path through one strongly connected component, starting at its smallest id for stable output. */
function cyclePath(component: string[], requires: ReadonlyMap<string, readonly string[]>): string[] {
  const members = new Set(component);
  const start = [...members].sort()[0]!;
  const previous = new Map<string, string>();
  const queue = [start];
  // Breadth-first from start inside the component until an edge leads back to start.
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i]!;
    for (const dep of requires.get(id) ?? []) {
      if (!members.has(dep)) continue;
      if (dep === start) {
        const path = [id];
        while (path[0] !== start) path.unshift(previous.get(path[0]!)!);
        // requires points dependent → dependency; show it the way a person reads "A needs B needs A".
        return [...path, start];
      }
      if (!previous.has(dep)) {
        previous.set(dep, id);
        queue.push(dep);
      }
    }
  }
  return [start, start];
}
