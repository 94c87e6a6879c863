import { ApiError, getJson, post, watchLive } from '../api.js';
import type { Page } from '../app.js';
import { append, badge, clear, h, paths, table } from '../dom.js';
import { formatCost, formatCount, formatDuration, formatTime, plural } from '../format.js';
import { type Collapse, GraphPanel, type GraphView } from '../graph-view.js';
import { RebuildJobPanel } from '../rebuild-view.js';
import { TimelinePanel, type TimelineViewData } from '../timeline-view.js';

/** One run: what it is, its totals, its graph coloured by state (live while a build runs), its attempts; cancel. */

interface AttemptView {
  id: number;
  taskId: string;
  status: string;
  error: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
}

interface RunDetail {
  run: {
    id: string;
    runDir: string;
    db: string;
    pipeline: string;
    params: Record<string, unknown>;
    settings: { models?: string[] } | null;
    status: string;
    statusReason: string | null;
    cancelRequestedAt: string | null;
    createdAt: string | null;
    updatedAt: string | null;
  };
  local: boolean;
  live: boolean;
  notes: string[];
  graph: GraphView;
  timeline: TimelineViewData;
  attempts: AttemptView[];
  totals: {
    tasks: number;
    tasksBuilt: number;
    tasksFailed: number;
    attempts: number;
    files: number;
    versions: number;
    calls: number;
    failedCalls: number;
    inputTokens: number;
    outputTokens: number;
    costUsd: number;
    unpricedCalls: number;
    models: string[];
    durationMs: number | null;
  };
}

export async function runPage(page: Page, runId: string): Promise<void> {
  page.crumbs(h('span', {}, runId));
  document.title = `plan · ${runId}`;
  const header = h('section', { class: 'run-header' });
  const notes = h('div', {});
  // Stages drawn collapsed, from the address (`?collapse=all`, `?collapse=Setup&collapse=Team`), so a reload or a bookmark keeps them.
  let collapse: Collapse = collapseFrom(new URLSearchParams(window.location.search));
  const graph = new GraphPanel(runId, (next) => {
    collapse = next;
    const url = new URL(window.location.href);
    url.searchParams.delete('collapse');
    for (const name of next === 'all' ? ['all'] : next) url.searchParams.append('collapse', name);
    window.history.replaceState(null, '', url);
    void refresh().catch(() => undefined);
  });
  const timeline = new TimelinePanel(runId);
  const job = new RebuildJobPanel(runId, 'Rebuild started from the dashboard');
  const attempts = h('section', {});
  page.main.append(
    header,
    notes,
    job.element,
    h('section', {}, h('h2', {}, 'Tasks'), graph.element),
    h('section', { id: 'timeline' }, h('h2', {}, 'Timeline'), timeline.element),
    attempts,
  );
  let first = true;

  const refresh = async (): Promise<void> => {
    const asked = collapse;
    const [detail] = await Promise.all([getJson<RunDetail>(runApi(runId, asked)), job.refresh().catch(() => undefined)]);
    // Stages were collapsed or expanded meanwhile: the refresh that asked for that draws.
    if (asked !== collapse) return;
    if (first) performance.mark('run-data');
    drawHeader(header, detail, refresh);
    clear(notes);
    for (const note of detail.notes) notes.append(h('p', { class: 'notice' }, note));
    graph.draw(detail.graph, new Set(detail.timeline.criticalPath));
    if (first) performance.mark('graph-drawn');
    timeline.draw(detail.timeline);
    if (first) performance.mark('timeline-drawn');
    drawAttempts(attempts, detail);
    if (first) {
      // The whole page drawn; then its first paint (a task after the frame that follows): from here a click is answered.
      performance.mark('run-drawn');
      requestAnimationFrame(() => setTimeout(() => performance.mark('run-painted'), 0));
      first = false;
    }
  };
  await refresh();
  watchLive(runId, refresh, (state) => page.live(state), { rebuild: (data) => job.onEvent(data) });
}

function collapseFrom(query: URLSearchParams): Collapse {
  const names = query.getAll('collapse').filter(Boolean);
  return names.includes('all') ? 'all' : names;
}

function runApi(runId: string, collapse: Collapse): string {
  const names = collapse === 'all' ? ['all'] : collapse;
  const query = names.map((name) => `collapse=${encodeURIComponent(name)}`).join('&');
  return `/api/runs/${encodeURIComponent(runId)}${query === '' ? '' : `?${query}`}`;
}

function drawHeader(header: HTMLElement, detail: RunDetail, refresh: () => Promise<void>): void {
  const { run, totals } = detail;
  clear(header);
  const prompt = typeof run.params.prompt === 'string' ? run.params.prompt : null;
  const actions = h('div', { class: 'actions' });
  if (run.status === 'running') {
    const message = h('span', { class: 'muted' });
    const button = h('button', { class: 'danger', attrs: { type: 'button' } }, run.cancelRequestedAt === null ? 'Cancel build' : 'Cancel requested');
    button.disabled = run.cancelRequestedAt !== null;
    button.addEventListener('click', async () => {
      if (!window.confirm(`Cancel the build of run ${run.id}? Running tasks are recorded cancelled; plan build resumes the run.`)) return;
      button.disabled = true;
      try {
        const { body } = await post<{ outcome: string }>(`/api/runs/${encodeURIComponent(run.id)}/cancel`);
        message.textContent = body.outcome === 'requested' ? 'asked the build to stop' : 'no build is running';
      } catch (error) {
        message.textContent = error instanceof ApiError ? error.message : String(error);
        button.disabled = false;
      }
      await refresh().catch(() => undefined);
    });
    actions.append(button, message);
  }
  const facts: [string, string | HTMLElement][] = [
    ['dir', run.runDir],
    ['pipeline', run.pipeline],
    ['database', run.db],
    ['created', `${formatTime(run.createdAt, true)} · updated ${formatTime(run.updatedAt, true)}`],
    [
      'tasks',
      `${totals.tasksBuilt} built of ${totals.tasks}, ${totals.tasksFailed} failed · ${plural(totals.attempts, 'attempt')} · ${plural(totals.files, 'file')} (${plural(totals.versions, 'version')})${totals.durationMs === null ? '' : ` · ${formatDuration(totals.durationMs)}`}`,
    ],
    [
      'calls',
      `${totals.calls}${totals.failedCalls > 0 ? ` (${totals.failedCalls} failed)` : ''} · ${formatCount(totals.inputTokens)} in / ${formatCount(totals.outputTokens)} out tokens · ${formatCost(totals.costUsd, totals.unpricedCalls)}${totals.models.length > 0 ? ` · ${totals.models.join(', ')}` : ''}`,
    ],
  ];
  if (run.settings?.models) facts.push(['models', run.settings.models.join(', ')]);
  append(
    header,
    h('h1', {}, `Run ${run.id} `, badge(run.status)),
    run.statusReason ? h('p', { class: 'muted' }, run.statusReason) : null,
    prompt === null ? null : h('blockquote', { class: 'prompt' }, prompt),
    h('dl', { class: 'facts' }, ...facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    actions,
  );
}

function drawAttempts(section: HTMLElement, detail: RunDetail): void {
  clear(section);
  const rows = [...detail.attempts]
    .reverse()
    .map((a) => [
      String(a.id),
      h('a', { href: paths.task(detail.run.id, a.taskId) }, a.taskId),
      badge(a.status),
      formatTime(a.startedAt, true),
      formatDuration(a.durationMs),
      a.error ?? '',
    ]);
  section.append(
    h('h2', {}, `Attempts (${detail.attempts.length})`),
    rows.length === 0
      ? h('p', { class: 'muted' }, 'no task has run yet')
      : table(['attempt', 'task', 'status', 'started', 'took', 'error'], rows, new Set([0, 4])),
  );
}
