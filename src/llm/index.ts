/** The LLM layer's public surface, for whoever starts a build (the CLI) and for tests. */
export { createLlmServices, type LlmOptions } from './client.js';
export type { AnswerCheck, CallOptions, ChatMessage, Completion, CompletionRequest, LlmClient, LlmServices, TextRequest } from './types.js';
export {
  ACCEPTED_MODEL_SPECS,
  ModelSpecError,
  parseModelList,
  parseModelSpec,
  type ModelSpec,
  type ModelSpecOptions,
  type ProviderName,
} from './model-spec.js';
export { DEFAULT_PRICES, costFromPrice, costUsd, priceFor, type Price, type PriceTable, type TokenUsage } from './pricing.js';
export { CostBudget, type Reservation } from './budget.js';
export type { SharedCall, SharedLimits, SharedPermit } from './shared-limits.js';
export type { RetryOptions } from './model-tries.js';
export {
  AuthError,
  BadRequestError,
  BudgetExceededError,
  CancelledError,
  ConnectionError,
  EmptyContentError,
  InvalidJsonError,
  LlmError,
  ModelsExhaustedError,
  RateLimitedError,
  RefusalError,
  RejectedAnswerError,
  SchemaInvalidError,
  ServerError,
  TimeoutError,
  isBudgetExceeded,
  isLlmError,
  type LlmErrorClass,
  type ModelFailure,
} from './errors.js';
export { OFFLINE_MARK } from './offline/prose.js';
export { offlineAnswer } from './providers/offline.js';
export { redact } from './redact.js';
