import path from 'node:path';
import { UsageError } from '../engine/errors.js';
import { criticalPathLengths, resolveForced, selectGraph } from '../engine/graph-selection.js';
import { isPostgresUrl, openStore } from '../store/open.js';
import { createQueuePool, jobsSchemaFor, migrateQueue, workerTasksOf } from '../workers/job-queue.js';
import { loadPipeline, PLAN_PIPELINE } from './pipelines.js';
import { checkedPackageSpec, isPackageSpec } from './pipeline-package.js';
import type { PostgresStore } from '../store/postgres/postgres-store.js';
import type { Store } from '../store/store.js';
import type { WorkerTasks } from '../store/postgres/worker-tasks.js';
import type { Task } from '../engine/task.js';
import type { Pipeline } from '../engine/pipeline.js';

/** The `--db` of the worker commands: a PostgreSQL URL is required (workers share the database, never a file). */
export const WORKER_DB_OPTION = {
  type: 'string',
  describe: 'the shared PostgreSQL store: postgres://… (env PLAN_DB)',
} as const;

/** `--pipeline-root`: where pipeline modules named by a relative path, and pipeline packages, are found on this machine. */
export const PIPELINE_ROOT_OPTION = {
  type: 'string',
  describe:
    'folder that relative --pipeline paths are read from, and npm: packages found in (its node_modules), on this machine (default: the current folder; env PLAN_PIPELINE_ROOT)',
} as const;

export function workerDbUrl(db: string | undefined): string {
  const url = db ?? process.env.PLAN_DB;
  if (url === undefined || !isPostgresUrl(url)) {
    throw new UsageError(`workers share a PostgreSQL store: give --db postgres://… (or PLAN_DB)${url === undefined ? '' : `, not ${url}`}`);
  }
  return url;
}

export async function openWorkerStore(url: string): Promise<PostgresStore> {
  return (await openStore(url)) as PostgresStore;
}

export function pipelineRoot(given: string | undefined): string {
  return path.resolve(given ?? process.env.PLAN_PIPELINE_ROOT ?? '.');
}

/**
 * How a run handed to workers names its pipeline: the built-in `plan`, a package installed under each
 * machine's pipeline root (`npm:name`), or a module path relative to that root — never an absolute path,
 * which means nothing on another machine.
 */
export function workerPipelineSpec(given: string | undefined): string {
  if (given === undefined || given === PLAN_PIPELINE) return PLAN_PIPELINE;
  if (isPackageSpec(given)) return checkedPackageSpec(given);
  if (path.isAbsolute(given)) {
    throw new UsageError(
      `--pipeline ${given} is an absolute path of this machine: give it relative to the workers' --pipeline-root (e.g. pipelines/mine.js)`,
    );
  }
  const normal = path.posix.normalize(given.split(path.sep).join('/'));
  if (normal.startsWith('../')) throw new UsageError(`--pipeline ${given} leads out of the pipeline root`);
  return normal;
}

/** Loads a run's pipeline where this process runs: the built-in one, or the package or module under the pipeline root. */
export function loadWorkerPipeline(spec: string, root: string): Promise<Pipeline> {
  return loadPipeline(spec, root);
}

/**
 * Hands a run to the workers: every task of its graph recorded, the ready ones queued (graphile-worker's
 * schema made first when this is the database's first run for workers). `force` names are resolved here, with
 * everything downstream, as `plan build --force` does.
 */
export async function handOverRun(
  url: string,
  store: PostgresStore,
  runId: string,
  roots: readonly Task<object>[],
  options: { keepGoing: boolean; force: readonly string[] },
): Promise<{ tasks: number; ready: number; workerTasks: WorkerTasks }> {
  const { graph } = selectGraph(roots, []);
  const forced = resolveForced(graph, options.force);
  const jobsSchema = jobsSchemaFor(store.schema);
  const pool = await createQueuePool(url, 1);
  try {
    await migrateQueue(pool, jobsSchema);
  } finally {
    await pool.end().catch(() => undefined);
  }
  const lengths = criticalPathLengths(graph);
  const workerTasks = store.workerTasks(jobsSchema);
  await workerTasks.handOver({
    runId,
    keepGoing: options.keepGoing,
    forced: [...forced],
    tasks: graph.order.map((id) => ({ id, requires: graph.requires.get(id)!, priority: -lengths.get(id)! })),
  });
  return { tasks: graph.order.length, ready: graph.order.filter((id) => graph.requires.get(id)!.length === 0).length, workerTasks };
}

/**
 * A run the workers are building now (handed over, not finished), with how many of its tasks run, or null: the
 * store is not PostgreSQL, or the run was never handed to workers, or they finished it.
 */
export async function workersBuilding(store: Store, runId: string): Promise<{ running: number; workerTasks: WorkerTasks } | null> {
  const workerTasks = workerTasksOf(store);
  if (workerTasks === null) return null;
  const handed = await workerTasks.listTasks(runId);
  if (handed === null || handed.finishedAt !== null) return null;
  return { running: handed.tasks.filter((t) => t.state === 'running').length, workerTasks };
}
