import { getJson, watchLive } from '../api.js';
import type { Page } from '../app.js';
import { badge, clear, h, paths, table } from '../dom.js';
import { formatCost, formatCount, formatDuration, formatTime, truncate } from '../format.js';

/** Every run, newest first, as `plan list` shows them; filtered by status and text; live. */

interface RunListing {
  id: string;
  runDir: string;
  status: string;
  statusReason: string | null;
  prompt: string | null;
  createdAt: string | null;
  tasks: { built: number; failed: number; total: number | null };
  calls: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  unpricedCalls: number;
  models: string[];
  durationMs: number | null;
}

const STATUSES = ['created', 'running', 'interrupted', 'complete', 'failed', 'cancelled', 'stopped'];

export async function runsPage(page: Page): Promise<void> {
  page.crumbs();
  document.title = 'plan · runs';
  const query = new URLSearchParams(window.location.search);
  const status = h('select', { attrs: { name: 'status', 'aria-label': 'status' } }, h('option', { attrs: { value: '' } }, 'any status'));
  for (const s of STATUSES) status.append(h('option', { attrs: { value: s } }, s));
  status.value = query.get('status') ?? '';
  const text = h('input', { attrs: { type: 'search', name: 'q', placeholder: 'prompt, id or dir', 'aria-label': 'text' } });
  text.value = query.get('q') ?? '';
  const count = h('span', { class: 'muted' });
  const list = h('div', { class: 'runs' });
  const form = h('form', { class: 'filters', attrs: { role: 'search' } }, status, text, count);
  page.main.append(h('h1', {}, 'Runs'), form, list);

  const refresh = async (): Promise<void> => {
    const params = new URLSearchParams();
    if (status.value) params.set('status', status.value);
    if (text.value.trim()) params.set('q', text.value.trim());
    const search = params.toString();
    window.history.replaceState(null, '', search ? `/?${search}` : '/');
    const { db, runs } = await getJson<{ db: string; runs: RunListing[] }>(`/api/runs${search ? `?${search}` : ''}`);
    count.textContent = `${runs.length} run${runs.length === 1 ? '' : 's'} in ${db}`;
    clear(list);
    if (runs.length === 0) {
      list.append(h('p', { class: 'muted' }, 'no runs match'));
      return;
    }
    const rows = runs.map((r) => [
      h('a', { href: paths.run(r.id) }, r.id),
      h('span', { title: r.statusReason ?? '' }, badge(r.status)),
      `${r.tasks.built}/${r.tasks.total ?? '?'}`,
      String(r.calls),
      formatCount(r.inputTokens + r.outputTokens),
      formatCost(r.costUsd, r.unpricedCalls),
      formatDuration(r.durationMs),
      r.models[0] ?? '-',
      formatTime(r.createdAt),
      h('span', { title: r.prompt ?? r.runDir }, r.prompt === null ? r.runDir : truncate(r.prompt, 60)),
    ]);
    const t = table(
      ['run', 'status', 'tasks', 'calls', 'tokens', 'cost', 'duration', 'model', 'created', 'prompt / dir'],
      rows,
      new Set([2, 3, 4, 5, 6]),
    );
    t.classList.add('runs-table');
    list.append(t);
  };
  let timer: number | undefined;
  form.addEventListener('submit', (e) => e.preventDefault());
  status.addEventListener('change', () => void refresh());
  text.addEventListener('input', () => {
    clearTimeout(timer);
    timer = window.setTimeout(() => void refresh(), 200);
  });
  await refresh();
  watchLive(null, refresh, (state) => page.live(state));
}
