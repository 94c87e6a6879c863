import fs from 'node:fs';
import path from 'node:path';
import { acquireRunDirLock } from './lock.js';
import { acquireRunLease, foreignLockJudge, leaseLostError } from './run-lease.js';
import { checkOutputDirectories, resolveForced, selectGraph } from './graph-selection.js';
import { RunState } from './run-state.js';
import { recoverPersistedAttempts } from './recovery.js';
import { TaskDecider } from './task-decider.js';
import { decideAllDry } from './dry-run.js';
import { withReplacedEdits } from './decide.js';
import { replacedEdits } from './replaced-edits.js';
import { Scheduler } from './scheduler.js';
import { removeTempFiles } from './materialize.js';
import { EventBus, type BuildStatus, type BuildSummary, type TaskState } from './events.js';
import type { DecisionCause } from './decision-cause.js';
import type { BackoffPolicy } from './backoff.js';
import type { ServiceFactory } from './context.js';
import type { Task } from './task.js';
import type { Store } from '../store/store.js';

export interface BuildOptions<S extends object> {
  roots: readonly Task<S>[];
  runDir: string;
  runId: string;
  store: Store;
  /** Services merged into each task's ctx (e.g. the LLM client), made once per attempt. */
  services?: ServiceFactory<S>;
  /** How many tasks run at once. */
  concurrency?: number;
  /** Capacities of named resource pools that tasks declare in `resources`. */
  pools?: Readonly<Record<string, number>>;
  /** Keep building independent branches after a failure. */
  keepGoing?: boolean;
  /** Decide and report every task's state; run nothing, write nothing. */
  dryRun?: boolean;
  /** Task ids or class names to rebuild, with everything downstream of them. */
  force?: readonly string[];
  /** Task ids or class names: build only what they need (they and their dependencies), not the whole graph. */
  until?: readonly string[];
  /** Write missing outputs back from the database instead of regenerating them. */
  restore?: boolean;
  /** `full`: materialized files and their folders are fsynced before an attempt is marked complete (power loss). */
  durability?: 'process' | 'full';
  /**
   * When the build was asked for (epoch ms, default now): a cancel request older than this is stale and is
   * cleared when the build starts; a newer one (made while it was starting) stands.
   */
  startedAt?: number;
  /** Aborting it stops the build: no new task starts, running ones are cancelled. */
  signal?: AbortSignal;
  events?: EventBus;
  backoff?: BackoffPolicy;
}

export interface BuildResult {
  status: BuildStatus;
  summary: BuildSummary;
  /** Every task's state as decided when it became ready (or, in a dry run, as it would be), with its cause. */
  decisions: ReadonlyMap<string, { state: TaskState; reason: string; cause: DecisionCause }>;
}

/**
 * Builds the tasks reachable from the roots: plan the graph, take the run dir's lock and the run's lease
 * (run-lease.ts), recover what a crash
 * left, then decide and run (scheduler.ts), or with `dryRun` only decide (dry-run.ts).
 */
export async function build<S extends object>(options: BuildOptions<S>): Promise<BuildResult> {
  const startedAt = options.startedAt ?? Date.now();
  const { graph, all } = selectGraph(options.roots, options.until ?? []);
  const forced = resolveForced(graph, options.force ?? []);
  const runDir = path.resolve(options.runDir);
  if (!options.dryRun) fs.mkdirSync(runDir, { recursive: true });
  if (fs.existsSync(runDir)) checkOutputDirectories(graph, runDir);

  const bus = options.events ?? new EventBus();
  const emit = bus.emit.bind(bus);
  const { store, runId } = options;
  const summary: BuildSummary = {
    tasks: graph.order.length,
    fresh: 0,
    ran: 0,
    recovered: 0,
    failed: [],
    blocked: [],
    cancelled: [],
    notStarted: 0,
    durationMs: 0,
  };
  const fsync = options.durability === 'full';

  if (options.dryRun) {
    const state = new RunState(graph, all, runDir, await store.loadRunSnapshot(runId));
    emit({ type: 'build-started', runId, runDir, tasks: graph.order.length, at: startedAt });
    const decisions = decideAllDry(state, { forced, restore: options.restore === true });
    for (const [taskId, decided] of decisions) {
      let decision = decided;
      const runs = decision.state !== 'fresh' && decision.state !== 'pinned';
      const edited = runs ? state.editedOutputs(taskId) : [];
      // Files on disk the database has never seen: the build would store them first (see TaskDecider).
      const unseen = runs ? state.unseenOutputs(taskId).map((p) => ({ path: p, version: null })) : [];
      if (edited.length + unseen.length > 0) decision = withReplacedEdits(decision, [...(await replacedEdits(store, runId, edited)), ...unseen]);
      decisions.set(taskId, decision);
      if (decision.state === 'fresh' || decision.state === 'pinned') summary.fresh++;
      emit({ type: 'task-decided', taskId, state: decision.state, reason: decision.reason });
    }
    summary.durationMs = Date.now() - startedAt;
    emit({ type: 'build-finished', status: 'success', summary, at: Date.now() });
    return { status: 'success', summary, decisions };
  }

  const lock = acquireRunDirLock(runDir, { foreignHolderGone: await foreignLockJudge(store, runDir, runId) });
  let stopForLostLease = (): void => undefined;
  let lease: Awaited<ReturnType<typeof acquireRunLease>> | undefined;
  try {
    // Before anything of the run is touched: a live build elsewhere (another machine, another dir) keeps it.
    lease = await acquireRunLease(store, runId, () => stopForLostLease());
    const abandoned = await store.abandonRunningAttempts(runId);
    const state = new RunState(graph, all, runDir, await store.loadRunSnapshot(runId));
    summary.recovered = await recoverPersistedAttempts(state, { runId, runDir, store, fsync, emit });
    if (abandoned > 0 || summary.recovered > 0 || lock.tookOver) removeTempFiles(runDir);

    emit({ type: 'build-started', runId, runDir, tasks: graph.order.length, at: startedAt });
    await store.updateRun(runId, { status: 'running', statusReason: null, runDir, clearCancelRequestedBefore: startedAt });

    const decider = new TaskDecider(state, { runId, runDir, store, forced, restore: options.restore === true, emit });
    const scheduler = new Scheduler(
      state,
      decider,
      {
        runId,
        runDir,
        store,
        services: options.services,
        concurrency: Math.max(1, options.concurrency ?? 8),
        pools: options.pools ?? {},
        keepGoing: options.keepGoing === true,
        backoff: options.backoff,
        fsync,
        emit,
      },
      summary,
    );
    stopForLostLease = () => scheduler.stop('interrupted');
    if (lease.lost !== null) scheduler.stop('interrupted');
    const onAbort = (): void => scheduler.stop('interrupted');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (options.signal?.aborted) scheduler.stop('interrupted');
      await scheduler.run();
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }

    // The run is another build's now: its row and status are not ours to write.
    if (lease.lost !== null) throw leaseLostError(runId, lease.lost);
    const status: BuildStatus = scheduler.cancelled ? 'cancelled' : summary.failed.length > 0 || summary.blocked.length > 0 ? 'failed' : 'success';
    summary.notStarted = scheduler.notStarted;
    summary.durationMs = Date.now() - startedAt;
    await store.saveFileStats(runId, state.hasher.takeNewStats());
    await store.updateRun(runId, { status: status === 'success' ? 'complete' : status, statusReason: statusReason(status, summary) });
    emit({ type: 'build-finished', status, summary, at: Date.now() });
    return { status, summary, decisions: scheduler.decisions };
  } finally {
    await lease?.release().catch(() => undefined);
    lock.release();
  }
}

function statusReason(status: BuildStatus, summary: BuildSummary): string | null {
  if (status === 'failed') return `failed: ${summary.failed.join(', ')}`;
  if (status === 'cancelled') return 'interrupted';
  return null;
}

/**
 * The checks `build` makes before it touches anything (every graph problem, unknown `--force` names), for a
 * caller that must not store anything — e.g. create a run — for a build that would be refused.
 */
export function checkBuildable<S extends object>(roots: readonly Task<S>[], force: readonly string[] = [], until: readonly string[] = []): void {
  resolveForced(selectGraph(roots, until).graph, force);
}
