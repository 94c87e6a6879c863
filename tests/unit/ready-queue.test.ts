import { describe, expect, it } from 'vitest';
import { ReadyQueue } from '../../src/engine/ready-queue.js';
import { ResourcePools } from '../../src/engine/resource-pools.js';
import { backoffDelay } from '../../src/engine/backoff.js';

describe('ReadyQueue', () => {
  it('gives the longest remaining chain first, ties in topological order', () => {
    const queue = new ReadyQueue<string>();
    queue.push('short', 1, 0);
    queue.push('long', 5, 3);
    queue.push('mid-b', 3, 2);
    queue.push('mid-a', 3, 1);
    const taken = [];
    while (queue.size > 0) taken.push(queue.take(() => true));
    expect(taken).toEqual(['long', 'mid-a', 'mid-b', 'short']);
  });

  it('skips items the caller cannot accept now, in priority order', () => {
    const queue = new ReadyQueue<string>();
    for (let i = 0; i < 50; i++) queue.push(`t${i}`, i, i);
    expect(queue.take((item) => item === 't10' || item === 't3')).toBe('t10');
    expect(queue.take(() => false)).toBeUndefined();
    expect(queue.size).toBe(49);
    const rest = [];
    while (queue.size > 0) rest.push(queue.take(() => true));
    expect(rest[0]).toBe('t49');
    expect(rest).toHaveLength(49);
    expect(rest).not.toContain('t10');
  });
});

describe('ResourcePools', () => {
  it('bounds tasks by pool capacity; unconfigured pools are unbounded', () => {
    const pools = new ResourcePools({ gpu: 1 });
    expect(pools.fits({ gpu: 1 })).toBe(true);
    pools.take({ gpu: 1 });
    expect(pools.fits({ gpu: 1 })).toBe(false);
    expect(pools.fits({ disk: 100 })).toBe(true);
    pools.release({ gpu: 1 });
    expect(pools.fits({ gpu: 1 })).toBe(true);
  });
});

describe('backoffDelay', () => {
  it('grows exponentially up to the cap, scaled by jitter', () => {
    const policy = { baseDelayMs: 100, maxDelayMs: 1_000 };
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, policy, () => 1))).toEqual([100, 200, 400, 800, 1_000]);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(200);
  });
});
