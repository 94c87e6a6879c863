import { describe, expect, it } from 'vitest';
import { z, type ZodType } from 'zod';
import { OfflineProvider, offlineAnswer } from '../../src/llm/providers/offline.js';
import { answerJsonSchema } from '../../src/llm/json-schema.js';
import type { ChatMessage } from '../../src/llm/types.js';
import { CancelledError } from '../../src/llm/errors.js';

const messages: ChatMessage[] = [
  { role: 'system', content: 'You are a careful project planner.' },
  { role: 'user', content: 'Plan the renovation of a community library: budget, contractors, permits and volunteers.' },
];

function answer<T>(schema: ZodType<T>, msgs: ChatMessage[] = messages): { text: string; value: T } {
  const text = offlineAnswer({ messages: msgs, json: { name: 'answer', schema: answerJsonSchema(schema) } });
  return { text, value: schema.parse(JSON.parse(text)) };
}

const Lever = z.object({
  name: z.string(),
  kind: z.enum(['primary', 'secondary', 'tertiary']),
  options: z.array(z.string()).min(3),
  weight: z.number().int().min(1).max(5),
  notes: z.string().optional(),
});

const schemas: [string, ZodType][] = [
  ['flat object', z.object({ title: z.string(), done: z.boolean(), score: z.number() })],
  ['enum and int bounds', Lever],
  ['array min/max', z.object({ items: z.array(z.string()).min(7).max(9), few: z.array(z.number()).max(1) })],
  ['nested objects', z.object({ plan: z.object({ phases: z.array(z.object({ name: z.string(), risks: z.array(Lever) })) }) })],
  ['nullable and optional', z.object({ a: z.string().nullable(), b: z.number().optional(), c: z.boolean().nullish() })],
  [
    'unions',
    z.object({
      u: z.union([z.string(), z.number()]),
      d: z.discriminatedUnion('t', [z.object({ t: z.literal('a'), x: z.string() }), z.object({ t: z.literal('b'), y: z.number() })]),
    }),
  ],
  [
    'number edges',
    z.object({
      p: z.number().positive(),
      n: z.number().negative(),
      e: z.number().gt(3).lt(4),
      m: z.number().multipleOf(0.25).min(1).max(2),
      big: z.number().int().min(1000),
    }),
  ],
  ['string edges', z.object({ long: z.string().min(200), short: z.string().max(5), exact: z.string().length(12) })],
  ['formats', z.object({ email: z.email(), url: z.url(), id: z.uuid(), at: z.iso.datetime(), day: z.iso.date() })],
  [
    'records and tuples',
    z.object({ r: z.record(z.string(), z.number()), k: z.record(z.enum(['low', 'high']), z.string()), t: z.tuple([z.string(), z.number().int()]) }),
  ],
  ['literals and defaults', z.object({ version: z.literal(2), mode: z.string().default('fast'), count: z.number().int().nonnegative() })],
  [
    'top-level array',
    z
      .array(z.object({ id: z.string() }))
      .min(2)
      .max(3),
  ],
  ['intersection', z.intersection(z.object({ a: z.string() }), z.object({ b: z.number() }))],
];

describe('offline model', () => {
  it.each(schemas)('gives schema-valid answers: %s', (_name, schema) => {
    for (const prompt of ['first prompt', 'a second, different prompt about bridges', '']) {
      const msgs: ChatMessage[] = [{ role: 'user', content: prompt }];
      expect(() => answer(schema, msgs)).not.toThrow();
    }
    expect(() => answer(schema)).not.toThrow();
  });

  it('handles recursive schemas without running away', () => {
    interface Node {
      name: string;
      children: Node[];
    }
    const NodeSchema: z.ZodType<Node> = z.object({
      name: z.string(),
      get children() {
        return z.array(NodeSchema);
      },
    });
    const { value } = answer(NodeSchema);
    expect(value.name).toContain('[offline]');
  });

  it('is deterministic: the same request gives the same answer', () => {
    expect(answer(Lever).text).toBe(answer(Lever).text);
    const text = offlineAnswer({ messages, json: null });
    expect(offlineAnswer({ messages, json: null })).toBe(text);
  });

  it('depends on the request', () => {
    const other: ChatMessage[] = [...messages, { role: 'user', content: 'Now focus on the volunteers.' }];
    expect(answer(Lever, other).text).not.toBe(answer(Lever).text);
  });

  it('marks its strings and uses words of the prompt', () => {
    const { value } = answer(Lever);
    expect(value.name.startsWith('[offline] ')).toBe(true);
    const words = value.options.join(' ').toLowerCase();
    expect(/library|renovation|budget|contractors|permits|volunteers|community|plan/.test(words)).toBe(true);
  });

  it('respects array bounds (2-5 items by default)', () => {
    const schema = z.object({ xs: z.array(z.string()) });
    for (const prompt of ['a', 'b', 'c', 'd', 'e', 'f']) {
      const { value } = answer(schema, [{ role: 'user', content: prompt }]);
      expect(value.xs.length).toBeGreaterThanOrEqual(2);
      expect(value.xs.length).toBeLessThanOrEqual(5);
    }
  });

  it('writes marked prose for text calls', () => {
    const text = offlineAnswer({ messages, json: null });
    expect(text.startsWith('[offline] ')).toBe(true);
    expect(text.length).toBeGreaterThan(50);
  });

  it('answers as a provider with simulated tokens and no network', async () => {
    const provider = new OfflineProvider();
    const response = await provider.complete({ messages, json: null, signal: new AbortController().signal });
    expect(response.answeredModel).toBe('offline');
    expect(response.httpStatus).toBeNull();
    expect(response.usage.estimated).toBe(true);
    expect(response.usage.inputTokens).toBe(Math.ceil(messages.map((m) => m.content).join('\n').length / 4));
    expect(response.usage.outputTokens).toBe(Math.ceil(response.text.length / 4));
  });

  it('simulates latency, and a cancelled call stops waiting', async () => {
    const provider = new OfflineProvider({ latencyMs: 5_000 });
    const controller = new AbortController();
    const pending = provider.complete({ messages, json: null, signal: controller.signal });
    setTimeout(() => controller.abort(), 10);
    await expect(pending).rejects.toBeInstanceOf(CancelledError);
    const quick = new OfflineProvider({ latencyMs: 20 });
    const started = Date.now();
    await quick.complete({ messages, json: null, signal: new AbortController().signal });
    expect(Date.now() - started).toBeGreaterThanOrEqual(15);
  });
});
