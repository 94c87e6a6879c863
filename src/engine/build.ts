import fs from 'node:fs';
import path from 'node:path';
import { acquireRunDirLock, type RunDirLock } from './lock.js';
import { planGraph, type TaskGraph } from './graph.js';
import { decideTaskState, type Decision } from './decide.js';
import { FileHasher, type FileState } from './hasher.js';
import { stampHead, stampText, type Stamp } from './stamp.js';
import { ReadyQueue } from './ready-queue.js';
import { ResourcePools } from './resource-pools.js';
import { runAttempt, type AttemptOutcome } from './attempt.js';
import { removeTempFiles, writeFileAtomic } from './materialize.js';
import { EventBus, type BuildEvent, type BuildStatus, type BuildSummary, type TaskState } from './events.js';
import { GraphError, UsageError } from './errors.js';
import { defaultBackoff, type BackoffPolicy } from './backoff.js';
import type { ServiceFactory } from './context.js';
import type { Task } from './task.js';
import type { AttemptRecord, RunSnapshot, Store } from '../store/store.js';

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
  /** Aborting it stops the build: no new task starts, running ones are cancelled. */
  signal?: AbortSignal;
  events?: EventBus;
  backoff?: BackoffPolicy;
}

export interface BuildResult {
  status: BuildStatus;
  summary: BuildSummary;
  /** Every task's state as decided when it became ready (or, in a dry run, as it would be). */
  decisions: ReadonlyMap<string, { state: TaskState; reason: string }>;
}

type Progress = 'waiting' | 'queued' | 'running' | 'done' | 'failed' | 'blocked' | 'cancelled';

/** A dependency in one of these states blocks its dependents. */
const UNFINISHED: ReadonlySet<Progress> = new Set(['failed', 'blocked', 'cancelled']);

/**
 * Builds the tasks reachable from the roots: plan the graph, recover what a crash left, then decide each task
 * as its dependencies finish (so early cutoff falls out: an identical rebuild leaves its dependents fresh) and
 * run the ones that are missing or stale, DB-first.
 */
export async function build<S extends object>(options: BuildOptions<S>): Promise<BuildResult> {
  const graph = selectGraph(options.roots, options.until ?? []);
  const forced = resolveForced(graph, options.force ?? []);
  const runDir = path.resolve(options.runDir);
  if (!options.dryRun) fs.mkdirSync(runDir, { recursive: true });
  if (fs.existsSync(runDir)) checkOutputDirectories(graph, runDir);

  const lock = options.dryRun ? null : acquireRunDirLock(runDir);
  try {
    return await new Builder(graph, options, runDir, forced, lock).run();
  } finally {
    lock?.release();
  }
}

class Builder<S extends object> {
  private readonly bus: EventBus;
  private readonly store: Store;
  private readonly concurrency: number;
  private readonly progress = new Map<string, Progress>();
  private readonly remainingDeps = new Map<string, number>();
  private readonly decisions = new Map<string, { state: TaskState; reason: string }>();
  private readonly queue = new ReadyQueue<string>();
  private readonly pools: ResourcePools;
  private readonly running = new Map<string, Promise<{ taskId: string; outcome: AttemptOutcome }>>();
  private readonly reasons = new Map<string, string>();
  /** sha256 of every known file of the run, as the build goes: what dependents' stamps are made of. */
  private readonly currentSha = new Map<string, string>();
  private readonly outputPathsCache = new Map<string, readonly string[]>();
  private readonly stampHeads = new Map<string, string>();
  private readonly stopController = new AbortController();
  private snapshot!: RunSnapshot;
  private hasher!: FileHasher;
  private stopping = false;
  private readonly summary: BuildSummary = {
    tasks: 0,
    fresh: 0,
    ran: 0,
    recovered: 0,
    failed: [],
    blocked: [],
    cancelled: [],
    notStarted: 0,
    durationMs: 0,
  };

  constructor(
    private readonly graph: TaskGraph<S>,
    private readonly options: BuildOptions<S>,
    private readonly runDir: string,
    private readonly forced: ReadonlySet<string>,
    private readonly lock: RunDirLock | null,
  ) {
    this.bus = options.events ?? new EventBus();
    this.store = options.store;
    this.concurrency = Math.max(1, options.concurrency ?? 8);
    this.pools = new ResourcePools(options.pools ?? {});
    this.summary.tasks = graph.order.length;
  }

  private emit(event: BuildEvent): void {
    this.bus.emit(event);
  }

  async run(): Promise<BuildResult> {
    const started = Date.now();
    const { runId } = this.options;
    const onAbort = (): void => this.stop('interrupted');
    this.options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (!this.options.dryRun) await this.recover();
      else this.loadSnapshot(await this.store.loadRunSnapshot(runId));
      this.emit({ type: 'build-started', runId, runDir: this.runDir, tasks: this.graph.order.length, at: started });
      if (!this.options.dryRun) await this.store.updateRun(runId, { status: 'running', statusReason: null, runDir: this.runDir, cancelRequested: false });
      if (this.options.signal?.aborted) this.stop('interrupted');

      if (this.options.dryRun) this.decideAllDry();
      else await this.schedule();

      const status = this.finalStatus();
      this.summary.notStarted = this.graph.order.filter((id) => ['waiting', 'queued'].includes(this.progress.get(id) ?? 'waiting')).length;
      this.summary.durationMs = Date.now() - started;
      if (!this.options.dryRun) {
        await this.store.saveFileStats(runId, this.hasher.takeNewStats());
        await this.store.updateRun(runId, { status: runStatusOf(status), statusReason: this.statusReason(status) });
      }
      this.emit({ type: 'build-finished', status, summary: this.summary, at: Date.now() });
      return { status, summary: this.summary, decisions: this.decisions };
    } finally {
      this.options.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Step 0: what a killed build left. `running` attempts are abandoned; `persisted` ones get their files. */
  private async recover(): Promise<void> {
    const { runId } = this.options;
    const abandoned = await this.store.abandonRunningAttempts(runId);
    this.loadSnapshot(await this.store.loadRunSnapshot(runId));
    for (const attempt of this.snapshot.unmaterialized) {
      if (!this.graph.tasks.has(attempt.taskId)) continue;
      const files = Object.entries(attempt.outputs ?? {});
      const stats = [];
      for (const [filePath, sha] of files) {
        const bytes = await this.store.readContentBySha(runId, filePath, sha);
        if (bytes === null) throw new UsageError(`database lacks the content of ${filePath} persisted by attempt ${attempt.id}`);
        stats.push(this.hasher.learn(filePath, sha, writeFileAtomic(this.runDir, filePath, bytes)));
      }
      await this.store.completeAttempt(attempt.id, stats);
      attempt.status = 'complete';
      this.summary.recovered++;
      this.emit({ type: 'task-recovered', taskId: attempt.taskId, attemptId: attempt.id, files: files.map(([p]) => p) });
    }
    if (abandoned > 0 || this.summary.recovered > 0 || this.lock?.tookOver) removeTempFiles(this.runDir);
  }

  private loadSnapshot(snapshot: RunSnapshot): void {
    this.snapshot = snapshot;
    this.hasher = new FileHasher(this.runDir, snapshot.fileStats);
  }

  private async schedule(): Promise<void> {
    const priority = criticalPathLengths(this.graph);
    const order = new Map(this.graph.order.map((id, i) => [id, i]));
    const ready: string[] = [];
    for (const id of this.graph.order) {
      const deps = this.graph.requires.get(id)!.length;
      this.remainingDeps.set(id, deps);
      this.progress.set(id, 'waiting');
      if (deps === 0) ready.push(id);
    }
    await this.evaluate(ready, (id) => this.queue.push(id, priority.get(id)!, order.get(id)!));

    for (;;) {
      while (!this.stopping && this.running.size < this.concurrency) {
        const next = this.queue.take((id) => this.pools.fits(this.graph.tasks.get(id)!.resources));
        if (next === undefined) break;
        this.start(next);
      }
      if (this.running.size === 0) break;
      const { taskId, outcome } = await Promise.race(this.running.values());
      this.running.delete(taskId);
      this.pools.release(this.graph.tasks.get(taskId)!.resources);
      await this.settle(taskId, outcome, (id) => this.queue.push(id, priority.get(id)!, order.get(id)!));
    }
  }

  private start(taskId: string): void {
    const task = this.graph.tasks.get(taskId)!;
    this.pools.take(task.resources);
    this.progress.set(taskId, 'running');
    const promise = runAttempt({
      task,
      taskId,
      reason: this.reasons.get(taskId) ?? '',
      runId: this.options.runId,
      runDir: this.runDir,
      store: this.store,
      services: this.options.services,
      declared: this.graph.outputs.get(taskId)!,
      ownerOf: this.graph.ownerOf,
      previousOutputs: this.snapshot.built.get(taskId)?.outputs ?? {},
      replayable: this.snapshot.replayable.get(taskId) ?? [],
      stampText: () => this.stampText(taskId),
      hasher: this.hasher,
      stopSignal: this.stopController.signal,
      isStopping: () => this.stopping,
      backoff: this.options.backoff ?? defaultBackoff,
      emit: (event) => this.emit(event),
    }).then((outcome) => ({ taskId, outcome }));
    this.running.set(taskId, promise);
  }

  private async settle(taskId: string, outcome: AttemptOutcome, enqueue: (id: string) => void): Promise<void> {
    switch (outcome.kind) {
      case 'complete':
        this.summary.ran++;
        this.snapshot.built.set(taskId, outcome.attempt);
        this.outputPathsCache.delete(taskId);
        this.snapshot.replayable.delete(taskId);
        for (const [filePath, sha] of Object.entries(outcome.attempt.outputs ?? {})) {
          this.currentSha.set(filePath, sha);
          this.snapshot.latestContent.set(filePath, sha);
        }
        this.progress.set(taskId, 'done');
        break;
      case 'failed':
        this.summary.failed.push(taskId);
        this.progress.set(taskId, 'failed');
        this.snapshot.replayable.set(taskId, outcome.unpersistedAttempts);
        if (!this.options.keepGoing) this.stop('failure');
        break;
      case 'cancelled':
        this.summary.cancelled.push(taskId);
        this.progress.set(taskId, 'cancelled');
        return;
    }
    await this.evaluate(this.readyDependents([taskId]), enqueue);
  }

  /** Dependents of `done` whose last dependency just finished. */
  private readyDependents(done: readonly string[]): string[] {
    const ready: string[] = [];
    for (const id of done) {
      for (const dependent of this.graph.dependents.get(id)!) {
        const left = this.remainingDeps.get(dependent)! - 1;
        this.remainingDeps.set(dependent, left);
        if (left === 0) ready.push(dependent);
      }
    }
    return ready;
  }

  /** Decide each ready task; fresh and blocked ones settle at once, which may make more tasks ready. */
  private async evaluate(ready: string[], enqueue: (id: string) => void): Promise<void> {
    const work = [...ready];
    for (let next = 0; next < work.length; next++) {
      const taskId = work[next]!;
      if (this.stopping && (!this.options.keepGoing || this.stopController.signal.aborted)) continue;
      const decision = await this.decide(taskId);
      this.decisions.set(taskId, { state: decision.state, reason: decision.reason });
      this.emit({ type: 'task-decided', taskId, state: decision.state, reason: decision.reason });
      if (decision.invalid !== null) {
        this.progress.set(taskId, 'failed');
        this.summary.failed.push(taskId);
        this.emit({ type: 'task-failed', taskId, attemptId: 0, error: `${decision.invalid}: remove it and build again`, retryInMs: null });
        if (!this.options.keepGoing) this.stop('failure');
      } else if (decision.state === 'fresh') {
        this.summary.fresh++;
        this.progress.set(taskId, 'done');
      } else if (decision.state === 'blocked') {
        this.summary.blocked.push(taskId);
        this.progress.set(taskId, 'blocked');
        this.emit({ type: 'task-blocked', taskId, by: decision.reason });
      } else {
        this.reasons.set(taskId, decision.reason);
        this.progress.set(taskId, 'queued');
        enqueue(taskId);
        continue;
      }
      work.push(...this.readyDependents([taskId]));
    }
  }

  private async decide(taskId: string): Promise<Decision> {
    const blockedBy = this.graph.requires.get(taskId)!.find((dep) => UNFINISHED.has(this.progress.get(dep)!));
    const built = this.snapshot.built.get(taskId);
    let outputs = this.outputStates(taskId, built);
    let decision = this.decideFrom(taskId, built, outputs, this.forced.has(taskId), blockedBy ?? null);
    if (decision.state === 'blocked' || decision.invalid !== null) return decision;

    if (this.hasEdits(outputs)) await this.recordEdits(taskId, outputs);
    if (decision.adopt) await this.adopt(taskId, outputs);
    if (decision.state === 'missing' && this.options.restore && decision.missing.length > 0 && built) {
      await this.restoreFiles(taskId, built, decision.missing);
      outputs = this.outputStates(taskId, built);
      decision = this.decideFrom(taskId, built, outputs, false, null);
    }
    for (const [filePath, state] of outputs) if (state.kind === 'file') this.currentSha.set(filePath, state.sha256);
    return decision;
  }

  private decideFrom(
    taskId: string,
    built: AttemptRecord | undefined,
    outputs: ReadonlyMap<string, FileState>,
    forced: boolean,
    blockedBy: string | null,
  ): Decision {
    return decideTaskState({ built, stamp: () => this.currentStamp(taskId), stampText: this.stampText(taskId), outputs, forced, blockedBy });
  }

  /** Declared outputs plus the extra files the built attempt wrote. */
  private outputStates(taskId: string, built: AttemptRecord | undefined): Map<string, FileState> {
    const states = new Map<string, FileState>();
    for (const filePath of this.graph.outputs.get(taskId)!) states.set(filePath, this.hasher.state(filePath));
    for (const filePath of Object.keys(built?.outputs ?? {})) {
      if (!states.has(filePath)) states.set(filePath, this.hasher.state(filePath));
    }
    return states;
  }

  private currentStamp(taskId: string): Stamp {
    const task = this.graph.tasks.get(taskId)!;
    const inputs: Record<string, string> = {};
    for (const filePath of this.knownInputs(taskId)) inputs[filePath] = this.currentSha.get(filePath)!;
    return { version: task.version, params: task.stampParams(), inputs };
  }

  /** The text of `currentStamp(taskId)`, built without the record (the head is cached: it holds no input). */
  private stampText(taskId: string): string {
    let head = this.stampHeads.get(taskId);
    if (head === undefined) {
      const task = this.graph.tasks.get(taskId)!;
      head = stampHead(task.version, task.stampParams());
      this.stampHeads.set(taskId, head);
    }
    const paths = this.knownInputs(taskId);
    if (paths.length > 1) paths.sort();
    return stampText(head, paths, (filePath) => this.currentSha.get(filePath)!);
  }

  /** The outputs of the task's dependencies whose sha256 is known: what its stamp is made of. */
  private knownInputs(taskId: string): string[] {
    const paths: string[] = [];
    for (const dep of this.graph.requires.get(taskId)!) {
      for (const filePath of this.outputPaths(dep)) if (this.currentSha.has(filePath)) paths.push(filePath);
    }
    return paths;
  }

  /** A task's declared outputs and the extra files its current build wrote; cached until it builds again. */
  private outputPaths(taskId: string): readonly string[] {
    let paths = this.outputPathsCache.get(taskId);
    if (paths === undefined) {
      const declared = this.graph.outputs.get(taskId)!;
      const extras = Object.keys(this.snapshot.built.get(taskId)?.outputs ?? {}).filter((p) => !declared.includes(p));
      paths = extras.length === 0 ? declared : [...declared, ...extras];
      this.outputPathsCache.set(taskId, paths);
    }
    return paths;
  }

  /** A file that differs from its newest stored version was edited by a person: keep it, store it. */
  private hasEdits(outputs: ReadonlyMap<string, FileState>): boolean {
    for (const [filePath, state] of outputs) {
      if (state.kind !== 'file') continue;
      const latest = this.snapshot.latestContent.get(filePath);
      if (latest !== undefined && latest !== state.sha256) return true;
    }
    return false;
  }

  private async recordEdits(taskId: string, outputs: ReadonlyMap<string, FileState>): Promise<void> {
    for (const [filePath, state] of outputs) {
      if (state.kind !== 'file') continue;
      const latest = this.snapshot.latestContent.get(filePath);
      if (latest === undefined || latest === state.sha256) continue;
      if (!this.options.dryRun) {
        await this.store.recordEdit(this.options.runId, taskId, filePath, state.sha256, fs.readFileSync(path.join(this.runDir, filePath)));
      }
      this.snapshot.latestContent.set(filePath, state.sha256);
      this.emit({ type: 'file-edited', taskId, path: filePath, sha256: state.sha256 });
    }
  }

  /** Files a task never built are already there: record them as its output, as if it had written them. */
  private async adopt(taskId: string, outputs: ReadonlyMap<string, FileState>): Promise<void> {
    if (this.options.dryRun) return;
    const contents = [...outputs.keys()].map((filePath) => {
      const bytes = fs.readFileSync(path.join(this.runDir, filePath));
      return { path: filePath, sha256: (outputs.get(filePath) as { sha256: string }).sha256, bytes };
    });
    const attemptId = await this.store.startAttempt(this.options.runId, taskId);
    await this.store.persistAttempt(attemptId, this.stampText(taskId), contents);
    await this.store.completeAttempt(attemptId, contents.map((c) => this.hasher.learn(c.path, c.sha256)));
    const [attempt] = (await this.store.listAttempts(this.options.runId, taskId)).filter((a) => a.id === attemptId);
    this.snapshot.built.set(taskId, attempt!);
    for (const c of contents) this.snapshot.latestContent.set(c.path, c.sha256);
  }

  private async restoreFiles(taskId: string, built: AttemptRecord, missing: readonly string[]): Promise<void> {
    const stats = [];
    for (const filePath of missing) {
      const sha = this.snapshot.latestContent.get(filePath) ?? built.outputs?.[filePath];
      const bytes = sha === undefined ? null : await this.store.readContentBySha(this.options.runId, filePath, sha);
      if (bytes === null || sha === undefined) continue;
      stats.push(this.hasher.learn(filePath, sha, writeFileAtomic(this.runDir, filePath, bytes)));
      this.emit({ type: 'file-restored', taskId, path: filePath });
    }
    await this.store.saveFileStats(this.options.runId, stats);
  }

  /** Dry run: decide every task in order; a task downstream of one that would run is stale because of it. */
  private decideAllDry(): void {
    const wouldRun = new Set<string>();
    for (const taskId of this.graph.order) {
      const built = this.snapshot.built.get(taskId);
      const outputs = this.outputStates(taskId, built);
      for (const [filePath, state] of outputs) if (state.kind === 'file') this.currentSha.set(filePath, state.sha256);
      let decision = this.decideFrom(taskId, built, outputs, this.forced.has(taskId), null);
      const upstream = this.graph.requires.get(taskId)!.find((dep) => wouldRun.has(dep));
      const inputReason = decision.state === 'fresh' || /^(new )?input /.test(decision.reason);
      if (upstream !== undefined && inputReason && !decision.adopt && !this.forced.has(taskId)) {
        decision = { ...decision, state: 'stale', reason: `upstream ${upstream} will run` };
      }
      if (decision.state === 'missing' && this.options.restore && decision.missing.length > 0 && built) {
        decision = { ...decision, state: 'fresh', reason: 'outputs will be restored from the database' };
      }
      if (decision.state !== 'fresh') wouldRun.add(taskId);
      else this.summary.fresh++;
      this.decisions.set(taskId, { state: decision.state, reason: decision.reason });
      this.emit({ type: 'task-decided', taskId, state: decision.state, reason: decision.reason });
    }
  }

  private stop(reason: 'interrupted' | 'failure'): void {
    if (this.stopping && reason !== 'interrupted') return;
    if (!this.stopping) this.emit({ type: 'build-stopping', reason });
    this.stopping = true;
    if (reason === 'interrupted') this.stopController.abort(new Error('the build was interrupted'));
  }

  private finalStatus(): BuildStatus {
    if (this.stopController.signal.aborted) return 'cancelled';
    if (this.summary.failed.length > 0 || this.summary.blocked.length > 0) return 'failed';
    return 'success';
  }

  private statusReason(status: BuildStatus): string | null {
    if (status === 'failed') return `failed: ${this.summary.failed.join(', ')}`;
    if (status === 'cancelled') return 'interrupted';
    return null;
  }
}

function runStatusOf(status: BuildStatus): 'complete' | 'failed' | 'cancelled' {
  return status === 'success' ? 'complete' : status;
}

/**
 * The checks `build` makes before it touches anything (every graph problem, unknown `--force` names), for a
 * caller that must not store anything — e.g. create a run — for a build that would be refused.
 */
export function checkBuildable<S extends object>(roots: readonly Task<S>[], force: readonly string[] = [], until: readonly string[] = []): void {
  resolveForced(selectGraph(roots, until), force);
}

/** The whole graph, or with `until` only the named tasks and what they need. */
function selectGraph<S extends object>(roots: readonly Task<S>[], until: readonly string[]): TaskGraph<S> {
  const graph = planGraph(roots);
  if (until.length === 0) return graph;
  return planGraph([...resolveNames(graph, until)].map((id) => graph.tasks.get(id)!));
}

/** Task ids or class names → the ids they name. Unknown ones are a usage error. */
function resolveNames<S extends object>(graph: TaskGraph<S>, names: readonly string[]): Set<string> {
  const matched = new Set<string>();
  const unknown: string[] = [];
  for (const name of names) {
    const hits = graph.order.filter((id) => id === name || id.split('(')[0] === name);
    if (hits.length === 0) unknown.push(name);
    hits.forEach((id) => matched.add(id));
  }
  if (unknown.length > 0) throw new UsageError(`unknown task ${unknown.map((n) => `'${n}'`).join(', ')} (see 'plan status' for the task names)`);
  return matched;
}

/** `--force` names, with everything downstream of them. */
function resolveForced<S extends object>(graph: TaskGraph<S>, names: readonly string[]): Set<string> {
  const matched = resolveNames(graph, names);
  // Everything downstream of a forced task is forced too.
  const queue = [...matched];
  while (queue.length > 0) {
    for (const dependent of graph.dependents.get(queue.pop()!)!) {
      if (!matched.has(dependent)) {
        matched.add(dependent);
        queue.push(dependent);
      }
    }
  }
  return matched;
}

/** Directories of outputs that exist must resolve inside the run dir (no symlinked folder leading out). */
function checkOutputDirectories<S extends object>(graph: TaskGraph<S>, runDir: string): void {
  const realRunDir = fs.realpathSync(runDir);
  const problems: string[] = [];
  const dirs = new Set<string>();
  for (const filePath of graph.ownerOf.keys()) {
    const dir = path.posix.dirname(filePath);
    if (dir !== '.') dirs.add(dir);
  }
  for (const dir of dirs) {
    let real: string;
    try {
      real = fs.realpathSync(path.join(runDir, dir));
    } catch {
      continue;
    }
    const inside = path.relative(realRunDir, real);
    if (inside.startsWith('..') || path.isAbsolute(inside)) problems.push(`folder '${dir}' of the run dir leads out of it (to ${real})`);
  }
  if (problems.length > 0) throw new GraphError(problems);
}

/** For each task, the number of tasks on the longest chain from it to the end: the critical path goes first. */
function criticalPathLengths<S extends object>(graph: TaskGraph<S>): Map<string, number> {
  const lengths = new Map<string, number>();
  for (let i = graph.order.length - 1; i >= 0; i--) {
    const id = graph.order[i]!;
    let longest = 0;
    for (const dependent of graph.dependents.get(id)!) longest = Math.max(longest, lengths.get(dependent)!);
    lengths.set(id, longest + 1);
  }
  return lengths;
}
