import { terminalText } from '../terminal-text.js';
import { staleFiles } from '../stale-files.js';
import { unownedFiles } from '../unowned-files.js';
import { liveBuild, withShownStatus } from '../run-facts.js';
import { pipelineParams } from '../run-settings.js';
import type { TaskGraph } from '../../engine/graph.js';
import type { AttemptRecord } from '../../store/store.js';
import { defineCommand } from '../args.js';
import { build } from '../../engine/build.js';
import { ExitCode } from '../exit-codes.js';
import { loadPipeline } from '../pipelines.js';
import { checkRunDirPath, DB_OPTION, openStoreFor, requireRun } from '../run-resolution.js';
import { openRunById } from '../run-lookup.js';
import { workerTasksOf } from '../../workers/job-queue.js';
import { UsageError } from '../../engine/errors.js';
import type { WorkerTasks } from '../../store/postgres/worker-tasks.js';
import type { RunRecord, Store } from '../../store/store.js';
import { formatDuration, styleFor } from '../output.js';
import { formatCost, jsonCost } from '../format.js';
import { currentFailures } from './show.js';
import fs from 'node:fs';
import path from 'node:path';
import { planGraph } from '../../engine/graph.js';
import type { TaskState } from '../../engine/events.js';

interface StatusArgs {
  runDir?: string;
  run?: string;
  db?: string;
  json: boolean;
}

export const statusCommand = defineCommand({
  usage: 'status [run-dir]',
  describe: "each task's state and why; safe while a build runs",
  options: {
    db: DB_OPTION,
    run: { type: 'string', describe: 'the run by id: a run handed to workers (plan submit) shows where each task is' },
    json: { type: 'boolean', default: false },
  },
  run: (args: StatusArgs) => (args.run === undefined ? runStatus(args) : runStatusById(args, args.run)),
});

/** `--run <id>`: a run handed to workers shows its tasks as the workers have them; another run, as in its dir. */
async function runStatusById(args: StatusArgs, runId: string): Promise<number> {
  if (args.runDir !== undefined) throw new UsageError('give the run dir or --run <id>, not both');
  const { store, run, location } = await openRunById(runId, args.db);
  let runDir: string;
  try {
    const handed = (await workerTasksOf(store)?.listTasks(run.id)) ?? null;
    if (handed !== null) return await printWorkerStatus(store, run, handed, location, args.json);
    if (run.runDir === '') throw new UsageError(`run ${run.id} has no run dir: plan build <dir> --run ${run.id} builds it in one`);
    runDir = run.runDir;
  } finally {
    await store.close();
  }
  return runStatus({ ...args, runDir });
}

async function printWorkerStatus(
  store: Store,
  run: RunRecord,
  handed: NonNullable<Awaited<ReturnType<WorkerTasks['listTasks']>>>,
  location: string,
  json: boolean,
): Promise<number> {
  const totals = await store.runTotals(run.id);
  const counts: Record<string, number> = {};
  for (const task of handed.tasks) counts[task.state] = (counts[task.state] ?? 0) + 1;
  const tasks = handed.tasks.map((t) => ({ id: t.taskId, state: t.state, outcome: t.outcome, worker: t.workerId, error: t.error }));
  if (json) {
    const payload = {
      runId: run.id,
      db: location,
      pipeline: run.pipeline,
      status: run.status,
      statusReason: run.statusReason,
      workers: true,
      finished: handed.finishedAt !== null,
      calls: totals.calls,
      inputTokens: totals.inputTokens,
      outputTokens: totals.outputTokens,
      costUsd: jsonCost(totals.costUsd, totals.unpricedCalls),
      counts,
      tasks,
    };
    process.stdout.write(`${JSON.stringify(payload, null, 2)}\n`);
    return ExitCode.ok;
  }
  const style = styleFor(process.stdout);
  process.stdout.write(`run ${run.id}  ${run.status}${run.statusReason ? ` (${run.statusReason})` : ''}\n`);
  process.stdout.write(style.dim(`built by workers · db ${location}\n`));
  process.stdout.write(
    `${totals.calls} calls · ${totals.inputTokens.toLocaleString('en-US')} in / ${totals.outputTokens.toLocaleString('en-US')} out tokens · ` +
      `${formatCost(totals.costUsd, totals.unpricedCalls, fourDecimals)}\n`,
  );
  const width = Math.max(...tasks.map((t) => t.id.length));
  for (const task of tasks) {
    const detail = task.state === 'running' ? `on ${task.worker}` : task.state === 'done' ? (task.outcome ?? '') : (task.error ?? '');
    process.stdout.write(`${task.state.padEnd(9)} ${task.id.padEnd(width)}  ${style.dim(terminalText(detail))}\n`);
  }
  const order = ['done', 'running', 'ready', 'waiting', 'failed', 'blocked', 'cancelled'];
  process.stdout.write(
    `${order
      .filter((state) => counts[state])
      .map((state) => `${counts[state]} ${state}`)
      .join(', ')} of ${tasks.length} tasks\n`,
  );
  return ExitCode.ok;
}

async function runStatus(args: StatusArgs & { runDir?: string }): Promise<number> {
  if (args.runDir === undefined) throw new UsageError('give the run dir, or the run by id with --run <id>');
  const runDir = checkRunDirPath(args.runDir);
  // Looking makes nothing: no database is created for a dir that is not a run.
  const { store, location } = await openStoreFor(runDir, args.db, undefined, { create: false, missing: args.runDir });
  try {
    const record = await requireRun(store, runDir);
    const lease = record.status === 'running' ? await store.getRunLease(record.id) : null;
    const run = withShownStatus(record, runDir, lease);
    const pipeline = await loadPipeline(run.pipeline);
    const roots = pipeline.roots(pipelineParams(run.params));
    const result = await build({ roots, runDir, runId: run.id, store, dryRun: true });
    const tasks = [...result.decisions].map(([id, d]) => ({ id, state: d.state, reason: d.reason }));
    const counts: Record<TaskState, number> = { fresh: 0, pinned: 0, missing: 0, stale: 0, blocked: 0 };
    for (const task of tasks) counts[task.state]++;

    // Progress and spending so far, and what a build running in another process is doing right now.
    const graph = planGraph(roots);
    const expected = filesOfTasks(graph, attemptsOutputs(await store.listAttempts(run.id)));
    const filesPresent = expected.filter((file) => fs.existsSync(path.join(runDir, file))).length;
    const stale = await staleFiles(store, run.id, runDir, graph);
    const unowned = unownedFiles(runDir, new Set([...expected, ...stale]));
    const totals = await store.runTotals(run.id);
    const holder = liveBuild(record, runDir, lease);
    const building = holder !== null;
    const attempts = await store.listAttempts(run.id);
    const running = building ? attempts.filter((a) => a.status === 'running').map((a) => a.taskId) : [];
    // Why the last build stopped where it did (a refusal, an error) is what a person asks first.
    const failures = currentFailures(attempts);
    const now = Date.now();
    const activity = {
      building,
      running,
      progress: { filesPresent, filesDeclared: expected.length },
      calls: totals.calls,
      inputTokens: totals.inputTokens,
      outputTokens: totals.outputTokens,
      costUsd: jsonCost(totals.costUsd, totals.unpricedCalls),
      elapsedMs: totals.firstActivityAt === null ? 0 : (building ? now : (totals.lastActivityAt ?? now)) - totals.firstActivityAt,
      lastActivityAt: totals.lastActivityAt === null ? null : new Date(totals.lastActivityAt).toISOString(),
      lastActivitySecondsAgo: totals.lastActivityAt === null ? null : Math.max(0, Math.round((now - totals.lastActivityAt) / 1_000)),
    };

    if (args.json) {
      const payload = {
        runId: run.id,
        runDir,
        db: location,
        pipeline: run.pipeline,
        status: run.status,
        statusReason: run.statusReason,
        ...activity,
        counts,
        failures,
        staleFiles: stale,
        unownedFiles: unowned,
        tasks,
      };
      process.stdout.write(`${JSON.stringify(payload, null, 2)}\n`);
      return ExitCode.ok;
    }
    const style = styleFor(process.stdout);
    const paint = { fresh: style.green, pinned: style.green, missing: style.yellow, stale: style.yellow, blocked: style.red };
    process.stdout.write(`run ${run.id}  ${run.status}${run.statusReason ? ` (${run.statusReason})` : ''}\n`);
    process.stdout.write(style.dim(`dir ${runDir}\ndb  ${location}\n`));
    const cost = totals.unpricedCalls === 0 ? fourDecimals(totals.costUsd) : `cost ${formatCost(totals.costUsd, totals.unpricedCalls, fourDecimals)}`;
    const ago = activity.lastActivitySecondsAgo === null ? 'never' : `${activity.lastActivitySecondsAgo} s ago`;
    process.stdout.write(
      `files ${filesPresent}/${expected.length} · ${activity.calls} calls · ${activity.inputTokens.toLocaleString('en-US')} in / ` +
        `${activity.outputTokens.toLocaleString('en-US')} out tokens · ${cost} · ${formatDuration(activity.elapsedMs)} ` +
        `${building ? 'since the first task started' : 'from the first task to the last activity'} · last activity ${ago}\n`,
    );
    if (building)
      process.stdout.write(`building (pid ${holder!.pid} on ${holder!.host}): ${running.length > 0 ? running.join(', ') : 'between tasks'}\n`);
    for (const failure of failures) {
      const line = `${failure.status.padEnd(8)} ${failure.taskId}${failure.error ? `: ${failure.error}` : ''}`;
      process.stdout.write(`${style.red(line)}\n`);
    }
    const width = Math.max(...tasks.map((t) => t.id.length));
    const lastError = new Map(failures.map((f) => [f.taskId, f.error]));
    for (const task of tasks) {
      const error = lastError.get(task.id);
      const reason = error ? `${task.reason} — last attempt failed: ${error}` : task.reason;
      process.stdout.write(`${paint[task.state](task.state.padEnd(8))} ${task.id.padEnd(width)}  ${style.dim(terminalText(reason))}\n`);
    }
    if (stale.length > 0) {
      process.stdout.write(
        style.yellow(
          `${stale.length} stale file${stale.length === 1 ? '' : 's'} of tasks no longer in the pipeline: ${stale.slice(0, 3).join(', ')}` +
            `${stale.length > 3 ? ', …' : ''} (plan clean --stale-files ${args.runDir} removes them)\n`,
        ),
      );
    }
    if (unowned.length > 0) {
      process.stdout.write(
        style.dim(
          `${unowned.length} file${unowned.length === 1 ? '' : 's'} in the run dir no task owns (left as they are; nothing reads them): ` +
            `${unowned.slice(0, 3).map(terminalText).join(', ')}${unowned.length > 3 ? ', …' : ''}\n`,
        ),
      );
    }
    process.stdout.write(
      `${counts.fresh} of ${tasks.length} tasks fresh, ${counts.missing} missing, ${counts.stale} stale, ${counts.blocked} blocked${counts.pinned > 0 ? `, ${counts.pinned} pinned` : ''}\n`,
    );
    return ExitCode.ok;
  } finally {
    await store.close();
  }
}

function fourDecimals(usd: number): string {
  return `$${usd.toFixed(4)}`;
}

/** Per task, the outputs its newest persisted attempt wrote (extra files included). */
function attemptsOutputs(attempts: readonly AttemptRecord[]): Map<string, string[]> {
  const outputs = new Map<string, string[]>();
  for (const attempt of attempts) {
    if (attempt.outputs !== null && (attempt.status === 'persisted' || attempt.status === 'complete'))
      outputs.set(attempt.taskId, Object.keys(attempt.outputs));
  }
  return outputs;
}

/** Every file the graph's tasks declare or, as built, wrote: what "files n/m" counts. */
function filesOfTasks(graph: TaskGraph, built: ReadonlyMap<string, string[]>): string[] {
  const files = new Set(graph.ownerOf.keys());
  for (const [taskId, paths] of built) if (graph.tasks.has(taskId)) for (const p of paths) files.add(p);
  return [...files];
}
