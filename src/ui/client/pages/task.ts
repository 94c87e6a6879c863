import { getJson, watchLive } from '../api.js';
import type { Page } from '../app.js';
import { badge, clear, h, paths, table } from '../dom.js';
import { formatCost, formatDuration, formatTime } from '../format.js';
import { diffPanel } from '../diff-view.js';
import { RebuildJobPanel, rebuildActions } from '../rebuild-view.js';
import { renderFile, type FileVersionView } from '../render-file.js';
import { callRow, CALL_HEADERS, type CallSummary } from './call.js';

/** One task: why it would or would not run, its files (each version, the newest shown), attempts and model calls. */

interface TaskDetail {
  runId: string;
  local: boolean;
  /** The task is in the run's graph (its pipeline loads here). */
  inGraph: boolean;
  task: { id: string; state: string | null; shown: string; reason: string; requires: string[]; dependents: string[] };
  explanation: string | null;
  files: {
    path: string;
    declared: boolean;
    versions: { version: number; source: string; size: number; sha256: string; createdAt: string | null }[];
  }[];
  attempts: { id: number; status: string; error: string | null; startedAt: string | null; durationMs: number | null }[];
  calls: CallSummary[];
}

export async function taskPage(page: Page, runId: string, taskId: string): Promise<void> {
  page.crumbs(h('a', { href: paths.run(runId) }, runId), h('span', {}, taskId));
  document.title = `plan · ${taskId}`;
  // The heading and the rest are drawn anew on every change; the rebuild actions and progress stay.
  const head = h('div', {});
  const actions = h('div', {});
  const job = new RebuildJobPanel(runId, 'Rebuild started from the dashboard');
  const body = h('div', {});
  page.main.append(head, actions, job.element, body);
  const open = new Set<string>();
  let actionsDrawn = false;
  const refresh = async (): Promise<void> => {
    const [detail] = await Promise.all([
      getJson<TaskDetail>(`/api/runs/${encodeURIComponent(runId)}/tasks/${encodeURIComponent(taskId)}`),
      job.refresh().catch(() => undefined),
    ]);
    for (const d of Array.from(body.querySelectorAll<HTMLDetailsElement>('details[data-path]'))) if (d.open) open.add(d.dataset.path!);
    clear(head);
    clear(body);
    draw(head, body, detail, open);
    if (!actionsDrawn && detail.local && detail.inGraph) {
      actions.append(rebuildActions(runId, taskId, job));
      actionsDrawn = true;
    }
  };
  await refresh();
  watchLive(runId, refresh, (state) => page.live(state), { rebuild: (data) => job.onEvent(data) });
}

function draw(head: HTMLElement, body: HTMLElement, d: TaskDetail, open: Set<string>): void {
  const link = (id: string): HTMLElement => h('a', { href: paths.task(d.runId, id) }, id);
  const joined = (ids: string[]): (HTMLElement | string)[] =>
    ids.length === 0 ? ['none'] : ids.flatMap((id, i) => (i === 0 ? [link(id)] : [', ', link(id)]));
  head.append(h('h1', {}, `${d.task.id} `, badge(d.task.shown)), h('p', { class: 'reason' }, d.task.reason));
  body.append(
    d.explanation === null
      ? h(
          'p',
          { class: 'notice' },
          d.local ? 'no explanation: the task is not in the graph of the run' : 'the run dir is not on this machine: no explanation from its files',
        )
      : h('section', {}, h('h2', {}, 'Why (plan explain)'), h('pre', { class: 'explain' }, d.explanation)),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'requires'),
      h('dd', {}, ...joined(d.task.requires)),
      h('dt', {}, 'read by'),
      h('dd', {}, ...joined(d.task.dependents)),
    ),
  );

  const files = h('section', {}, h('h2', {}, `Files (${d.files.length})`));
  for (const file of d.files) {
    const newest = file.versions.at(-1);
    const versions = h(
      'span',
      { class: 'versions' },
      ...file.versions.map((v) =>
        h(
          'a',
          { href: paths.file(d.runId, file.path, v.version), title: `${v.source} · ${v.size} bytes · ${formatTime(v.createdAt, true)}` },
          `v${v.version}`,
        ),
      ),
    );
    const content = h('div', { class: 'file-content' });
    const details = h(
      'details',
      { data: { path: file.path } },
      h(
        'summary',
        {},
        h('code', {}, file.path),
        file.declared ? '' : ' (extra file)',
        ' ',
        newest ? versions : h('span', { class: 'muted' }, 'never stored'),
      ),
      content,
    );
    let loaded = false;
    const load = async (): Promise<void> => {
      if (loaded || newest === undefined) return;
      loaded = true;
      const version = await getJson<FileVersionView>(`/api/runs/${encodeURIComponent(d.runId)}/file?path=${encodeURIComponent(file.path)}`);
      content.append(
        h('p', { class: 'muted' }, `v${version.version} · ${version.source} · ${version.size} bytes · ${formatTime(version.createdAt, true)}`),
        renderFile(version),
      );
      if (file.versions.length >= 2) content.append(h('h3', {}, 'Changes between versions'), diffPanel(d.runId, file.path));
    };
    details.addEventListener('toggle', () => {
      if (details.open) void load();
    });
    if (open.has(file.path)) details.open = true;
    files.append(details);
  }
  body.append(files);

  body.append(
    h('h2', {}, `Attempts (${d.attempts.length})`),
    d.attempts.length === 0
      ? h('p', { class: 'muted' }, 'never run')
      : table(
          ['attempt', 'status', 'started', 'took', 'error'],
          d.attempts.map((a) => [String(a.id), badge(a.status), formatTime(a.startedAt, true), formatDuration(a.durationMs), a.error ?? '']),
          new Set([0, 3]),
        ),
    h('h2', {}, `Model calls (${d.calls.length})`),
    d.calls.length === 0
      ? h('p', { class: 'muted' }, 'none')
      : table(
          CALL_HEADERS,
          d.calls.map((c) => callRow(d.runId, c)),
          new Set([0, 4, 5, 6]),
        ),
  );
  const total = d.calls.reduce((sum, c) => sum + (c.costUsd ?? 0), 0);
  if (d.calls.length > 0) body.append(h('p', { class: 'muted' }, `${d.calls.length} calls · ${formatCost(total)}`));
}
