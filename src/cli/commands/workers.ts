import { defineCommand } from '../args.js';
import { ExitCode } from '../exit-codes.js';
import { formatDuration } from '../output.js';
import { renderTable } from '../table.js';
import { workerTasksOf } from '../../workers/job-queue.js';
import { openWorkerStore, WORKER_DB_OPTION, workerDbUrl } from '../worker-runs.js';

interface WorkersArgs {
  db?: string;
  json: boolean;
}

export const workersCommand = defineCommand({
  usage: 'workers',
  describe: 'list the workers of a PostgreSQL store: host, pid, the tasks each runs, its last heartbeat',
  options: { db: WORKER_DB_OPTION, json: { type: 'boolean', default: false } },
  run: runWorkers,
});

async function runWorkers(args: WorkersArgs): Promise<number> {
  const store = await openWorkerStore(workerDbUrl(args.db));
  try {
    const workers = await workerTasksOf(store)!.listWorkers();
    if (args.json) {
      const shown = workers.map(({ queueIds: _ids, now, ...w }) => ({ ...w, alive: w.stoppedAt === null, heartbeatAgoMs: now - w.heartbeatAt }));
      process.stdout.write(`${JSON.stringify(shown)}\n`);
      return ExitCode.ok;
    }
    if (workers.length === 0) {
      process.stdout.write(`no workers on ${store.location}\n`);
      return ExitCode.ok;
    }
    const rows = workers.map((w) => [
      w.name,
      w.host,
      String(w.pid),
      w.stoppedAt === null ? 'alive' : `stopped (${w.stopReason ?? ''})`,
      `${formatDuration(Math.max(0, w.now - w.heartbeatAt))} ago`,
      `${w.running.length}/${w.concurrency}`,
      w.running.map((t) => `${t.runId} ${t.taskId}`).join(', ') || '-',
    ]);
    process.stdout.write(
      renderTable(
        [
          { header: 'WORKER' },
          { header: 'HOST' },
          { header: 'PID', align: 'right' },
          { header: 'STATE' },
          { header: 'HEARTBEAT' },
          { header: 'TASKS', align: 'right' },
          { header: 'RUNNING' },
        ],
        rows,
      ),
    );
    return ExitCode.ok;
  } finally {
    await store.close();
  }
}
