import { describe, expect, it } from 'vitest';
import { ReadyQueue, resourceClass } from '../../src/engine/ready-queue.js';
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

  it('skips groups the caller cannot accept now, best remaining head first', () => {
    const queue = new ReadyQueue<string>();
    for (let i = 0; i < 50; i++) queue.push(`t${i}`, i, i, `pool${i % 5}`);
    expect(queue.take((_item, group) => group === 'pool0' || group === 'pool3')).toBe('t48');
    expect(queue.take(() => false)).toBeUndefined();
    expect(queue.size).toBe(49);
    const rest = [];
    while (queue.size > 0) rest.push(queue.take(() => true));
    expect(rest[0]).toBe('t49');
    expect(rest).toHaveLength(49);
    expect(rest).not.toContain('t48');
  });

  it('keeps highest priority first, ties in topological order, across groups', () => {
    const queue = new ReadyQueue<string>();
    queue.push('short', 1, 0, 'gpu');
    queue.push('long', 5, 3);
    queue.push('mid-b', 3, 2, 'gpu');
    queue.push('mid-a', 3, 1, 'disk');
    const taken = [];
    while (queue.size > 0) taken.push(queue.take(() => true));
    expect(taken).toEqual(['long', 'mid-a', 'mid-b', 'short']);
  });

  it('with 10,000 tasks waiting on a full pool, asks about each group head once, not about every task', () => {
    const queue = new ReadyQueue<string>();
    for (let i = 0; i < 10_000; i++) queue.push(`render-${i}`, 100 + (i % 7), i, 'gpu');
    queue.push('summarize', 1, 10_000);
    let asked = 0;
    const next = queue.take((_item, group) => {
      asked++;
      return group === '';
    });
    expect(asked).toBeLessThanOrEqual(2);
    expect(next).toBe('summarize');
    expect(queue.size).toBe(10_000);
  });

  it('takes what a scan of all waiting items would, when acceptance depends on the group only (random mix)', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const queue = new ReadyQueue<number>();
    const waiting: { item: number; priority: number; group: string }[] = [];
    for (let step = 0; step < 5_000; step++) {
      if (random() < 0.6) {
        const entry = { item: step, priority: Math.floor(random() * 20), group: `g${Math.floor(random() * 4)}` };
        waiting.push(entry);
        queue.push(entry.item, entry.priority, entry.item, entry.group);
        continue;
      }
      const open = new Set(['g0', 'g1', 'g2', 'g3'].filter(() => random() < 0.5));
      const expected = waiting.filter((entry) => open.has(entry.group)).sort((a, b) => b.priority - a.priority || a.item - b.item)[0];
      expect(queue.take((_item, group) => open.has(group))).toBe(expected?.item);
      if (expected) waiting.splice(waiting.indexOf(expected), 1);
      expect(queue.size).toBe(waiting.length);
    }
  });

  it('names a resource class by its pools and amounts, whatever their order; no resources is the class ""', () => {
    expect(resourceClass({})).toBe('');
    expect(resourceClass({ llm: 2, gpu: 1 })).toBe(resourceClass({ gpu: 1, llm: 2 }));
    expect(resourceClass({ gpu: 1 })).not.toBe(resourceClass({ gpu: 2 }));
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
