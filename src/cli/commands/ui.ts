import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { defineCommand } from '../args.js';
import { UsageError } from '../../engine/errors.js';
import { readRunMarker } from '../../engine/run-dir.js';
import { ExitCode } from '../exit-codes.js';
import { describeTask } from '../explain-text.js';
import { openDatabase } from '../run-lookup.js';
import { decideRun, loadRunGraph, type RunGraph } from '../run-graph.js';
import { dbLocationFor, SHARED_DB_OPTION } from '../run-resolution.js';
import { shownRunsOf } from '../run-facts.js';
import { pipelineParams } from '../run-settings.js';
import { PLAN_PIPELINE } from '../pipelines.js';
import { RunExplainer } from '../explanation.js';
import type { RunRecord, Store } from '../../store/store.js';
import type { Decision, GraphTask, RebuildPreview, RebuildRequest, UiEngine, WorkerTaskView } from '../../ui/engine-callbacks.js';
import { workerTasksOf } from '../../workers/job-queue.js';
import { isPostgresUrl } from '../../store/open.js';

interface UiArgs {
  db?: string;
  port: number;
  host: string;
  open: boolean;
}

export const uiCommand = defineCommand({
  usage: 'ui',
  describe: 'a local web dashboard over the database: runs, task graphs, files, model calls, live while builds run',
  options: {
    db: SHARED_DB_OPTION,
    port: { type: 'number', default: 4700, describe: 'port to listen on (0: any free one)' },
    host: { type: 'string', default: '127.0.0.1', describe: 'address to listen on; anything but loopback lets other machines read every run' },
    open: { type: 'boolean', default: false, describe: 'open the dashboard in a browser (xdg-open), when there is one' },
  },
  run: runUi,
});

async function runUi(args: UiArgs): Promise<number> {
  if (!Number.isInteger(args.port) || args.port < 0 || args.port > 65_535)
    throw new UsageError(`--port must be a whole number 0–65535 (got ${args.port})`);
  const opened = await openDatabase(args.db);
  if (opened === null) throw new UsageError(`no database at ${dbLocationFor(undefined, args.db)} (build a run first, or point --db at one)`);
  const { store, location } = opened;
  // Loaded here, not at the top: `plan --help` lists this command without paying for the server.
  const [{ startUiServer }, { isLoopbackHost }] = await Promise.all([import('../../ui/server.js'), import('../../ui/security.js')]);
  if (!isLoopbackHost(args.host)) {
    process.stderr.write(
      `plan: warning: listening on ${args.host}: anyone who can reach this address can read every run in ${location} (prompts, files, model calls) and cancel builds\n`,
    );
  }
  let server: Awaited<ReturnType<typeof startUiServer>>;
  try {
    server = await startUiServer({ store, engine: engineFor(store, dbLocationFor(undefined, args.db)), location, host: args.host, port: args.port });
  } catch (error) {
    await store.close();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new UsageError(`port ${args.port} on ${args.host} is in use: pick another with --port (0: any free one)`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new UsageError(`cannot listen on ${args.host}: no such address on this machine`);
    throw error;
  }
  // Listening for the signals before saying where: whoever reads the URL may stop the server at once.
  const stopped = new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  process.stdout.write(`plan ui: ${server.url}\n`);
  if (args.open) openBrowser(server.url);
  await stopped;
  await server.close();
  await store.close();
  return ExitCode.ok;
}

/** `--open`: a browser if the machine has one; none (a server, a container) is no failure. */
function openBrowser(url: string): void {
  try {
    const child = spawn('xdg-open', [url], { stdio: 'ignore', detached: true });
    child.on('error', () => process.stderr.write(`no browser to open (xdg-open is not there): open ${url} yourself\n`));
    child.unref();
  } catch {
    process.stderr.write(`no browser to open: open ${url} yourself\n`);
  }
}

/**
 * The engine's side of the dashboard: the run's graph and each task's state and reason as `plan graph`,
 * `plan status` and `plan explain` make them (run-graph.ts). Graphs are kept per pipeline and parameters:
 * a pipeline module is loaded once per process anyway.
 */
function engineFor(store: Store, db: string): UiEngine {
  const graphs = new Map<string, Promise<RunGraph>>();
  const graphOf = (run: RunRecord): Promise<RunGraph> => {
    const key = `${run.pipeline}\0${JSON.stringify(pipelineParams(run.params))}`;
    let graph = graphs.get(key);
    if (graph === undefined) {
      graph = loadRunGraph(run);
      graph.catch(() => graphs.delete(key));
      graphs.set(key, graph);
    }
    return graph;
  };
  /** The run dir is here when it carries this run's marker; a run built elsewhere has its states from the store alone. */
  const isHere = (run: RunRecord): boolean => fs.existsSync(run.runDir) && readRunMarker(run.runDir)?.runId === run.id;
  const decisionsOf = async (run: RunRecord) => decideRun(run, run.runDir, store, (await graphOf(run)).roots);

  return {
    async shownStatuses(runs) {
      return (await shownRunsOf(store, runs)).map((run) => ({ status: run.status, statusReason: run.statusReason }));
    },
    async graph(run) {
      let loaded: RunGraph;
      try {
        loaded = await graphOf(run);
      } catch {
        return null;
      }
      const { graph } = loaded;
      const stageOf = run.pipeline === PLAN_PIPELINE ? await planStages() : null;
      return graph.order.map((id): GraphTask => {
        const task: GraphTask = { id, requires: graph.requires.get(id) ?? [], outputs: graph.outputs.get(id) ?? [] };
        const stage = stageOfTask(graph.tasks.get(id), stageOf);
        return stage === undefined ? task : { ...task, stage };
      });
    },
    async decide(run) {
      if (!isHere(run)) return null;
      const decisions = await decisionsOf(run);
      return new Map([...decisions].map(([id, d]): [string, Decision] => [id, { state: d.state, reason: d.reason }]));
    },
    async explain(run, taskId) {
      if (!isHere(run)) return null;
      const { graph, roots } = await graphOf(run);
      if (!graph.tasks.has(taskId)) return null;
      const decisions = await decideRun(run, run.runDir, store, roots);
      const explainer = new RunExplainer(run.runDir, graph, decisions, await store.listAttempts(run.id), await store.listContentVersions(run.id));
      return describeTask(explainer.explainTask(taskId));
    },
    async workerStates(run) {
      const listed = await workerTasksOf(store)?.listTasks(run.id);
      if (listed === undefined || listed === null) return null;
      return new Map(
        listed.tasks.map((t): [string, WorkerTaskView] => [t.taskId, { state: t.state, outcome: t.outcome, workerId: t.workerId, error: t.error }]),
      );
    },
    async previewRebuild(run, request) {
      if (!isHere(run)) return null;
      const args = rebuildArgs(run, request, '--dry-run');
      const result = await runChild(childCommand(args), childEnv(db), DRY_RUN_TIMEOUT_MS);
      const ids = (await graphOf(run)).graph.order;
      return readDryRun(commandText(args), result, ids);
    },
    async startRebuild(run, request, sink) {
      if (!isHere(run)) return null;
      const args = rebuildArgs(run, request, '--json');
      const [file, ...argv] = childCommand(args);
      const child = spawn(file!, argv, { cwd: process.cwd(), env: childEnv(db), stdio: ['ignore', 'pipe', 'pipe'] });
      const lines = (stream: NodeJS.ReadableStream, each: (line: string) => void): Promise<void> =>
        new Promise((resolve) => {
          const reader = readline.createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
          reader.on('line', each);
          reader.on('close', resolve);
        });
      const out = lines(child.stdout, (line) => {
        const event = parseEvent(line);
        if (event === null) sink.line('stdout', line);
        else sink.event(event);
      });
      const err = lines(child.stderr, (line) => sink.line('stderr', line));
      let spawnError: Error | null = null;
      child.on('error', (error) => {
        spawnError = error;
      });
      child.on('close', (code, signal) => {
        void Promise.all([out, err]).then(() => {
          if (spawnError !== null) sink.line('stderr', `plan ui: could not start the build: ${spawnError.message}`);
          sink.exit(code, signal);
        });
      });
      return {
        pid: child.pid ?? -1,
        command: commandText(args),
        stop: () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        },
      };
    },
  };
}

// biome-ignore lint/complexity/noBannedTypes: a task's class, whatever its constructor takes
type TaskClass = Function;

/**
 * The plan pipeline's stages: the family of tasks each file of src/tasks holds (one file per stage family), in
 * pipeline order, named for people. The root (FullPlanPipeline, in catalog.ts) ends the report stage. A task
 * class in no file listed here has no stage (it stays a task when stages are collapsed).
 */
const PLAN_STAGE_FILES: readonly [file: string, stage: string][] = [
  ['setup', 'Setup'],
  ['levers', 'Levers'],
  ['scenarios', 'Scenarios'],
  ['context', 'Context'],
  ['assumptions', 'Assumptions'],
  ['assessment', 'Assessment'],
  ['governance', 'Governance'],
  ['team', 'Team'],
  ['swot-experts', 'SWOT & experts'],
  ['documents', 'Documents'],
  ['wbs', 'Work breakdown'],
  ['pitch', 'Pitch'],
  ['schedule', 'Schedule'],
  ['review', 'Review'],
  ['report', 'Report'],
  ['catalog', 'Report'],
];

/** A task's stage: its own `stage` (a string property: any pipeline's tasks may have one), else the plan pipeline's. */
function stageOfTask(task: object | undefined, planStageOf: ReadonlyMap<TaskClass, string> | null): string | undefined {
  if (task === undefined) return undefined;
  const own = (task as { stage?: unknown }).stage;
  if (typeof own === 'string' && own.trim() !== '') return own.trim();
  return planStageOf?.get(task.constructor);
}

let planStagesLoaded: Promise<Map<TaskClass, string>> | null = null;

/** Each plan task class → its stage, from the classes each file exports (loaded already: the pipeline imports them all). */
function planStages(): Promise<Map<TaskClass, string>> {
  planStagesLoaded ??= (async () => {
    const stageOf = new Map<TaskClass, string>();
    for (const [file, stage] of PLAN_STAGE_FILES) {
      const module = (await import(`../../tasks/${file}.js`)) as Record<string, unknown>;
      for (const value of Object.values(module)) if (typeof value === 'function' && !stageOf.has(value)) stageOf.set(value, stage);
    }
    return stageOf;
  })();
  return planStagesLoaded;
}

/** The CLI the dashboard itself runs from: a rebuild is the same `plan build` a person would type. */
const PLAN_BIN = fileURLToPath(new URL('../../../bin/plan.js', import.meta.url));

const DRY_RUN_TIMEOUT_MS = 120_000;

/** `plan build <run-dir> --force T --until T` (the task alone) or `--from T` (and everything downstream). */
function rebuildArgs(run: RunRecord, request: RebuildRequest, mode: '--dry-run' | '--json'): string[] {
  const selection = request.scope === 'task' ? [`--force=${request.taskId}`, `--until=${request.taskId}`] : [`--from=${request.taskId}`];
  return ['build', run.runDir, ...selection, mode];
}

function childCommand(args: readonly string[]): string[] {
  return [process.execPath, PLAN_BIN, ...args];
}

/** The same database as the dashboard's, given in the environment (a PostgreSQL URL's password stays off the command line). */
function childEnv(db: string): NodeJS.ProcessEnv {
  return { ...process.env, PLAN_DB: isPostgresUrl(db) ? db : path.resolve(db) };
}

function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The command as typed: `plan build runs/demo --force 'Seed(seed=one)' --until 'Seed(seed=one)' --dry-run`. */
function commandText(args: readonly string[]): string {
  const shown = args.flatMap((arg) => {
    const option = /^(--[a-z-]+)=(.*)$/s.exec(arg);
    return option === null ? [arg] : [option[1]!, option[2]!];
  });
  const [command, runDir, ...rest] = shown;
  const dir = path.relative(process.cwd(), runDir!) || '.';
  return ['plan', command!, dir.startsWith('..') ? runDir! : dir, ...rest].map(shellWord).join(' ');
}

function parseEvent(line: string): Record<string, unknown> | null {
  if (!line.startsWith('{')) return null;
  try {
    const value: unknown = JSON.parse(line);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runChild(command: readonly string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<ChildResult> {
  return new Promise((resolve) => {
    const [file, ...argv] = command;
    const child = spawn(file!, argv, { cwd: process.cwd(), env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      stderr += `plan ui: the dry run took longer than ${timeoutMs / 1000}s and was stopped\n`;
      child.kill('SIGTERM');
    }, timeoutMs);
    child.on('error', (error) => {
      stderr += `plan ui: could not run the dry run: ${error.message}\n`;
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * The dry run's text as it printed it, and what it says: each line `<state padded to 8> <task id>  <reason>`
 * (read against the graph's task ids, the longest that fits, so an id with spaces reads right), then the
 * estimate line; on standard error the `dry run: …` line.
 */
function readDryRun(command: string, result: ChildResult, ids: readonly string[]): RebuildPreview {
  const known = [...ids].sort((a, b) => b.length - a.length);
  const wouldRun: RebuildPreview['wouldRun'] = [];
  let decided = 0;
  let estimate: string | null = null;
  for (const line of result.stdout.split('\n')) {
    if (line.startsWith('model calls: ')) {
      estimate = line;
      continue;
    }
    const state = /^(\S+) +/.exec(line);
    if (state === null) continue;
    const rest = line.slice(9);
    const id = known.find((candidate) => rest === candidate || rest.startsWith(`${candidate}  `));
    if (id === undefined) continue;
    decided++;
    if (state[1] !== 'fresh' && state[1] !== 'pinned') wouldRun.push({ taskId: id, state: state[1]!, reason: rest.slice(id.length + 2) });
  }
  const summary = result.stderr.split('\n').find((line) => line.startsWith('dry run: ')) ?? null;
  return { command, exitCode: result.code, output: result.stdout, messages: result.stderr, wouldRun, decided, estimate, summary };
}
