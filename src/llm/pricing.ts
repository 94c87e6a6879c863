import type { ModelSpec } from './model-spec.js';

/**
 * What a model call cost. Prices are USD per million tokens; the price used is stored with every interaction,
 * so a figure can be recomputed when a price changes. An unknown model costs `null` ("we don't know"),
 * never a crash and never a made-up zero.
 */

export interface Price {
  inputPerM: number;
  outputPerM: number;
}

export type PriceTable = Readonly<Record<string, Price>>;

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

/** Keys are model names as providers know them (OpenRouter names carry a vendor prefix). */
export const DEFAULT_PRICES: PriceTable = {
  offline: { inputPerM: 0, outputPerM: 0 },
  'gpt-4o-mini': { inputPerM: 0.15, outputPerM: 0.6 },
  'gpt-4o': { inputPerM: 2.5, outputPerM: 10 },
  'gpt-4.1': { inputPerM: 2, outputPerM: 8 },
  'gpt-4.1-mini': { inputPerM: 0.4, outputPerM: 1.6 },
  'gpt-4.1-nano': { inputPerM: 0.1, outputPerM: 0.4 },
  'openai/gpt-4o-mini': { inputPerM: 0.15, outputPerM: 0.6 },
  'openai/gpt-4o': { inputPerM: 2.5, outputPerM: 10 },
  'openai/gpt-4.1-mini': { inputPerM: 0.4, outputPerM: 1.6 },
  'openai/gpt-4.1-nano': { inputPerM: 0.1, outputPerM: 0.4 },
  'google/gemini-2.0-flash-001': { inputPerM: 0.1, outputPerM: 0.4 },
  'anthropic/claude-3.5-haiku': { inputPerM: 0.8, outputPerM: 4 },
  'meta-llama/llama-3.3-70b-instruct': { inputPerM: 0.12, outputPerM: 0.3 },
};

/**
 * What runs on this machine costs nothing per token: the offline model, and Ollama (its spec always means
 * 127.0.0.1). An `openai-compatible` URL may be a paid hosted endpoint as well as a local server, so a model
 * there has no price until the table or the user gives one.
 */
const FREE_PROVIDERS = new Set(['offline', 'ollama']);

/**
 * The price for a model: overrides first, then the table; by full spec (`openrouter:x`), then by the name of
 * the model that answered (a router may pick another), then by the requested name, each also without a date
 * suffix (`gpt-4o-mini-2024-07-18` answers for `gpt-4o-mini`); local providers are free; anything else is
 * unknown (null).
 */
export function priceFor(model: ModelSpec | string, overrides: PriceTable = {}, answeredModel?: string): Price | null {
  const spec = typeof model === 'string' ? null : model;
  const name = typeof model === 'string' ? model : model.model;
  const names = [answeredModel, name].filter((n): n is string => n !== undefined && n !== '');
  const candidates = [spec?.spec, ...names.flatMap((n) => [n, withoutDateSuffix(n)])].filter((c): c is string => c !== undefined);
  for (const table of [overrides, DEFAULT_PRICES]) {
    for (const key of candidates) {
      const price = table[key];
      if (price !== undefined) return price;
    }
  }
  if (spec !== null && FREE_PROVIDERS.has(spec.provider)) return { inputPerM: 0, outputPerM: 0 };
  return null;
}

export function costUsd(
  model: ModelSpec | string,
  usage: TokenUsage,
  overrides: PriceTable = {},
  answeredModel?: string,
): { costUsd: number | null; price: Price | null } {
  const price = priceFor(model, overrides, answeredModel);
  if (price === null) return { costUsd: null, price: null };
  return { costUsd: costFromPrice(price, usage), price };
}

export function costFromPrice(price: Price, usage: TokenUsage): number {
  return (usage.inputTokens * price.inputPerM + usage.outputTokens * price.outputPerM) / 1_000_000;
}

function withoutDateSuffix(name: string): string {
  return name.replace(/-\d{4}-\d{2}-\d{2}$/, '');
}
