import path from 'node:path';
import { RunState } from '../engine/run-state.js';
import { TaskDecider } from '../engine/task-decider.js';
import { runAttempt } from '../engine/attempt.js';
import { defaultBackoff } from '../engine/backoff.js';
import { writeFileAtomic } from '../engine/materialize.js';
import { errorMessage } from '../engine/errors.js';
import type { TaskGraph } from '../engine/graph.js';
import type { ServiceFactory } from '../engine/context.js';
import type { BuildEvent } from '../engine/events.js';
import type { ContentRef, Store } from '../store/store.js';

export interface ScratchTask<S extends object> {
  store: Store;
  runId: string;
  taskId: string;
  graph: TaskGraph<S>;
  /** Every task of the pipeline (who owns which file). */
  all: TaskGraph<S>;
  /** Tasks the run was handed over to rebuild (`--force`). */
  forced: ReadonlySet<string>;
  /** An empty folder of this job's own: the task's inputs are written there from the database. */
  scratchDir: string;
  services: ServiceFactory<S> | undefined;
  signal: AbortSignal;
  emit: (event: BuildEvent) => void;
}

export type ScratchOutcome =
  | { kind: 'fresh' | 'pinned' }
  | { kind: 'ran'; changed: boolean }
  | { kind: 'failed'; error: string }
  | { kind: 'cancelled' };

/**
 * One task of a run, on a worker: what `plan build` does for it, against a scratch folder that holds what the
 * run dir would — every file of its dependencies and its own outputs at their newest stored version (a
 * person's edit included) — written from the database, since no file system is shared. Then the same decision
 * (an unchanged task is fresh: early cutoff) and the same DB-first attempt, with retries and replayed calls.
 */
export async function runTaskInScratch<S extends object>(job: ScratchTask<S>): Promise<ScratchOutcome> {
  const { store, runId, taskId, graph } = job;
  const loaded = await store.loadRunSnapshot(runId);
  // The run's hash cache describes files elsewhere; here every file is hashed as written.
  const snapshot = { ...loaded, fileStats: new Map() };
  const state = new RunState(graph, job.all, job.scratchDir, snapshot);

  // Every file the scratch folder needs, read in one round trip.
  const wanted: ContentRef[] = [];
  for (const dep of graph.requires.get(taskId)!) {
    const built = snapshot.built.get(dep);
    if (built === undefined) return { kind: 'failed', error: `its dependency ${dep} has no stored build` };
    for (const filePath of filesOf(graph, dep, built.outputs)) {
      const sha = snapshot.latestContent.get(filePath) ?? built.outputs?.[filePath];
      if (sha === undefined) continue;
      wanted.push({ path: filePath, sha256: sha });
      state.currentSha.set(filePath, sha);
    }
  }
  const own = snapshot.built.get(taskId);
  for (const filePath of filesOf(graph, taskId, own?.outputs ?? null)) {
    const sha = snapshot.latestContent.get(filePath);
    if (sha !== undefined) wanted.push({ path: filePath, sha256: sha });
  }
  const contents = await store.readContentsBySha(runId, wanted);
  for (const [i, { path: filePath, sha256 }] of wanted.entries()) writeStored(job, filePath, sha256, contents[i]!);

  const decider = new TaskDecider(state, { runId, runDir: job.scratchDir, store, forced: job.forced, restore: false, emit: job.emit });
  const decision = await decider.decide(taskId, null);
  job.emit({ type: 'task-decided', taskId, state: decision.state, reason: decision.reason });
  if (decision.invalid !== null) return { kind: 'failed', error: `${decision.invalid}: remove it and build again` };
  if (decision.state === 'fresh' || decision.state === 'pinned') return { kind: decision.state };
  if (decision.state === 'blocked') return { kind: 'failed', error: decision.reason };

  const outcome = await runAttempt({
    task: graph.tasks.get(taskId)!,
    taskId,
    reason: decision.reason,
    runId,
    runDir: job.scratchDir,
    store,
    services: job.services,
    declared: graph.outputs.get(taskId)!,
    ownerOf: graph.ownerOf,
    claimExtras: (paths) => state.claimExtras(taskId, paths),
    releaseClaims: () => state.releaseClaims(taskId),
    previousOutputs: own?.outputs ?? {},
    replayable: snapshot.replayable.get(taskId) ?? [],
    inputs: () => state.runDirInputs(taskId),
    stampText: () => state.stampText(taskId),
    hasher: state.hasher,
    stopSignal: job.signal,
    isStopping: () => job.signal.aborted,
    backoff: defaultBackoff,
    fsync: false,
    emit: job.emit,
  });
  if (outcome.kind === 'complete') {
    const before = own?.outputs ?? {};
    const after = outcome.attempt.outputs ?? {};
    const changed = Object.keys(after).length !== Object.keys(before).length || Object.entries(after).some(([p, sha]) => before[p] !== sha);
    return { kind: 'ran', changed };
  }
  return outcome.kind === 'failed' ? { kind: 'failed', error: outcome.error } : { kind: 'cancelled' };
}

/** A task's declared outputs and the extra files its build wrote. */
function filesOf<S extends object>(graph: TaskGraph<S>, taskId: string, built: Readonly<Record<string, string>> | null): string[] {
  return [...new Set([...graph.outputs.get(taskId)!, ...Object.keys(built ?? {})])];
}

function writeStored<S extends object>(job: ScratchTask<S>, filePath: string, sha: string, bytes: Buffer | null): void {
  if (bytes === null) throw new Error(`the database lacks the content of ${filePath} (sha256 ${sha.slice(0, 12)})`);
  try {
    writeFileAtomic(job.scratchDir, filePath, bytes, { fsync: false });
  } catch (error) {
    throw new Error(`cannot write ${path.join(job.scratchDir, filePath)}: ${errorMessage(error)}`);
  }
}
