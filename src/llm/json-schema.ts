import { z, type ZodType } from 'zod';

/**
 * The JSON schema of an answer, as sent to providers and walked by the offline model. A loose record: only the
 * keywords we read are typed, and the value is plain JSON.
 */
export type JsonSchema = { [keyword: string]: unknown };

/**
 * The *input* side of the zod schema: the model writes what `schema.parse` reads, so defaults are optional and
 * transforms show their source type. Types JSON cannot express (dates, …) become `{}` instead of throwing: a
 * task with such a field still works, the model is just told less.
 */
export function answerJsonSchema(schema: ZodType): JsonSchema {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  // Providers reject or ignore `$schema`; it also adds nothing to the request hash.
  const { $schema: _ignored, ...rest } = json;
  return rest;
}
