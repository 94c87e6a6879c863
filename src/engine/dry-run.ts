import { decideTaskState, decision as makeDecision, type Decision } from './decide.js';
import { dependsOnInputsOnly } from './decision-cause.js';
import type { RunState } from './run-state.js';

/**
 * `--dry-run`: decide every task in order, running and writing nothing. A task downstream of one that would
 * run is stale because of it when its own cause is about inputs only (its inputs are not known yet).
 */
export function decideAllDry<S extends object>(
  state: RunState<S>,
  options: { forced: ReadonlySet<string>; restore: boolean },
): Map<string, Decision> {
  const { graph } = state;
  const wouldRun = new Set<string>();
  const decisions = new Map<string, Decision>();
  for (const taskId of graph.order) {
    const built = state.snapshot.built.get(taskId);
    const outputs = state.outputStates(taskId, built);
    for (const [filePath, fileState] of outputs) if (fileState.kind === 'file') state.currentSha.set(filePath, fileState.sha256);
    const forced = options.forced.has(taskId);
    const pinned = state.pinnedOutputs(taskId);
    let decision = decideTaskState({
      built,
      stamp: () => state.currentStamp(taskId),
      stampText: state.stampText(taskId),
      outputs,
      forced,
      blockedBy: null,
      pinned,
    });
    const upstream = graph.requires.get(taskId)!.find((dep) => wouldRun.has(dep));
    if (upstream !== undefined && dependsOnInputsOnly(decision.cause) && !forced) {
      decision = makeDecision('stale', { kind: 'upstream-will-run', upstream });
    }
    if (decision.cause.kind === 'output-missing' && options.restore && built) {
      decision = makeDecision('fresh', { kind: 'will-restore', paths: decision.missing });
    }
    if (decision.state !== 'fresh' && decision.state !== 'pinned') wouldRun.add(taskId);
    decisions.set(taskId, decision);
  }
  return decisions;
}
