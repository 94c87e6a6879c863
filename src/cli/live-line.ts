import { formatDuration } from './output.js';
import type { BuildEvent } from '../engine/events.js';

/**
 * One status line redrawn in place on a terminal, with permanent lines printed above it. Redraws at most every
 * 50 ms (a 10,000-task build must not spend its time repainting) and, while the clock runs, every second.
 */
export class LiveLine {
  private pending: NodeJS.Timeout | undefined;
  private clock: NodeJS.Timeout | undefined;

  constructor(
    private readonly err: NodeJS.WriteStream,
    private readonly text: () => string,
  ) {}

  draw(): void {
    const text = this.text();
    const width = this.err.columns || 100;
    this.err.write(`\r\u001b[2K${text.length > width - 1 ? `${text.slice(0, width - 2)}…` : text}`);
  }

  update(): void {
    this.pending ??= setTimeout(() => {
      this.pending = undefined;
      this.draw();
    }, 50);
  }

  print(line: string): void {
    this.err.write(`\r\u001b[2K${line}\n`);
    this.update();
  }

  startClock(): void {
    this.clock ??= setInterval(() => this.draw(), 1_000);
    this.clock.unref();
  }

  /** Stops redrawing; `erase` also wipes the line. */
  stop(erase: boolean): void {
    if (this.clock) clearInterval(this.clock);
    if (this.pending) clearTimeout(this.pending);
    this.clock = undefined;
    this.pending = undefined;
    if (erase) this.err.write('\r\u001b[2K');
  }
}

/** A build's progress as its events tell it: what a live line shows. */
export class BuildTally {
  total = 0;
  done = 0;
  failed = 0;
  started = Date.now();
  readonly running = new Set<string>();
  /** Model calls answered (or replayed) so far, their tokens, and their cost where the price is known. */
  calls = 0;
  inputTokens = 0;
  outputTokens = 0;
  costUsd = 0;
  /** Answered calls whose price is unknown: the cost shown is then a lower bound. */
  unpricedCalls = 0;

  apply(event: BuildEvent): void {
    switch (event.type) {
      case 'build-started':
        this.total = event.tasks;
        this.started = event.at;
        break;
      case 'task-decided':
        if (event.state === 'fresh') this.done++;
        break;
      case 'task-started':
        this.running.add(event.taskId);
        break;
      case 'task-complete':
        this.running.delete(event.taskId);
        this.done++;
        break;
      case 'task-failed':
        if (event.retryInMs === null) {
          this.running.delete(event.taskId);
          this.failed++;
        }
        break;
      case 'task-cancelled':
        this.running.delete(event.taskId);
        break;
      case 'interaction-finished':
        if (event.status !== 'completed' && event.status !== 'replayed' && event.status !== 'rejected') break;
        this.calls++;
        this.inputTokens += event.inputTokens ?? 0;
        this.outputTokens += event.outputTokens ?? 0;
        if (event.costUsd === null) this.unpricedCalls++;
        else this.costUsd += event.costUsd;
        break;
    }
  }

  /** e.g. `40 calls · 120k in / 8.1k out tokens · $0.0123` (`≥ $…` when some calls have no known price). */
  spendText(): string {
    if (this.calls === 0) return '0 calls';
    const cost = `${this.unpricedCalls > 0 ? '≥ ' : ''}$${this.costUsd.toFixed(4)}`;
    return `${this.calls} call${this.calls === 1 ? '' : 's'} · ${compact(this.inputTokens)} in / ${compact(this.outputTokens)} out tokens · ${cost}`;
  }

  /** e.g. `2 running: A, B (+1)`. */
  runningText(): string {
    const names = [...this.running];
    const shown = names.slice(0, 2).join(', ') + (names.length > 2 ? ` (+${names.length - 2})` : '');
    return `${this.running.size} running${shown ? `: ${shown}` : ''}`;
  }

  elapsed(): string {
    return `${formatDuration(Date.now() - this.started)} elapsed`;
  }
}

/** 1234 → 1.2k, 1234567 → 1.2M: tokens at a glance. */
function compact(n: number): string {
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}
