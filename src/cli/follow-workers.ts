import fs from 'node:fs';
import path from 'node:path';
import { sha256 } from '../engine/hasher.js';
import { writeFileAtomic } from '../engine/materialize.js';
import { selectGraph } from '../engine/graph-selection.js';
import { createProgressView, progressModeFor, summaryLine } from './progress.js';
import { ExitCode } from './exit-codes.js';
import { handOverRun, workersBuilding } from './worker-runs.js';
import type { BuildEvent, BuildStatus, BuildSummary } from '../engine/events.js';
import type { Task } from '../engine/task.js';
import type { PostgresStore } from '../store/postgres/postgres-store.js';
import type { WorkerTaskRow, WorkerTasks } from '../store/postgres/worker-tasks.js';
import type { RunRecord } from '../store/store.js';

export interface FollowOptions {
  url: string;
  store: PostgresStore;
  run: RunRecord;
  runDir: string;
  roots: readonly Task<object>[];
  keepGoing: boolean;
  force: readonly string[];
  json: boolean;
  /** Aborting it (Ctrl-C) cancels the run on every worker; the follow goes on until they stopped. */
  signal: AbortSignal;
  /** The longest wait between two looks at the workers' rows (a notification wakes it sooner). */
  pollMs?: number;
}

/** A burst of notifications (a task's end writes several rows) is one look, at most this often. */
const LOOK_GAP_MS = 50;

/**
 * `plan build <run-dir> --workers`: the run dir's edits are stored, the run is handed to the workers (or, when
 * they are building it already — this command was killed and is run again — only followed), and every task
 * they finish has its files written into the run dir from the database. Ends as a local build does: the same
 * summary line and exit codes.
 */
export async function buildOnWorkers(options: FollowOptions): Promise<number> {
  const { store, run, runDir } = options;
  const started = Date.now();
  // The same view as a local build's (the live line, its lines, --json events), fed from the workers' rows.
  const view = createProgressView(progressModeFor(options.json, process.stderr), process.stdout, process.stderr);
  const note = (event: Record<string, unknown>, line: string): void => {
    if (options.json) process.stdout.write(`${JSON.stringify(event)}\n`);
    else process.stderr.write(`${line}\n`);
  };
  let workerTasks: WorkerTasks;
  const building = await workersBuilding(store, run.id);
  let tasks: number;
  if (building !== null) {
    workerTasks = building.workerTasks;
    tasks = (await workerTasks.listTasks(run.id))?.tasks.length ?? 0;
    note({ type: 'following', runId: run.id }, `run ${run.id} is being built by the workers: following it`);
  } else {
    const edits = await storeEdits(store, run, runDir, options.roots);
    if (edits > 0) note({ type: 'edits-stored', count: edits }, `stored ${edits} edited file(s) of ${path.basename(runDir)} as versions`);
    const handed = await handOverRun(options.url, store, run.id, options.roots, { keepGoing: options.keepGoing, force: options.force });
    workerTasks = handed.workerTasks;
    tasks = handed.tasks;
    note(
      { type: 'handed-over', runId: run.id, tasks: handed.tasks, ready: handed.ready },
      `run ${run.id}: ${handed.tasks} tasks handed to the workers (${handed.ready} ready)`,
    );
  }
  view({ type: 'build-started', runId: run.id, runDir, tasks, at: started });

  let cancelAsked = false;
  const onAbort = (): void => {
    cancelAsked = true;
  };
  options.signal.addEventListener('abort', onAbort, { once: true });
  const seen = new Map<string, string>();
  const calls = new Set<number>();
  const changes = await watchRun(store, run.id, options.signal);
  try {
    for (;;) {
      if (cancelAsked) {
        cancelAsked = false;
        view({ type: 'build-stopping', reason: 'interrupted' });
        await store.updateRun(run.id, { cancelRequested: true });
        await workerTasks.cancelIdle(run.id);
      }
      const handed = await workerTasks.listTasks(run.id);
      if (handed === null) throw new Error(`run ${run.id} is no longer handed to workers`);
      for (const call of await store.listInteractionSummaries(run.id)) {
        if (call.status === 'pending' || calls.has(call.id)) continue;
        calls.add(call.id);
        view({
          type: 'interaction-finished',
          taskId: call.taskId,
          attemptId: call.attemptId,
          interactionId: call.id,
          model: call.answeredModel ?? call.requestedModel,
          status: call.status,
          inputTokens: call.inputTokens,
          outputTokens: call.outputTokens,
          costUsd: call.costUsd,
          durationMs: call.durationMs,
        });
      }
      for (const task of handed.tasks) {
        const key = `${task.state} ${task.outcome ?? ''} ${task.workerId ?? ''} ${task.startedAt ?? ''}`;
        if (seen.get(task.taskId) === key) continue;
        seen.set(task.taskId, key);
        const changed = task.state === 'done' ? await writeTaskFiles(store, run.id, runDir, task.taskId) : [];
        for (const event of eventsOf(task, changed)) view(event);
      }
      if (handed.finishedAt !== null) return await finish(store, run, handed.tasks, started, view, options.json);
      await changes.next(options.pollMs ?? 1_000);
    }
  } finally {
    options.signal.removeEventListener('abort', onAbort);
    await changes.close();
  }
}

/**
 * Waits for the next change of the run: a notification from the store (PostgreSQL pushes each committed change
 * of a run), Ctrl-C, or `fallbackMs` at the latest (a notification may be lost with its connection).
 */
async function watchRun(
  store: PostgresStore,
  runId: string,
  signal: AbortSignal,
): Promise<{ next(fallbackMs: number): Promise<void>; close(): Promise<void> }> {
  let changed = false;
  let wake: (() => void) | null = null;
  const poke = (): void => {
    changed = true;
    wake?.();
  };
  const stop = store.watchChanges === undefined ? null : await store.watchChanges((id) => id === runId && poke()).catch(() => null);
  signal.addEventListener('abort', poke);
  return {
    async next(fallbackMs) {
      await new Promise((resolve) => setTimeout(resolve, LOOK_GAP_MS));
      if (!changed) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, fallbackMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      wake = null;
      changed = false;
    },
    async close() {
      signal.removeEventListener('abort', poke);
      await stop?.().catch(() => undefined);
    },
  };
}

/** What a task's row, as it changed, is as build events: the events a local build emits for the same step. */
function eventsOf(task: WorkerTaskRow, changed: string[]): BuildEvent[] {
  const { taskId } = task;
  switch (task.state) {
    case 'running':
      return [{ type: 'task-started', taskId, attemptId: 0, try: 1, reason: `on worker ${task.workerId ?? '?'}` }];
    case 'done':
      if (task.outcome === 'ran') {
        const durationMs = task.startedAt !== null && task.finishedAt !== null ? task.finishedAt - task.startedAt : 0;
        return [{ type: 'task-complete', taskId, attemptId: 0, durationMs, changed }];
      }
      return [{ type: 'task-decided', taskId, state: task.outcome === 'pinned' ? 'pinned' : 'fresh', reason: `found ${task.outcome} by a worker` }];
    case 'failed':
      return [{ type: 'task-failed', taskId, attemptId: 0, error: task.error ?? 'failed', retryInMs: null }];
    case 'blocked':
      return [{ type: 'task-blocked', taskId, by: task.error ?? 'a failed dependency' }];
    case 'cancelled':
      return [{ type: 'task-cancelled', taskId, attemptId: 0 }];
    default:
      return [];
  }
}

async function finish(
  store: PostgresStore,
  run: RunRecord,
  tasks: readonly WorkerTaskRow[],
  started: number,
  view: (event: BuildEvent) => void,
  json: boolean,
): Promise<number> {
  const record = await store.getRun(run.id);
  const status: BuildStatus = record?.status === 'complete' ? 'success' : record?.status === 'cancelled' ? 'cancelled' : 'failed';
  const summary: BuildSummary = {
    tasks: tasks.length,
    fresh: tasks.filter((t) => t.state === 'done' && t.outcome !== 'ran').length,
    ran: tasks.filter((t) => t.state === 'done' && t.outcome === 'ran').length,
    recovered: 0,
    failed: tasks.filter((t) => t.state === 'failed').map((t) => t.taskId),
    blocked: tasks.filter((t) => t.state === 'blocked').map((t) => t.taskId),
    cancelled: tasks.filter((t) => t.state === 'cancelled').map((t) => t.taskId),
    notStarted: tasks.filter((t) => t.state === 'ready' || t.state === 'waiting').length,
    durationMs: Date.now() - started,
  };
  view({ type: 'build-finished', status, summary, at: Date.now() });
  if (record?.status === 'stopped')
    process.stderr.write(`plan: stopped: ${record.statusReason ?? 'budget'} (the run's --max-cost, across all workers)\n`);
  if (!json) process.stderr.write(`${summaryLine(status, summary, false)} (on workers)\n`);
  return status === 'success' ? ExitCode.ok : status === 'cancelled' ? ExitCode.interrupted : ExitCode.taskFailed;
}

/** The files of a task the workers finished, as the database has them now (its newest versions), into the run dir. */
async function writeTaskFiles(store: PostgresStore, runId: string, runDir: string, taskId: string): Promise<string[]> {
  const attempts = await store.listAttempts(runId, taskId);
  const built = attempts.filter((a) => a.status === 'complete' || a.status === 'persisted').at(-1);
  const written: string[] = [];
  for (const filePath of Object.keys(built?.outputs ?? {})) {
    const bytes = await store.readContent(runId, filePath);
    if (bytes === null) continue;
    const target = path.join(runDir, filePath);
    if (fs.existsSync(target) && sha256(fs.readFileSync(target)) === sha256(bytes)) continue;
    writeFileAtomic(runDir, filePath, bytes);
    written.push(filePath);
  }
  return written;
}

/**
 * Files of the run dir a person changed since they were built: stored as versions before the run is handed
 * over, since the workers read the database, not this dir (a local build stores them as it meets them).
 */
async function storeEdits(store: PostgresStore, run: RunRecord, runDir: string, roots: readonly Task<object>[]): Promise<number> {
  const { graph } = selectGraph(roots, []);
  const snapshot = await store.loadRunSnapshot(run.id);
  let stored = 0;
  for (const [taskId, attempt] of snapshot.built) {
    if (!graph.tasks.has(taskId)) continue;
    for (const filePath of Object.keys(attempt.outputs ?? {})) {
      const target = path.join(runDir, filePath);
      if (!fs.existsSync(target)) continue;
      const bytes = fs.readFileSync(target);
      const sha = sha256(bytes);
      if (sha === snapshot.latestContent.get(filePath)) continue;
      // Bytes the database has seen are a build's own (an older version this dir was not brought up to), not an edit.
      if ((await store.readContentBySha(run.id, filePath, sha)) !== null) continue;
      if ((await store.recordEdit(run.id, taskId, filePath, bytes)) !== null) stored++;
    }
  }
  return stored;
}
