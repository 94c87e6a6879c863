import { pipelineParams } from './run-settings.js';
import type { DecisionCause } from '../engine/decision-cause.js';
import { planGraph, type TaskGraph } from '../engine/graph.js';
import { UsageError } from '../engine/errors.js';
import { loadPipeline } from './pipelines.js';
import type { Task } from '../engine/task.js';
import type { TaskState } from '../engine/events.js';
import type { RunRecord, Store } from '../store/store.js';

export interface RunGraph {
  roots: readonly Task[];
  graph: TaskGraph;
}

/** The run's task graph, made from its pipeline and parameters the way `plan build` makes it. */
export async function loadRunGraph(run: RunRecord): Promise<RunGraph> {
  const pipeline = await loadPipeline(run.pipeline);
  let roots: Task[];
  try {
    roots = pipeline.roots(pipelineParams(run.params));
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`invalid run parameters: ${error instanceof Error ? error.message : String(error)}`);
  }
  return { roots, graph: planGraph(roots) };
}

export type Decisions = ReadonlyMap<string, { state: TaskState; reason: string; cause: DecisionCause }>;

/** Each task's state and reason as the next build would decide them: the engine's dry run, nothing written. */
export async function decideRun(run: RunRecord, runDir: string, store: Store, roots: readonly Task[]): Promise<Decisions> {
  // Loaded here, not with this module: `plan list` plans graphs only, and does not pay for the build engine.
  const { build } = await import('../engine/build.js');
  const result = await build({ roots, runDir, runId: run.id, store, dryRun: true });
  return result.decisions;
}
