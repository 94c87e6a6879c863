import { defineCommand } from '../args.js';
import { liveBuildOf } from '../run-facts.js';
import { ExitCode } from '../exit-codes.js';
import { openRunDir } from '../run-lookup.js';
import { formatDuration } from '../output.js';
import { DB_OPTION } from '../run-resolution.js';

interface CancelArgs {
  runDir: string;
  db?: string;
  wait: number;
  json: boolean;
}

export const cancelCommand = defineCommand({
  usage: 'cancel <run-dir>',
  describe: 'ask the build running on a run (in another process, on any machine sharing the database) to stop',
  options: {
    db: DB_OPTION,
    wait: { type: 'number', default: 30, describe: 'seconds to wait for the build to stop (0: do not wait)' },
    json: { type: 'boolean', default: false },
  },
  run: runCancel,
});

type Outcome = 'not-running' | 'requested' | 'stopped' | 'still-running';

async function runCancel(args: CancelArgs): Promise<number> {
  const { store, run, runDir } = await openRunDir(args.runDir, args.db);
  const started = Date.now();
  let outcome: Outcome;
  try {
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
        stopped: `the build of run ${run.id}${by} stopped after ${formatDuration(report.waitedMs)}; resume it with plan build ${args.runDir}`,
        'still-running': `asked the build of run ${run.id}${by} to stop, but it is still running after ${args.wait}s`,
      };
      process.stdout.write(`${lines[outcome]}\n`);
    }
    return outcome === 'still-running' ? ExitCode.taskFailed : ExitCode.ok;
  } finally {
    await store.close();
  }
}

async function waitForStop(status: () => Promise<string | undefined>, timeoutMs: number): Promise<Outcome> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await status()) !== 'running') return 'stopped';
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return 'still-running';
}
