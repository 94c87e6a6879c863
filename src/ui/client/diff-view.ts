import { ApiError, getJson } from './api.js';
import { clear, h } from './dom.js';
import { formatTime } from './format.js';

/**
 * Two versions of a file side by side in time: pick any two (by default the newest a task wrote against the
 * newest person's edit, else the two newest); the server computes the line diff, the page shows its hunks with
 * added and removed lines marked — every line as text.
 */

interface VersionMeta {
  version: number;
  source: string;
  size: number;
  createdAt: string | null;
}

interface DiffLineView {
  kind: 'context' | 'add' | 'del';
  old: number | null;
  new: number | null;
  text: string;
  noNewline?: true;
}

interface DiffView {
  versions: VersionMeta[];
  from: VersionMeta | null;
  to: VersionMeta | null;
  diff: {
    identical: boolean;
    added: number;
    removed: number;
    approximate: boolean;
    hunks: { oldStart: number; oldLines: number; newStart: number; newLines: number; lines: DiffLineView[] }[];
  } | null;
  note: string | null;
}

const MARK = { context: ' ', add: '+', del: '−' } as const;

export function diffPanel(runId: string, filePath: string): HTMLElement {
  const from = h('select', { attrs: { name: 'from', 'aria-label': 'from version' } });
  const to = h('select', { attrs: { name: 'to', 'aria-label': 'to version' } });
  const output = h('div', { class: 'diff-output' });
  const panel = h(
    'div',
    { class: 'diff-panel', data: { path: filePath } },
    h('div', { class: 'filters' }, h('span', { class: 'muted' }, 'compare'), from, h('span', {}, '→'), to),
    output,
  );
  const base = `/api/runs/${encodeURIComponent(runId)}/diff?path=${encodeURIComponent(filePath)}`;
  const load = async (pair: [string, string] | null): Promise<void> => {
    let view: DiffView;
    try {
      view = await getJson<DiffView>(pair === null ? base : `${base}&from=${pair[0]}&to=${pair[1]}`);
    } catch (error) {
      clear(output);
      output.append(h('p', { class: 'error' }, error instanceof ApiError ? error.message : String(error)));
      return;
    }
    if (from.options.length === 0) {
      for (const select of [from, to]) {
        for (const v of view.versions)
          select.append(h('option', { attrs: { value: String(v.version) } }, `v${v.version} · ${v.source} · ${formatTime(v.createdAt, true)}`));
      }
    }
    if (view.from !== null) from.value = String(view.from.version);
    if (view.to !== null) to.value = String(view.to.version);
    from.disabled = to.disabled = view.versions.length < 2;
    draw(output, view);
    panel.dataset.ready = '1';
  };
  const change = (): void => void load([from.value, to.value]);
  from.addEventListener('change', change);
  to.addEventListener('change', change);
  void load(null);
  return panel;
}

function draw(output: HTMLElement, view: DiffView): void {
  clear(output);
  const { from, to, diff } = view;
  if (from !== null && to !== null) {
    output.append(
      h(
        'p',
        { class: 'diff-head' },
        h('span', { class: 'diff-del' }, `v${from.version} (${from.source})`),
        ' → ',
        h('span', { class: 'diff-add' }, `v${to.version} (${to.source})`),
        diff === null ? '' : diff.identical ? ' · identical' : ` · +${diff.added} −${diff.removed} lines`,
      ),
    );
  }
  if (view.note !== null) output.append(h('p', { class: 'notice' }, view.note));
  if (diff === null || diff.identical) return;
  const rows: HTMLTableRowElement[] = [];
  for (const hunk of diff.hunks) {
    rows.push(
      h('tr', { class: 'hunk' }, h('td', { attrs: { colspan: '4' } }, `@@ −${hunk.oldStart},${hunk.oldLines} +${hunk.newStart},${hunk.newLines} @@`)),
    );
    for (const line of hunk.lines) {
      rows.push(
        h(
          'tr',
          { class: `line ${line.kind}` },
          h('td', { class: 'num' }, line.old === null ? '' : String(line.old)),
          h('td', { class: 'num' }, line.new === null ? '' : String(line.new)),
          h('td', { class: 'mark' }, MARK[line.kind]),
          h('td', { class: 'text' }, line.text, line.noNewline ? h('span', { class: 'muted' }, ' (no newline at end)') : null),
        ),
      );
    }
  }
  output.append(h('div', { class: 'table-wrap' }, h('table', { class: 'diff' }, h('tbody', {}, ...rows))));
}
