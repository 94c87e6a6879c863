import type { Argv } from 'yargs';
import { build } from '../../engine/build.js';
import { ExitCode } from '../exit-codes.js';
import { loadPipeline } from '../pipelines.js';
import { checkRunDirPath, openStoreFor, requireRun } from '../run-resolution.js';
import { styleFor } from '../output.js';
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
      y
        .positional('run-dir', { type: 'string', demandOption: true })
        .option('db', { type: 'string', describe: 'database file (default: plan.db beside the run dir; env PLAN_DB)' })
        .option('json', { type: 'boolean', default: false }),
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
    const result = await build({ roots: pipeline.roots(run.params), runDir, runId: run.id, store, dryRun: true });
    const tasks = [...result.decisions].map(([id, d]) => ({ id, state: d.state, reason: d.reason }));
    const counts: Record<TaskState, number> = { fresh: 0, missing: 0, stale: 0, blocked: 0 };
    for (const task of tasks) counts[task.state]++;

    if (args.json) {
      const payload = { runId: run.id, runDir, db: location, pipeline: run.pipeline, status: run.status, statusReason: run.statusReason, counts, tasks };
      process.stdout.write(`${JSON.stringify(payload, null, 2)}\n`);
      return ExitCode.ok;
    }
    const style = styleFor(process.stdout);
    const paint = { fresh: style.green, missing: style.yellow, stale: style.yellow, blocked: style.red };
    process.stdout.write(`run ${run.id}  ${run.status}${run.statusReason ? ` (${run.statusReason})` : ''}\n`);
    process.stdout.write(style.dim(`dir ${runDir}\ndb  ${location}\n`));
    const width = Math.max(...tasks.map((t) => t.id.length));
    for (const task of tasks) {
      process.stdout.write(`${paint[task.state](task.state.padEnd(8))} ${task.id.padEnd(width)}  ${style.dim(task.reason)}\n`);
    }
    process.stdout.write(`${counts.fresh} of ${tasks.length} tasks fresh, ${counts.missing} missing, ${counts.stale} stale, ${counts.blocked} blocked\n`);
    return ExitCode.ok;
  } finally {
    await store.close();
  }
}
