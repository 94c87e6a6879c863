/** The engine's public API: what a user needs to write and build a pipeline of their own. */
export { Task, RetryableError, isRetryable, taskId, type ParamValue, type TaskParams } from './task.js';
export { FileTarget, file, outputList, type Outputs } from './target.js';
export type { TaskContext, AttemptScope, ServiceFactory } from './context.js';
export type { Pipeline } from './pipeline.js';
export { build, type BuildOptions, type BuildResult } from './build.js';
export { planGraph, type TaskGraph } from './graph.js';
export { EventBus, type BuildEvent, type BuildStatus, type BuildSummary, type TaskState } from './events.js';
export { UsageError, GraphError, LockedError } from './errors.js';
