/**
 * plan-build as a library: the engine, the model calls tasks make through `ctx.llm`, the helpers the built-in
 * pipeline's tasks are declared with, and the stores a build persists to.
 */
export * from './engine/index.js';
export { ForeignCopyError } from './engine/target.js';

export {
  createLlmServices,
  type AnswerCheck,
  type CallOptions,
  type ChatMessage,
  type Completion,
  type CompletionRequest,
  type LlmClient,
  type LlmOptions,
  type LlmServices,
  type TextRequest,
  type ModelSpec,
  parseModelSpec,
  parseModelList,
  DEFAULT_PRICES,
  type Price,
  type PriceTable,
  CostBudget,
  OFFLINE_MARK,
  LlmError,
  RejectedAnswerError,
  BudgetExceededError,
  ModelsExhaustedError,
  isLlmError,
  isBudgetExceeded,
} from './llm/index.js';
/** Schemas are zod 4: this is the very zod the LLM layer turns into JSON schema and validates answers with. */
export { z } from 'zod';

export { Transcript, rawJson, type AskOptions, type AskRequest, type RecordedCall } from './tasks/support/transcript.js';
export { lazySchema, LazySchema, type Infer, type SchemaLike } from './tasks/support/lazy-schema.js';
export { writeOutputs, asText, type Rendered } from './tasks/support/outputs.js';
export { runPerItem, callsOf, type PerItem, type ItemResult } from './tasks/support/items.js';
export { converse, type Conversation } from './tasks/support/conversation.js';
export { capItems, capTurns, FAST_ITEM_CAP, FAST_TURN_CAP } from './tasks/support/caps.js';
export type { PlanContext, Speed } from './tasks/plan-task.js';

export type { Store, RunRecord, AttemptRecord, ContentVersion, InteractionRecord } from './store/store.js';
export { openStore, defaultDbLocation } from './store/open.js';
export { openSqliteStore, SqliteStore } from './store/sqlite/sqlite-store.js';
