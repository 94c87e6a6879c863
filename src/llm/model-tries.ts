import type { AnswerCheck, ChatMessage, Completion } from './types.js';
import type { InteractionRecorder } from './recorder.js';
import type { CostBudget } from './budget.js';
import type { LimiterPool, Permit } from './limiter.js';
import type { Provider } from './providers/provider.js';
import { estimateTokens, messagesChars } from './providers/provider.js';
import type { JsonSchema } from './json-schema.js';
import { costFromPrice, costUsd, priceFor, type PriceTable } from './pricing.js';
import { backoffDelay, type Sleep } from './backoff.js';
import { feedbackMessage } from './parse-answer.js';
import { maskSecrets, redact } from './redact.js';
import {
  CancelledError,
  LlmError,
  RateLimitedError,
  RejectedAnswerError,
  type FailedAnswer,
  type LlmErrorClass,
  type ModelFailure,
} from './errors.js';

/**
 * The tries of one call on one model: budget, rate limit, a recorded row per try, backoff between tries, and
 * the bad answer fed back after invalid JSON, a schema mismatch or a refusal by the request's check. Returns the
 * completion, or the last failure so the caller can move on to the next model. Cancellation and the budget are
 * not failures of a model: they are thrown.
 */

export interface RetryOptions {
  maxTries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After longer than this is not waited out: the next model is tried instead. */
  maxRetryAfterMs: number;
}

export interface CallPlan<T> {
  messages: readonly ChatMessage[];
  json: { name: string; schema: JsonSchema } | null;
  itemKey: string | null;
  turn: number | null;
  requestHash: string;
  maxOutputTokens?: number;
  parse(text: string, answer: FailedAnswer): T;
  check?: AnswerCheck<T>;
}

export interface CallContext {
  recorder: InteractionRecorder;
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
}

type TryOutcome<T> = { ok: true; completion: Completion<T> } | { ok: false; error: LlmError };

const MAX_ECHOED_ANSWER_CHARS = 6000;
const FED_BACK: ReadonlySet<LlmErrorClass> = new Set<LlmErrorClass>(['invalid_json', 'schema_invalid', 'rejected']);

export async function tryModel<T>(provider: Provider, plan: CallPlan<T>, ctx: CallContext): Promise<Completion<T> | ModelFailure> {
  let messages = plan.messages;
  let last: LlmError | null = null;
  for (let tryNo = 1; tryNo <= ctx.retry.maxTries; tryNo++) {
    const outcome = await tryOnce(provider, plan, messages, ctx);
    if (outcome.ok) return outcome.completion;
    const error = outcome.error;
    last = error;
    if (error instanceof CancelledError) throw error;
    if (!error.retryable || tryNo === ctx.retry.maxTries) break;
    const retryAfter = error instanceof RateLimitedError ? error.retryAfterMs : null;
    if (retryAfter !== null && retryAfter > ctx.retry.maxRetryAfterMs) break;
    if (error.answer && FED_BACK.has(error.errorClass)) {
      // Show the model its own answer and what was wrong with it: it usually fixes it on the next try.
      messages = [
        ...plan.messages,
        { role: 'assistant', content: error.answer.text.slice(0, MAX_ECHOED_ANSWER_CHARS) },
        { role: 'user', content: feedbackMessage(error.message, plan.json !== null) },
      ];
    }
    await ctx.sleep(backoffDelay(ctx.retry, tryNo, retryAfter, ctx.random), ctx.signal);
  }
  const error = last ?? new CancelledError('no tries were made');
  return { model: provider.spec.spec, errorClass: error.errorClass, message: redact(error.message, ctx.secrets()) };
}

async function tryOnce<T>(provider: Provider, plan: CallPlan<T>, messages: readonly ChatMessage[], ctx: CallContext): Promise<TryOutcome<T>> {
  const { spec } = provider;
  if (ctx.signal.aborted) return { ok: false, error: new CancelledError('model call cancelled') };
  const schemaChars = plan.json ? JSON.stringify(plan.json.schema) : '';
  const inputTokens = estimateTokens(messagesChars(messages) + schemaChars);
  const outputTokens = plan.maxOutputTokens ?? ctx.outputTokensEstimate;
  const price = priceFor(spec, ctx.prices);
  const estimate = price === null ? 0 : costFromPrice(price, { inputTokens, outputTokens });
  const reservation = ctx.budget.reserve(estimate);
  let permit: Permit | null = null;
  let spent: number | null = null;
  let usedTokens: number | undefined;
  try {
    // The offline model is local computation: no provider to protect, no reason to queue.
    if (spec.provider !== 'offline') {
      permit = await ctx.limiters.for(spec.baseUrl ?? spec.provider).acquire(ctx.signal, inputTokens + outputTokens);
    }
  } catch (error) {
    reservation.settle(null);
    if (error instanceof LlmError) return { ok: false, error };
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
    });
    const started = performance.now();
    const elapsed = (): number => Math.round(performance.now() - started);
    // Known once the server answered: a bad answer (invalid JSON, schema mismatch) still came with a status.
    let answeredStatus: number | null = null;
    try {
      const request = { messages, json: plan.json, maxOutputTokens: plan.maxOutputTokens, signal: ctx.signal };
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
      });
      return { ok: false, error };
    }
  } finally {
    permit?.release(usedTokens);
    reservation.settle(spent);
  }
}
