/**
 * Limits that many processes hold together — the workers of one database: a run's `--max-cost`, and each
 * provider's concurrency, requests per minute and tokens per minute. The LLM layer asks for a permit before
 * every call to a provider, after its own process-local limiter and budget; the implementation (src/workers/shared-limits.ts) keeps them in the
 * database. A refusal by the budget is a BudgetExceededError, as with the local budget.
 */
export interface SharedLimits {
  acquire(call: SharedCall): Promise<SharedPermit>;
}

export interface SharedCall {
  runId: string;
  /** The provider's key, as the local limiter has it (its base URL, or its name). */
  provider: string;
  estimateUsd: number;
  /** Tokens the call is expected to use (its request and its longest answer), for tokens per minute. */
  estimatedTokens: number;
  signal: AbortSignal;
}

export interface SharedPermit {
  /**
   * The call ended: its slot is free, its estimate leaves the run's reservations (the actual cost is in its
   * row), and `actualTokens`, when the answer counted them, replace the estimate in the provider's window.
   */
  release(actualTokens?: number): Promise<void>;
}
