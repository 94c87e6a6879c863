import path from 'node:path';
import { UsageError } from '../engine/errors.js';

/** The task ids a name stands for: the exact id, else every task of that class (`Upper` for `Upper(seed=x)`). */
export function matchTasks(name: string, ids: Iterable<string>): string[] {
  const all = [...ids];
  if (all.includes(name)) return [name];
  return all.filter((id) => id.split('(')[0] === name);
}

/** One task id for a name, or a usage error saying the name is unknown or ambiguous. */
export function resolveOneTask(name: string, ids: Iterable<string>, runId: string): string {
  const hits = matchTasks(name, ids);
  if (hits.length === 1) return hits[0]!;
  if (hits.length === 0) throw unknownTask(name, runId);
  const shown = hits.slice(0, 5).join(', ') + (hits.length > 5 ? `, … (${hits.length} in all)` : '');
  throw new UsageError(`'${name}' names ${hits.length} tasks of run ${runId} (${shown}): give the full task id`);
}

export function unknownTask(name: string, runId: string, orFile = false): UsageError {
  return new UsageError(`unknown task${orFile ? ' or file' : ''} '${name}' in run ${runId} (see 'plan status' for the task names)`);
}

/**
 * A file argument as a run-dir-relative path: as given, or, when it is a path to a file inside the run dir
 * from where the user stands (`runs/demo/seed.txt`), relative to the run dir. Null when it is neither.
 */
export function runRelativePath(runDir: string, arg: string, isKnown: (relativePath: string) => boolean): string | null {
  if (isKnown(arg)) return arg;
  const relative = path.relative(runDir, path.resolve(arg)).split(path.sep).join('/');
  if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) return null;
  return isKnown(relative) ? relative : null;
}
