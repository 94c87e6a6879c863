import path from 'node:path';
import { FileHasher, type FileState } from '../engine/hasher.js';
import { isEngineFile } from '../engine/target.js';
import type { Store } from '../store/store.js';

/**
 * Which settled file-system events in a run dir call for a rebuild. The rule compares the disk with the
 * database instead of remembering what a rebuild wrote: every file a build writes (and every edit it records)
 * is the newest stored version of its path by the time the build ends, so an event the build itself caused finds
 * the disk equal to the database and is dropped — however late the watcher reports it.
 */

export type FileChangeKind = 'changed' | 'removed';

export interface FileChange {
  /** Relative to the run dir, with forward slashes (as the database names files). */
  path: string;
  kind: FileChangeKind;
}

/**
 * The engine's own files (`.plan-run.json`, `.plan-lock`, `.plan-tmp-*` temp files) and anything inside a
 * `.plan-*` folder: never a task's input, so never a reason to rebuild. The run dir itself is not ignored,
 * whatever its name.
 */
export function isIgnoredPath(runDir: string, absolutePath: string): boolean {
  const relative = path.relative(runDir, absolutePath);
  if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) return false;
  return relative.split(path.sep).some((segment) => isEngineFile(segment));
}

/** A watcher's path as the database names it: relative to the run dir, forward slashes. */
export function runRelative(runDir: string, absolutePath: string): string {
  return path.relative(runDir, absolutePath).split(path.sep).join('/');
}

/**
 * The changes a build would act on, in path order:
 * - a file present on disk whose bytes differ from the newest stored version of its path (a person's edit);
 * - a file gone from disk that the newest build of some task wrote (a deleted output).
 * Dropped: files equal to their newest version (a build's own writes, a `touch`, an edit undone), files no task
 * wrote (an editor's swap file, notes), and removals of files no task writes any more (a build dropping an extra).
 */
export async function changesToRebuild(store: Store, runId: string, runDir: string, changed: Iterable<string>): Promise<FileChange[]> {
  const snapshot = await store.loadRunSnapshot(runId);
  const outputs = new Set<string>();
  for (const attempt of snapshot.built.values()) for (const file of Object.keys(attempt.outputs ?? {})) outputs.add(file);
  const hasher = new FileHasher(runDir, snapshot.fileStats);

  const result: FileChange[] = [];
  for (const file of [...new Set(changed)].sort()) {
    const stored = snapshot.latestContent.get(file);
    let state: FileState;
    try {
      state = hasher.state(file);
    } catch {
      // Unreadable now (permissions, a race with another writer): let the build look and report it.
      if (stored !== undefined) result.push({ path: file, kind: 'changed' });
      continue;
    }
    if (state.kind === 'missing') {
      if (outputs.has(file)) result.push({ path: file, kind: 'removed' });
    } else if (stored !== undefined && (state.kind === 'invalid' || state.sha256 !== stored)) {
      result.push({ path: file, kind: 'changed' });
    }
  }
  return result;
}
