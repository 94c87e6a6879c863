import { describe, expect, it } from 'vitest';
import { BuildTally } from '../../src/cli/live-line.js';
import { liveText } from '../../src/cli/progress.js';
import type { BuildEvent } from '../../src/engine/events.js';

const finished = (costUsd: number | null, inputTokens: number, outputTokens: number, status = 'completed'): BuildEvent => ({
  type: 'interaction-finished',
  taskId: 'A',
  attemptId: 1,
  interactionId: 1,
  model: 'm',
  status,
  inputTokens,
  outputTokens,
  costUsd,
  durationMs: 5,
});

describe('the live line', () => {
  it('shows tasks done of all, what runs, calls, tokens and cost so far, failures and the elapsed time, labelled', () => {
    const tally = new BuildTally();
    const events: BuildEvent[] = [
      { type: 'build-started', runId: 'r', runDir: '/r', tasks: 3, at: Date.now() - 62_000 },
      { type: 'task-decided', taskId: 'A', state: 'fresh', reason: 'up to date' },
      { type: 'task-started', taskId: 'B', attemptId: 1, try: 1, reason: 'never built' },
      finished(0.01, 1200, 150),
      finished(0.005, 300, 50),
      finished(null, 0, 0, 'failed'),
    ];
    for (const event of events) tally.apply(event);
    expect(liveText(tally)).toMatch(
      /^\[1\/3 tasks\] 1 running: B · 2 calls · 1\.5k in \/ 200 out tokens · \$0\.0150 · 0 failed · 1m0[0-9]s elapsed$/,
    );
  });

  it('marks the cost as a lower bound when a call had no known price', () => {
    const tally = new BuildTally();
    tally.apply(finished(0.002, 10, 10));
    tally.apply(finished(null, 10, 10));
    expect(tally.spendText()).toBe('2 calls · 20 in / 20 out tokens · ≥ $0.0020');
  });
});
