import fs from 'node:fs';
import path from 'node:path';
import { planGraph, type TaskGraph } from './graph.js';
import { GraphError, UsageError } from './errors.js';
import type { Task } from './task.js';

/**
 * Which part of the graph a build works on: the whole graph, or with `--until` only the named tasks and what
 * they need; which tasks `--force` rebuilds; and the checks made before anything is touched.
 */
export interface SelectedGraph<S extends object> {
  /** The tasks this build decides and runs. */
  graph: TaskGraph<S>;
  /** Every task of the pipeline (more than `graph` under `--until`): who owns which file. */
  all: TaskGraph<S>;
}

export function selectGraph<S extends object>(roots: readonly Task<S>[], until: readonly string[]): SelectedGraph<S> {
  const all = planGraph(roots);
  if (until.length === 0) return { graph: all, all };
  return { graph: planGraph([...resolveNames(all, until)].map((id) => all.tasks.get(id)!)), all };
}

/** Task ids or class names → the ids they name. Unknown ones are a usage error. */
export function resolveNames<S extends object>(graph: TaskGraph<S>, names: readonly string[]): Set<string> {
  const matched = new Set<string>();
  const unknown: string[] = [];
  for (const name of names) {
    const hits = graph.order.filter((id) => id === name || id.split('(')[0] === name);
    if (hits.length === 0) unknown.push(name);
    for (const id of hits) matched.add(id);
  }
  if (unknown.length > 0) throw new UsageError(`unknown task ${unknown.map((n) => `'${n}'`).join(', ')} (see 'plan status' for the task names)`);
  return matched;
}

/** `--force` names, with everything downstream of them. */
export function resolveForced<S extends object>(graph: TaskGraph<S>, names: readonly string[]): Set<string> {
  const matched = resolveNames(graph, names);
  const queue = [...matched];
  while (queue.length > 0) {
    for (const dependent of graph.dependents.get(queue.pop()!)!) {
      if (!matched.has(dependent)) {
        matched.add(dependent);
        queue.push(dependent);
      }
    }
  }
  return matched;
}

/** Directories of outputs that exist must resolve inside the run dir (no symlinked folder leading out). */
export function checkOutputDirectories<S extends object>(graph: TaskGraph<S>, runDir: string): void {
  const realRunDir = fs.realpathSync(runDir);
  const problems: string[] = [];
  const dirs = new Set<string>();
  for (const filePath of graph.ownerOf.keys()) {
    const dir = path.posix.dirname(filePath);
    if (dir !== '.') dirs.add(dir);
  }
  for (const dir of dirs) {
    let real: string;
    try {
      real = fs.realpathSync(path.join(runDir, dir));
    } catch {
      continue;
    }
    const inside = path.relative(realRunDir, real);
    if (inside.startsWith('..') || path.isAbsolute(inside)) problems.push(`folder '${dir}' of the run dir leads out of it (to ${real})`);
  }
  if (problems.length > 0) throw new GraphError(problems);
}

/** For each task, the number of tasks on the longest chain from it to the end: the critical path goes first. */
export function criticalPathLengths<S extends object>(graph: TaskGraph<S>): Map<string, number> {
  const lengths = new Map<string, number>();
  for (let i = graph.order.length - 1; i >= 0; i--) {
    const id = graph.order[i]!;
    let longest = 0;
    for (const dependent of graph.dependents.get(id)!) longest = Math.max(longest, lengths.get(dependent)!);
    lengths.set(id, longest + 1);
  }
  return lengths;
}
