import fs from 'node:fs';
import path from 'node:path';
import { build, checkBuildable } from '../../engine/build.js';
import { EventBus } from '../../engine/events.js';
import { UsageError, errorMessage } from '../../engine/errors.js';
import { StoreError } from '../../store/store-error.js';
import { defineCommand } from '../args.js';
import { ExitCode } from '../exit-codes.js';
import { createProgressView, progressModeFor, summaryLine } from '../progress.js';
import { abortOnSignals } from '../signals.js';
import { stopOnCancelRequest } from '../cancel-watch.js';
import { describeEstimate, describeWouldRun, estimateModelCalls } from '../estimate.js';
import { numberOption } from '../number-option.js';
import { resumeReport } from '../resume-report.js';
import { conversationsChange, pipelineParams, SETTINGS_KEY, sameModels, settingsOf, type RunSettings } from '../run-settings.js';
import { summarizeRun, writeSummary } from '../run-summary.js';
import { loadPipeline, pipelineSpecToStore, PLAN_PIPELINE } from '../pipelines.js';
import { checkRunDirPath, checkRunDirWritable, DB_OPTION, findRun, markRunDir, openStoreFor } from '../run-resolution.js';
import { resolveLlmSettings, type LlmSettings } from '../llm-settings.js';
import { requireRunById } from '../run-lookup.js';
import { readRunMarker } from '../../engine/run-dir.js';
import { CostBudget, createLlmServices, type SharedLimits } from '../../llm/index.js';
import type { LimiterPool } from '../../llm/limiter.js';
import type { Durability } from '../../store/sqlite/sqlite-store.js';
import type { RunRecord, Store } from '../../store/store.js';
import type { AttemptScope } from '../../engine/context.js';
import type { Pipeline } from '../../engine/pipeline.js';
import type { Task } from '../../engine/task.js';
import type { PostgresStore } from '../../store/postgres/postgres-store.js';
import { buildOnWorkers } from '../follow-workers.js';
import { workersBuilding } from '../worker-runs.js';

/** What a new run's parameters are read from (build's and submit's options). */
export type ParamArgs = Pick<BuildArgs, 'param' | 'prompt' | 'promptFile' | 'conversations'>;

interface BuildArgs {
  runDir: string;
  db?: string;
  /** Numbers are read as text, so that a bad one is shown as typed (see number-option.ts). */
  jobs: string;
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
  conversations?: string;
  maxCost?: string;
  price?: string;
  llmConcurrency?: string;
  config?: string;
  from: string[];
  until: string[];
  summarize?: string;
  allowRefused: boolean;
  run?: string;
  workers: boolean;
}

export const buildCommand = defineCommand({
  usage: 'build <run-dir>',
  describe: 'build a run: run the tasks whose outputs are missing or stale, resume an interrupted build',
  positionals: { 'run-dir': { describe: 'the run directory' } },
  options: {
    db: DB_OPTION,
    run: {
      type: 'string',
      describe: 'build this run (by id) in <run-dir>: e.g. a new dir after the old one was lost; missing files come back from the database',
    },
    jobs: { alias: ['j', 'concurrency'], type: 'string', default: '8', describe: 'tasks running at once' },
    'keep-going': { type: 'boolean', default: false, describe: 'after a failure, keep building what does not depend on it' },
    'dry-run': { type: 'boolean', default: false, describe: "print each task's state and reason; run nothing" },
    force: { type: 'string', array: true, default: [], describe: 'rebuild these tasks (ids or class names) and their dependents' },
    restore: { type: 'boolean', default: false, describe: 'write missing outputs back from the database instead of regenerating them' },
    json: { type: 'boolean', default: false, describe: 'print build events as JSON lines' },
    pipeline: {
      type: 'string',
      describe: `pipeline of a new run: a module's path, or npm:<package> installed here (default: the built-in '${PLAN_PIPELINE}' pipeline)`,
    },
    prompt: { type: 'string', describe: 'the prompt of a new run' },
    'prompt-file': { type: 'string', describe: 'read the prompt of a new run from a file' },
    param: { type: 'string', array: true, default: [], describe: 'a run parameter key=value (repeatable)' },
    durability: {
      type: 'string',
      choices: ['process', 'full'],
      default: 'process',
      describe: 'process: commits survive kill -9; full: also power loss',
    },
    model: {
      type: 'string',
      array: true,
      describe: 'model spec, repeatable for fallback order: offline (default), openai:M, openrouter:M, ollama:M, openai-compatible:M@URL',
    },
    speed: { type: 'string', describe: 'fast (capped items and turns, for drafts) or full (default for new runs)' },
    conversations: {
      type: 'string',
      choices: ['sequential', 'parallel'],
      describe:
        "the review tail's fixed questions: parallel (default for new runs: each its own call, all at once) or sequential (one growing conversation per task, as runs made before this option)",
    },
    'max-cost': { type: 'string', describe: 'stop starting model calls once this many USD would be spent (run ends stopped: budget)' },
    price: { type: 'string', describe: 'IN,OUT: USD per million input and output tokens, for the models that have no known price' },
    'llm-concurrency': {
      type: 'string',
      describe: "model calls at once per provider (default: the run's; for a new run 8, or 4 with an ollama model)",
    },
    config: { type: 'string', describe: `config file (default ./${'plan.config.json'} when present)` },
    from: { type: 'string', array: true, default: [], describe: 'rebuild this task and everything downstream of it' },
    until: { type: 'string', array: true, default: [], describe: 'build only what this task needs (it and its dependencies)' },
    summarize: { type: 'string', describe: 'write a JSON summary of the run (tasks, states, timings, calls, tokens, cost) to this file' },
    workers: {
      type: 'boolean',
      default: false,
      describe: 'hand the tasks to the workers (plan worker) sharing the PostgreSQL --db, follow them, write the files here',
    },
    'allow-refused': {
      type: 'boolean',
      default: false,
      describe: "go on with a plan the pipeline's safety gate refused (changes no task's stamp)",
    },
  },
  run: runBuild,
});

async function runBuild(args: BuildArgs): Promise<number> {
  const jobs = numberOption('-j', args.jobs, WHOLE_NUMBER)!;
  if (!Number.isInteger(jobs) || jobs < 1) throw new UsageError(`-j must be ${WHOLE_NUMBER} (got ${jobs})`);
  // --from is --force of one task: it and everything downstream are rebuilt.
  args.force = [...args.force, ...args.from];
  if (args.summarize !== undefined && path.resolve(args.summarize).startsWith(path.resolve(args.runDir) + path.sep)) {
    throw new UsageError('--summarize must write outside the run dir: every file in a run dir is a task output');
  }
  const runDir = checkRunDirPath(args.runDir);
  const flags = llmFlagsOf(args);
  // Checked before anything is stored; a run that exists is resolved again below, with its own settings.
  const given = resolveLlmSettings(flags);
  const newParams = readParams(args, given);
  if (!args.dryRun) checkRunDirWritable(args.runDir, runDir);
  const { store, location } = await openStoreFor(runDir, args.db, args.durability);
  try {
    const existing = args.run === undefined ? await findRun(store, runDir) : await attachRun(store, runDir, args);
    const kept = existing === null ? null : settingsOf(existing.params);
    const llm = kept === null ? given : resolveLlmSettings(flags, process.cwd(), kept);
    for (const warning of llm.warnings) process.stderr.write(`plan: warning: ${warning}\n`);
    const run = await openOrCreateRun(store, runDir, existing, args, newParams, llm.settings);
    // Another model may finish a run (the answers already paid for are replayed), but never unannounced.
    if (kept !== null && !sameModels(kept, llm.settings)) {
      process.stderr.write(`run was built with ${kept.models.join(', ')}; continuing with ${llm.settings.models.join(', ')}\n`);
    }
    // So is a change of --conversations: the tasks it changes are rebuilt (and paid for) in the new mode.
    const conversations = existing === null ? null : conversationsChange(existing.params, run.params);
    if (conversations !== null) process.stderr.write(`${conversations}\n`);
    const budget = new CostBudget(llm.maxCostUsd, args.dryRun || run.id === NEW_RUN ? 0 : await spentSoFar(store, run.id));
    const pipeline = await loadPipeline(run.pipeline);
    const roots = rootsOf(pipeline.roots.bind(pipeline), pipelineParams(run.params));
    if (args.workers) return await buildWithWorkers(store, location, runDir, run, roots as readonly Task<object>[], args);
    // Workers building this run (it was handed to them) must not be raced by a local build of it.
    if (run.id !== NEW_RUN && !args.dryRun && (await workersBuilding(store, run.id)) !== null) {
      throw new UsageError(
        `run ${run.id} is being built by workers: follow it with plan build ${args.runDir} --workers, or plan cancel --run ${run.id}`,
      );
    }

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
        concurrency: jobs,
        keepGoing: args.keepGoing,
        dryRun: args.dryRun,
        force: args.force,
        until: args.until,
        restore: args.restore,
        durability: args.durability,
        startedAt,
        signal: controller.signal,
        events,
        services: planServices(llm, budget, args.allowRefused),
      });
      if (budget.exhausted && !args.dryRun) {
        await store.updateRun(run.id, { status: 'stopped', statusReason: 'budget' });
        process.stderr.write(
          `plan: stopped: budget of $${llm.maxCostUsd} reached ($${budget.spentUsd.toFixed(4)} spent); resume with a higher --max-cost\n`,
        );
      }
      if (!args.dryRun) for (const line of await resumeReport(store, run.id, startedAt)) process.stderr.write(`${line}\n`);
      if (args.dryRun) {
        const estimate = await estimateModelCalls(store, pipeline, run, result.decisions, llm.models[0]!, llm.prices);
        if (args.json) process.stdout.write(`${JSON.stringify({ type: 'estimate', ...estimate })}\n`);
        else {
          for (const [taskId, decision] of result.decisions) process.stdout.write(`${decision.state.padEnd(8)} ${taskId}  ${decision.reason}\n`);
          process.stdout.write(`${describeEstimate(estimate)}\n`);
        }
      }
      if (args.summarize !== undefined && !args.dryRun) writeSummary(args.summarize, await summarizeRun(store, run.id, runDir, result));
      if (!args.json)
        process.stderr.write(`${args.dryRun ? describeWouldRun(result.decisions) : summaryLine(result.status, result.summary, false)}\n`);
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

/** `--workers`: the run is built by the workers sharing the PostgreSQL store; this process follows it. */
async function buildWithWorkers(
  store: Store,
  location: string,
  runDir: string,
  run: RunRecord,
  roots: readonly Task<object>[],
  args: BuildArgs,
): Promise<number> {
  if (!('workerTasks' in store))
    throw new UsageError(`--workers needs the PostgreSQL store the workers share: give --db postgres://… (not ${location})`);
  if (args.dryRun) throw new UsageError('--workers builds; leave out --dry-run (plan build --dry-run shows what would run)');
  if (args.until.length > 0 || args.restore) throw new UsageError('--workers builds the whole run: leave out --until and --restore');
  markRunDir(runDir, run);
  const controller = new AbortController();
  const removeSignals = abortOnSignals(controller);
  try {
    return await buildOnWorkers({
      url: location,
      store: store as PostgresStore,
      run,
      runDir,
      roots,
      keepGoing: args.keepGoing,
      force: args.force,
      json: args.json,
      signal: controller.signal,
    });
  } finally {
    removeSignals();
  }
}

/**
 * `--run <id>`: the run named, built in this dir from now on. A dir that holds another run is refused. In a
 * dir the run was not built in (the old one was lost with its machine), every file the database holds is
 * written back instead of regenerated, as with `--restore`.
 */
async function attachRun(store: Store, runDir: string, args: BuildArgs): Promise<RunRecord> {
  const run = await requireRunById(store, args.run!);
  const marker = readRunMarker(runDir);
  if (marker !== null && marker.runId !== run.id) {
    throw new UsageError(`run dir ${args.runDir} belongs to run ${marker.runId}, not ${run.id}: give an empty or new dir`);
  }
  // The run's row learns its new dir from the build itself, once it holds the run's lease.
  if (run.runDir !== runDir) args.restore = true;
  return { ...run, runDir };
}

function isCorruption(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return !(error instanceof StoreError) && typeof code === 'string' && /^SQLITE_(CORRUPT|NOTADB)/.test(code);
}

/**
 * The run this dir belongs to, or a new one when the dir is not a run yet and parameters say what to build.
 * The run keeps `settings` (how it is built) beside its parameters (what it builds): a change of settings
 * is stored, never a reason to rebuild.
 */
async function openOrCreateRun(
  store: Store,
  runDir: string,
  existing: RunRecord | null,
  args: BuildArgs,
  newParams: Record<string, unknown>,
  settings: RunSettings,
): Promise<RunRecord> {
  const pipelineSpec = args.pipeline === undefined ? undefined : pipelineSpecToStore(args.pipeline);
  if (existing === null) {
    const pipeline = pipelineSpec ?? PLAN_PIPELINE;
    if (pipeline === PLAN_PIPELINE && typeof newParams.prompt !== 'string') {
      throw new UsageError(`${args.runDir} is not a run yet: give --prompt "…" or --prompt-file F to start one`);
    }
    const params = newRunParams(pipeline, newParams);
    // Validate before anything is stored: a bad parameter, a graph problem or an unknown --force name must not
    // leave a half-made run behind.
    checkBuildable(rootsOf((await loadPipeline(pipeline)).roots, params), args.force, args.until);
    const record = { runDir, pipeline, params: { ...params, [SETTINGS_KEY]: settings } };
    if (args.dryRun) {
      const now = Date.now();
      return { id: NEW_RUN, ...record, status: 'created', statusReason: null, cancelRequestedAt: null, createdAt: now, updatedAt: now };
    }
    return store.createRun(record);
  }
  if (pipelineSpec !== undefined && pipelineSpec !== existing.pipeline) {
    throw new UsageError(`run ${existing.id} was built with pipeline ${existing.pipeline}, not ${pipelineSpec}`);
  }
  const before = pipelineParams(existing.params);
  const changed = Object.keys(newParams).filter((key) => JSON.stringify(before[key]) !== JSON.stringify(newParams[key]));
  const params = { ...before, ...newParams };
  const pipeline = await loadPipeline(existing.pipeline);
  if (changed.length > 0) {
    // A new prompt makes a different plan: say so rather than silently rebuilding everything. Other parameters
    // (e.g. --speed, --conversations) are part of the tasks' stamps: changing them simply makes those tasks stale.
    if (changed.includes('prompt') && args.force.length === 0) {
      throw new UsageError(`run ${existing.id} was created with a different prompt; ${promptChangeHint(existing.pipeline, pipeline, params)}`);
    }
    checkBuildable(rootsOf(pipeline.roots.bind(pipeline), params), args.force, args.until);
  } else if (JSON.stringify(existing.params[SETTINGS_KEY]) === JSON.stringify(settings)) {
    return existing;
  }
  const stored = { ...params, [SETTINGS_KEY]: settings };
  if (!args.dryRun) await store.updateRun(existing.id, { params: stored });
  return { ...existing, params: stored };
}

/**
 * How to go on with a new prompt. The plan pipeline's SetupTask writes the prompt that every other task reads;
 * another pipeline gets the prompt as one of its parameters, and forcing its roots is the one --force that
 * exists in every pipeline (the tasks whose parameters hold the prompt become stale by themselves).
 */
function promptChangeHint(spec: string, pipeline: Pipeline, params: Record<string, unknown>): string {
  if (spec === PLAN_PIPELINE) return 'to rebuild it with this one add --force SetupTask';
  const roots = [...new Set(rootsOf(pipeline.roots.bind(pipeline), params).map((root) => root.constructor.name))];
  return (
    `pipeline ${pipeline.name} gets it as its parameter prompt (parameters: ${Object.keys(params).sort().join(', ')}); ` +
    `to rebuild with this one add --force ${roots.join(' ')} (${roots.length === 1 ? 'its root' : 'its roots'})`
  );
}

export function rootsOf<T>(roots: (params: Readonly<Record<string, unknown>>) => T, params: Readonly<Record<string, unknown>>): T {
  try {
    return roots(params);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`invalid run parameters: ${error instanceof Error ? error.message : String(error)}`);
  }
}

const NEW_RUN = '(new run)';

export const WHOLE_NUMBER = 'a whole number ≥ 1';

/** The numeric LLM options, read from their text (see number-option.ts). */
export function llmFlagsOf<A extends { maxCost?: string; llmConcurrency?: string }>(args: A) {
  return {
    ...args,
    maxCost: numberOption('--max-cost', args.maxCost, 'a number of USD ≥ 0'),
    llmConcurrency: numberOption('--llm-concurrency', args.llmConcurrency, WHOLE_NUMBER),
  };
}

/**
 * A new run's parameters: when it starts, and for the plan pipeline its defaults. A new plan asks its review
 * questions in parallel; a run made before the option has none stored, and its pipeline reads that as
 * sequential, so resuming it re-asks nothing.
 */
export function newRunParams(pipeline: string, given: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return {
    startTime: new Date().toISOString(),
    ...(pipeline === PLAN_PIPELINE ? { speed: 'full', conversations: 'parallel' } : {}),
    ...given,
  };
}

/**
 * A prompt describes a project; it is sent with nearly every model call, next to the plan built so far. 64 KiB
 * (~16k tokens) is far above any real description and still leaves room in a 128k-token context.
 */
export const MAX_PROMPT_BYTES = 64 * 1024;

function formatKiB(bytes: number): string {
  return `${Math.ceil(bytes / 1024)} KiB`;
}

/** What this run already paid for, so `--max-cost` covers the whole run, not only this build. */
export async function spentSoFar(store: Store, runId: string): Promise<number> {
  return (await store.runTotals(runId)).costUsd;
}

/**
 * What each task's ctx gets: the LLM client, and `allowRefused` for the plan pipeline's safety gate. The flag
 * reaches tasks here, not through the run's parameters, so it belongs to this build and is in no stamp.
 */
export function planServices(
  llm: LlmSettings,
  budget: CostBudget,
  allowRefused: boolean,
  across: { shared?: SharedLimits; limiters?: LimiterPool } = {},
) {
  const llmServices = createLlmServices({
    ...across,
    models: llm.models,
    concurrency: llm.llmConcurrency,
    rpm: llm.requestsPerMinute,
    tpm: llm.tokensPerMinute,
    budget,
    prices: llm.prices,
    timeoutMs: llm.timeoutMs,
  });
  return (scope: AttemptScope) => ({ ...llmServices(scope), allowRefused });
}

export function readParams(args: ParamArgs, llm: LlmSettings): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  if (llm.speed !== undefined) params.speed = llm.speed;
  if (args.conversations !== undefined) params.conversations = args.conversations;
  for (const pair of args.param) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`--param takes key=value (got '${pair}')`);
    const key = pair.slice(0, at);
    if (key === SETTINGS_KEY) throw new UsageError(`--param ${SETTINGS_KEY} is taken: the run keeps its model settings under that name`);
    params[key] = pair.slice(at + 1);
  }
  if (args.prompt !== undefined && args.promptFile !== undefined) throw new UsageError('give --prompt or --prompt-file, not both');
  const prompt = args.promptFile === undefined ? args.prompt : readPromptFile(args.promptFile);
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

/**
 * A prompt file's text. Bytes that are not UTF-8 text would be decoded to U+FFFD and a whole plan built on
 * them, so a binary file (NUL bytes) or another encoding is refused instead.
 */
function readPromptFile(file: string): string {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (error) {
    throw new UsageError(`cannot read --prompt-file ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  if (bytes.includes(0)) throw new UsageError(`--prompt-file ${file} holds NUL bytes: it is not a text file; give the prompt as UTF-8 text`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new UsageError(`--prompt-file ${file} is not UTF-8 text; save it as UTF-8 (e.g. iconv -f latin1 -t utf-8)`);
  }
}
