import { h, paths } from './dom.js';
import { renderMarkdown } from './markdown.js';

/** A stored file version as the page shows it: each kind by a renderer that makes text nodes only. */

export interface FileVersionView {
  runId: string;
  path: string;
  taskId: string;
  attemptId: number | null;
  version: number;
  versions: { version: number; source: string; size: number; createdAt: string | null }[];
  source: string;
  size: number;
  sha256: string;
  createdAt: string | null;
  kind: 'markdown' | 'json' | 'csv' | 'html' | 'text' | 'binary';
  encoding: 'utf8' | 'base64';
  content: string;
}

export function renderFile(file: FileVersionView): HTMLElement {
  switch (file.kind) {
    case 'markdown':
      return renderMarkdown(file.content);
    case 'json':
      return h('pre', { class: 'json' }, prettyJson(file.content));
    case 'csv':
      return renderCsv(file.content);
    case 'html':
      // The report as its bytes, in a frame with every sandbox restriction (no script, no same origin); the
      // server sends it under a sandbox policy of its own as well.
      return h(
        'div',
        { class: 'html-frame' },
        h('iframe', {
          title: `${file.path} v${file.version}`,
          attrs: { sandbox: '', src: paths.raw(file.runId, file.path, file.version), referrerpolicy: 'no-referrer', loading: 'lazy' },
        }),
      );
    case 'binary':
      return h('p', { class: 'muted' }, `binary file, ${file.size} bytes`);
    default:
      return h('pre', { class: 'text' }, file.content);
  }
}

export function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** RFC 4180 fields: quoted fields may hold commas, quotes ("") and line breaks. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

function renderCsv(text: string): HTMLElement {
  const [header, ...rows] = parseCsv(text);
  if (header === undefined) return h('p', { class: 'muted' }, 'empty');
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'csv' },
      h('thead', {}, h('tr', {}, ...header.map((c) => h('th', {}, c)))),
      h('tbody', {}, ...rows.map((r) => h('tr', {}, ...r.map((c) => h('td', {}, c))))),
    ),
  );
}
