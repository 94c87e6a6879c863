import type { ChatMessage } from '../types.js';
import type { JsonSchema } from '../json-schema.js';
import type { ModelSpec } from '../model-spec.js';
import type { Reasoning } from './reasoning.js';
import type { ResponseFormat } from './response-format.js';

/** Token counts of one answer; `estimated` when the provider did not report them (chars / 4). */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  estimated: boolean;
}

export interface ProviderRequest {
  /** As they are sent: outside `json_schema` mode they already carry the schema instruction (see messagesFor). */
  messages: readonly ChatMessage[];
  /** Asks for JSON of this shape; null for a plain-text answer. */
  json: { name: string; schema: JsonSchema } | null;
  /** How the JSON is asked for; default `json_schema` for a JSON request, `text` otherwise. */
  format?: ResponseFormat;
  maxOutputTokens?: number;
  temperature?: number;
  /** Aborts the request: cancellation by the build, or the per-call timeout. */
  signal: AbortSignal;
}

export interface ProviderResponse {
  text: string;
  /** The model the server says answered (its `model` field), e.g. `gpt-4o-mini-2024-07-18`. */
  answeredModel: string;
  usage: Usage;
  httpStatus: number | null;
  /** A reasoning model's thinking, taken out of `text`; absent when the model did not reason. */
  reasoning?: Reasoning;
}

/** One way of asking a model. Providers throw `LlmError`s; they neither retry nor record. */
export interface Provider {
  readonly spec: ModelSpec;
  complete(request: ProviderRequest): Promise<ProviderResponse>;
}

/** The usual rough rule of four characters per token, for when a count is needed and none was given. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

export function messagesChars(messages: readonly ChatMessage[]): string {
  return messages.map((m) => m.content).join('\n');
}
