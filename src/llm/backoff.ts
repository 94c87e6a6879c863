import { CancelledError } from './errors.js';

/**
 * How long to wait before try `n + 1`. Full jitter (a uniform draw up to the exponential cap) spreads the
 * retries of many concurrent calls apart, so a rate-limited provider is not hit again by all of them at once.
 */
export interface BackoffPolicy {
  baseDelayMs: number;
  maxDelayMs: number;
}

/** The jittered wait, at least `retryAfterMs`: waiting less than a server asked only earns another 429. */
export function backoffDelay(policy: BackoffPolicy, triesDone: number, retryAfterMs: number | null, random: () => number): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, triesDone - 1));
  const jittered = Math.floor(random() * cap);
  return Math.max(jittered, retryAfterMs ?? 0);
}

/**
 * The wait before a retry. A server's Retry-After is waited out in full and the jitter comes on top: calls
 * turned away together with the same Retry-After would otherwise all come back at the same instant, and be
 * turned away together again.
 */
export function retryDelay(policy: BackoffPolicy, retriesDone: number, retryAfterMs: number | null, random: () => number): number {
  return (retryAfterMs ?? 0) + backoffDelay(policy, retriesDone, null, random);
}

/** A sleep that ends early, rejecting with CancelledError, when the build is cancelled. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(new CancelledError('model call cancelled'));
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new CancelledError('model call cancelled'));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;
