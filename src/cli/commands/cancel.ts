import { defineCommand } from '../args.js';
import { liveBuildOf } from '../run-facts.js';
import { ExitCode } from '../exit-codes.js';
import { openRunById, openRunDir } from '../run-lookup.js';
import { workersBuilding } from '../worker-runs.js';
import { UsageError } from '../../engine/errors.js';
import type { RunRecord, Store } from '../../store/store.js';
import type { WorkerTasks } from '../../store/postgres/worker-tasks.js';
import { formatDuration } from '../output.js';
import { DB_OPTION } from '../run-resolution.js';

interface CancelArgs {
  runDir?: string;
  run?: string;
  db?: string;
  wait: number;
  json: boolean;
}

export const cancelCommand = defineCommand({
  usage: 'cancel [run-dir]',
  describe: 'ask the build running on a run (in another process, on any machine sharing the database) to stop',
  options: {
    db: DB_OPTION,
    run: { type: 'string', describe: 'the run by id instead of its dir (a run handed to workers has none)' },
    wait: { type: 'number', default: 30, describe: 'seconds to wait for the build to stop (0: do not wait)' },
    json: { type: 'boolean', default: false },
  },
  run: runCancel,
});

type Outcome = 'not-running' | 'requested' | 'stopped' | 'still-running';

async function runCancel(args: CancelArgs): Promise<number> {
  const { store, run, runDir } = await openRun(args);
  const started = Date.now();
  let outcome: Outcome;
  try {
    const workers = run.status === 'running' ? await workersBuilding(store, run.id) : null;
    if (workers !== null) return await cancelOnWorkers(store, run, workers, args);
    // A run left 'running' by a build that was killed has no live build: there is nothing to stop. A build on
    // another machine sharing the database holds a live lease: it polls the same cancel mark.
    const holder = run.status === 'running' ? await liveBuildOf(store, run, runDir) : null;
    if (holder === null) {
      outcome = 'not-running';
    } else {
      await store.updateRun(run.id, { cancelRequested: true });
      outcome = args.wait > 0 ? await waitForStop(async () => (await store.getRun(run.id))?.status, args.wait * 1_000) : 'requested';
    }
    const report = { runId: run.id, outcome, holder, waitedMs: Date.now() - started };
    if (args.json) {
      process.stdout.write(`${JSON.stringify(report)}\n`);
    } else {
      const by = holder ? ` (pid ${holder.pid} on ${holder.host})` : '';
      const lines: Record<Outcome, string> = {
        'not-running': `no build of run ${run.id} is running (last status ${run.status}); nothing to cancel`,
        requested: `asked the build of run ${run.id}${by} to stop`,
        stopped: `the build of run ${run.id}${by} stopped after ${formatDuration(report.waitedMs)}; resume it with plan build ${args.runDir ?? `<dir> --run ${run.id}`}`,
        'still-running': `asked the build of run ${run.id}${by} to stop, but it is still running after ${args.wait}s`,
      };
      process.stdout.write(`${lines[outcome]}\n`);
    }
    return outcome === 'still-running' ? ExitCode.taskFailed : ExitCode.ok;
  } finally {
    await store.close();
  }
}

async function openRun(args: CancelArgs): Promise<{ store: Store; run: RunRecord; runDir: string }> {
  if (args.run === undefined) {
    if (args.runDir === undefined) throw new UsageError('give the run dir, or the run by id with --run <id>');
    return openRunDir(args.runDir, args.db);
  }
  if (args.runDir !== undefined) throw new UsageError('give the run dir or --run <id>, not both');
  return openRunById(args.run, args.db);
}

/**
 * A run the workers build: the cancel mark stops each running task at its worker's next heartbeat and keeps
 * every other task from starting; with none running, the run ends now.
 */
async function cancelOnWorkers(
  store: Store,
  run: RunRecord,
  workers: { running: number; workerTasks: WorkerTasks },
  args: CancelArgs,
): Promise<number> {
  const started = Date.now();
  await store.updateRun(run.id, { cancelRequested: true });
  if (workers.running === 0) await workers.workerTasks.cancelIdle(run.id);
  const outcome: Outcome = args.wait > 0 ? await waitForStop(async () => (await store.getRun(run.id))?.status, args.wait * 1_000) : 'requested';
  const report = { runId: run.id, outcome, holder: { workers: true, runningTasks: workers.running }, waitedMs: Date.now() - started };
  if (args.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else {
    const lines: Record<Outcome, string> = {
      'not-running': '',
      requested: `asked the workers building run ${run.id} (${workers.running} task(s) running) to stop`,
      stopped: `the workers stopped run ${run.id} after ${formatDuration(report.waitedMs)}; hand it over again with plan submit --run ${run.id}`,
      'still-running': `asked the workers building run ${run.id} to stop, but it is still running after ${args.wait}s`,
    };
    process.stdout.write(`${lines[outcome]}\n`);
  }
  return outcome === 'still-running' ? ExitCode.taskFailed : ExitCode.ok;
}

async function waitForStop(status: () => Promise<string | undefined>, timeoutMs: number): Promise<Outcome> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await status()) !== 'running') return 'stopped';
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return 'still-running';
}
