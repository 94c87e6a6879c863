import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { criticalPathLengths, selectGraph } from '../engine/graph-selection.js';
import { errorMessage } from '../engine/errors.js';
import { createQueuePool, jobsSchemaFor, migrateQueue, quietLogger } from './job-queue.js';
import { runTaskInScratch, type ScratchOutcome } from './run-task.js';
import { TASK_JOB, type FinishedAs, type TaskClaim, type WorkerTasks } from '../store/postgres/worker-tasks.js';
import type { PostgresStore } from '../store/postgres/postgres-store.js';
import type { TaskGraph } from '../engine/graph.js';
import type { Task } from '../engine/task.js';
import type { ServiceFactory } from '../engine/context.js';
import type { RunRecord } from '../store/store.js';

/** What a worker needs of a run to run its tasks: the roots of its pipeline and the services of its tasks. */
export interface LoadedRun {
  roots: readonly Task<object>[];
  services: ServiceFactory<object> | undefined;
}

export interface WorkerOptions {
  /** The store's URL (graphile-worker gets a pool of its own on the same database). */
  url: string;
  store: PostgresStore;
  name: string;
  /** Tasks run at once by this worker. */
  concurrency: number;
  /** Where each job gets its scratch folder (removed after the job). */
  scratchRoot: string;
  /** Loads a run's pipeline where this worker runs; a failure fails the task with its message. */
  loadRun: (run: RunRecord) => Promise<LoadedRun>;
  log: (line: string) => void;
  /** Aborting it stops the worker: no new job is taken, running tasks are cancelled and given back. */
  signal: AbortSignal;
  timing?: Partial<WorkerTiming>;
}

export interface WorkerTiming {
  /** How often the worker proves it is alive and extends its claims. */
  heartbeatMs: number;
  /** How long a claim lasts without a heartbeat. */
  claimTtlMs: number;
  /** A worker silent this long is declared dead; its tasks go to others. */
  deadAfterMs: number;
  /** How often each worker looks for dead ones. */
  sweepMs: number;
  /** How often graphile-worker looks for jobs it was not told of (unlocked jobs of dead workers). */
  pollMs: number;
}

export const DEFAULT_TIMING: WorkerTiming = { heartbeatMs: 2_000, claimTtlMs: 15_000, deadAfterMs: 15_000, sweepMs: 5_000, pollMs: 1_000 };

export interface WorkerReport {
  id: string;
  ran: number;
  fresh: number;
  failed: number;
  released: number;
}

interface RunPlan {
  graph: TaskGraph<object>;
  all: TaskGraph<object>;
  forced: ReadonlySet<string>;
  priorities: Map<string, number>;
  downstream: Map<string, string[]>;
  services: ServiceFactory<object> | undefined;
}

interface Running {
  claim: TaskClaim;
  controller: AbortController;
  /** Why it was stopped: given back (the worker stops), cancelled (plan cancel), lost (its claim was taken). */
  stoppedFor: 'release' | 'cancel' | 'lost' | null;
}

/**
 * `plan worker`: takes ready tasks of any run handed to workers (graphile-worker jobs), runs each alone under a
 * claim (worker-tasks.ts), persists DB-first as `plan build` does, and queues the dependents it made ready in
 * the same transaction. A heartbeat keeps its claims; a sweeper, on every worker, gives the tasks of a worker
 * that stopped beating to others and unlocks its jobs through graphile-worker's forceUnlockWorkers.
 */
export async function runWorker(options: WorkerOptions): Promise<WorkerReport> {
  const timing = { ...DEFAULT_TIMING, ...options.timing };
  const { store, log } = options;
  const jobsSchema = jobsSchemaFor(store.schema);
  const tasks = store.workerTasks(jobsSchema);
  const id = `${options.name}-${randomBytes(4).toString('hex')}`;
  const report: WorkerReport = { id, ran: 0, fresh: 0, failed: 0, released: 0 };
  const pool = await createQueuePool(options.url, options.concurrency + 4);
  const running = new Map<string, Running>();
  const plans = new Map<string, Promise<RunPlan>>();
  const queueIds: string[] = [];
  let stopping = false;

  const planOf = (runId: string): Promise<RunPlan> => {
    let plan = plans.get(runId);
    if (plan === undefined) {
      plan = loadPlan(options, tasks, runId);
      plans.set(runId, plan);
      plan.catch(() => plans.delete(runId));
    }
    return plan;
  };

  const handle = async (payload: unknown): Promise<void> => {
    const { runId, taskId } = payload as { runId: string; taskId: string };
    if (stopping) throw new Error('the worker is stopping');
    const claim = await tasks.claim(runId, taskId, id, timing.claimTtlMs);
    if ('refused' in claim) {
      log(`${runId} ${taskId}: not taken (${claim.refused})`);
      return;
    }
    const entry: Running = { claim, controller: new AbortController(), stoppedFor: null };
    const key = `${runId}/${taskId}`;
    running.set(key, entry);
    const scratchDir = path.join(options.scratchRoot, `${runId}-${claim.token}-${randomBytes(3).toString('hex')}`);
    try {
      let plan: RunPlan;
      try {
        plan = await planOf(runId);
      } catch (error) {
        await finish(entry, { state: 'failed', error: `this worker cannot load the run's pipeline: ${errorMessage(error)}` }, null);
        return;
      }
      if (claim.abandoned > 0) log(`${runId} ${taskId}: took over from a worker that died (${claim.abandoned} attempt abandoned)`);
      log(`${runId} ${taskId}: started`);
      fs.mkdirSync(scratchDir, { recursive: true });
      let outcome: ScratchOutcome;
      try {
        outcome = await runTaskInScratch({
          store,
          runId,
          taskId,
          graph: plan.graph,
          all: plan.all,
          forced: plan.forced,
          scratchDir,
          services: plan.services,
          signal: entry.controller.signal,
          emit: () => undefined,
        });
      } catch (error) {
        // The store failing (not the task): give the task back; graphile-worker retries this job later.
        if (entry.stoppedFor === 'lost') return;
        await finish(entry, { state: 'released' }, plan).catch(() => undefined);
        throw error;
      }
      await finish(entry, finishedAs(outcome, entry.stoppedFor), plan);
    } finally {
      running.delete(key);
      fs.rmSync(scratchDir, { recursive: true, force: true });
    }
  };

  const finish = async (entry: Running, as: FinishedAs, plan: RunPlan | null): Promise<void> => {
    const { runId, taskId } = entry.claim;
    const result = await tasks.finish(entry.claim, as, {
      dependents: plan === null ? [] : [...plan.graph.dependents.get(taskId)!],
      downstream: plan?.downstream.get(taskId) ?? [],
      priorities: plan?.priorities ?? new Map(),
    });
    if (!result.held) {
      log(`${runId} ${taskId}: its claim was taken over by another worker; nothing of this attempt was kept`);
      return;
    }
    if (as.state === 'done') report[as.outcome === 'ran' ? 'ran' : 'fresh']++;
    else if (as.state === 'failed') report.failed++;
    else if (as.state === 'released') report.released++;
    log(`${runId} ${taskId}: ${as.state === 'done' ? as.outcome : as.state}${'error' in as ? `: ${as.error}` : ''}`);
    if (result.runFinished !== null) {
      log(`run ${runId} finished: ${result.runFinished.status}${result.runFinished.reason ? ` (${result.runFinished.reason})` : ''}`);
      plans.delete(runId);
    }
  };

  await migrateQueue(pool, jobsSchema);
  await tasks.registerWorker({ id, name: options.name, host: os.hostname(), pid: process.pid, concurrency: options.concurrency });
  const { run, makeWorkerUtils } = await import('graphile-worker');
  const { EventEmitter } = await import('node:events');
  const events = new EventEmitter();
  // graphile-worker locks a job under the id of the pool that took it (0.17): that is what the sweeper unlocks.
  events.on('pool:create', ({ workerPool }: { workerPool: { id: string } }) => {
    queueIds.push(workerPool.id);
    void tasks.setQueueIds(id, queueIds).catch(() => undefined);
  });
  const logger = await quietLogger(log);
  const utils = await makeWorkerUtils({ pgPool: pool, schema: jobsSchema, logger });

  const beat = async (): Promise<void> => {
    // Only the claims sent are judged: a task claimed while this heartbeat is on its way is not in its answer.
    const sent = [...running.entries()];
    const held = await tasks.heartbeat(
      id,
      timing.claimTtlMs,
      sent.map(([, entry]) => entry.claim),
    );
    if (held.declaredDead) log(`worker ${id} had been declared dead (no heartbeat): its tasks went to others`);
    const still = new Map(held.claims.map((c) => [`${c.runId}/${c.taskId}`, c]));
    for (const [key, entry] of sent) {
      if (running.get(key) !== entry) continue;
      const now = still.get(key);
      if (now === undefined || now.token !== entry.claim.token) {
        if (entry.stoppedFor === null) entry.stoppedFor = 'lost';
        entry.controller.abort(new Error('its claim was taken over'));
      } else if (now.cancel && entry.stoppedFor === null) {
        entry.stoppedFor = 'cancel';
        entry.controller.abort(new Error('the run was cancelled'));
      }
    }
  };
  const sweep = async (): Promise<void> => {
    const dead = await tasks.sweep(timing.deadAfterMs);
    if (dead.workerIds.length === 0) return;
    log(`declared dead: ${dead.workerIds.join(', ')} (no heartbeat); ${dead.released} task(s) ready again`);
    if (dead.queueIds.length > 0) await utils.forceUnlockWorkers(dead.queueIds);
  };
  // Each timer's work in flight, awaited before the worker records that it stopped (a late heartbeat must not
  // make a stopped worker look alive again).
  const inFlight = new Set<Promise<void>>();
  const every = (ms: number, work: () => Promise<void>): NodeJS.Timeout =>
    setInterval(() => {
      if (stopping) return;
      const done = work()
        .catch((error: unknown) => log(`worker ${id}: ${errorMessage(error)}`))
        .finally(() => inFlight.delete(done));
      inFlight.add(done);
    }, ms);
  const heartbeat = every(timing.heartbeatMs, beat);
  const sweeper = every(timing.sweepMs, sweep);
  await sweep().catch(() => undefined);

  const startRunner = () =>
    run({
      pgPool: pool,
      schema: jobsSchema,
      concurrency: options.concurrency,
      noHandleSignals: true,
      pollInterval: timing.pollMs,
      logger,
      events,
      taskList: { [TASK_JOB]: (payload) => handle(payload) },
    });
  let runner = await startRunner();
  log(`worker ${id} on ${os.hostname()} (pid ${process.pid}) takes tasks, ${options.concurrency} at once, from ${store.location}`);

  try {
    for (;;) {
      const ended = await new Promise<'signal' | 'runner'>((resolve, reject) => {
        if (options.signal.aborted) resolve('signal');
        options.signal.addEventListener('abort', () => resolve('signal'), { once: true });
        runner.promise.then(() => resolve('runner'), reject);
      });
      if (ended === 'signal') break;
      // graphile-worker stops every worker of the database when any schema of it gets a breaking migration
      // (its NOTIFY names no schema): a new store's queue made beside ours. Ours is checked again on start: a
      // queue migrated by a newer graphile-worker fails that start, and the worker stops with its error.
      process.exitCode = undefined;
      log(`worker ${id}: the job queue stopped (a queue schema was migrated in this database); starting it again`);
      runner = await startRunner();
    }
  } finally {
    stopping = true;
    // Running tasks are cancelled (recorded) and given back, ready for another worker.
    for (const entry of running.values()) {
      if (entry.stoppedFor === null) entry.stoppedFor = 'release';
      entry.controller.abort(new Error('the worker is stopping'));
    }
    await runner.stop().catch(() => undefined);
    clearInterval(heartbeat);
    clearInterval(sweeper);
    await Promise.allSettled([...inFlight]);
    await tasks.stopWorker(id).catch(() => undefined);
    await Promise.resolve(utils.release()).catch(() => undefined);
    await pool.end().catch(() => undefined);
  }
  return report;
}

function finishedAs(outcome: ScratchOutcome, stoppedFor: Running['stoppedFor']): FinishedAs {
  switch (outcome.kind) {
    case 'fresh':
    case 'pinned':
      return { state: 'done', outcome: outcome.kind };
    case 'ran':
      return { state: 'done', outcome: 'ran' };
    case 'failed':
      return { state: 'failed', error: outcome.error };
    case 'cancelled':
      return stoppedFor === 'cancel' ? { state: 'cancelled', error: 'the run was cancelled' } : { state: 'released' };
  }
}

async function loadPlan(options: WorkerOptions, tasks: WorkerTasks, runId: string): Promise<RunPlan> {
  const run = await options.store.getRun(runId);
  if (run === null) throw new Error(`no run ${runId}`);
  const loaded = await options.loadRun(run);
  const { graph, all } = selectGraph(loaded.roots, []);
  const handed = (await tasks.handedOptions(runId)) ?? { keepGoing: false, forced: [] };
  // Stored resolved (the named tasks and everything downstream); only those still in the pipeline count.
  const forced = new Set(handed.forced.filter((task) => graph.tasks.has(task)));
  const priorities = new Map([...criticalPathLengths(graph)].map(([task, length]) => [task, -length]));
  return { graph, all, forced, priorities, downstream: downstreamOf(graph), services: loaded.services };
}

/** For each task, every task downstream of it (what its failure blocks). */
function downstreamOf(graph: TaskGraph<object>): Map<string, string[]> {
  const below = new Map<string, Set<string>>();
  for (let i = graph.order.length - 1; i >= 0; i--) {
    const id = graph.order[i]!;
    const all = new Set<string>();
    for (const dependent of graph.dependents.get(id)!) {
      all.add(dependent);
      for (const further of below.get(dependent)!) all.add(further);
    }
    below.set(id, all);
  }
  return new Map([...below].map(([id, set]) => [id, [...set]]));
}
