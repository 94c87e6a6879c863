import type { Reasoning } from './providers/reasoning.js';

/**
 * Errors of a model call. Each has a stable `errorClass` (recorded in interaction rows and shown to users) and
 * `retryable`, which the client's retry loop reads: a retryable error is tried again on the same model, any
 * other moves on to the next model in the fallback list.
 */

export type LlmErrorClass =
  | 'rate_limited'
  | 'server_error'
  | 'timeout'
  | 'connection'
  | 'invalid_json'
  | 'schema_invalid'
  | 'rejected'
  | 'empty_content'
  | 'refusal'
  | 'auth'
  | 'bad_request'
  | 'budget_exceeded'
  | 'cancelled'
  | 'models_exhausted';

/** What a failed try still tells us: a bad answer was paid for, so its tokens are recorded. */
export interface FailedAnswer {
  text: string;
  answeredModel: string;
  inputTokens: number;
  outputTokens: number;
  tokensEstimated: boolean;
  /** What a reasoning model thought before this answer (kept in the row, never fed back). */
  reasoning?: Reasoning;
}

export interface LlmErrorOptions {
  httpStatus?: number | null;
  answer?: FailedAnswer;
  cause?: unknown;
}

export abstract class LlmError extends Error {
  abstract readonly errorClass: LlmErrorClass;
  abstract readonly retryable: boolean;
  readonly httpStatus: number | null;
  readonly answer: FailedAnswer | null;

  constructor(message: string, options: LlmErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.httpStatus = options.httpStatus ?? null;
    this.answer = options.answer ?? null;
  }
}

export class RateLimitedError extends LlmError {
  readonly errorClass = 'rate_limited';
  readonly retryable = true;
  /** From the Retry-After header: the least time to wait before the next try. */
  readonly retryAfterMs: number | null;
  constructor(message: string, retryAfterMs: number | null, options: LlmErrorOptions = {}) {
    super(message, options);
    this.retryAfterMs = retryAfterMs;
  }
}

export class ServerError extends LlmError {
  readonly errorClass = 'server_error';
  readonly retryable = true;
}
export class TimeoutError extends LlmError {
  readonly errorClass = 'timeout';
  readonly retryable = true;
}
/** Refused, reset, or dropped in the middle of the body. */
export class ConnectionError extends LlmError {
  readonly errorClass = 'connection';
  readonly retryable = true;
}
export class InvalidJsonError extends LlmError {
  readonly errorClass = 'invalid_json';
  readonly retryable = true;
}
export class SchemaInvalidError extends LlmError {
  readonly errorClass = 'schema_invalid';
  readonly retryable = true;
}
/**
 * The answer matched the schema, but the task refused it (a check beyond the schema). Retryable: within the
 * call the model is shown its answer and the reason; after the call, the engine runs the task again, and the
 * refused answer is never replayed.
 */
export class RejectedAnswerError extends LlmError {
  readonly errorClass = 'rejected';
  readonly retryable = true;
}
export class EmptyContentError extends LlmError {
  readonly errorClass = 'empty_content';
  readonly retryable = true;
}
/** A model that refuses a prompt usually refuses it again: move on to the next model instead. */
export class RefusalError extends LlmError {
  readonly errorClass = 'refusal';
  readonly retryable = false;
}
export class AuthError extends LlmError {
  readonly errorClass = 'auth';
  readonly retryable = false;
}
export class BadRequestError extends LlmError {
  readonly errorClass = 'bad_request';
  readonly retryable = false;
}
/** `--max-cost` reached: no new call starts; the build stops with `stopped: budget`. */
export class BudgetExceededError extends LlmError {
  readonly errorClass = 'budget_exceeded';
  readonly retryable = false;
}
export class CancelledError extends LlmError {
  readonly errorClass = 'cancelled';
  readonly retryable = false;
}

export interface ModelFailure {
  model: string;
  errorClass: LlmErrorClass;
  message: string;
}

/** Every model in the fallback list failed; the message names each model's last error class. */
export class ModelsExhaustedError extends LlmError {
  readonly errorClass = 'models_exhausted';
  readonly retryable = false;
  readonly failures: readonly ModelFailure[];
  constructor(failures: readonly ModelFailure[]) {
    const parts = failures.map((f) => `${f.model}: ${f.errorClass} (${f.message})`);
    super(`model call failed on every model: ${parts.join('; ')}`);
    this.failures = failures;
  }
}

export function isLlmError(error: unknown): error is LlmError {
  return error instanceof LlmError;
}

export function isBudgetExceeded(error: unknown): error is BudgetExceededError {
  return error instanceof BudgetExceededError;
}

/** Retry-After is either delay-seconds or an HTTP date; anything else is ignored. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (value == null || value.trim() === '') return null;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - now);
}
