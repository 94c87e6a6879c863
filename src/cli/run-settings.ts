import type { Price } from '../llm/index.js';

/**
 * How a run is built, apart from what it builds: the model list, model calls at once, the budget and the
 * prices given with `--price`. They are kept in the run's params under `settings`, so that the next
 * `plan build` of the dir goes on with them instead of the defaults, but they are no parameter of the
 * pipeline: tasks never see them, so no stamp holds them and a run finished on another model is the same plan.
 */
export interface RunSettings {
  /** Model specs in fallback order. */
  models: string[];
  llmConcurrency: number;
  maxCostUsd: number | null;
  /** USD per million tokens given with `--price`, by model spec. */
  prices: Record<string, Price>;
}

export const SETTINGS_KEY = 'settings';

/** The run's parameters as its pipeline gets them: without the settings. */
export function pipelineParams(params: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const { [SETTINGS_KEY]: _settings, ...rest } = params;
  return rest;
}

/** The settings stored with a run; null for a run made before they were stored (or with a damaged record). */
export function settingsOf(params: Readonly<Record<string, unknown>>): RunSettings | null {
  const value = params[SETTINGS_KEY] as Partial<RunSettings> | undefined;
  if (typeof value !== 'object' || value === null) return null;
  const { models, llmConcurrency, maxCostUsd, prices } = value;
  if (!Array.isArray(models) || models.length === 0 || !models.every((m) => typeof m === 'string')) return null;
  if (typeof llmConcurrency !== 'number' || !(maxCostUsd === null || typeof maxCostUsd === 'number')) return null;
  return { models, llmConcurrency, maxCostUsd, prices: typeof prices === 'object' && prices !== null ? prices : {} };
}

export function sameModels(a: RunSettings, b: RunSettings): boolean {
  return a.models.join('\n') === b.models.join('\n');
}

/**
 * `--conversations` is kept with the run like `--speed` (a parameter: it is in the stamps of the tasks it
 * changes). A run made before the option has none and is built sequential. Announced like a change of model,
 * since the tasks it changes are asked (and paid for) again: null when the mode stays as it was.
 */
export function conversationsChange(before: Readonly<Record<string, unknown>>, after: Readonly<Record<string, unknown>>): string | null {
  if (!('conversations' in after) || before.conversations === after.conversations) return null;
  const was = typeof before.conversations === 'string' ? before.conversations : 'sequential';
  if (was === after.conversations) return null;
  const predates = 'conversations' in before ? '' : ' (made before the option)';
  return `run was built with --conversations ${was}${predates}; continuing with ${String(after.conversations)}: the tasks it changes are rebuilt`;
}
