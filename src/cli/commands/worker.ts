import os from 'node:os';
import path from 'node:path';
import { defineCommand } from '../args.js';
import { ExitCode } from '../exit-codes.js';
import { numberOption } from '../number-option.js';
import { resolveLlmSettings } from '../llm-settings.js';
import { pipelineParams, settingsOf } from '../run-settings.js';
import { abortOnSignals } from '../signals.js';
import { CostBudget } from '../../llm/index.js';
import { UsageError } from '../../engine/errors.js';
import { runWorker } from '../../workers/worker.js';
import { loadWorkerPipeline, openWorkerStore, PIPELINE_ROOT_OPTION, pipelineRoot, WORKER_DB_OPTION, workerDbUrl } from '../worker-runs.js';
import { planServices, rootsOf, spentSoFar, WHOLE_NUMBER } from './build.js';
import type { Task } from '../../engine/task.js';
import { DatabaseLimits } from '../../workers/shared-limits.js';
import { LimiterPool } from '../../llm/limiter.js';
import { workerTasksOf } from '../../workers/job-queue.js';

/** A call holds its provider slot at most this long (a dead worker's slot frees itself): the per-try timeout and a margin. */
const SLOT_TTL_MS = 10 * 60_000;

interface WorkerArgs {
  db?: string;
  concurrency: string;
  llmConcurrency?: string;
  name?: string;
  scratch?: string;
  pipelineRoot?: string;
}

export const workerCommand = defineCommand({
  usage: 'worker',
  describe: 'take ready tasks of any run handed to workers (plan submit, plan build --workers) and build them; runs until stopped',
  options: {
    db: WORKER_DB_OPTION,
    concurrency: { alias: ['j'], type: 'string', default: '4', describe: 'tasks this worker runs at once' },
    'llm-concurrency': {
      type: 'string',
      describe: "model calls at once per provider on this worker, over all its runs (default: each run's own, per run)",
    },
    name: { type: 'string', describe: 'a name for this worker in plan workers (default: the host name)' },
    scratch: { type: 'string', describe: "folder for the tasks' scratch folders (default: the system's temp folder)" },
    'pipeline-root': PIPELINE_ROOT_OPTION,
  },
  run: runWorkerCommand,
});

async function runWorkerCommand(args: WorkerArgs): Promise<number> {
  const url = workerDbUrl(args.db);
  const concurrency = numberOption('-j', args.concurrency, WHOLE_NUMBER)!;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`-j must be ${WHOLE_NUMBER} (got ${concurrency})`);
  const llmConcurrency = numberOption('--llm-concurrency', args.llmConcurrency, WHOLE_NUMBER);
  if (llmConcurrency !== undefined && (!Number.isInteger(llmConcurrency) || llmConcurrency < 1)) {
    throw new UsageError(`--llm-concurrency must be ${WHOLE_NUMBER} (got ${llmConcurrency})`);
  }
  const root = pipelineRoot(args.pipelineRoot);
  const name = args.name ?? os.hostname();
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) throw new UsageError(`--name takes letters, digits, '.', '_' and '-' (got '${name}')`);
  const scratchRoot = path.resolve(args.scratch ?? path.join(os.tmpdir(), `plan-worker-${name}`));
  const store = await openWorkerStore(url);
  // The run's --max-cost and --llm-concurrency, and this worker's config's requests and tokens per minute, hold
  // across all workers (in the database); --llm-concurrency of this worker caps its own calls on top.
  const holder = `${name}-${process.pid}-${Date.now().toString(36)}`;
  const limits = new DatabaseLimits(workerTasksOf(store)!, holder, SLOT_TTL_MS);
  // --llm-concurrency of this worker: one limiter per provider for all the runs it works on.
  const ownLimiters = llmConcurrency === undefined ? undefined : new LimiterPool({ concurrency: llmConcurrency });
  const controller = new AbortController();
  let signal: string | null = null;
  const removeSignals = abortOnSignals(controller);
  process.once('SIGINT', () => (signal ??= 'SIGINT'));
  process.once('SIGTERM', () => (signal ??= 'SIGTERM'));
  const log = (line: string): void => void process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  try {
    const report = await runWorker({
      url,
      store,
      name,
      concurrency,
      scratchRoot,
      signal: controller.signal,
      log,
      loadRun: async (run) => {
        const pipeline = await loadWorkerPipeline(run.pipeline, root);
        const roots = rootsOf(pipeline.roots.bind(pipeline), pipelineParams(run.params)) as readonly Task<object>[];
        // The run's own settings (models, prices, limits), with this worker's --llm-concurrency when given.
        const kept = settingsOf(run.params);
        const own = resolveLlmSettings({}, process.cwd(), kept);
        const llm = llmConcurrency === undefined ? own : resolveLlmSettings({ llmConcurrency }, process.cwd(), kept);
        limits.setLimits(run.id, {
          maxCostUsd: own.maxCostUsd,
          concurrency: own.llmConcurrency,
          requestsPerMinute: own.requestsPerMinute,
          tokensPerMinute: own.tokensPerMinute,
        });
        const budget = new CostBudget(llm.maxCostUsd, await spentSoFar(store, run.id));
        return { roots, services: planServices(llm, budget, false, { shared: limits, limiters: ownLimiters }) };
      },
    });
    log(`worker ${report.id} stopped: ${report.ran} ran, ${report.fresh} fresh, ${report.failed} failed, ${report.released} given back`);
    return signal === 'SIGINT' ? ExitCode.interrupted : ExitCode.ok;
  } finally {
    removeSignals();
    await store.close();
  }
}
