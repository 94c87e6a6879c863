import { describe, expect, it } from 'vitest';
import { costUsd, priceFor } from '../../src/llm/pricing.js';
import { parseModelSpec } from '../../src/llm/model-spec.js';

describe('pricing', () => {
  it('prices known models per million tokens', () => {
    const result = costUsd('gpt-4o-mini', { inputTokens: 1_000_000, outputTokens: 1_000_000 });
    expect(result.price).toEqual({ inputPerM: 0.15, outputPerM: 0.6 });
    expect(result.costUsd).toBeCloseTo(0.75, 10);
    expect(costUsd(parseModelSpec('openai:gpt-4o'), { inputTokens: 2000, outputTokens: 1000 }).costUsd).toBeCloseTo(0.015, 10);
    expect(priceFor(parseModelSpec('openrouter:anthropic/claude-3.5-haiku'))).toEqual({ inputPerM: 0.8, outputPerM: 4 });
    expect(priceFor(parseModelSpec('openrouter:meta-llama/llama-3.3-70b-instruct'))).toEqual({ inputPerM: 0.12, outputPerM: 0.3 });
    expect(priceFor(parseModelSpec('openrouter:openai/gpt-4o-mini'))).toEqual({ inputPerM: 0.15, outputPerM: 0.6 });
  });

  it('recognises dated model names the server answers with', () => {
    expect(priceFor(parseModelSpec('openai:gpt-4o-mini'), {}, 'gpt-4o-mini-2024-07-18')).toEqual({ inputPerM: 0.15, outputPerM: 0.6 });
    expect(priceFor('gpt-4.1-nano-2025-04-14')).toEqual({ inputPerM: 0.1, outputPerM: 0.4 });
  });

  it('makes offline and ollama free: both run on this machine', () => {
    expect(costUsd(parseModelSpec('offline'), { inputTokens: 5000, outputTokens: 5000 })).toEqual({
      costUsd: 0,
      price: { inputPerM: 0, outputPerM: 0 },
    });
    expect(costUsd(parseModelSpec('ollama:llama3'), { inputTokens: 10, outputTokens: 10 }).costUsd).toBe(0);
  });

  it('an openai-compatible model missing from the table has an unknown price (null), not $0: it may be a paid hosted endpoint', () => {
    const hosted = parseModelSpec('openai-compatible:some-model@https://api.example.com/v1');
    expect(priceFor(hosted)).toBeNull();
    expect(costUsd(hosted, { inputTokens: 10, outputTokens: 10 })).toEqual({ costUsd: null, price: null });
    expect(priceFor(parseModelSpec('openai-compatible:x@http://127.0.0.1:1/v1'))).toBeNull();
    // What the server says answered still finds a price, and so does a price given for the spec.
    expect(priceFor(hosted, {}, 'gpt-4o-mini')).toEqual({ inputPerM: 0.15, outputPerM: 0.6 });
    expect(priceFor(hosted, { [hosted.spec]: { inputPerM: 1, outputPerM: 2 } })).toEqual({ inputPerM: 1, outputPerM: 2 });
  });

  it('returns null, not a crash, for an unknown model', () => {
    expect(costUsd(parseModelSpec('openai:gpt-9-turbo'), { inputTokens: 10, outputTokens: 10 })).toEqual({ costUsd: null, price: null });
    expect(costUsd('mystery', { inputTokens: 1, outputTokens: 1 })).toEqual({ costUsd: null, price: null });
  });

  it('lets a config map override or add prices, by spec or by name', () => {
    const overrides = { 'gpt-4o-mini': { inputPerM: 1, outputPerM: 2 }, 'ollama:big': { inputPerM: 3, outputPerM: 3 } };
    expect(priceFor('gpt-4o-mini', overrides)).toEqual({ inputPerM: 1, outputPerM: 2 });
    expect(priceFor(parseModelSpec('ollama:big'), overrides)).toEqual({ inputPerM: 3, outputPerM: 3 });
    expect(costUsd('gpt-4o-mini', { inputTokens: 1_000_000, outputTokens: 0 }, overrides).costUsd).toBe(1);
  });
});
