import { spawn } from 'node:child_process';
import fs from 'node:fs';
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
import { RunExplainer } from '../explanation.js';
import type { RunRecord, Store } from '../../store/store.js';
import type { Decision, GraphTask, UiEngine } from '../../ui/engine-callbacks.js';

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
    server = await startUiServer({ store, engine: engineFor(store), location, host: args.host, port: args.port });
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
function engineFor(store: Store): UiEngine {
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
      return graph.order.map((id): GraphTask => ({ id, requires: graph.requires.get(id) ?? [], outputs: graph.outputs.get(id) ?? [] }));
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
  };
}
