import type { EndpointMode, ResponseFormat } from '../../store/store.js';
import type { ChatMessage } from '../types.js';
import type { JsonSchema } from '../json-schema.js';
import { BadRequestError, type LlmError } from '../errors.js';

/**
 * How a JSON answer is asked for, richest first: `json_schema` (the server constrains the answer to the
 * schema), `json_object` (JSON mode: any JSON object, the schema in the instructions and, for servers that read
 * it, in the request), `prompt` (nothing but the instructions). Servers that know only part of OpenAI's API
 * refuse the richer modes, often with a bare 400 or a 422; each refusal moves the call one mode down.
 * Every answer is validated against the schema whatever the mode.
 */
export type { EndpointMode, ResponseFormat };

const DOWNGRADE: Record<EndpointMode, EndpointMode | null> = { json_schema: 'json_object', json_object: 'prompt', prompt: null };
const RANK: Record<EndpointMode, number> = { json_schema: 0, json_object: 1, prompt: 2 };

/** 4xx statuses that say something other than "I do not know this response_format". */
const NOT_ABOUT_FORMAT: ReadonlySet<number> = new Set([401, 403, 404, 408, 409, 413, 429]);

/** The mode to try after `mode` was refused with `error`; null when the error is not such a refusal, or no mode is left. */
export function downgradeAfter(mode: ResponseFormat, error: LlmError): EndpointMode | null {
  if (mode === 'text' || !(error instanceof BadRequestError)) return null;
  const status = error.httpStatus;
  if (status === null || status < 400 || status >= 500 || NOT_ABOUT_FORMAT.has(status)) return null;
  return DOWNGRADE[mode];
}

/** The poorer of two modes: what both an earlier refusal and this one leave. */
export function poorerMode(a: EndpointMode, b: EndpointMode): EndpointMode {
  return RANK[a] >= RANK[b] ? a : b;
}

/** The messages as sent in this mode: outside `json_schema`, the schema travels in the instructions. */
export function messagesFor(messages: readonly ChatMessage[], schema: JsonSchema | null, mode: ResponseFormat): readonly ChatMessage[] {
  if (schema === null || mode === 'json_schema' || mode === 'text') return messages;
  const instruction = `Answer with one JSON object only (no prose, no code fences) that matches this JSON schema:\n${JSON.stringify(schema)}`;
  const [first, ...rest] = messages;
  if (first?.role === 'system') return [{ role: 'system', content: `${first.content}\n\n${instruction}` }, ...rest];
  return [{ role: 'system', content: instruction }, ...messages];
}
