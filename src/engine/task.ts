import type { Outputs } from './target.js';
import type { TaskContext } from './context.js';

export type ParamValue = string | number | boolean | null;
export type TaskParams = Readonly<Record<string, ParamValue>>;

/**
 * A unit of work: what it needs (`requires`), what it writes (`output`), and how (`run`).
 *
 * The id is `ClassName(key=value,…)` with keys sorted, so the same class and parameters are the same task
 * wherever they are constructed. Bump `version` when the task's logic or prompt changes: its stamp then
 * differs and it runs again. `S` is the services the build hands to `run` (e.g. `{ llm }`), merged into ctx.
 */
export abstract class Task<S extends object = object, P extends TaskParams = TaskParams> {
  // Declared, not initialised: the defaults live on the prototype (below), so a subclass may override them
  // with a field (`version = '2'`) or a getter alike. An instance field here would shadow a subclass getter.
  /** Bumping it makes the task stale. Default '1'. */
  declare readonly version: string;
  /** Named resource pools this task holds while it runs, e.g. `{ gpu: 1 }`. Default none. */
  declare readonly resources: Readonly<Record<string, number>>;
  /** How many times a retryable failure is retried before the task fails. Default 2. */
  declare readonly retries: number;

  readonly params: P;
  private cachedId: string | undefined;

  constructor(params?: P) {
    this.params = Object.freeze({ ...(params ?? {}) }) as P;
  }

  get id(): string {
    this.cachedId ??= taskId(this.constructor.name, this.params);
    return this.cachedId;
  }

  /** The tasks whose outputs this one reads. */
  requires(): readonly Task<S>[] {
    return [];
  }

  abstract output(): Outputs;

  abstract run(ctx: TaskContext & S): Promise<void>;

  /**
   * The parameters whose change makes the task stale. All of them by default; a task can leave out a
   * parameter that does not change what it produces.
   */
  stampParams(): TaskParams {
    return this.params;
  }

  /**
   * Files outside the run dir the task reads (absolute paths): their sha256 is part of its stamp, so editing one
   * makes the task stale, and `ctx.read` accepts exactly these absolute paths. Default none.
   */
  externalInputs(): readonly string[] {
    return NO_EXTERNAL_INPUTS;
  }

  toString(): string {
    return this.id;
  }
}

const NO_EXTERNAL_INPUTS: readonly string[] = Object.freeze([]);

Object.defineProperties(Task.prototype, {
  version: { value: '1', writable: true, configurable: true },
  resources: { value: Object.freeze({}), writable: true, configurable: true },
  retries: { value: 2, writable: true, configurable: true },
});

export function taskId(className: string, params: TaskParams): string {
  const keys = Object.keys(params);
  if (keys.length === 0) return className;
  if (keys.length > 1) keys.sort();
  let id = `${className}(`;
  for (let i = 0; i < keys.length; i++) id += `${i > 0 ? ',' : ''}${keys[i]}=${formatParam(params[keys[i]!] ?? null)}`;
  return `${id})`;
}

const PLAIN_PARAM = /^[\w.:/@-]+$/;

function formatParam(value: ParamValue): string {
  if (typeof value === 'number') return String(value);
  return typeof value === 'string' && PLAIN_PARAM.test(value) ? value : JSON.stringify(value);
}

/** A failure worth trying again (a timeout, a rate limit): the scheduler retries it with backoff. */
export class RetryableError extends Error {
  override name = 'RetryableError';
}

export function isRetryable(error: unknown): boolean {
  return error instanceof RetryableError || (typeof error === 'object' && error !== null && (error as { retryable?: unknown }).retryable === true);
}
