import type { Argv } from 'yargs';
import { build } from '../../engine/build.js';
import { ExitCode } from '../exit-codes.js';
import { loadPipeline } from '../pipelines.js';
import { checkRunDirPath, DB_OPTION, openStoreFor, requireRun } from '../run-resolution.js';
import { formatDuration, styleFor } from '../output.js';
import fs from 'node:fs';
import path from 'node:path';
import { planGraph } from '../../engine/graph.js';
import { LOCK_FILE, isAlive, readHolder } from '../../engine/lock.js';
import type { TaskState } from '../../engine/events.js';

interface StatusArgs {
  runDir: string;
  db?: string;
  json: boolean;
}

export function statusCommand(yargs: Argv): Argv {
  return yargs.command(
    'status <run-dir>',
    "each task's state and why; safe while a build runs",
    (y) =>
      y.positional('run-dir', { type: 'string', demandOption: true }).option('db', DB_OPTION).option('json', { type: 'boolean', default: false }),
    async (argv) => {
      process.exitCode = await runStatus(argv as unknown as StatusArgs);
    },
  );
}

async function runStatus(args: StatusArgs): Promise<number> {
  const runDir = checkRunDirPath(args.runDir);
  const { store, location } = await openStoreFor(runDir, args.db);
  try {
    const run = await requireRun(store, runDir);
    const pipeline = await loadPipeline(run.pipeline);
    const roots = pipeline.roots(run.params);
    const result = await build({ roots, runDir, runId: run.id, store, dryRun: true });
    const tasks = [...result.decisions].map(([id, d]) => ({ id, state: d.state, reason: d.reason }));
    const counts: Record<TaskState, number> = { fresh: 0, missing: 0, stale: 0, blocked: 0 };
    for (const task of tasks) counts[task.state]++;

    // Progress and spending so far, and what a build running in another process is doing right now.
    const declared = [...planGraph(roots).ownerOf.keys()];
    const filesPresent = declared.filter((file) => fs.existsSync(path.join(runDir, file))).length;
    const totals = await store.runTotals(run.id);
    const holder = readHolder(path.join(runDir, LOCK_FILE));
    const building = holder !== null && isAlive(holder);
    const running = building ? (await store.listAttempts(run.id)).filter((a) => a.status === 'running').map((a) => a.taskId) : [];
    const now = Date.now();
    const activity = {
      building,
      running,
      progress: { filesPresent, filesDeclared: declared.length },
      calls: totals.calls,
      inputTokens: totals.inputTokens,
      outputTokens: totals.outputTokens,
      costUsd: totals.costUsd,
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
        tasks,
      };
      process.stdout.write(`${JSON.stringify(payload, null, 2)}\n`);
      return ExitCode.ok;
    }
    const style = styleFor(process.stdout);
    const paint = { fresh: style.green, missing: style.yellow, stale: style.yellow, blocked: style.red };
    process.stdout.write(`run ${run.id}  ${run.status}${run.statusReason ? ` (${run.statusReason})` : ''}\n`);
    process.stdout.write(style.dim(`dir ${runDir}\ndb  ${location}\n`));
    const ago = activity.lastActivitySecondsAgo === null ? 'never' : `${activity.lastActivitySecondsAgo} s ago`;
    process.stdout.write(
      `files ${filesPresent}/${declared.length} · ${activity.calls} calls · ${activity.inputTokens.toLocaleString('en-US')} in / ` +
        `${activity.outputTokens.toLocaleString('en-US')} out tokens · $${activity.costUsd.toFixed(4)} · ${formatDuration(activity.elapsedMs)} · last activity ${ago}\n`,
    );
    if (building)
      process.stdout.write(`building (pid ${holder!.pid} on ${holder!.host}): ${running.length > 0 ? running.join(', ') : 'between tasks'}\n`);
    const width = Math.max(...tasks.map((t) => t.id.length));
    for (const task of tasks) {
      process.stdout.write(`${paint[task.state](task.state.padEnd(8))} ${task.id.padEnd(width)}  ${style.dim(task.reason)}\n`);
    }
    process.stdout.write(
      `${counts.fresh} of ${tasks.length} tasks fresh, ${counts.missing} missing, ${counts.stale} stale, ${counts.blocked} blocked\n`,
    );
    return ExitCode.ok;
  } finally {
    await store.close();
  }
}
