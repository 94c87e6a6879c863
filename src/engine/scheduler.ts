import { ReadyQueue, resourceClass } from './ready-queue.js';
import { ResourcePools } from './resource-pools.js';
import { runAttempt, type AttemptOutcome } from './attempt.js';
import { criticalPathLengths } from './graph-selection.js';
import { defaultBackoff, type BackoffPolicy } from './backoff.js';
import { errorMessage } from './errors.js';
import type { Decision } from './decide.js';
import type { RunState } from './run-state.js';
import type { TaskDecider } from './task-decider.js';
import type { BuildEvent, BuildSummary } from './events.js';
import type { ServiceFactory } from './context.js';
import type { Store } from '../store/store.js';

type Progress = 'waiting' | 'queued' | 'running' | 'done' | 'failed' | 'blocked' | 'cancelled';

/** A dependency in one of these states blocks its dependents. */
const UNFINISHED: ReadonlySet<Progress> = new Set(['failed', 'blocked', 'cancelled']);

export interface SchedulerOptions<S extends object> {
  runId: string;
  runDir: string;
  store: Store;
  services: ServiceFactory<S> | undefined;
  concurrency: number;
  pools: Readonly<Record<string, number>>;
  keepGoing: boolean;
  backoff: BackoffPolicy | undefined;
  /** Durability `full`: materialized files and their folders are fsynced before an attempt is complete. */
  fsync: boolean;
  emit: (event: BuildEvent) => void;
}

/**
 * Runs the tasks of a build: decides each as its last dependency finishes (so early cutoff falls out: an
 * identical rebuild leaves its dependents fresh), queues the missing and stale ones by the longest chain of
 * dependents, and runs them DB-first within `-j` and the resource pools. On any error of its own (the
 * database failing, say) it stops: aborts the running tasks, waits for every one of them, then throws.
 */
export class Scheduler<S extends object> {
  readonly decisions = new Map<string, Decision>();
  private readonly progress = new Map<string, Progress>();
  private readonly remainingDeps = new Map<string, number>();
  private readonly queue = new ReadyQueue<string>();
  private readonly pools: ResourcePools;
  private readonly running = new Map<string, Promise<{ taskId: string; outcome: AttemptOutcome }>>();
  private readonly stopController = new AbortController();
  private stopping = false;

  constructor(
    private readonly state: RunState<S>,
    private readonly decider: TaskDecider<S>,
    private readonly options: SchedulerOptions<S>,
    private readonly summary: BuildSummary,
  ) {
    this.pools = new ResourcePools(options.pools);
  }

  get cancelled(): boolean {
    return this.stopController.signal.aborted;
  }

  /** Tasks never started because the build stopped early. */
  get notStarted(): number {
    let count = 0;
    for (const id of this.state.graph.order) {
      const progress = this.progress.get(id) ?? 'waiting';
      if (progress === 'waiting' || progress === 'queued') count++;
    }
    return count;
  }

  async run(): Promise<void> {
    try {
      await this.schedule();
    } catch (error) {
      await this.abortAll(error);
      throw error;
    }
  }

  /** No new task starts; with `interrupted`, running ones are cancelled. */
  stop(reason: 'interrupted' | 'failure'): void {
    if (this.stopping && reason !== 'interrupted') return;
    if (!this.stopping) this.options.emit({ type: 'build-stopping', reason });
    this.stopping = true;
    if (reason === 'interrupted') this.stopController.abort(new Error('the build was interrupted'));
  }

  private async schedule(): Promise<void> {
    const { graph } = this.state;
    const priority = criticalPathLengths(graph);
    const order = new Map(graph.order.map((id, i) => [id, i]));
    const enqueue = (id: string): void => this.queue.push(id, priority.get(id)!, order.get(id)!, resourceClass(graph.tasks.get(id)!.resources));
    const ready: string[] = [];
    for (const id of graph.order) {
      const deps = graph.requires.get(id)!.length;
      this.remainingDeps.set(id, deps);
      this.progress.set(id, 'waiting');
      if (deps === 0) ready.push(id);
    }
    await this.evaluate(ready, enqueue);

    for (;;) {
      while (!this.stopping && this.running.size < this.options.concurrency) {
        const next = this.queue.take((id) => this.pools.fits(graph.tasks.get(id)!.resources));
        if (next === undefined) break;
        this.start(next);
      }
      if (this.running.size === 0) break;
      const { taskId, outcome } = await Promise.race(this.running.values());
      this.running.delete(taskId);
      this.pools.release(graph.tasks.get(taskId)!.resources);
      await this.settle(taskId, outcome, enqueue);
    }
  }

  /** After an error of the build's own: cancel what runs and wait for all of it, so nothing goes on unseen. */
  private async abortAll(error: unknown): Promise<void> {
    this.stopping = true;
    if (!this.stopController.signal.aborted) this.stopController.abort(new Error(`the build stopped: ${errorMessage(error)}`));
    await Promise.allSettled(this.running.values());
    this.running.clear();
  }

  private start(taskId: string): void {
    const { graph, snapshot } = this.state;
    const task = graph.tasks.get(taskId)!;
    this.pools.take(task.resources);
    this.progress.set(taskId, 'running');
    const promise = runAttempt({
      task,
      taskId,
      reason: this.decisions.get(taskId)?.reason ?? '',
      runId: this.options.runId,
      runDir: this.options.runDir,
      store: this.options.store,
      services: this.options.services,
      declared: graph.outputs.get(taskId)!,
      ownerOf: graph.ownerOf,
      claimExtras: (paths) => this.state.claimExtras(taskId, paths),
      releaseClaims: () => this.state.releaseClaims(taskId),
      previousOutputs: snapshot.built.get(taskId)?.outputs ?? {},
      replayable: snapshot.replayable.get(taskId) ?? [],
      inputs: () => this.state.runDirInputs(taskId),
      stampText: () => this.state.stampText(taskId),
      hasher: this.state.hasher,
      stopSignal: this.stopController.signal,
      isStopping: () => this.stopping,
      backoff: this.options.backoff ?? defaultBackoff,
      fsync: this.options.fsync,
      emit: this.options.emit,
    }).then((outcome) => ({ taskId, outcome }));
    this.running.set(taskId, promise);
  }

  private async settle(taskId: string, outcome: AttemptOutcome, enqueue: (id: string) => void): Promise<void> {
    switch (outcome.kind) {
      case 'complete':
        this.summary.ran++;
        this.state.noteBuilt(taskId, outcome.attempt);
        this.progress.set(taskId, 'done');
        break;
      case 'failed':
        this.summary.failed.push(taskId);
        this.progress.set(taskId, 'failed');
        this.state.snapshot.replayable.set(taskId, outcome.unpersistedAttempts);
        if (!this.options.keepGoing) this.stop('failure');
        break;
      case 'cancelled':
        this.summary.cancelled.push(taskId);
        this.progress.set(taskId, 'cancelled');
        return;
    }
    await this.evaluate(this.readyDependents(taskId), enqueue);
  }

  /** Dependents of `done` whose last dependency just finished. */
  private readyDependents(done: string): string[] {
    const ready: string[] = [];
    for (const dependent of this.state.graph.dependents.get(done)!) {
      const left = this.remainingDeps.get(dependent)! - 1;
      this.remainingDeps.set(dependent, left);
      if (left === 0) ready.push(dependent);
    }
    return ready;
  }

  /** Decide each ready task; fresh and blocked ones settle at once, which may make more tasks ready. */
  private async evaluate(ready: string[], enqueue: (id: string) => void): Promise<void> {
    const { emit, keepGoing } = this.options;
    const work = [...ready];
    for (let next = 0; next < work.length; next++) {
      const taskId = work[next]!;
      if (this.stopping && (!keepGoing || this.stopController.signal.aborted)) continue;
      const blockedBy = this.state.graph.requires.get(taskId)!.find((dep) => UNFINISHED.has(this.progress.get(dep)!)) ?? null;
      const decision = await this.decider.decide(taskId, blockedBy);
      this.decisions.set(taskId, decision);
      emit({ type: 'task-decided', taskId, state: decision.state, reason: decision.reason });
      if (decision.invalid !== null) {
        this.progress.set(taskId, 'failed');
        this.summary.failed.push(taskId);
        emit({ type: 'task-failed', taskId, attemptId: 0, error: `${decision.invalid}: remove it and build again`, retryInMs: null });
        if (!keepGoing) this.stop('failure');
      } else if (decision.state === 'fresh' || decision.state === 'pinned') {
        this.summary.fresh++;
        this.progress.set(taskId, 'done');
      } else if (decision.state === 'blocked') {
        this.summary.blocked.push(taskId);
        this.progress.set(taskId, 'blocked');
        emit({ type: 'task-blocked', taskId, by: decision.reason });
      } else {
        for (const edit of decision.replacesEdits) emit({ type: 'edit-replaced', taskId, path: edit.path, version: edit.version });
        this.progress.set(taskId, 'queued');
        enqueue(taskId);
        continue;
      }
      work.push(...this.readyDependents(taskId));
    }
  }
}
