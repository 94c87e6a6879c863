import type { ZodType } from 'zod';
import type { RejectedAnswerError } from './errors.js';

/**
 * The model-call API tasks use through `ctx.llm`. Every call is recorded as an interaction row (pending before
 * the request, finished after), retried, fallen back and bounded by the LLM layer; tasks never do any of that.
 */

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/**
 * A task's own test of an answer, beyond what a schema can say (ids that must exist, one entry per item…):
 * null accepts it; a reason refuses it. A refused answer is recorded `rejected` (and never replayed), and
 * the model is asked again with its answer and the reason, within the call's tries.
 */
export type AnswerCheck<T> = (value: T) => string | null;

/** What a single call may choose for itself, over the run's settings. */
export interface CallOptions {
  /**
   * The model (a spec as for `--model`: `openai:gpt-4o`, `ollama:llama3`, …) or models, in fallback order, to
   * ask for this call instead of the run's. The answers of a resumed attempt are replayed whatever it names.
   */
  model?: string | readonly string[];
  /** Sampling temperature sent to the provider (0–2); the provider's default when absent. The offline model ignores it. */
  temperature?: number;
}

export interface CompletionRequest<T> extends CallOptions {
  messages: ChatMessage[];
  /** The answer's shape. The provider asks for it (JSON schema) and the answer is validated against it. */
  schema: ZodType<T>;
  /** A short name for the schema (letters, digits, underscores), sent as the JSON schema's name. */
  schemaName: string;
  /** For per-item tasks: which item this call is for (e.g. 'lever-batch-3'); recorded with the interaction. */
  itemKey?: string;
  /** For conversations: the turn number, from 1; recorded with the interaction. */
  turn?: number;
  maxOutputTokens?: number;
  /** Applied after the schema, to fresh and replayed answers alike. */
  check?: AnswerCheck<T>;
}

export interface TextRequest extends CallOptions {
  messages: ChatMessage[];
  itemKey?: string;
  turn?: number;
  maxOutputTokens?: number;
  check?: AnswerCheck<string>;
}

export interface Completion<T> {
  value: T;
  /** The raw response text (the JSON as the model wrote it). */
  text: string;
  /** The model that answered (after fallback), as a spec such as `openai:gpt-4o-mini` or `offline`. */
  model: string;
  interactionId: number;
  replayed: boolean;
}

export interface LlmClient {
  complete<T>(request: CompletionRequest<T>): Promise<Completion<T>>;
  completeText(request: TextRequest): Promise<Completion<string>>;
  /**
   * For a problem found only after the call: records the answer `rejected` (so no later attempt replays it)
   * and returns the retryable error to throw, so the engine runs the task again and the model is asked again:
   * `throw await ctx.llm.reject(completion, 'names no known lever')`.
   */
  reject(completion: Completion<unknown>, reason: string): Promise<RejectedAnswerError>;
  /** True when the answering model is the deterministic offline one (files it made say so). */
  readonly offline: boolean;
}

/** The services the LLM layer merges into a task's ctx. */
export interface LlmServices {
  llm: LlmClient;
}
