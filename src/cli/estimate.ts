import { costFromPrice, priceFor, type ModelSpec, type PriceTable } from '../llm/index.js';
import { TYPICAL_CALL_TOKENS } from '../tasks/typical-calls.js';
import type { Pipeline } from '../engine/pipeline.js';
import type { Store } from '../store/store.js';

/**
 * What the tasks a dry run would run are expected to cost: per task, the average of its calls and tokens in
 * earlier runs of the same pipeline and speed when the database has any, else the pipeline's typical counts.
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
}

type WithTypicalCalls = { typicalModelCalls?: (taskId: string, params: Readonly<Record<string, unknown>>) => number };

export async function estimateModelCalls(
  store: Store,
  pipeline: Pipeline & WithTypicalCalls,
  run: { pipeline: string; params: Readonly<Record<string, unknown>> },
  taskIds: readonly string[],
  model: ModelSpec,
  prices: PriceTable,
): Promise<CallEstimate> {
  const speed = typeof run.params.speed === 'string' ? run.params.speed : undefined;
  const history = new Map((await store.taskCallHistory({ pipeline: run.pipeline, speed })).map((h) => [h.taskId, h]));
  const estimate: CallEstimate = { calls: 0, inputTokens: 0, outputTokens: 0, costUsd: null, model: model.spec, fromHistory: 0, fromTypical: 0 };
  for (const taskId of taskIds) {
    const past = history.get(taskId);
    if (past !== undefined) {
      estimate.calls += past.calls / past.runs;
      estimate.inputTokens += past.inputTokens / past.runs;
      estimate.outputTokens += past.outputTokens / past.runs;
      estimate.fromHistory++;
      continue;
    }
    const calls = pipeline.typicalModelCalls?.(taskId, run.params) ?? 0;
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
    `model calls: ~${estimate.calls} (~${estimate.inputTokens.toLocaleString('en-US')} input / ` +
    `~${estimate.outputTokens.toLocaleString('en-US')} output tokens), ${cost} on ${estimate.model}` +
    (basis.length > 0 ? ` — ${basis.join(', ')}` : '')
  );
}
