import { CancelledError } from './errors.js';
import { abortableSleep, type Sleep } from './backoff.js';

/**
 * Bounds on calls to one provider: at most N at once, and optionally requests and tokens per sliding minute.
 * Waiters queue in arrival order; one whose signal aborts leaves the queue at once (a cancelled build must not
 * wait for a slot it will never use).
 */

export interface LimiterOptions {
  concurrency: number;
  requestsPerMinute?: number;
  tokensPerMinute?: number;
  /** Length of the sliding window; a minute except in tests. */
  windowMs?: number;
  now?: () => number;
  sleep?: Sleep;
}

export interface Permit {
  /** Frees the slot; `actualTokens` corrects the tokens-per-minute estimate once usage is known. */
  release(actualTokens?: number): void;
}

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
  signal: AbortSignal;
  onAbort: () => void;
}

interface WindowEntry {
  at: number;
  tokens: number;
}

export class Limiter {
  private active = 0;
  private readonly queue: Waiter[] = [];
  private readonly window: WindowEntry[] = [];
  private readonly windowMs: number;
  private readonly now: () => number;
  private readonly sleep: Sleep;

  constructor(private readonly options: LimiterOptions) {
    if (!(options.concurrency >= 1)) throw new Error(`concurrency must be at least 1, got ${options.concurrency}`);
    this.windowMs = options.windowMs ?? 60_000;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? abortableSleep;
  }

  get running(): number {
    return this.active;
  }

  get waiting(): number {
    return this.queue.length;
  }

  async acquire(signal: AbortSignal, estimatedTokens = 0): Promise<Permit> {
    await this.takeSlot(signal);
    try {
      const entry = await this.takeRate(signal, estimatedTokens);
      let released = false;
      return {
        release: (actualTokens?: number) => {
          if (released) return;
          released = true;
          if (entry && actualTokens !== undefined) entry.tokens = actualTokens;
          this.freeSlot();
        },
      };
    } catch (error) {
      this.freeSlot();
      throw error;
    }
  }

  private takeSlot(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(new CancelledError('model call cancelled'));
    if (this.active < this.options.concurrency) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const i = this.queue.indexOf(waiter);
          if (i >= 0) this.queue.splice(i, 1);
          reject(new CancelledError('model call cancelled'));
        },
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.queue.push(waiter);
    });
  }

  /** Hands the slot straight to the next waiter, so a newcomer cannot overtake the queue. */
  private freeSlot(): void {
    const next = this.queue.shift();
    if (next === undefined) {
      this.active--;
      return;
    }
    next.signal.removeEventListener('abort', next.onAbort);
    next.resolve();
  }

  /** Waits until the sliding window has room for one more request of this many tokens, then books it. */
  private async takeRate(signal: AbortSignal, tokens: number): Promise<WindowEntry | null> {
    const { requestsPerMinute: rpm, tokensPerMinute: tpm } = this.options;
    if (rpm === undefined && tpm === undefined) return null;
    for (;;) {
      const now = this.now();
      while (this.window.length > 0 && (this.window[0]?.at ?? 0) <= now - this.windowMs) this.window.shift();
      const oldest = this.window[0];
      const used = this.window.reduce((sum, e) => sum + e.tokens, 0);
      const tooManyRequests = rpm !== undefined && this.window.length >= rpm;
      const tooManyTokens = tpm !== undefined && oldest !== undefined && used + tokens > tpm;
      const full = tooManyRequests || tooManyTokens;
      if (!full || oldest === undefined) {
        const entry = { at: now, tokens };
        this.window.push(entry);
        return entry;
      }
      await this.sleep(Math.max(1, oldest.at + this.windowMs - now), signal);
    }
  }
}

/** One limiter per provider (by base URL), shared by every attempt of a build. */
export class LimiterPool {
  private readonly limiters = new Map<string, Limiter>();

  constructor(private readonly options: LimiterOptions) {}

  for(key: string): Limiter {
    let limiter = this.limiters.get(key);
    if (limiter === undefined) {
      limiter = new Limiter(this.options);
      this.limiters.set(key, limiter);
    }
    return limiter;
  }
}
