import { describe, expect, it } from 'vitest';
import { escapeHtml, htmlPage, jsonForScript, markdownToHtml } from '../../src/tasks/support/html.js';
import { csvToHtml, jsonToHtml, renderReport } from '../../src/tasks/report.js';
import { interactiveGanttPage, mermaidGantt, mermaidPage } from '../../src/tasks/support/gantt-html.js';
import { parseCsv, toCsv } from '../../src/tasks/support/csv.js';
import type { ScheduledItem } from '../../src/tasks/support/schedule-compute.js';

const SCRIPT = '<script>alert(1)</script>';
const IMG = '"><img src=x onerror=alert(1)>';

function expectInert(html: string): void {
  expect(html).not.toMatch(/<script>alert/i);
  expect(html).not.toMatch(/<img/i);
  expect(html).not.toMatch(/<a\s(?!href="#s\d+">)/i); // only our own table-of-contents links
}

describe('escapeHtml', () => {
  it('neutralises markup and attribute breakouts', () => {
    expect(escapeHtml(SCRIPT)).toBe('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(escapeHtml(IMG)).toBe('&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
    expect(escapeHtml(`a & b 'c'`)).toBe('a &amp; b &#39;c&#39;');
  });
});

describe('markdownToHtml', () => {
  it('renders the markdown our tasks write', () => {
    const html = markdownToHtml(
      '# Title\n\nSome **bold** and *it* and `code`.\n\n- one\n- two\n\n1. first\n\n| A | B |\n| --- | --- |\n| x \\| y | z |\n\n> quote',
    );
    expect(html).toContain('<h1>Title</h1>');
    expect(html).toContain('<strong>bold</strong>');
    expect(html).toContain('<em>it</em>');
    expect(html).toContain('<code>code</code>');
    expect(html).toContain('<ul><li>one</li><li>two</li></ul>');
    expect(html).toContain('<ol><li>first</li></ol>');
    expect(html).toContain('<th>A</th>');
    expect(html).toContain('<td>x | y</td>');
    expect(html).toContain('<blockquote>quote</blockquote>');
    expect(markdownToHtml('## Sub', 2)).toBe('<h4>Sub</h4>');
  });

  it('keeps hostile text inert everywhere markdown can put it', () => {
    const hostile = `# ${SCRIPT}\n\n${IMG}\n\n- **${SCRIPT}**\n\n| ${IMG} |\n|---|\n| \`${SCRIPT}\` |\n\n\`\`\`\n${SCRIPT}\n\`\`\`\n\n[click](javascript:alert(1)) [x](https://evil.example/${IMG})`;
    const html = markdownToHtml(hostile);
    expectInert(html);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('href');
  });
});

describe('the report', () => {
  it('escapes model text in titles, markdown, JSON and CSV sections', () => {
    const html = renderReport(`Plan ${SCRIPT}`, [
      { title: 'Summary', path: '025-2-executive_summary.md', text: `## ${IMG}\n\n${SCRIPT}` },
      { title: 'Assessment', path: '004-2-pre_project_assessment.json', text: JSON.stringify({ [IMG]: [SCRIPT], ok: 1 }) },
      { title: 'Schedule', path: '026-3-schedule_gantt.csv', text: toCsv([['name'], [SCRIPT], [IMG]]) },
      { title: 'Broken', path: 'x.json', text: `{ ${SCRIPT}` },
    ]);
    expectInert(html);
    expect(html).toContain("script-src 'none'");
    expect(html).not.toMatch(/https?:\/\//);
    expect(html.match(/<section/g)).toHaveLength(4);
  });

  it('renders JSON and CSV as escaped HTML', () => {
    expect(jsonToHtml({ a_b: ['x', SCRIPT] })).toBe(
      '<div><strong>a b:</strong> <ul><li>x</li><li>&lt;script&gt;alert(1)&lt;/script&gt;</li></ul></div>',
    );
    expect(csvToHtml('h\n"a,<b>"\n')).toBe('<table><thead><tr><th>h</th></tr></thead><tbody><tr><td>a,&lt;b&gt;</td></tr></tbody></table>');
  });
});

describe('schedule pages', () => {
  const items: ScheduledItem[] = [
    { id: '0', parentId: null, depth: 0, name: `P ${SCRIPT}`, start: '2026-03-12', end: '2026-03-13', days: 2, offset: 0, dependsOn: [] },
    { id: '1', parentId: '0', depth: 1, name: `Phase: ${IMG}`, start: '2026-03-12', end: '2026-03-13', days: 2, offset: 0, dependsOn: [] },
    {
      id: '1.1',
      parentId: '1',
      depth: 2,
      name: `</script><script>alert(1)</script>`,
      start: '2026-03-12',
      end: '2026-03-13',
      days: 2,
      offset: 0,
      dependsOn: [],
    },
  ];
  it('keeps names inert in the Mermaid page and the interactive chart', () => {
    expectInert(mermaidPage('T', items));
    const page = interactiveGanttPage(`T ${SCRIPT}`, items);
    expectInert(page);
    expect(page.match(/<\/script>/g)).toHaveLength(2);
    expect(page).not.toMatch(/innerHTML/);
    expect(page).not.toMatch(/https?:\/\//);
  });
  it('writes valid Mermaid lines whatever the names', () => {
    expect(mermaidGantt('T', items)).toBe(
      'gantt\n    title T\n    dateFormat YYYY-MM-DD\n    axisFormat %Y-%m-%d\n    section Phase "><img src=x onerror=alert(1)>\n    </script><script>alert(1)</script> :t1_1, 2026-03-12, 2d\n',
    );
  });
  it('embeds JSON data that cannot close its script element', () => {
    expect(jsonForScript({ a: '</script><b>&' })).toBe('{"a":"\\u003c/script\\u003e\\u003cb\\u003e\\u0026"}');
  });
});

describe('htmlPage and CSV', () => {
  it('makes self-contained pages that forbid loading anything', () => {
    const page = htmlPage({ title: SCRIPT, body: '<p>x</p>' });
    expect(page).toContain("default-src 'none'");
    expectInert(page);
  });
  it('quotes CSV cells, defuses formulas and parses back', () => {
    const csv = toCsv([
      ['a', 'b,c'],
      ['=SUM(A1)', 'say "hi"\nbye'],
      [1, '-x'],
    ]);
    expect(csv).toBe('a,"b,c"\n\'=SUM(A1),"say ""hi""\nbye"\n1,\'-x\n');
    expect(parseCsv(csv)).toEqual([
      ['a', 'b,c'],
      ["'=SUM(A1)", 'say "hi"\nbye'],
      ['1', "'-x"],
    ]);
  });
});
