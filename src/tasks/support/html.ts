/**
 * HTML from untrusted model text. Every piece of model text that reaches an HTML file goes through
 * `escapeHtml` (directly or via `markdownToHtml`, which escapes before it adds any tag of its own).
 */

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

/** JSON to embed in `<script type="application/json">`: nothing in it can close the element. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** Inline markdown: code spans, bold, italics; links become plain "text (url)" so no model URL is live. */
function inline(text: string): string {
  return text
    .split(/(`[^`]+`)/g)
    .map((part) =>
      part.length > 1 && part.startsWith('`') && part.endsWith('`')
        ? `<code>${escapeHtml(part.slice(1, -1))}</code>`
        : escapeHtml(part)
            .replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, '$1 ($2)')
            .replace(/\*\*(.+?)\*\*/g, '<strong>$1</strong>')
            .replace(/(^|[\s(])[*_](?![\s*_])(.+?)[*_](?=$|[\s.,;:!?)])/g, '$1<em>$2</em>'),
    )
    .join('');
}

const tableRow = (line: string): string[] =>
  line
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split(/(?<!\\)\|/)
    .map((c) => c.trim().replace(/\\\|/g, '|'));

/** A safe subset of markdown: headings, paragraphs, lists, tables, quotes, code blocks, rules. */
export function markdownToHtml(markdown: string, headingOffset = 0): string {
  const lines = markdown.replace(/\r\n?/g, '\n').split('\n');
  const out: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] ?? '';
    const trimmed = line.trim();
    if (trimmed === '') {
      i++;
    } else if (trimmed.startsWith('```')) {
      const code: string[] = [];
      for (i++; i < lines.length && !(lines[i] ?? '').trim().startsWith('```'); i++) code.push(lines[i] ?? '');
      i++;
      out.push(`<pre><code>${escapeHtml(code.join('\n'))}</code></pre>`);
    } else if (/^#{1,6}\s/.test(trimmed)) {
      const hashes = /^#+/.exec(trimmed)?.[0].length ?? 1;
      const level = Math.min(6, hashes + headingOffset);
      out.push(`<h${level}>${inline(trimmed.slice(hashes).trim())}</h${level}>`);
      i++;
    } else if (/^(-{3,}|\*{3,})$/.test(trimmed)) {
      out.push('<hr>');
      i++;
    } else if (trimmed.startsWith('|')) {
      const rows: string[][] = [];
      for (; i < lines.length && (lines[i] ?? '').trim().startsWith('|'); i++) rows.push(tableRow(lines[i] ?? ''));
      const body = rows.filter((row) => !row.every((c) => /^:?-{2,}:?$/.test(c)));
      const [head, ...rest] = body;
      const cells = (row: string[], tag: string): string => row.map((c) => `<${tag}>${inline(c)}</${tag}>`).join('');
      out.push(
        `<table><thead><tr>${cells(head ?? [], 'th')}</tr></thead><tbody>${rest.map((r) => `<tr>${cells(r, 'td')}</tr>`).join('')}</tbody></table>`,
      );
    } else if (/^([-*+]|\d+[.)])\s/.test(trimmed)) {
      const ordered = /^\d/.test(trimmed);
      const items: string[] = [];
      for (; i < lines.length && /^\s*([-*+]|\d+[.)])\s/.test(lines[i] ?? ''); i++) {
        items.push(`<li>${inline((lines[i] ?? '').trim().replace(/^([-*+]|\d+[.)])\s+/, ''))}</li>`);
      }
      out.push(ordered ? `<ol>${items.join('')}</ol>` : `<ul>${items.join('')}</ul>`);
    } else if (trimmed.startsWith('>')) {
      const quote: string[] = [];
      for (; i < lines.length && (lines[i] ?? '').trim().startsWith('>'); i++) quote.push((lines[i] ?? '').trim().replace(/^>\s?/, ''));
      out.push(`<blockquote>${inline(quote.join(' '))}</blockquote>`);
    } else {
      const para: string[] = [];
      for (; i < lines.length && isParagraphLine(lines[i] ?? ''); i++) para.push((lines[i] ?? '').trim());
      out.push(`<p>${para.map(inline).join('<br>')}</p>`);
    }
  }
  return out.join('\n');
}

function isParagraphLine(line: string): boolean {
  const t = line.trim();
  return t !== '' && !/^(#{1,6}\s|```|\||>|([-*+]|\d+[.)])\s|-{3,}$|\*{3,}$)/.test(t);
}

export const BASE_CSS = `
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;line-height:1.55;color:#222;max-width:1100px;margin:0 auto;padding:24px}
h1{border-bottom:2px solid #ddd;padding-bottom:8px}h2{border-bottom:1px solid #eee;padding-bottom:4px;margin-top:32px}
table{border-collapse:collapse;width:100%;margin:12px 0;font-size:14px}th,td{border:1px solid #ddd;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f5f5f5}pre{background:#f6f8fa;padding:12px;overflow:auto}code{background:#f6f8fa;padding:1px 4px}
blockquote{border-left:4px solid #ddd;margin:0;padding-left:12px;color:#555}details{margin:8px 0}summary{cursor:pointer;font-weight:600}`;

export interface PageSpec {
  /** Plain text; it is escaped here. */
  title: string;
  /** Already-safe HTML. */
  body: string;
  css?: string;
  /** Our own inline script (never model text). Without it the page forbids scripts entirely. */
  script?: string;
}

/** A self-contained page: no external resource, and a CSP that forbids loading any. */
export function htmlPage(spec: PageSpec): string {
  const scriptSrc = spec.script === undefined ? "'none'" : "'unsafe-inline'";
  const csp = `default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src ${scriptSrc}`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(spec.title)}</title>
<style>${BASE_CSS}${spec.css ?? ''}</style>
</head>
<body>
${spec.body}
${spec.script === undefined ? '' : `<script>${spec.script}</script>`}
</body>
</html>
`;
}
