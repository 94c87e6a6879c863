import { getJson, watchLive } from '../api.js';
import type { Page } from '../app.js';
import { clear, h, paths, svg } from '../dom.js';
import { formatCost, formatCount, formatDuration } from '../format.js';

/**
 * Spend on model calls per run, task, model and UTC day: the figures of `plan costs --by … --json` (the same
 * store query), each as a table and a bar chart; since 7 days, 30 days or ever. A cost with calls of unknown
 * price reads as `plan costs` prints it: `unknown`, or `≥ $x + N calls of unknown price`.
 */

interface CostRow {
  key: string;
  calls: number;
  failedCalls: number;
  inputTokens: number;
  outputTokens: number;
  durationMs: number;
  costUsd: number | null;
  knownCostUsd: number;
  unpricedCalls: number;
}

interface Costs {
  db: string;
  by: string;
  since: string | null;
  rows: CostRow[];
  total: Omit<CostRow, 'key'>;
}

const GROUPINGS = [
  ['run', 'Per run'],
  ['task', 'Per task'],
  ['model', 'Per model'],
  ['day', 'Per day (UTC)'],
] as const;

const SINCE = [
  ['7d', 'last 7 days'],
  ['30d', 'last 30 days'],
  ['all', 'all time'],
] as const;

type Metric = 'cost' | 'calls' | 'tokens';

/** Bars drawn per chart at most; the table lists every row. */
const MAX_BARS = 25;

export async function costsPage(page: Page): Promise<void> {
  page.crumbs(h('span', {}, 'costs'));
  document.title = 'plan · costs';
  const query = new URLSearchParams(window.location.search);
  const since = h('select', { attrs: { name: 'since', 'aria-label': 'since' } });
  for (const [value, label] of SINCE) since.append(h('option', { attrs: { value } }, label));
  since.value = SINCE.some(([v]) => v === query.get('since')) ? query.get('since')! : 'all';
  const bars = h('select', { attrs: { name: 'bars', 'aria-label': 'bars show' } });
  for (const [value, label] of [
    ['', 'bars: cost (calls when none is priced)'],
    ['cost', 'bars: cost'],
    ['calls', 'bars: calls'],
    ['tokens', 'bars: tokens'],
  ] as const)
    bars.append(h('option', { attrs: { value } }, label));
  bars.value = query.get('bars') ?? '';
  const summary = h('p', { class: 'muted' });
  const sections = h('div', { class: 'costs' });
  page.main.append(h('h1', {}, 'Costs'), h('form', { class: 'filters' }, since, bars), summary, sections);

  const refresh = async (): Promise<void> => {
    const params = new URLSearchParams();
    if (since.value !== 'all') params.set('since', since.value);
    if (bars.value !== '') params.set('bars', bars.value);
    const search = params.toString();
    window.history.replaceState(null, '', search ? `/costs?${search}` : '/costs');
    const all = await Promise.all(
      GROUPINGS.map(([by]) => getJson<Costs>(`/api/costs?by=${by}${since.value === 'all' ? '' : `&since=${encodeURIComponent(since.value)}`}`)),
    );
    const total = all[0]!.total;
    const metric: Metric = bars.value === '' ? (total.knownCostUsd > 0 ? 'cost' : 'calls') : (bars.value as Metric);
    summary.textContent =
      `${formatCount(total.calls)} model calls${total.failedCalls > 0 ? ` (${total.failedCalls} failed)` : ''} · ` +
      `${formatCount(total.inputTokens)} in / ${formatCount(total.outputTokens)} out tokens · ${formatCost(total.knownCostUsd, total.unpricedCalls)}` +
      ` · ${since.value === 'all' ? 'all time' : `since ${all[0]!.since ?? ''}`} · ${all[0]!.db}`;
    clear(sections);
    for (const [i, [by, title]] of GROUPINGS.entries()) sections.append(section(by, title, all[i]!, metric));
    performance.mark('costs-drawn');
  };
  since.addEventListener('change', () => void refresh());
  bars.addEventListener('change', () => void refresh());
  await refresh();
  watchLive(null, refresh, (state) => page.live(state));
}

function metricValue(row: Omit<CostRow, 'key'>, metric: Metric): number {
  return metric === 'cost' ? row.knownCostUsd : metric === 'calls' ? row.calls : row.inputTokens + row.outputTokens;
}

function labelOf(row: Omit<CostRow, 'key'>, metric: Metric): string {
  if (metric === 'cost') return formatCost(row.knownCostUsd, row.unpricedCalls);
  return metric === 'calls' ? formatCount(row.calls) : `${formatCount(row.inputTokens + row.outputTokens)} tokens`;
}

function section(by: string, title: string, data: Costs, metric: Metric): HTMLElement {
  const el = h('section', { class: `costs-${by}`, data: { by } }, h('h2', {}, title));
  if (data.rows.length === 0) {
    el.append(h('p', { class: 'muted' }, 'no model calls'));
    return el;
  }
  el.append(chart(data.rows, metric, by), costTable(data, by));
  return el;
}

function chart(rows: CostRow[], metric: Metric, by: string): SVGSVGElement {
  const shownRows = rows.slice(0, MAX_BARS);
  const labelWidth = 230;
  const barWidth = 520;
  const rowHeight = 20;
  const height = shownRows.length * rowHeight + (rows.length > MAX_BARS ? rowHeight : 0) + 4;
  const width = labelWidth + barWidth + 260;
  const max = Math.max(...shownRows.map((r) => metricValue(r, metric)), 0);
  const root = svg('svg', {
    class: 'cost-chart',
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': `${metric} per ${by}`,
  });
  for (const [i, row] of shownRows.entries()) {
    const y = i * rowHeight;
    const value = metricValue(row, metric);
    const length = max === 0 ? 0 : (value / max) * barWidth;
    const key = row.key.length > 34 ? `${row.key.slice(0, 33)}…` : row.key;
    root.append(
      svg('text', { x: 0, y: y + 14, class: 'bar-label' }, svg('title', {}, row.key), key),
      svg(
        'rect',
        {
          x: labelWidth,
          y: y + 3,
          width: Math.max(length, value > 0 ? 1.5 : 0),
          height: rowHeight - 6,
          class: `cost-bar${metric === 'cost' && row.unpricedCalls > 0 ? ' unpriced' : ''}`,
        },
        svg('title', {}, `${row.key}: ${labelOf(row, metric)}`),
      ),
      svg('text', { x: labelWidth + length + 6, y: y + 14, class: 'bar-value' }, labelOf(row, metric)),
    );
  }
  if (rows.length > MAX_BARS) {
    root.append(
      svg('text', { x: 0, y: shownRows.length * rowHeight + 14, class: 'bar-label muted' }, `… ${rows.length - MAX_BARS} more in the table`),
    );
  }
  return root;
}

function costTable(data: Costs, by: string): HTMLTableElement {
  const numeric = (i: number): string => (i > 0 ? 'num' : '');
  const cells = (key: Node | string, r: Omit<CostRow, 'key'>): (Node | string)[] => [
    key,
    String(r.calls),
    String(r.failedCalls),
    formatCount(r.inputTokens),
    formatCount(r.outputTokens),
    formatDuration(r.durationMs),
    formatCost(r.knownCostUsd, r.unpricedCalls),
  ];
  const row = (values: (Node | string)[], tag: 'td' | 'th' = 'td'): HTMLTableRowElement =>
    h('tr', {}, ...values.map((v, i) => h(tag, { class: numeric(i) }, v)));
  return h(
    'table',
    { class: 'cost-table' },
    h('thead', {}, row([by === 'day' ? 'day (UTC)' : by, 'calls', 'failed', 'in tokens', 'out tokens', 'model time', 'cost'], 'th')),
    h('tbody', {}, ...data.rows.map((r) => row(cells(by === 'run' ? h('a', { href: paths.run(r.key) }, r.key) : r.key, r)))),
    h('tfoot', {}, row(cells('total', data.total))),
  );
}
