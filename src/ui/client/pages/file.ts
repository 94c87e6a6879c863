import { getJson } from '../api.js';
import type { Page } from '../app.js';
import { h, paths } from '../dom.js';
import { formatTime } from '../format.js';
import { diffPanel } from '../diff-view.js';
import { renderFile, type FileVersionView } from '../render-file.js';

/** One stored version of a file, rendered by its kind, with every version of it a click away. */
export async function filePage(page: Page, runId: string, filePath: string, version: string | null): Promise<void> {
  const query = `path=${encodeURIComponent(filePath)}${version ? `&version=${encodeURIComponent(version)}` : ''}`;
  const file = await getJson<FileVersionView>(`/api/runs/${encodeURIComponent(runId)}/file?${query}`);
  page.crumbs(h('a', { href: paths.run(runId) }, runId), h('a', { href: paths.task(runId, file.taskId) }, file.taskId), h('span', {}, filePath));
  document.title = `plan · ${filePath} v${file.version}`;
  page.main.append(
    h('h1', {}, h('code', {}, file.path), ` v${file.version}`),
    h(
      'p',
      { class: 'versions' },
      'versions: ',
      ...file.versions.map((v) =>
        v.version === file.version
          ? h('strong', {}, `v${v.version}`)
          : h('a', { href: paths.file(runId, file.path, v.version), title: `${v.source} · ${formatTime(v.createdAt, true)}` }, `v${v.version}`),
      ),
    ),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'task'),
      h('dd', {}, h('a', { href: paths.task(runId, file.taskId) }, file.taskId), file.attemptId === null ? '' : ` · attempt ${file.attemptId}`),
      h('dt', {}, 'source'),
      h('dd', {}, file.source),
      h('dt', {}, 'size'),
      h('dd', {}, `${file.size} bytes · sha256 ${file.sha256.slice(0, 12)}`),
      h('dt', {}, 'stored'),
      h('dd', {}, formatTime(file.createdAt, true)),
    ),
    h('div', { class: `file-content kind-${file.kind}` }, renderFile(file)),
  );
  if (file.versions.length >= 2) page.main.append(h('section', {}, h('h2', {}, 'Changes between versions'), diffPanel(runId, file.path)));
}
