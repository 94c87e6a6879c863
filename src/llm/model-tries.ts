import type { AnswerCheck, ChatMessage, Completion } from './types.js';
import type { Store } from '../store/store.js';
import type { InteractionRecorder } from './recorder.js';
import type { CostBudget } from './budget.js';
import type { LimiterPool, Permit } from './limiter.js';
import type { Provider } from './providers/provider.js';
import { estimateTokens, messagesChars } from './providers/provider.js';
import type { JsonSchema } from './json-schema.js';
import { costFromPrice, costUsd, priceFor, type PriceTable } from './pricing.js';
import { retryDelay, type Sleep } from './backoff.js';
import { feedbackMessage } from './parse-answer.js';
import { maskSecrets, redact } from './redact.js';
import type { EndpointModes } from './providers/endpoint-modes.js';
import { downgradeAfter, messagesFor, poorerMode, type ResponseFormat } from './providers/response-format.js';
import type { SharedLimits, SharedPermit } from './shared-limits.js';
import {
  BudgetExceededError,
  CancelledError,
  LlmError,
  RateLimitedError,
  RejectedAnswerError,
  type FailedAnswer,
  type LlmErrorClass,
  type ModelFailure,
} from './errors.js';

/**
 * The tries of one call on one model: budget, rate limit, a recorded row per HTTP request, backoff between tries,
 * the bad answer fed back after invalid JSON, a schema mismatch or a refusal by the request's check, and a
 * poorer response format after a server refused the richer one. Returns the completion, or the last failure so
 * the caller can move on to the next model. Cancellation and the budget are not failures of a model: they are
 * thrown.
 */

export interface RetryOptions {
  /** Failed tries of a call on one model. 429s are not counted (the server asked us to wait): maxRetryMs ends those. */
  maxTries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After longer than this is not waited out: the next model is tried instead. */
  maxRetryAfterMs: number;
  /** No retry starts once it would begin this long after the call's first try on the model. */
  maxRetryMs: number;
}

export interface CallPlan<T> {
  messages: readonly ChatMessage[];
  json: { name: string; schema: JsonSchema } | null;
  itemKey: string | null;
  turn: number | null;
  requestHash: string;
  maxOutputTokens?: number;
  temperature?: number;
  parse(text: string, answer: FailedAnswer): T;
  check?: AnswerCheck<T>;
}

export interface CallContext {
  recorder: InteractionRecorder;
  store: Store;
  endpointModes: EndpointModes;
  budget: CostBudget;
  limiters: LimiterPool;
  prices: PriceTable;
  retry: RetryOptions;
  sleep: Sleep;
  random: () => number;
  signal: AbortSignal;
  secrets: () => readonly (string | undefined)[];
  /** Assumed answer length for the budget's estimate when the request sets no maxOutputTokens. */
  outputTokensEstimate: number;
  /** Limits held with other processes (workers sharing a database), or null. */
  shared: SharedLimits | null;
  runId: string;
}

type TryOutcome<T> = { ok: true; completion: Completion<T> } | { ok: false; error: LlmError };

const MAX_ECHOED_ANSWER_CHARS = 6000;
const FED_BACK: ReadonlySet<LlmErrorClass> = new Set<LlmErrorClass>(['invalid_json', 'schema_invalid', 'rejected']);

export async function tryModel<T>(provider: Provider, plan: CallPlan<T>, ctx: CallContext): Promise<Completion<T> | ModelFailure> {
  const { spec } = provider;
  const started = performance.now();
  let format: ResponseFormat = plan.json === null ? 'text' : await ctx.endpointModes.start(spec, ctx.store);
  let messages = plan.messages;
  let failures = 0;
  let retries = 0;
  let last: LlmError | null = null;
  for (;;) {
    const outcome = await tryOnce(provider, plan, messages, format, ctx);
    const answered = outcome.ok || isSuccess(outcome.error.httpStatus);
    if (answered && (format === 'json_object' || format === 'prompt')) await ctx.endpointModes.accepted(spec, format, ctx.store);
    if (outcome.ok) return outcome.completion;
    const error = outcome.error;
    last = error;
    if (error instanceof CancelledError) throw error;
    const poorer = downgradeAfter(format, error);
    if (poorer !== null) {
      // Not a failed try: the same question, asked in a way this server may know (or one it is known to).
      format = poorerMode(poorer, await ctx.endpointModes.start(spec, ctx.store));
      continue;
    }
    const retryAfter = error instanceof RateLimitedError ? error.retryAfterMs : null;
    if (!(error instanceof RateLimitedError)) failures++;
    if (!error.retryable || failures >= ctx.retry.maxTries) break;
    if (retryAfter !== null && retryAfter > ctx.retry.maxRetryAfterMs) break;
    const delay = retryDelay(ctx.retry, ++retries, retryAfter, ctx.random);
    if (performance.now() - started + delay > ctx.retry.maxRetryMs) break;
    if (error.answer && FED_BACK.has(error.errorClass)) {
      // Show the model its own answer and what was wrong with it: it usually fixes it on the next try.
      messages = [
        ...plan.messages,
        { role: 'assistant', content: error.answer.text.slice(0, MAX_ECHOED_ANSWER_CHARS) },
        { role: 'user', content: feedbackMessage(error.message, plan.json !== null) },
      ];
    }
    await ctx.sleep(delay, ctx.signal);
  }
  const error = last ?? new CancelledError('no tries were made');
  return { model: spec.spec, errorClass: error.errorClass, message: redact(error.message, ctx.secrets()) };
}

function isSuccess(status: number | null): boolean {
  return status !== null && status >= 200 && status < 300;
}

async function tryOnce<T>(
  provider: Provider,
  plan: CallPlan<T>,
  asked: readonly ChatMessage[],
  format: ResponseFormat,
  ctx: CallContext,
): Promise<TryOutcome<T>> {
  const { spec } = provider;
  if (ctx.signal.aborted) return { ok: false, error: new CancelledError('model call cancelled') };
  // What goes on the wire, and so into the row: outside json_schema mode the schema rides in the instructions.
  const messages = messagesFor(asked, plan.json?.schema ?? null, format);
  const schemaChars = plan.json && (format === 'json_schema' || format === 'json_object') ? JSON.stringify(plan.json.schema) : '';
  const inputTokens = estimateTokens(messagesChars(messages) + schemaChars);
  const outputTokens = plan.maxOutputTokens ?? ctx.outputTokensEstimate;
  const estimatedTokens = inputTokens + outputTokens;
  const price = priceFor(spec, ctx.prices);
  const estimate = price === null ? 0 : costFromPrice(price, { inputTokens, outputTokens });
  const reservation = ctx.budget.reserve(estimate);
  let permit: Permit | null = null;
  let shared: SharedPermit | null = null;
  let spent: number | null = null;
  let usedTokens: number | undefined;
  try {
    // The offline model is local computation: no provider to protect, no reason to queue.
    if (spec.provider !== 'offline') {
      const key = spec.baseUrl ?? spec.provider;
      permit = await ctx.limiters.for(key).acquire(ctx.signal, estimatedTokens);
      // Then the limits held with other processes (workers): a slot of the provider, the run's budget.
      if (ctx.shared !== null) {
        shared = await ctx.shared.acquire({ runId: ctx.runId, provider: key, estimateUsd: estimate, estimatedTokens, signal: ctx.signal });
      }
    }
  } catch (error) {
    permit?.release();
    reservation.settle(null);
    // Like the local budget's refusal, the shared one's stops the call outright (no other model is tried).
    if (error instanceof LlmError && !(error instanceof BudgetExceededError)) return { ok: false, error };
    throw error;
  }
  try {
    const id = await ctx.recorder.start({
      itemKey: plan.itemKey,
      turn: plan.turn,
      requestHash: plan.requestHash,
      provider: spec.provider,
      requestedModel: spec.spec,
      messages,
      responseFormat: format,
    });
    const started = performance.now();
    const elapsed = (): number => Math.round(performance.now() - started);
    // Known once the server answered: a bad answer (invalid JSON, schema mismatch) still came with a status.
    let answeredStatus: number | null = null;
    try {
      const request = { messages, json: plan.json, format, maxOutputTokens: plan.maxOutputTokens, temperature: plan.temperature, signal: ctx.signal };
      const response = await provider.complete(request);
      const { usage } = response;
      answeredStatus = response.httpStatus;
      const cost = costUsd(spec, usage, ctx.prices, response.answeredModel);
      spent = cost.costUsd;
      usedTokens = usage.inputTokens + usage.outputTokens;
      // A hostile or careless server may echo the key in its answer: the task must not write it into a file.
      response.text = maskSecrets(response.text, ctx.secrets());
      const answer: FailedAnswer = {
        text: response.text,
        answeredModel: response.answeredModel,
        inputTokens: usage.inputTokens,
        outputTokens: usage.outputTokens,
        tokensEstimated: usage.estimated,
        ...(response.reasoning ? { reasoning: response.reasoning } : {}),
      };
      const value = plan.parse(response.text, answer);
      const refusal = plan.check?.(value) ?? null;
      await ctx.recorder.finish(id, spec.spec, {
        status: refusal === null ? 'completed' : 'rejected',
        ...(refusal === null ? {} : { errorClass: 'rejected', errorMessage: refusal }),
        answeredModel: response.answeredModel,
        responseText: response.text,
        parsed: plan.json ? value : undefined,
        httpStatus: response.httpStatus,
        inputTokens: usage.inputTokens,
        outputTokens: usage.outputTokens,
        tokensEstimated: usage.estimated,
        durationMs: elapsed(),
        costUsd: cost.costUsd,
        price: cost.price,
        reasoningText: response.reasoning?.text ?? null,
        reasoningTokens: response.reasoning?.tokens ?? null,
      });
      if (refusal !== null) return { ok: false, error: new RejectedAnswerError(refusal, { httpStatus: response.httpStatus, answer }) };
      const completion = { value, text: response.text, model: spec.spec, interactionId: id, replayed: false };
      return { ok: true, completion };
    } catch (caught) {
      // Whatever broke while the build was being cancelled, the row's truth is "cancelled".
      const cancelled = ctx.signal.aborted && caught instanceof LlmError && !(caught instanceof CancelledError);
      const error = cancelled ? new CancelledError('model call cancelled') : caught;
      if (!(error instanceof LlmError)) {
        const errorMessage = String(error);
        await ctx.recorder.finish(id, spec.spec, { status: 'failed', errorClass: 'internal', errorMessage, durationMs: elapsed() });
        throw error;
      }
      const answer = error.answer;
      const cost = answer ? costUsd(spec, answer, ctx.prices, answer.answeredModel) : { costUsd: null, price: null };
      spent = cost.costUsd;
      if (answer) usedTokens = answer.inputTokens + answer.outputTokens;
      await ctx.recorder.finish(id, spec.spec, {
        status: error instanceof CancelledError ? 'cancelled' : 'failed',
        answeredModel: answer?.answeredModel ?? null,
        responseText: answer?.text ?? null,
        errorClass: error.errorClass,
        errorMessage: error.message,
        httpStatus: error.httpStatus ?? answeredStatus,
        inputTokens: answer?.inputTokens ?? null,
        outputTokens: answer?.outputTokens ?? null,
        tokensEstimated: answer?.tokensEstimated ?? false,
        durationMs: elapsed(),
        costUsd: cost.costUsd,
        price: cost.price,
        reasoningText: answer?.reasoning?.text ?? null,
        reasoningTokens: answer?.reasoning?.tokens ?? null,
      });
      return { ok: false, error };
    }
  } finally {
    permit?.release(usedTokens);
    reservation.settle(spent);
    await shared?.release(usedTokens);
  }
}
