import { checkBuildable } from '../../engine/build.js';
import { UsageError } from '../../engine/errors.js';
import { defineCommand } from '../args.js';
import { ExitCode } from '../exit-codes.js';
import { resolveLlmSettings } from '../llm-settings.js';
import { pipelineParams, SETTINGS_KEY, settingsOf } from '../run-settings.js';
import { requireRunById } from '../run-lookup.js';
import { PLAN_PIPELINE } from '../pipelines.js';
import {
  handOverRun,
  loadWorkerPipeline,
  openWorkerStore,
  PIPELINE_ROOT_OPTION,
  pipelineRoot,
  WORKER_DB_OPTION,
  workerDbUrl,
  workerPipelineSpec,
} from '../worker-runs.js';
import { llmFlagsOf, newRunParams, readParams, rootsOf } from './build.js';
import type { Task } from '../../engine/task.js';

interface SubmitArgs {
  db?: string;
  run?: string;
  pipeline?: string;
  pipelineRoot?: string;
  prompt?: string;
  promptFile?: string;
  param: string[];
  model?: string[];
  speed?: string;
  conversations?: string;
  maxCost?: string;
  price?: string;
  llmConcurrency?: string;
  config?: string;
  keepGoing: boolean;
  force: string[];
  json: boolean;
}

export const submitCommand = defineCommand({
  usage: 'submit',
  describe: 'start a run on the workers (plan worker) sharing a PostgreSQL store, with no run dir here; prints its id',
  options: {
    db: WORKER_DB_OPTION,
    run: { type: 'string', describe: 'hand an existing run (by id) to the workers again: what is built stays, the rest is built' },
    pipeline: {
      type: 'string',
      describe: `pipeline: a module's path relative to the workers' --pipeline-root, or npm:<package> installed there (default: the built-in '${PLAN_PIPELINE}')`,
    },
    'pipeline-root': PIPELINE_ROOT_OPTION,
    prompt: { type: 'string', describe: 'the prompt of the new run' },
    'prompt-file': { type: 'string', describe: 'read the prompt from a file' },
    param: { type: 'string', array: true, default: [], describe: 'a run parameter key=value (repeatable)' },
    model: { type: 'string', array: true, describe: 'model spec, repeatable for fallback order (as for plan build)' },
    speed: { type: 'string', describe: 'fast or full (default)' },
    conversations: { type: 'string', choices: ['sequential', 'parallel'], describe: "the review tail's questions (default parallel)" },
    'max-cost': { type: 'string', describe: 'stop starting model calls once this many USD would be spent' },
    price: { type: 'string', describe: 'IN,OUT: USD per million input and output tokens, for models without a known price' },
    'llm-concurrency': { type: 'string', describe: 'model calls at once per provider, on each worker (default 8, 4 with ollama)' },
    config: { type: 'string', describe: 'config file (default ./plan.config.json when present)' },
    'keep-going': { type: 'boolean', default: false, describe: 'after a failure, keep building what does not depend on it' },
    force: { type: 'string', array: true, default: [], describe: 'rebuild these tasks (ids or class names) and their dependents' },
    json: { type: 'boolean', default: false, describe: 'print {runId, tasks, ready} as JSON' },
  },
  run: runSubmit,
});

async function runSubmit(args: SubmitArgs): Promise<number> {
  const url = workerDbUrl(args.db);
  const flags = llmFlagsOf(args);
  const given = resolveLlmSettings(flags);
  const newParams = readParams(args, given);
  const root = pipelineRoot(args.pipelineRoot);
  const store = await openWorkerStore(url);
  try {
    let runId: string;
    let roots: readonly Task<object>[];
    if (args.run !== undefined) {
      const run = await requireRunById(store, args.run);
      if (Object.keys(newParams).length > 0 || args.pipeline !== undefined) {
        throw new UsageError(`--run hands run ${run.id} over as it is: leave out --prompt, --param and --pipeline`);
      }
      const kept = settingsOf(run.params);
      const llm = resolveLlmSettings(flags, process.cwd(), kept);
      if (JSON.stringify(kept) !== JSON.stringify(llm.settings)) {
        await store.updateRun(run.id, { params: { ...run.params, [SETTINGS_KEY]: llm.settings } });
      }
      const pipeline = await loadWorkerPipeline(run.pipeline, root);
      roots = rootsOf(pipeline.roots.bind(pipeline), pipelineParams(run.params));
      runId = run.id;
    } else {
      const spec = workerPipelineSpec(args.pipeline);
      if (spec === PLAN_PIPELINE && typeof newParams.prompt !== 'string') throw new UsageError('give --prompt "…" or --prompt-file F');
      const params = newRunParams(spec, newParams);
      const pipeline = await loadWorkerPipeline(spec, root);
      roots = rootsOf(pipeline.roots.bind(pipeline), params);
      // Checked before anything is stored: a graph problem or an unknown --force name leaves no run behind.
      checkBuildable(roots, args.force);
      const run = await store.createRun({ runDir: '', pipeline: spec, params: { ...params, [SETTINGS_KEY]: given.settings } });
      runId = run.id;
    }
    const handed = await handOverRun(url, store, runId, roots, { keepGoing: args.keepGoing, force: args.force });
    if (args.json) process.stdout.write(`${JSON.stringify({ runId, tasks: handed.tasks, ready: handed.ready })}\n`);
    else {
      process.stdout.write(`${runId}\n`);
      process.stderr.write(`run ${runId}: ${handed.tasks} tasks handed to the workers of ${store.location} (${handed.ready} ready now)\n`);
    }
    return ExitCode.ok;
  } finally {
    await store.close();
  }
}
