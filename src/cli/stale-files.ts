import fs from 'node:fs';
import path from 'node:path';
import type { TaskGraph } from '../engine/graph.js';
import type { Store } from '../store/store.js';

/**
 * Files in a run dir whose task is no longer in the pipeline (renamed, removed, its parameters changed): the
 * database holds them as that task's output, no task of the graph declares or builds them, and they are still
 * on disk. Nothing reads or replaces them any more; `plan clean --stale-files` removes them (their versions stay
 * in the database).
 */
export async function staleFiles(store: Store, runId: string, runDir: string, graph: TaskGraph): Promise<string[]> {
  const newestTask = new Map<string, string>();
  for (const version of await store.listContentVersions(runId)) newestTask.set(version.path, version.taskId);
  const stale: string[] = [];
  for (const [filePath, taskId] of newestTask) {
    if (graph.tasks.has(taskId) || graph.ownerOf.has(filePath)) continue;
    if (fs.existsSync(path.join(runDir, filePath))) stale.push(filePath);
  }
  return stale.sort();
}
