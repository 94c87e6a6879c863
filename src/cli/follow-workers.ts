import fs from 'node:fs';
import path from 'node:path';
import { sha256 } from '../engine/hasher.js';
import { writeFileAtomic } from '../engine/materialize.js';
import { selectGraph } from '../engine/graph-selection.js';
import { summaryLine } from './progress.js';
import { ExitCode } from './exit-codes.js';
import { handOverRun, workersBuilding } from './worker-runs.js';
import type { BuildStatus, BuildSummary } from '../engine/events.js';
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
  pollMs?: number;
}

/**
 * `plan build <run-dir> --workers`: the run dir's edits are stored, the run is handed to the workers (or, when
 * they are building it already — this command was killed and is run again — only followed), and every task
 * they finish has its files written into the run dir from the database. Ends as a local build does: the same
 * summary line and exit codes.
 */
export async function buildOnWorkers(options: FollowOptions): Promise<number> {
  const { store, run, runDir } = options;
  const started = Date.now();
  const out = (event: Record<string, unknown>, line: string): void => {
    if (options.json) process.stdout.write(`${JSON.stringify(event)}\n`);
    else process.stderr.write(`${line}\n`);
  };
  let workerTasks: WorkerTasks;
  const building = await workersBuilding(store, run.id);
  if (building !== null) {
    workerTasks = building.workerTasks;
    out({ type: 'following', runId: run.id }, `run ${run.id} is being built by the workers: following it`);
  } else {
    const edits = await storeEdits(store, run, runDir, options.roots);
    if (edits > 0) out({ type: 'edits-stored', count: edits }, `stored ${edits} edited file(s) of ${path.basename(runDir)} as versions`);
    const handed = await handOverRun(options.url, store, run.id, options.roots, { keepGoing: options.keepGoing, force: options.force });
    workerTasks = handed.workerTasks;
    out(
      { type: 'handed-over', runId: run.id, tasks: handed.tasks, ready: handed.ready },
      `run ${run.id}: ${handed.tasks} tasks handed to the workers (${handed.ready} ready)`,
    );
  }

  let cancelAsked = false;
  const onAbort = (): void => {
    cancelAsked = true;
  };
  options.signal.addEventListener('abort', onAbort, { once: true });
  const seen = new Map<string, string>();
  const written = new Set<string>();
  try {
    for (;;) {
      if (cancelAsked) {
        cancelAsked = false;
        await store.updateRun(run.id, { cancelRequested: true });
        await workerTasks.cancelIdle(run.id);
        out({ type: 'cancel-requested', runId: run.id }, 'asked the workers to stop the run');
      }
      const handed = await workerTasks.listTasks(run.id);
      if (handed === null) throw new Error(`run ${run.id} is no longer handed to workers`);
      for (const task of handed.tasks) {
        const key = `${task.state} ${task.outcome ?? ''} ${task.workerId ?? ''}`;
        if (seen.get(task.taskId) === key) continue;
        seen.set(task.taskId, key);
        if (task.state === 'done' && !written.has(task.taskId)) {
          await writeTaskFiles(store, run.id, runDir, task.taskId);
          written.add(task.taskId);
        }
        report(task, out);
      }
      if (handed.finishedAt !== null) return await finish(store, run, handed.tasks, started, options.json);
      await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 200));
    }
  } finally {
    options.signal.removeEventListener('abort', onAbort);
  }
}

function report(task: WorkerTaskRow, out: (event: Record<string, unknown>, line: string) => void): void {
  const event = { type: `task-${task.state}`, taskId: task.taskId, worker: task.workerId, outcome: task.outcome, error: task.error };
  if (task.state === 'running') out(event, `started  ${task.taskId} on ${task.workerId}`);
  else if (task.state === 'done' && task.outcome === 'ran') out(event, `done     ${task.taskId} (${task.workerId})`);
  else if (task.state === 'failed') out(event, `failed   ${task.taskId}: ${task.error ?? ''}`);
  else if (task.state === 'blocked' || task.state === 'cancelled') out(event, `${task.state.padEnd(8)} ${task.taskId}`);
}

async function finish(store: PostgresStore, run: RunRecord, tasks: readonly WorkerTaskRow[], started: number, json: boolean): Promise<number> {
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
  if (json) process.stdout.write(`${JSON.stringify({ type: 'build-finished', status, summary, at: Date.now() })}\n`);
  else process.stderr.write(`${summaryLine(status, summary, false)} (on workers)\n`);
  return status === 'success' ? ExitCode.ok : status === 'cancelled' ? ExitCode.interrupted : ExitCode.taskFailed;
}

/** The files of a task the workers finished, as the database has them now (its newest versions), into the run dir. */
async function writeTaskFiles(store: PostgresStore, runId: string, runDir: string, taskId: string): Promise<void> {
  const attempts = await store.listAttempts(runId, taskId);
  const built = attempts.filter((a) => a.status === 'complete' || a.status === 'persisted').at(-1);
  for (const filePath of Object.keys(built?.outputs ?? {})) {
    const bytes = await store.readContent(runId, filePath);
    if (bytes === null) continue;
    const target = path.join(runDir, filePath);
    if (fs.existsSync(target) && sha256(fs.readFileSync(target)) === sha256(bytes)) continue;
    writeFileAtomic(runDir, filePath, bytes);
  }
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
