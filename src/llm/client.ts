import type { ServiceFactory } from '../engine/context.js';
import type { CallOptions, Completion, CompletionRequest, LlmClient, LlmServices, TextRequest } from './types.js';
import { parseModelSpec, type ModelSpec } from './model-spec.js';
import { answerJsonSchema } from './json-schema.js';
import { loadZod } from './zod.js';
import { requestHash } from './request-hash.js';
import { parseJsonAnswer } from './parse-answer.js';
import { CostBudget } from './budget.js';
import { priceFor } from './pricing.js';
import { LimiterPool } from './limiter.js';
import { abortableSleep, type Sleep } from './backoff.js';
import { InteractionRecorder } from './recorder.js';
import { Replayer } from './replay.js';
import { tryModel, type CallContext, type CallPlan, type RetryOptions } from './model-tries.js';
import { CancelledError, ModelsExhaustedError, RejectedAnswerError, type FailedAnswer, type ModelFailure } from './errors.js';
import type { PriceTable } from './pricing.js';
import type { Provider } from './providers/provider.js';
import { OfflineProvider } from './providers/offline.js';
import { OpenAiCompatibleProvider } from './providers/openai-compatible.js';
import { EndpointModes } from './providers/endpoint-modes.js';
import type { SharedLimits } from './shared-limits.js';

/**
 * The LLM client tasks see as `ctx.llm`. Per call: replay an earlier attempt's answer if there is one that
 * the request's check accepts; otherwise try each model of the fallback list in order (see model-tries.ts).
 * Providers, rate limiters and the cost budget are created once per build and shared by every attempt; replay
 * bookkeeping is per attempt.
 */

export interface LlmOptions {
  /** Fallback order; the first is asked first. Defaults to `offline`. */
  models?: readonly (ModelSpec | string)[];
  /** Concurrent calls per provider (default 4). */
  concurrency?: number;
  rpm?: number;
  tpm?: number;
  /** `--max-cost` in USD; null or absent means no limit. */
  maxCostUsd?: number | null;
  /** What this run already spent before this build (completed interactions in the database). */
  spentUsd?: number;
  /** A budget shared with someone else (e.g. the CLI, to report spending); built from the two above if absent. */
  budget?: CostBudget;
  prices?: PriceTable;
  /** Where API keys are read from, at request time (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  retry?: Partial<RetryOptions>;
  /** Per-try timeout (default 120 s). */
  timeoutMs?: number;
  fetch?: typeof fetch;
  sleep?: Sleep;
  random?: () => number;
  offlineLatencyMs?: number;
  outputTokensEstimate?: number;
  /** Limits held with other processes (the workers of one database): the run's budget, each provider's concurrency. */
  shared?: SharedLimits;
  /** Limiters shared with other runs of this process (a worker's `--llm-concurrency`); made from the three above if absent. */
  limiters?: LimiterPool;
}

const DEFAULT_RETRY: RetryOptions = { maxTries: 4, baseDelayMs: 500, maxDelayMs: 30_000, maxRetryAfterMs: 120_000, maxRetryMs: 120_000 };

export function createLlmServices(options: LlmOptions = {}): ServiceFactory<LlmServices> {
  const listed = options.models?.length ? options.models : ['offline'];
  const specs = listed.map((m) => (typeof m === 'string' ? parseModelSpec(m) : m));
  const env = options.env ?? process.env;
  const timeoutMs = options.timeoutMs ?? 120_000;
  const budget = options.budget ?? new CostBudget(options.maxCostUsd ?? null, options.spentUsd ?? 0);
  // One provider per model spec, shared by the run's list and the calls that name their own model.
  const bySpec = new Map<string, Provider>();
  const providerFor = (spec: ModelSpec): Provider => {
    let provider = bySpec.get(spec.spec);
    if (provider === undefined) {
      provider =
        spec.provider === 'offline'
          ? new OfflineProvider({ latencyMs: options.offlineLatencyMs })
          : new OpenAiCompatibleProvider(spec, { env, timeoutMs, fetch: options.fetch });
      bySpec.set(spec.spec, provider);
    }
    return provider;
  };
  const providers: Provider[] = specs.map(providerFor);
  /** The providers a call asks, in order: its own models when it names any, else the run's. */
  const providersOf = (request: CallOptions): Provider[] => {
    if (request.model === undefined) return providers;
    const named = typeof request.model === 'string' ? [request.model] : [...request.model];
    if (named.length === 0) return providers;
    return named.map((text) => {
      let spec: ModelSpec;
      try {
        spec = parseModelSpec(text);
      } catch (error) {
        throw new Error(`a model call names model '${text}', which is not a model spec: ${error instanceof Error ? error.message : String(error)}`);
      }
      // As `--max-cost` refuses an unpriced model for the run, a call may not slip one past the budget.
      if (budget.maxUsd !== null && spec.provider !== 'offline' && priceFor(spec, options.prices ?? {}) === null) {
        throw new Error(
          `a model call names model '${text}', which has no known price, and the run has --max-cost: give it a price (--price or config prices)`,
        );
      }
      return providerFor(spec);
    });
  };
  const limiters =
    options.limiters ??
    new LimiterPool({
      concurrency: options.concurrency ?? 4,
      requestsPerMinute: options.rpm,
      tokensPerMinute: options.tpm,
    });
  const retry: RetryOptions = { ...DEFAULT_RETRY, ...options.retry };
  const endpointModes = new EndpointModes();
  // Every key in use, the per-call models' too: all are masked wherever an answer or error could carry them.
  const secrets = (): (string | undefined)[] => [...bySpec.values()].map(({ spec }) => (spec.apiKeyEnv === null ? undefined : env[spec.apiKeyEnv]));

  return (scope) => {
    const recorder = new InteractionRecorder(scope, secrets);
    const replayer = new Replayer(scope, recorder);
    const ctx: CallContext = {
      recorder,
      store: scope.store,
      endpointModes,
      budget,
      limiters,
      prices: options.prices ?? {},
      retry,
      sleep: options.sleep ?? abortableSleep,
      random: options.random ?? Math.random,
      signal: scope.signal,
      secrets,
      outputTokensEstimate: options.outputTokensEstimate ?? 1000,
      shared: options.shared ?? null,
      runId: scope.runId,
    };

    async function call<T>(plan: CallPlan<T>, asked: readonly Provider[]): Promise<Completion<T>> {
      if (scope.signal.aborted) throw new CancelledError('model call cancelled');
      const replayed = await replayer.replay(plan);
      if (replayed) return replayed;
      const failures: ModelFailure[] = [];
      for (const provider of asked) {
        const outcome = await tryModel(provider, plan, ctx);
        if ('value' in outcome) return outcome;
        failures.push(outcome);
      }
      throw new ModelsExhaustedError(failures);
    }

    const llm: LlmClient = {
      get offline() {
        return specs[0]?.provider === 'offline';
      },
      async complete<T>(request: CompletionRequest<T>): Promise<Completion<T>> {
        // zod is loaded on the first model call, not when the LLM layer is (see zod.ts).
        await loadZod();
        const asked = providersOf(request);
        const temperature = checkedTemperature(request.temperature);
        const jsonSchema = answerJsonSchema(request.schema);
        const itemKey = request.itemKey ?? null;
        const turn = request.turn ?? null;
        const hash = requestHash({
          kind: 'json',
          messages: request.messages,
          schemaName: request.schemaName,
          jsonSchema,
          itemKey,
          turn,
          temperature,
        });
        return call(
          {
            messages: request.messages,
            json: { name: request.schemaName, schema: jsonSchema },
            itemKey,
            turn,
            requestHash: hash,
            maxOutputTokens: request.maxOutputTokens,
            temperature,
            parse: (text: string, answer: FailedAnswer) => parseJsonAnswer(text, request.schema, answer),
            check: request.check,
          },
          asked,
        );
      },
      async completeText(request: TextRequest): Promise<Completion<string>> {
        const asked = providersOf(request);
        const temperature = checkedTemperature(request.temperature);
        const itemKey = request.itemKey ?? null;
        const turn = request.turn ?? null;
        const hash = requestHash({ kind: 'text', messages: request.messages, schemaName: null, jsonSchema: null, itemKey, turn, temperature });
        return call(
          {
            messages: request.messages,
            json: null,
            itemKey,
            turn,
            requestHash: hash,
            maxOutputTokens: request.maxOutputTokens,
            temperature,
            parse: (text: string) => text,
            check: request.check,
          },
          asked,
        );
      },
      async reject(completion: Completion<unknown>, reason: string): Promise<RejectedAnswerError> {
        await recorder.reject(completion.interactionId, reason);
        return new RejectedAnswerError(reason);
      },
    };
    return { llm };
  };
}

/** A call's temperature, when it sets one: a number from 0 to 2, as OpenAI-compatible servers take it. */
function checkedTemperature(temperature: number | undefined): number | undefined {
  if (temperature === undefined) return undefined;
  if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature < 0 || temperature > 2) {
    throw new Error(`a model call's temperature must be a number from 0 to 2 (got ${String(temperature)})`);
  }
  return temperature;
}
