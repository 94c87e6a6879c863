import fs from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import { build, checkBuildable } from '../../engine/build.js';
import { EventBus } from '../../engine/events.js';
import { UsageError, errorMessage } from '../../engine/errors.js';
import { StoreError } from '../../store/store-error.js';
import { ExitCode } from '../exit-codes.js';
import { createProgressView, progressModeFor, summaryLine } from '../progress.js';
import { abortOnSignals } from '../signals.js';
import { stopOnCancelRequest } from '../cancel-watch.js';
import { describeEstimate, estimateModelCalls } from '../estimate.js';
import { summarizeRun, writeSummary } from '../run-summary.js';
import { loadPipeline, pipelineSpecToStore, PLAN_PIPELINE } from '../pipelines.js';
import { checkRunDirPath, checkRunDirWritable, DB_OPTION, findRun, markRunDir, openStoreFor } from '../run-resolution.js';
import { resolveLlmSettings, type LlmSettings } from '../llm-settings.js';
import { CostBudget, createLlmServices } from '../../llm/index.js';
import type { Durability } from '../../store/sqlite/sqlite-store.js';
import type { RunRecord, Store } from '../../store/store.js';

interface BuildArgs {
  runDir: string;
  db?: string;
  jobs: number;
  keepGoing: boolean;
  dryRun: boolean;
  force: string[];
  restore: boolean;
  json: boolean;
  pipeline?: string;
  prompt?: string;
  promptFile?: string;
  param: string[];
  durability: Durability;
  model?: string[];
  speed?: string;
  maxCost?: number;
  llmConcurrency?: number;
  config?: string;
  from: string[];
  until: string[];
  summarize?: string;
}

export function buildCommand(yargs: Argv): Argv {
  return yargs.command(
    'build <run-dir>',
    'build a run: run the tasks whose outputs are missing or stale, resume an interrupted build',
    (y) =>
      y
        .positional('run-dir', { type: 'string', demandOption: true, describe: 'the run directory' })
        .option('db', DB_OPTION)
        .option('jobs', { alias: ['j', 'concurrency'], type: 'number', default: 8, describe: 'tasks running at once' })
        .option('keep-going', { type: 'boolean', default: false, describe: 'after a failure, keep building what does not depend on it' })
        .option('dry-run', { type: 'boolean', default: false, describe: "print each task's state and reason; run nothing" })
        .option('force', { type: 'string', array: true, default: [], describe: 'rebuild these tasks (ids or class names) and their dependents' })
        .option('restore', { type: 'boolean', default: false, describe: 'write missing outputs back from the database instead of regenerating them' })
        .option('json', { type: 'boolean', default: false, describe: 'print build events as JSON lines' })
        .option('pipeline', { type: 'string', describe: `pipeline module for a new run (default: the built-in '${PLAN_PIPELINE}' pipeline)` })
        .option('prompt', { type: 'string', describe: 'the prompt of a new run' })
        .option('prompt-file', { type: 'string', describe: 'read the prompt of a new run from a file' })
        .option('param', { type: 'string', array: true, default: [], describe: 'a run parameter key=value (repeatable)' })
        .option('durability', {
          choices: ['process', 'full'] as const,
          default: 'process' as const,
          describe: 'process: commits survive kill -9; full: also power loss',
        })
        .option('model', {
          type: 'string',
          array: true,
          describe: 'model spec, repeatable for fallback order: offline (default), openai:M, openrouter:M, ollama:M, openai-compatible:M@URL',
        })
        .option('speed', { type: 'string', describe: 'fast (capped items and turns, for drafts) or full (default for new runs)' })
        .option('max-cost', { type: 'number', describe: 'stop starting model calls once this many USD would be spent (run ends stopped: budget)' })
        .option('llm-concurrency', { type: 'number', describe: 'model calls at once per provider (default 4)' })
        .option('config', { type: 'string', describe: `config file (default ./${'plan.config.json'} when present)` })
        .option('from', { type: 'string', array: true, default: [], describe: 'rebuild this task and everything downstream of it' })
        .option('until', { type: 'string', array: true, default: [], describe: 'build only what this task needs (it and its dependencies)' })
        .option('summarize', {
          type: 'string',
          describe: 'write a JSON summary of the run (tasks, states, timings, calls, tokens, cost) to this file',
        }),
    async (argv) => {
      process.exitCode = await runBuild(argv as unknown as BuildArgs);
    },
  );
}

async function runBuild(args: BuildArgs): Promise<number> {
  if (!Number.isInteger(args.jobs) || args.jobs < 1) throw new UsageError(`-j must be a whole number ≥ 1 (got ${args.jobs})`);
  // --from is --force of one task: it and everything downstream are rebuilt.
  args.force = [...args.force, ...args.from];
  if (args.summarize !== undefined && path.resolve(args.summarize).startsWith(path.resolve(args.runDir) + path.sep)) {
    throw new UsageError('--summarize must write outside the run dir: every file in a run dir is a task output');
  }
  const runDir = checkRunDirPath(args.runDir);
  const llm = resolveLlmSettings(args);
  const newParams = readParams(args, llm);
  if (!args.dryRun) checkRunDirWritable(args.runDir, runDir);
  const { store, location } = await openStoreFor(runDir, args.db, args.durability);
  try {
    const run = await openOrCreateRun(store, runDir, args, newParams);
    const budget = new CostBudget(llm.maxCostUsd, args.dryRun || run.id === NEW_RUN ? 0 : await spentSoFar(store, run.id));
    const pipeline = await loadPipeline(run.pipeline);
    const roots = rootsOf(pipeline.roots.bind(pipeline), run.params);

    const events = new EventBus();
    const mode = progressModeFor(args.json, process.stderr);
    events.on(createProgressView(mode, process.stdout, process.stderr));
    const controller = new AbortController();
    const removeSignals = abortOnSignals(controller);
    // A cancel request made before this moment was for an earlier build; one made from now on is for this one.
    const startedAt = Date.now();
    const stopPolling = args.dryRun ? () => undefined : stopOnCancelRequest(store, run.id, controller, { since: startedAt });
    try {
      if (!args.dryRun) markRunDir(runDir, run);
      const result = await build({
        roots,
        runDir,
        runId: run.id,
        store,
        concurrency: args.jobs,
        keepGoing: args.keepGoing,
        dryRun: args.dryRun,
        force: args.force,
        until: args.until,
        restore: args.restore,
        durability: args.durability,
        startedAt,
        signal: controller.signal,
        events,
        services: createLlmServices(llmOptions(llm, budget)),
      });
      if (budget.exhausted && !args.dryRun) {
        await store.updateRun(run.id, { status: 'stopped', statusReason: 'budget' });
        process.stderr.write(
          `plan: stopped: budget of $${llm.maxCostUsd} reached ($${budget.spentUsd.toFixed(4)} spent); resume with a higher --max-cost\n`,
        );
      }
      if (args.dryRun) {
        const toRun = [...result.decisions].filter(([, d]) => d.state !== 'fresh').map(([id]) => id);
        const estimate = await estimateModelCalls(store, pipeline, run, toRun, llm.models[0]!, llm.prices);
        if (args.json) process.stdout.write(`${JSON.stringify({ type: 'estimate', ...estimate })}\n`);
        else {
          for (const [taskId, decision] of result.decisions) process.stdout.write(`${decision.state.padEnd(8)} ${taskId}  ${decision.reason}\n`);
          process.stdout.write(`${describeEstimate(estimate)}\n`);
        }
      }
      if (args.summarize !== undefined && !args.dryRun) writeSummary(args.summarize, await summarizeRun(store, run.id, runDir, result));
      if (!args.json) process.stderr.write(`${summaryLine(result.status, result.summary, args.dryRun)}\n`);
      return result.status === 'success' ? ExitCode.ok : result.status === 'cancelled' ? ExitCode.interrupted : ExitCode.taskFailed;
    } finally {
      removeSignals();
      stopPolling();
    }
  } catch (error) {
    // A damaged page the open could not see, found when the build read it: say which database, not only SQLite's words.
    if (isCorruption(error)) {
      throw new StoreError(
        `database ${location} is corrupt (${errorMessage(error)}): restore it from a backup, or point --db elsewhere`,
        'SQLITE_CORRUPT',
      );
    }
    throw error;
  } finally {
    await store.close();
  }
}

function isCorruption(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return !(error instanceof StoreError) && typeof code === 'string' && /^SQLITE_(CORRUPT|NOTADB)/.test(code);
}

/** The run this dir belongs to, or a new one when the dir is not a run yet and parameters say what to build. */
async function openOrCreateRun(store: Store, runDir: string, args: BuildArgs, newParams: Record<string, unknown>): Promise<RunRecord> {
  const existing = await findRun(store, runDir);
  const pipelineSpec = args.pipeline === undefined ? undefined : pipelineSpecToStore(args.pipeline);
  if (existing === null) {
    const pipeline = pipelineSpec ?? PLAN_PIPELINE;
    if (pipeline === PLAN_PIPELINE && typeof newParams.prompt !== 'string') {
      throw new UsageError(`${args.runDir} is not a run yet: give --prompt "…" or --prompt-file F to start one`);
    }
    const params = { startTime: new Date().toISOString(), ...(pipeline === PLAN_PIPELINE ? { speed: 'full' } : {}), ...newParams };
    // Validate before anything is stored: a bad parameter, a graph problem or an unknown --force name must not
    // leave a half-made run behind.
    checkBuildable(rootsOf((await loadPipeline(pipeline)).roots, params), args.force, args.until);
    if (args.dryRun)
      return {
        id: NEW_RUN,
        runDir,
        pipeline,
        params,
        status: 'created',
        statusReason: null,
        cancelRequestedAt: null,
        createdAt: Date.now(),
        updatedAt: Date.now(),
      };
    return store.createRun({ runDir, pipeline, params });
  }
  if (pipelineSpec !== undefined && pipelineSpec !== existing.pipeline) {
    throw new UsageError(`run ${existing.id} was built with pipeline ${existing.pipeline}, not ${pipelineSpec}`);
  }
  const changed = Object.keys(newParams).filter((key) => JSON.stringify(existing.params[key]) !== JSON.stringify(newParams[key]));
  if (changed.length === 0) return existing;
  // A new prompt makes a different plan: say so rather than silently rebuilding everything. Other parameters
  // (e.g. --speed) are part of the tasks' stamps: changing them simply makes those tasks stale.
  if (changed.includes('prompt') && args.force.length === 0) {
    throw new UsageError(`run ${existing.id} was created with a different prompt; to rebuild it with this one add --force SetupTask`);
  }
  const params = { ...existing.params, ...newParams };
  checkBuildable(rootsOf((await loadPipeline(existing.pipeline)).roots, params), args.force, args.until);
  if (!args.dryRun) await store.updateRun(existing.id, { params });
  return { ...existing, params };
}

function rootsOf<T>(roots: (params: Readonly<Record<string, unknown>>) => T, params: Readonly<Record<string, unknown>>): T {
  try {
    return roots(params);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`invalid run parameters: ${error instanceof Error ? error.message : String(error)}`);
  }
}

const NEW_RUN = '(new run)';

/**
 * A prompt describes a project; it is sent with nearly every model call, next to the plan built so far. 64 KiB
 * (~16k tokens) is far above any real description and still leaves room in a 128k-token context.
 */
export const MAX_PROMPT_BYTES = 64 * 1024;

function formatKiB(bytes: number): string {
  return `${Math.ceil(bytes / 1024)} KiB`;
}

/** What this run already paid for, so `--max-cost` covers the whole run, not only this build. */
async function spentSoFar(store: Store, runId: string): Promise<number> {
  return (await store.runTotals(runId)).costUsd;
}

function llmOptions(llm: LlmSettings, budget: CostBudget) {
  return {
    models: llm.models,
    concurrency: llm.llmConcurrency,
    rpm: llm.requestsPerMinute,
    tpm: llm.tokensPerMinute,
    budget,
    prices: llm.prices,
    timeoutMs: llm.timeoutMs,
  };
}

function readParams(args: BuildArgs, llm: LlmSettings): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  if (llm.speed !== undefined) params.speed = llm.speed;
  for (const pair of args.param) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`--param takes key=value (got '${pair}')`);
    params[pair.slice(0, at)] = pair.slice(at + 1);
  }
  if (args.prompt !== undefined && args.promptFile !== undefined) throw new UsageError('give --prompt or --prompt-file, not both');
  let prompt = args.prompt;
  if (args.promptFile !== undefined) {
    try {
      prompt = fs.readFileSync(args.promptFile, 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read --prompt-file ${args.promptFile}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
  }
  if (prompt !== undefined) {
    if (prompt.trim() === '') throw new UsageError('the prompt is empty');
    const bytes = Buffer.byteLength(prompt, 'utf8');
    if (bytes > MAX_PROMPT_BYTES) {
      throw new UsageError(
        `the prompt is ${formatKiB(bytes)}, over the limit of ${formatKiB(MAX_PROMPT_BYTES)}: it goes into every model call; describe the project and leave documents out`,
      );
    }
    params.prompt = prompt;
  }
  return params;
}
