import { describe, expect, it } from 'vitest';
import type { AttemptRecord, InteractionSummary } from '../../src/store/store.js';
import { diffLines, MAX_EDITS } from '../../src/ui/diff.js';
import type { GraphTask } from '../../src/ui/engine-callbacks.js';
import { LAYERED_ABOVE, layeredLayout, layoutGraph, NODE_HEIGHT, NODE_WIDTH } from '../../src/ui/layout.js';
import { buildTimeline, splitBuilds } from '../../src/ui/timeline.js';

/**
 * The dashboard's pure parts of slice 2: how a run's attempts are cut into builds and the last one's critical
 * path found, the line diff (against a plain LCS on many random inputs), and the cheap layout of a big graph.
 */

let nextId = 1;
function attempt(taskId: string, status: AttemptRecord['status'], startedAt: number, finishedAt: number | null): AttemptRecord {
  return { id: nextId++, runId: 'r', taskId, status, stamp: null, outputs: null, error: null, startedAt, finishedAt };
}

const noCalls = (): readonly InteractionSummary[] => [];

describe('the timeline: builds from attempts, the critical path', () => {
  it('one build: tasks one after another and side by side, a failure retried after its backoff', () => {
    const attempts = [
      attempt('A', 'complete', 0, 100),
      attempt('B', 'complete', 101, 300),
      attempt('C', 'complete', 101, 150),
      attempt('D', 'failed', 301, 400),
      // Retried 20 s later (a backoff under 30 s): the same build.
      attempt('D', 'complete', 20_400, 20_500),
    ];
    expect(splitBuilds(attempts, noCalls, 30_000, false).map((b) => b.length)).toEqual([5]);
  });

  it('a new build: a task that already ran in the stretch, a pause over a second, a retry after more than 31 s', () => {
    const a = attempt('A', 'complete', 0, 100);
    const again = attempt('A', 'complete', 100, 150);
    expect(splitBuilds([a, again], noCalls, 1_000, false).map((b) => b.map((x) => x.id))).toEqual([[a.id], [again.id]]);
    const b = attempt('B', 'complete', 1_200, 1_300);
    expect(splitBuilds([a, b], noCalls, 2_000, false)).toHaveLength(2);
    const f = attempt('F', 'failed', 0, 100);
    const late = attempt('F', 'complete', 40_000, 40_100);
    expect(splitBuilds([f, late], noCalls, 50_000, false)).toHaveLength(2);
  });

  it('an abandoned attempt ends at its last answered call, not when the next build marked it', () => {
    const dead = attempt('A', 'abandoned', 0, 60_000);
    const calls: InteractionSummary[] = [
      { id: 1, attemptId: dead.id, status: 'completed', startedAt: 10, finishedAt: 500 } as InteractionSummary,
      { id: 2, attemptId: dead.id, status: 'abandoned', startedAt: 600, finishedAt: 60_000 } as InteractionSummary,
    ];
    const next = attempt('A', 'complete', 60_001, 60_100);
    const other = attempt('B', 'complete', 60_001, 60_050);
    const timeline = buildTimeline([dead, next, other], calls, [], { now: 70_000, live: false });
    expect(timeline.builds).toBe(2);
    expect(timeline.earlierAttempts).toBe(1);
    expect(timeline.rows.map((r) => r.taskId)).toEqual(['A', 'B']);
    const earlier = buildTimeline([dead], calls, [], { now: 70_000, live: false });
    expect(earlier.rows[0]!.attempts[0]).toMatchObject({ start: 0, end: 600, endUnknown: true });
  });

  it('a running attempt of a live build grows to now; the critical path follows the edges with the most time', () => {
    const tasks: GraphTask[] = [
      { id: 'S', requires: [], outputs: [] },
      { id: 'Long', requires: ['S'], outputs: [] },
      { id: 'Short', requires: ['S'], outputs: [] },
      { id: 'End', requires: ['Long', 'Short'], outputs: [] },
      { id: 'Aside', requires: [], outputs: [] },
    ];
    const attempts = [
      attempt('S', 'complete', 0, 10),
      attempt('Aside', 'complete', 0, 400),
      attempt('Long', 'complete', 11, 311),
      attempt('Short', 'complete', 11, 61),
      attempt('End', 'running', 312, null),
    ];
    const timeline = buildTimeline(attempts, [], tasks, { now: 1_000, live: true });
    expect(timeline.rows.find((r) => r.taskId === 'End')!.attempts[0]).toMatchObject({ open: true, end: 1_000 });
    expect(timeline.criticalPath).toEqual(['S', 'Long', 'End']);
    expect(timeline.criticalMs).toBe(10 + 300 + 688);
    // Not live: the build that left it running is gone; its end is not known.
    const dead = buildTimeline(attempts, [], tasks, { now: 1_000, live: false });
    expect(dead.rows.find((r) => r.taskId === 'End')!.attempts[0]).toMatchObject({ open: false, endUnknown: true, end: 312 });
    expect(dead.criticalPath).toEqual(['Aside']);
  });

  it('no attempts: an empty timeline', () => {
    expect(buildTimeline([], [], [], { now: 0, live: false })).toMatchObject({ t0: null, rows: [], criticalPath: [], builds: 0 });
  });
});

function lcs(a: string[], b: string[]): number {
  const dp = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) dp[i]![j] = a[i - 1] === b[j - 1] ? dp[i - 1]![j - 1]! + 1 : Math.max(dp[i - 1]![j]!, dp[i]![j - 1]!);
  return dp[a.length]![b.length]!;
}

describe('the line diff', () => {
  it('is a shortest diff: as many changed lines as a plain LCS says, each line where it says it is (2,000 random cases)', () => {
    let seed = 7;
    const random = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let t = 0; t < 2_000; t++) {
      const lines = (): string[] => Array.from({ length: Math.floor(random() * 14) }, () => 'abcd'[Math.floor(random() * 4)]!);
      const a = lines();
      const b = lines();
      const diff = diffLines(a.map((l) => `${l}\n`).join(''), b.map((l) => `${l}\n`).join(''));
      expect(diff.added + diff.removed).toBe(a.length + b.length - 2 * lcs(a, b));
      expect(diff.identical).toBe(a.join() === b.join());
      for (const line of diff.hunks.flatMap((h) => h.lines)) {
        if (line.old !== null) expect(a[line.old - 1]).toBe(line.text);
        if (line.new !== null) expect(b[line.new - 1]).toBe(line.text);
      }
    }
  });

  it('marks a last line without a newline; joins changes closer than twice the context', () => {
    const diff = diffLines('a\nb\n', 'a\nb');
    expect(diff.hunks[0]!.lines.filter((l) => l.kind !== 'context')).toEqual([
      { kind: 'del', old: 2, new: null, text: 'b' },
      { kind: 'add', old: null, new: 2, text: 'b', noNewline: true },
    ]);
    const base = Array.from({ length: 30 }, (_, i) => `l${i}`);
    const near = base.map((l, i) => (i === 10 || i === 15 ? `${l}!` : l));
    expect(diffLines(base.join('\n'), near.join('\n')).hunks).toHaveLength(1);
    const far = base.map((l, i) => (i === 3 || i === 25 ? `${l}!` : l));
    expect(diffLines(base.join('\n'), far.join('\n')).hunks).toHaveLength(2);
  });

  it('past MAX_EDITS changed lines: the changed middle shown removed then added, and said so', () => {
    const a = Array.from({ length: 3_000 }, (_, i) => `old ${i}`);
    const b = Array.from({ length: 3_000 }, (_, i) => `new ${i}`);
    const started = performance.now();
    const diff = diffLines(`keep\n${a.join('\n')}\nkeep\n`, `keep\n${b.join('\n')}\nkeep\n`);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(MAX_EDITS).toBeLessThan(6_000);
    expect(diff).toMatchObject({ approximate: true, added: 3_000, removed: 3_000 });
  });
});

describe('the layout of a big graph', () => {
  it(`above ${LAYERED_ABOVE} tasks: every task in the column after its deepest dependency, no two boxes overlapping`, () => {
    const tasks: GraphTask[] = [];
    for (let k = 0; k < 1_000; k++) {
      const [layer, index] = [Math.floor(k / 10), k % 10];
      tasks.push({
        id: `N${layer}-${index}`,
        requires: layer === 0 ? [] : [`N${layer - 1}-${index}`, `N${layer - 1}-${(index + 1) % 10}`],
        outputs: [],
      });
    }
    const started = performance.now();
    const laid = layoutGraph(tasks);
    const ms = performance.now() - started;
    console.log(`layout of 1,000 tasks (layered): ${ms.toFixed(0)} ms`);
    expect(laid.method).toBe('layered');
    expect(laid.paths).toHaveLength(1_980);
    for (const task of tasks) for (const dep of task.requires) expect(laid.nodes[dep]!.x).toBeLessThan(laid.nodes[task.id]!.x);
    const seen = new Set<string>();
    for (const p of Object.values(laid.nodes)) {
      expect(seen.has(`${p.x},${p.y}`)).toBe(false);
      seen.add(`${p.x},${p.y}`);
      expect(p.x - NODE_WIDTH / 2).toBeGreaterThanOrEqual(0);
      expect(p.y + NODE_HEIGHT / 2).toBeLessThanOrEqual(laid.height);
    }
    expect(layeredLayout(tasks.slice(0, 20)).method).toBe('layered');
    expect(layoutGraph(tasks.slice(0, 20)).method).toBe('dagre');
  });
});
