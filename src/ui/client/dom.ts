/**
 * Every element of the dashboard is made here, with DOM APIs: text goes in as text nodes, attributes are set
 * one by one (never an event-handler attribute), and nothing is ever parsed as HTML. A string from a model,
 * a file or a person can only ever be text.
 */

export type Child = Node | string | number | null | undefined | false;

export interface Props {
  class?: string;
  /** Only the dashboard's own paths (they start with `/`): no model text becomes a link target. */
  href?: string;
  title?: string;
  id?: string;
  data?: Record<string, string>;
  attrs?: Record<string, string>;
  on?: { [K in keyof HTMLElementEventMap]?: (event: HTMLElementEventMap[K]) => void };
}

function safeAttribute(name: string): void {
  if (/^on/i.test(name) || /^(srcdoc|style)$/i.test(name)) throw new Error(`attribute ${name} is not set by the dashboard`);
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props.class) el.className = props.class;
  if (props.id) el.id = props.id;
  if (props.title !== undefined) el.title = props.title;
  if (props.href !== undefined) {
    if (!props.href.startsWith('/') || props.href.startsWith('//')) throw new Error(`not a dashboard path: ${props.href}`);
    el.setAttribute('href', props.href);
  }
  for (const [key, value] of Object.entries(props.data ?? {})) el.dataset[key] = value;
  for (const [name, value] of Object.entries(props.attrs ?? {})) {
    safeAttribute(name);
    el.setAttribute(name, value);
  }
  for (const [event, handler] of Object.entries(props.on ?? {})) el.addEventListener(event, handler as EventListener);
  append(el, ...children);
  return el;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
}

const SVG = 'http://www.w3.org/2000/svg';

export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number> = {},
  ...children: Child[]
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) {
    safeAttribute(name);
    el.setAttribute(name, String(value));
  }
  append(el, ...children);
  return el;
}

export function clear(el: Element): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

/** A table from column headers and rows of cells; `numeric` columns are right-aligned. */
export function table(headers: readonly string[], rows: readonly Child[][], numeric: ReadonlySet<number> = new Set()): HTMLTableElement {
  const cls = (i: number): string => (numeric.has(i) ? 'num' : '');
  return h(
    'table',
    {},
    h('thead', {}, h('tr', {}, ...headers.map((text, i) => h('th', { class: cls(i) }, text)))),
    h('tbody', {}, ...rows.map((cells) => h('tr', {}, ...cells.map((cell, i) => h('td', { class: cls(i) }, cell))))),
  );
}

export function badge(state: string): HTMLSpanElement {
  return h('span', { class: `badge state-${state}` }, state);
}

/** Paths of the dashboard's pages. */
export const paths = {
  runs: (): string => '/',
  run: (runId: string): string => `/runs/${encodeURIComponent(runId)}`,
  task: (runId: string, taskId: string): string => `/runs/${encodeURIComponent(runId)}/tasks/${encodeURIComponent(taskId)}`,
  call: (runId: string, id: number): string => `/runs/${encodeURIComponent(runId)}/calls/${id}`,
  file: (runId: string, path: string, version?: number): string =>
    `/runs/${encodeURIComponent(runId)}/file?path=${encodeURIComponent(path)}${version === undefined ? '' : `&version=${version}`}`,
  raw: (runId: string, path: string, version: number): string =>
    `/api/runs/${encodeURIComponent(runId)}/raw?path=${encodeURIComponent(path)}&version=${version}`,
};
