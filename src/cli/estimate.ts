import { costFromPrice, priceFor, type ModelSpec, type PriceTable } from '../llm/index.js';
import { TYPICAL_CALL_TOKENS } from '../tasks/typical-calls.js';
import type { DecisionCause } from '../engine/decision-cause.js';
import type { TaskState } from '../engine/events.js';
import type { Pipeline } from '../engine/pipeline.js';
import type { Store } from '../store/store.js';
import { plural } from './output.js';
import { pipelineParams } from './run-settings.js';

/**
 * What the tasks a dry run would run are expected to cost: per task, what one build of it asked for in earlier
 * runs of the same pipeline and speed (on average) when the database has any, else the pipeline's typical counts.
 */
export interface CallEstimate {
  calls: number;
  inputTokens: number;
  outputTokens: number;
  /** For the first model of the list; null when its price is unknown. */
  costUsd: number | null;
  model: string;
  /** How many of the tasks were estimated from earlier runs, and how many from typical counts. */
  fromHistory: number;
  fromTypical: number;
  /** Tasks that would run, at most; the figures above count them all. */
  tasks: number;
  /** Of those, the ones that run only if what they read changes (early cutoff may leave them fresh). */
  uncertainTasks: number;
}

export type DryRunDecisions = ReadonlyMap<string, { state: TaskState; cause: DecisionCause }>;

type WithTypicalCalls = { typicalModelCalls?: (taskId: string, params: Readonly<Record<string, unknown>>) => number };

export async function estimateModelCalls(
  store: Store,
  pipeline: Pipeline & WithTypicalCalls,
  run: { pipeline: string; params: Readonly<Record<string, unknown>> },
  decisions: DryRunDecisions,
  model: ModelSpec,
  prices: PriceTable,
): Promise<CallEstimate> {
  const params = pipelineParams(run.params);
  const speed = typeof params.speed === 'string' ? params.speed : undefined;
  const history = new Map((await store.taskCallHistory({ pipeline: run.pipeline, speed })).map((h) => [h.taskId, h]));
  const { wouldRun, uncertain } = wouldRunOf(decisions);
  const estimate: CallEstimate = {
    calls: 0,
    inputTokens: 0,
    outputTokens: 0,
    costUsd: null,
    model: model.spec,
    fromHistory: 0,
    fromTypical: 0,
    tasks: wouldRun.length,
    uncertainTasks: uncertain,
  };
  for (const taskId of wouldRun) {
    const past = history.get(taskId);
    if (past !== undefined) {
      estimate.calls += past.calls / past.runs;
      estimate.inputTokens += past.inputTokens / past.runs;
      estimate.outputTokens += past.outputTokens / past.runs;
      estimate.fromHistory++;
      continue;
    }
    const calls = pipeline.typicalModelCalls?.(taskId, params) ?? 0;
    if (calls === 0) continue;
    estimate.calls += calls;
    estimate.inputTokens += calls * TYPICAL_CALL_TOKENS.input;
    estimate.outputTokens += calls * TYPICAL_CALL_TOKENS.output;
    estimate.fromTypical++;
  }
  estimate.calls = Math.round(estimate.calls);
  estimate.inputTokens = Math.round(estimate.inputTokens);
  estimate.outputTokens = Math.round(estimate.outputTokens);
  const price = priceFor(model, prices);
  estimate.costUsd = price === null ? null : costFromPrice(price, { inputTokens: estimate.inputTokens, outputTokens: estimate.outputTokens });
  return estimate;
}

export function describeEstimate(estimate: CallEstimate): string {
  const basis = [
    estimate.fromHistory > 0 ? `${estimate.fromHistory} task(s) from earlier runs` : '',
    estimate.fromTypical > 0 ? `${estimate.fromTypical} from typical counts` : '',
  ].filter(Boolean);
  const cost = estimate.costUsd === null ? 'cost unknown (no price for this model)' : `~$${estimate.costUsd.toFixed(4)}`;
  return (
    `model calls: ${estimate.uncertainTasks > 0 ? 'up to ' : ''}~${estimate.calls} (~${estimate.inputTokens.toLocaleString('en-US')} input / ` +
    `~${estimate.outputTokens.toLocaleString('en-US')} output tokens), ${cost} on ${estimate.model}` +
    (basis.length > 0 ? ` — ${basis.join(', ')}` : '')
  );
}

/** The dry run's last line: how many tasks would run, "up to" when early cutoff may leave some of them fresh. */
export function describeWouldRun(decisions: DryRunDecisions): string {
  const { wouldRun, uncertain } = wouldRunOf(decisions);
  const fresh = decisions.size - wouldRun.length;
  const count = uncertain === 0 ? plural(wouldRun.length, 'task') : `up to ${plural(wouldRun.length, 'task')}`;
  const maybe = uncertain === 0 ? '' : ` (${uncertain} of them only if what they read changes)`;
  return `dry run: ${count} would run${maybe}, ${fresh} fresh, of ${decisions.size}`;
}

/**
 * Every task but the fresh and the pinned would run. One stale only because an upstream task will run first may
 * stay fresh: when the upstream output comes out byte-identical, early cutoff skips it.
 */
function wouldRunOf(decisions: DryRunDecisions): { wouldRun: string[]; uncertain: number } {
  const notFresh = [...decisions].filter(([, d]) => d.state !== 'fresh' && d.state !== 'pinned');
  return { wouldRun: notFresh.map(([id]) => id), uncertain: notFresh.filter(([, d]) => d.cause.kind === 'upstream-will-run').length };
}
