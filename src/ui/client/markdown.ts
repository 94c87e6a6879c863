import { h, type Child } from './dom.js';

/**
 * A small Markdown renderer that makes DOM nodes, never HTML: headings, paragraphs, lists (nested by indent),
 * block quotes, fenced and indented code, rules, pipe tables, and inline code, strong, emphasis and links —
 * a link shows its text and its target as text, it is not followed. Raw HTML in the source stays text.
 */

export function renderMarkdown(source: string): HTMLElement {
  const root = h('div', { class: 'markdown' });
  const lines = source.replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === '') {
      i++;
      continue;
    }
    const fence = /^\s*(```|~~~)(.*)$/.exec(line);
    if (fence) {
      const body: string[] = [];
      i++;
      while (i < lines.length && !lines[i]!.trim().startsWith(fence[1]!)) body.push(lines[i++]!);
      i++;
      root.appendChild(h('pre', {}, h('code', {}, body.join('\n'))));
      continue;
    }
    const heading = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      const level = heading[1]!.length as 1 | 2 | 3 | 4 | 5 | 6;
      root.appendChild(h(`h${level}`, {}, ...inline(heading[2]!)));
      i++;
      continue;
    }
    if (/^\s{0,3}([-*_])(\s*\1){2,}\s*$/.test(line)) {
      root.appendChild(h('hr'));
      i++;
      continue;
    }
    if (/^\s*>/.test(line)) {
      const quoted: string[] = [];
      while (i < lines.length && /^\s*>/.test(lines[i]!)) quoted.push(lines[i++]!.replace(/^\s*>\s?/, ''));
      const inner = renderMarkdown(quoted.join('\n'));
      root.appendChild(h('blockquote', {}, ...Array.from(inner.childNodes)));
      continue;
    }
    if (isListItem(line)) {
      const [list, next] = parseList(lines, i);
      root.appendChild(list);
      i = next;
      continue;
    }
    if (line.includes('|') && i + 1 < lines.length && /^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$/.test(lines[i + 1]!)) {
      const rows: string[][] = [cells(line)];
      i += 2;
      while (i < lines.length && lines[i]!.includes('|') && lines[i]!.trim() !== '') rows.push(cells(lines[i++]!));
      root.appendChild(
        h(
          'table',
          {},
          h('thead', {}, h('tr', {}, ...rows[0]!.map((c) => h('th', {}, ...inline(c))))),
          h('tbody', {}, ...rows.slice(1).map((r) => h('tr', {}, ...r.map((c) => h('td', {}, ...inline(c)))))),
        ),
      );
      continue;
    }
    if (/^( {4}|\t)/.test(line)) {
      const body: string[] = [];
      while (i < lines.length && (/^( {4}|\t)/.test(lines[i]!) || lines[i]!.trim() === '')) body.push(lines[i++]!.replace(/^( {4}|\t)/, ''));
      root.appendChild(h('pre', {}, h('code', {}, body.join('\n').trimEnd())));
      continue;
    }
    const paragraph: string[] = [];
    while (i < lines.length && lines[i]!.trim() !== '' && !startsBlock(lines[i]!)) paragraph.push(lines[i++]!.trim());
    if (paragraph.length === 0) paragraph.push(lines[i++]!.trim());
    root.appendChild(h('p', {}, ...inline(paragraph.join(' '))));
  }
  return root;
}

function startsBlock(line: string): boolean {
  return /^(#{1,6}\s|\s*(```|~~~)|\s*>)/.test(line) || isListItem(line);
}

const ITEM = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;

function isListItem(line: string): boolean {
  return ITEM.test(line);
}

function indentOf(line: string): number {
  return /^\s*/.exec(line)![0].replace(/\t/g, '    ').length;
}

/** A list starting at line `start`, with the items indented deeper nested in their item. */
function parseList(lines: readonly string[], start: number): [HTMLElement, number] {
  const first = ITEM.exec(lines[start]!)!;
  const base = indentOf(lines[start]!);
  const ordered = /\d/.test(first[2]!);
  const list = ordered ? h('ol') : h('ul');
  if (ordered && Number.parseInt(first[2]!, 10) !== 1) list.setAttribute('start', String(Number.parseInt(first[2]!, 10)));
  let i = start;
  let item: HTMLLIElement | null = null;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === '') {
      if (i + 1 < lines.length && isListItem(lines[i + 1]!) && indentOf(lines[i + 1]!) >= base) {
        i++;
        continue;
      }
      break;
    }
    const match = ITEM.exec(line);
    const indent = indentOf(line);
    if (match && indent === base) {
      item = h('li', {}, ...inline(match[3]!));
      list.appendChild(item);
      i++;
    } else if (match && indent > base && item !== null) {
      const [nested, next] = parseList(lines, i);
      item.appendChild(nested);
      i = next;
    } else if (!match && indent > base && item !== null) {
      item.appendChild(document.createTextNode(' '));
      for (const node of inline(line.trim())) item.appendChild(typeof node === 'string' ? document.createTextNode(node) : node);
      i++;
    } else break;
  }
  return [list, i];
}

function cells(row: string): string[] {
  return row
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split('|')
    .map((c) => c.trim());
}

/** Inline spans: `code`, **strong**, *emphasis* / _emphasis_, [text](target); the rest is text. */
export function inline(text: string): (HTMLElement | string)[] {
  const out: (HTMLElement | string)[] = [];
  const pattern =
    /(`+)([\s\S]+?)\1|\*\*([\s\S]+?)\*\*|__([\s\S]+?)__|\*([^*\s][^*]*?)\*|(?<![\w])_([^_\s][^_]*?)_(?![\w])|\[([^\]]+)\]\(([^)\s]+)[^)]*\)/g;
  let last = 0;
  for (const m of text.matchAll(pattern)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    if (m[2] !== undefined) out.push(h('code', {}, m[2]));
    else if (m[3] !== undefined || m[4] !== undefined) out.push(h('strong', {}, ...(inline(m[3] ?? m[4]!) as Child[])));
    else if (m[5] !== undefined || m[6] !== undefined) out.push(h('em', {}, ...(inline(m[5] ?? m[6]!) as Child[])));
    else out.push(h('span', { class: 'link', title: m[8]! }, ...(inline(m[7]!) as Child[]), h('span', { class: 'link-target' }, ` (${m[8]!})`)));
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}
