import { BudgetExceededError, CancelledError } from '../llm/errors.js';
import type { SharedCall, SharedLimits, SharedPermit } from '../llm/shared-limits.js';
import type { WorkerTasks } from '../store/postgres/worker-tasks.js';

export interface RunLimits {
  /** The run's --max-cost, or null. */
  maxCostUsd: number | null;
  /** The run's --llm-concurrency: calls to one provider at once, across all workers. */
  concurrency: number;
  /** Of this worker's config (plan.config.json): calls to one provider per minute, counting every worker's. */
  requestsPerMinute?: number;
  /** Likewise tokens per minute (estimated when a call starts, as counted once it is answered). */
  tokensPerMinute?: number;
}

/** A waiting call looks again at least this often: a call in the window may have settled at fewer tokens than it booked. */
const RATE_RECHECK_MS = 1_000;

/**
 * The limits every worker holds together, in the database (worker-tasks.ts): a call reserves its estimated
 * cost against the run's budget, waits for one of the provider's slots, then for room in the provider's
 * sliding window of requests and tokens per minute. A worker that dies frees its slots when they expire (the
 * call's timeout and a margin), its calls leave the window as they age, and its reservations never count
 * again once the run is handed over anew.
 */
export class DatabaseLimits implements SharedLimits {
  private readonly limits = new Map<string, RunLimits>();

  constructor(
    private readonly tasks: WorkerTasks,
    private readonly holder: string,
    private readonly slotTtlMs: number,
    /** The rate window: a minute, except in tests. */
    private readonly windowMs = 60_000,
  ) {}

  /** The limits of a run, as its settings say (set when a worker loads the run). */
  setLimits(runId: string, limits: RunLimits): void {
    this.limits.set(runId, limits);
  }

  async acquire(call: SharedCall): Promise<SharedPermit> {
    const limits = this.limits.get(call.runId) ?? { maxCostUsd: null, concurrency: 4 };
    const estimate = Math.max(0, call.estimateUsd);
    const cost = await this.tasks.reserveCost(call.runId, estimate, limits.maxCostUsd);
    if (!cost.reserved) {
      throw new BudgetExceededError(
        `cost budget of $${limits.maxCostUsd!.toFixed(4)} reached (all workers): spent $${cost.spentUsd.toFixed(4)}, ` +
          `in flight $${cost.inFlightUsd.toFixed(4)}, next call estimated at $${estimate.toFixed(4)}`,
      );
    }
    let slot: number | null = null;
    let booked: number | null = null;
    try {
      for (let pause = 20; ; pause = Math.min(200, pause * 2)) {
        slot = await this.tasks.takeSlot(call.provider, limits.concurrency, this.holder, this.slotTtlMs);
        if (slot !== null) break;
        await waitOrCancel(pause, call.signal);
      }
      booked = await this.bookRate(call, limits);
    } catch (error) {
      if (slot !== null) await this.tasks.freeSlot(call.provider, slot, this.holder).catch(() => undefined);
      await this.tasks.releaseCost(call.runId, estimate).catch(() => undefined);
      throw error;
    }
    const taken = slot;
    return {
      release: async (actualTokens?: number) => {
        if (booked !== null && actualTokens !== undefined) await this.tasks.settleRate(booked, actualTokens).catch(() => undefined);
        await this.tasks.freeSlot(call.provider, taken, this.holder).catch(() => undefined);
        await this.tasks.releaseCost(call.runId, estimate).catch(() => undefined);
      },
    };
  }

  /** Room for the call in the provider's window, when a rate is set: the booked row, or null when none is. */
  private async bookRate(call: SharedCall, limits: RunLimits): Promise<number | null> {
    if (limits.requestsPerMinute === undefined && limits.tokensPerMinute === undefined) return null;
    for (;;) {
      const rate = await this.tasks.takeRate(call.provider, limits, call.estimatedTokens, this.windowMs);
      if ('booked' in rate) return rate.booked;
      await waitOrCancel(Math.min(rate.waitMs, RATE_RECHECK_MS), call.signal);
    }
  }
}

function waitOrCancel(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new CancelledError('model call cancelled'));
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new CancelledError('model call cancelled'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
