import { clear, h, paths, svg } from './dom.js';
import { formatDuration, plural } from './format.js';

/**
 * The run's last build as a Gantt chart (SVG made with DOM APIs): a row per task that ran, each attempt a bar
 * from its start to its end coloured by its status (a retry is a second bar in the row), its model calls as
 * ticks along the bar's foot (replayed ones marked), and the critical path drawn bold and joined up. While a
 * build runs, the running bars grow by themselves between the server's updates. A click opens the task.
 */

export interface TimelineCallView {
  id: number;
  status: string;
  replayedFrom: number | null;
  start: number;
  end: number;
}

export interface TimelineAttemptView {
  id: number;
  status: string;
  error: string | null;
  start: number;
  end: number;
  open: boolean;
  endUnknown: boolean;
  calls: TimelineCallView[];
}

export interface TimelineViewData {
  t0: number | null;
  now: number;
  spanMs: number;
  builds: number;
  earlierAttempts: number;
  rows: { taskId: string; attempts: TimelineAttemptView[]; spanMs: number; critical: boolean }[];
  criticalPath: string[];
  criticalMs: number;
  calls: number;
  replayedCalls: number;
  retriedTasks: number;
}

const LABEL_WIDTH = 240;
const ROW_HEIGHT = 20;
const BAR_HEIGHT = 14;
const AXIS_HEIGHT = 22;
const MIN_CHART_WIDTH = 320;

/** A tick every 1, 2 or 5 × 10^k ms, about every 90 px. */
function tickStep(spanMs: number, width: number): number {
  const raw = (spanMs / Math.max(width, 1)) * 90;
  const power = 10 ** Math.floor(Math.log10(Math.max(raw, 1)));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}

export class TimelinePanel {
  readonly element: HTMLElement;
  private readonly summary: HTMLParagraphElement;
  private readonly holder: HTMLDivElement;
  private data: TimelineViewData | null = null;
  private fetchedAt = 0;
  private ticker: number | undefined;
  private lastWidth = 0;

  constructor(private readonly runId: string) {
    this.summary = h('p', { class: 'muted timeline-summary' });
    this.holder = h('div', { class: 'timeline-scroll' });
    this.element = h(
      'div',
      { class: 'timeline-panel' },
      h(
        'div',
        { class: 'timeline-tools' },
        this.summary,
        h(
          'span',
          { class: 'legend' },
          h('span', { class: 'badge state-complete' }, 'complete'),
          h('span', { class: 'badge state-running' }, 'running'),
          h('span', { class: 'badge state-failed' }, 'failed'),
          h('span', { class: 'badge state-cancelled' }, 'cancelled'),
          h('span', { class: 'badge critical-key' }, 'critical path'),
          h('span', { class: 'badge replayed' }, 'replayed call'),
        ),
      ),
      this.holder,
    );
    window.addEventListener('resize', () => {
      if (this.data !== null && this.holder.clientWidth !== this.lastWidth) this.render();
    });
  }

  /** Draws the timeline anew from the server's figures; while a bar is open, redraws every second (5 s above 300 rows). */
  draw(data: TimelineViewData): void {
    this.data = data;
    this.fetchedAt = Date.now();
    this.render();
    const open = data.rows.some((r) => r.attempts.some((a) => a.open));
    // A big build's chart is redrawn less often (each redraw of 1,000 rows takes ~0.1 s).
    if (open && this.ticker === undefined) this.ticker = window.setInterval(() => this.render(), data.rows.length > 300 ? 5_000 : 1_000);
    if (!open && this.ticker !== undefined) {
      window.clearInterval(this.ticker);
      this.ticker = undefined;
    }
  }

  private render(): void {
    const data = this.data!;
    clear(this.holder);
    if (data.t0 === null || data.rows.length === 0) {
      this.summary.textContent = 'no task has run yet';
      return;
    }
    // Time since the server's figures, for the bars still running.
    const grown = Math.max(0, Date.now() - this.fetchedAt);
    const endOf = (a: TimelineAttemptView): number => (a.open ? a.end + grown : a.end);
    const span = Math.max(1, ...data.rows.flatMap((r) => r.attempts.map(endOf)));
    this.lastWidth = this.holder.clientWidth;
    const chartWidth = Math.max(MIN_CHART_WIDTH, this.lastWidth - LABEL_WIDTH - 48);
    const x = (ms: number): number => LABEL_WIDTH + (ms / span) * chartWidth;
    const height = AXIS_HEIGHT + data.rows.length * ROW_HEIGHT + 6;
    const width = LABEL_WIDTH + chartWidth + 40;

    const earlier = data.builds > 1 ? ` · ${plural(data.builds - 1, 'earlier build')} (${plural(data.earlierAttempts, 'attempt')}) not shown` : '';
    this.summary.textContent =
      `last build: ${plural(data.rows.length, 'task')} in ${formatDuration(Math.round(span))}` +
      ` · critical path ${plural(data.criticalPath.length, 'task')}, ${formatDuration(data.criticalMs)}` +
      (data.retriedTasks > 0 ? ` · ${plural(data.retriedTasks, 'task')} retried` : '') +
      ` · ${plural(data.calls, 'model call')}${data.replayedCalls > 0 ? ` (${data.replayedCalls} replayed)` : ''}${earlier}`;

    const axis = svg('g', { class: 'axis' });
    const step = tickStep(span, chartWidth);
    for (let t = 0; t <= span; t += step) {
      const at = x(t);
      axis.append(
        svg('line', { x1: at, x2: at, y1: AXIS_HEIGHT - 4, y2: height, class: 'tick' }),
        svg('text', { x: at + 2, y: AXIS_HEIGHT - 8, class: 'tick-label' }, formatDuration(t)),
      );
    }
    const rows = svg('g', { class: 'rows' });
    const centres = new Map<string, { start: number; end: number; y: number }>();
    for (const [i, row] of data.rows.entries()) {
      const y = AXIS_HEIGHT + i * ROW_HEIGHT;
      const g = svg('g', { class: `row${row.critical ? ' critical' : ''}`, 'data-task': row.taskId, tabindex: 0, role: 'link' });
      g.dataset.task = row.taskId;
      const label = row.taskId.length > 34 ? `${row.taskId.slice(0, 33)}…` : row.taskId;
      g.append(
        svg('rect', { x: 0, y, width, height: ROW_HEIGHT, class: 'row-bg' }),
        svg('text', { x: 6, y: y + ROW_HEIGHT - 6, class: 'row-label' }, label),
      );
      for (const attempt of row.attempts) {
        const left = x(attempt.start);
        const right = Math.max(left + 2, x(endOf(attempt)));
        const top = y + (ROW_HEIGHT - BAR_HEIGHT) / 2;
        const bar = svg(
          'rect',
          {
            x: left,
            y: top,
            width: right - left,
            height: BAR_HEIGHT,
            rx: 2,
            class: `bar status-${attempt.status}${attempt.endUnknown ? ' end-unknown' : ''}`,
            'data-attempt': attempt.id,
          },
          svg('title', {}, this.tooltip(row.taskId, attempt, endOf(attempt))),
        );
        g.append(bar);
        for (const call of attempt.calls) {
          const cl = x(call.start);
          const cr = Math.max(cl + 1.5, x(call.end));
          g.append(
            svg(
              'rect',
              {
                x: cl,
                y: top + BAR_HEIGHT - 4,
                width: cr - cl,
                height: 3,
                class: `call call-${call.status}`,
                'data-call': call.id,
              },
              svg('title', {}, `call ${call.id} ${call.status}${call.replayedFrom === null ? '' : ` (the answer of call ${call.replayedFrom})`}`),
            ),
          );
        }
        const seen = centres.get(row.taskId);
        centres.set(row.taskId, { start: Math.min(seen?.start ?? left, left), end: Math.max(seen?.end ?? right, right), y: y + ROW_HEIGHT / 2 });
      }
      const open = (): void => {
        window.location.href = paths.task(this.runId, row.taskId);
      };
      g.addEventListener('click', open);
      g.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') open();
      });
      rows.append(g);
    }
    // The critical path joined up: from each task's end to the start of the next one on the chain.
    const links = svg('g', { class: 'critical-links' });
    for (let i = 1; i < data.criticalPath.length; i++) {
      const a = centres.get(data.criticalPath[i - 1]!);
      const b = centres.get(data.criticalPath[i]!);
      if (a === undefined || b === undefined) continue;
      links.append(svg('path', { d: `M${a.end},${a.y} L${Math.max(a.end, b.start)},${b.y}`, class: 'critical-link' }));
    }
    this.holder.append(
      svg(
        'svg',
        { class: 'timeline', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'timeline of the last build' },
        axis,
        rows,
        links,
      ),
    );
  }

  private tooltip(taskId: string, a: TimelineAttemptView, end: number): string {
    const replayed = a.calls.filter((c) => c.status === 'replayed').length;
    const took = a.endUnknown ? `≥ ${formatDuration(Math.round(end - a.start))} (end unknown)` : formatDuration(Math.round(end - a.start));
    return [
      `${taskId} — attempt ${a.id} ${a.status}`,
      `started +${formatDuration(a.start)}, took ${took}`,
      a.calls.length > 0 ? `${plural(a.calls.length, 'model call')}${replayed > 0 ? `, ${replayed} replayed` : ''}` : null,
      a.error,
    ]
      .filter(Boolean)
      .join('\n');
  }
}
