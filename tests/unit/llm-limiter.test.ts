import { describe, expect, it } from 'vitest';
import { Limiter, LimiterPool } from '../../src/llm/limiter.js';
import { CancelledError } from '../../src/llm/errors.js';

const never = new AbortController().signal;

describe('Limiter', () => {
  it('bounds concurrency and hands slots over in arrival order', async () => {
    const limiter = new Limiter({ concurrency: 2 });
    const a = await limiter.acquire(never);
    const b = await limiter.acquire(never);
    const order: string[] = [];
    const c = limiter.acquire(never).then((p) => {
      order.push('c');
      return p;
    });
    const d = limiter.acquire(never).then((p) => {
      order.push('d');
      return p;
    });
    await Promise.resolve();
    expect(limiter.running).toBe(2);
    expect(limiter.waiting).toBe(2);
    a.release();
    const pc = await c;
    expect(order).toEqual(['c']);
    b.release();
    b.release(); // a second release is a no-op
    const pd = await d;
    expect(order).toEqual(['c', 'd']);
    pc.release();
    pd.release();
    expect(limiter.running).toBe(0);
  });

  it('removes a waiter whose signal aborts', async () => {
    const limiter = new Limiter({ concurrency: 1 });
    const held = await limiter.acquire(never);
    const controller = new AbortController();
    const waiting = limiter.acquire(controller.signal);
    expect(limiter.waiting).toBe(1);
    controller.abort();
    await expect(waiting).rejects.toBeInstanceOf(CancelledError);
    expect(limiter.waiting).toBe(0);
    held.release();
    expect(limiter.running).toBe(0);
    const again = await limiter.acquire(never);
    again.release();
  });

  it('rejects at once when the signal is already aborted', async () => {
    const limiter = new Limiter({ concurrency: 1 });
    await expect(limiter.acquire(AbortSignal.abort())).rejects.toBeInstanceOf(CancelledError);
    expect(limiter.running).toBe(0);
  });

  it('enforces requests per window with a sliding window', async () => {
    let now = 0;
    const sleeps: number[] = [];
    const limiter = new Limiter({
      concurrency: 10,
      requestsPerMinute: 2,
      now: () => now,
      sleep: async (ms) => {
        sleeps.push(ms);
        now += ms;
      },
    });
    (await limiter.acquire(never)).release();
    now = 10_000;
    (await limiter.acquire(never)).release();
    (await limiter.acquire(never)).release();
    expect(sleeps).toEqual([50_000]);
    expect(now).toBe(60_000);
  });

  it('enforces tokens per window and learns the actual count on release', async () => {
    let now = 0;
    const sleeps: number[] = [];
    const limiter = new Limiter({
      concurrency: 10,
      tokensPerMinute: 1000,
      now: () => now,
      sleep: async (ms) => {
        sleeps.push(ms);
        now += ms;
      },
    });
    (await limiter.acquire(never, 900)).release(100);
    (await limiter.acquire(never, 800)).release(800);
    expect(sleeps).toEqual([]);
    (await limiter.acquire(never, 500)).release();
    expect(sleeps).toEqual([60_000]);
    // A request larger than the whole window still goes through once the window is empty.
    now += 120_000;
    (await limiter.acquire(never, 5000)).release();
  });

  it('frees its slot when the rate wait is cancelled', async () => {
    const controller = new AbortController();
    const limiter = new Limiter({ concurrency: 1, requestsPerMinute: 1, windowMs: 60_000 });
    (await limiter.acquire(never)).release();
    const waiting = limiter.acquire(controller.signal);
    setTimeout(() => controller.abort(), 10);
    await expect(waiting).rejects.toBeInstanceOf(CancelledError);
    expect(limiter.running).toBe(0);
  });

  it('keeps one limiter per provider key', () => {
    const pool = new LimiterPool({ concurrency: 1 });
    expect(pool.for('a')).toBe(pool.for('a'));
    expect(pool.for('a')).not.toBe(pool.for('b'));
  });
});
