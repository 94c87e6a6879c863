import type { Pipeline } from '../engine/pipeline.js';
import type { LlmServices } from '../llm/types.js';
import { FullPlanPipeline } from './catalog.js';
import type { Conversations, PlanConfig, Speed } from './plan-task.js';
import { typicalModelCalls } from './typical-calls.js';

/**
 * The plan's parameters as a run stores them: `prompt` (required), `speed` ('full' by default, or 'fast'),
 * `startTime` (required ISO timestamp, fixed when the run is created so rebuilds agree on dates) and
 * `conversations` ('sequential' or 'parallel'; a run without it was made before the option and stays
 * sequential, so resuming it re-asks nothing — `plan build` gives new runs 'parallel').
 */
export function planConfigFrom(params: Readonly<Record<string, unknown>>): PlanConfig {
  const { prompt, speed = 'full', startTime, conversations } = params;
  if (typeof prompt !== 'string' || prompt.trim() === '') {
    throw new Error('The plan pipeline needs a prompt: the text describing what to plan (e.g. --prompt "A plan for …").');
  }
  if (speed !== 'full' && speed !== 'fast') {
    throw new Error(`The plan pipeline's speed must be 'full' or 'fast', not ${JSON.stringify(speed)}.`);
  }
  if (typeof startTime !== 'string' || Number.isNaN(Date.parse(startTime))) {
    throw new Error(`The plan pipeline needs startTime, an ISO timestamp such as 2026-03-12T10:02:18Z (got ${JSON.stringify(startTime)}).`);
  }
  if (conversations !== undefined && conversations !== 'sequential' && conversations !== 'parallel') {
    throw new Error(`The plan pipeline's conversations must be 'sequential' or 'parallel', not ${JSON.stringify(conversations)}.`);
  }
  return { prompt, speed: speed as Speed, startTime, ...(conversations === undefined ? {} : { conversations: conversations as Conversations }) };
}

export const planPipeline: Pipeline<LlmServices> & { typicalModelCalls(taskId: string, params: Readonly<Record<string, unknown>>): number } = {
  name: 'plan',
  roots: (params) => [new FullPlanPipeline(planConfigFrom(params))],
  /** For `plan build --dry-run`'s estimate when no earlier run is on record. */
  typicalModelCalls: (taskId, params) => typicalModelCalls(taskId, params.speed === 'fast' ? 'fast' : 'full'),
};

export default planPipeline;
