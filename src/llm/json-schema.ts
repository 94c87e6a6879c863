import type { ZodType } from 'zod';
import { loadedZod } from './zod.js';

/**
 * The JSON schema of an answer, as sent to providers and walked by the offline model. A loose record: only the
 * keywords we read are typed, and the value is plain JSON.
 */
export type JsonSchema = { [keyword: string]: unknown };

const OPTIONS = { io: 'input', unrepresentable: 'any' } as const;

/**
 * The *input* side of the zod schema: the model writes what `schema.parse` reads, so defaults are optional and
 * transforms show their source type. Types JSON cannot express (dates, …) become `{}` instead of throwing: a
 * task with such a field still works, the model is just told less.
 *
 * zod is not imported here (see zod.ts): a model call awaits `loadZod()` first, and this uses its
 * `z.toJSONSchema`. Before that, a schema's own `toJSONSchema` method does the same conversion (every schema
 * made with `z` has one, and a schema in hand means its zod is loaded); a schema without one needs `loadZod()`.
 */
export function answerJsonSchema(schema: ZodType): JsonSchema {
  const json = toJsonSchema(schema) as JsonSchema;
  // Providers reject or ignore `$schema`; it also adds nothing to the request hash.
  const { $schema: _ignored, ...rest } = json;
  return rest;
}

function toJsonSchema(schema: ZodType): unknown {
  if (typeof schema !== 'object' || schema === null || !('_zod' in schema)) {
    // E.g. a lazy schema of the task helpers (lazySchema): those resolve it; ctx.llm.complete takes the built one.
    throw new TypeError('the schema of a model call must be a zod 4 schema (for a lazy schema, pass `await schema.resolve()`)');
  }
  const z = loadedZod();
  if (z !== undefined) return z.toJSONSchema(schema, OPTIONS);
  const own = (schema as { toJSONSchema?: unknown }).toJSONSchema;
  if (typeof own === 'function') return (own as (params: typeof OPTIONS) => unknown).call(schema, OPTIONS);
  throw new Error('answerJsonSchema: zod is not loaded yet and this schema has no toJSONSchema method: await loadZod() first');
}
