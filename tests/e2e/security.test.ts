import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, runPlan, tempDir } from '../support/cli.js';
import { startFakeOpenAiServer, type FakeOpenAiServer, type FakeRequest } from '../support/fake-openai-server.js';
import { offlineLikeAnswer } from '../support/fake-model.js';

// Model output is untrusted. A hostile model behind the fake server puts script tags, an attribute break-out
// and a path traversal into every free-text string of every answer of a full plan build (--speed fast). The
// HTML the build writes must carry them only escaped, and no model text may become a path. API keys: the paths
// llm-cli.test.ts (--json builds) and tests/integration/llm-*.test.ts do not take, at the end.

const SCRIPT = '<script>alert(1)</script>';
const IMG = '"><img src=x onerror=alert(1)>';
const TRAVERSAL = '../../evil';
const PAYLOAD = ` ${SCRIPT} ${IMG} ${TRAVERSAL}`;

/** Every string of a value gets the payload, except values a schema enumerates (those must stay valid). */
function taint(value: unknown, keep: ReadonlySet<string>): unknown {
  if (typeof value === 'string') return keep.has(value) ? value : `${value}${PAYLOAD}`;
  if (Array.isArray(value)) return value.map((v) => taint(v, keep));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, taint(v, keep)]));
  return value;
}

function enumerated(schema: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(schema)) for (const s of schema) enumerated(s, into);
  else if (schema !== null && typeof schema === 'object') {
    for (const [key, value] of Object.entries(schema)) {
      if ((key === 'enum' && Array.isArray(value)) || key === 'const') for (const v of [value].flat()) if (typeof v === 'string') into.add(v);
      enumerated(value, into);
    }
  }
  return into;
}

function hostileAnswer(request: FakeRequest) {
  const honest = offlineLikeAnswer(request);
  if (honest.kind !== 'text') return honest;
  const schema = request.body.response_format?.json_schema?.schema;
  const text = schema === undefined ? `${honest.text}${PAYLOAD}` : JSON.stringify(taint(JSON.parse(honest.text), enumerated(schema)));
  return { ...honest, text };
}

let cwd: string;
let outsideBefore: string[];
let server: FakeOpenAiServer;
let build: Awaited<ReturnType<typeof runPlan>>;

function listAll(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true }).map(String).sort();
}

beforeAll(async () => {
  cwd = tempDir('plan-security-');
  fs.mkdirSync(path.join(cwd, 'work', 'nested'), { recursive: true });
  outsideBefore = listAll(cwd);
  server = await startFakeOpenAiServer({ handler: hostileAnswer });
  // The run dir is two levels down, so `../../evil` from it would land in cwd: watched below.
  build = await runPlan(
    [
      'build',
      'work/nested/run',
      '--prompt',
      'Open a small sourdough bakery in Copenhagen within a year',
      '--speed',
      'fast',
      `--model=openai-compatible:hostile@${server.url}`,
    ],
    { cwd },
  );
}, 120_000);
afterAll(async () => {
  await server.close();
  fs.rmSync(cwd, { recursive: true, force: true });
});

const runDir = (): string => path.join(cwd, 'work', 'nested', 'run');

describe('hostile model output through a full plan build', () => {
  it('the build completes on answers carrying the payload', () => {
    expect(build.exit, build.stderr).toBe(0);
    expect(server.requestCount).toBeGreaterThan(40);
    const report = fs.readFileSync(path.join(runDir(), '030-report.html'), 'utf8');
    // The payload reached the HTML, escaped.
    expect(report).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(report).toContain('&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
    // …and the Gantt chart's embedded JSON data, as inert \u003c escapes.
    const gantt = fs.readFileSync(path.join(runDir(), '026-2-schedule_gantt.html'), 'utf8');
    expect(gantt).toContain('\\u003cscript\\u003ealert(1)\\u003c/script\\u003e');
  });

  it('every .html file carries the payload only escaped: no live script, no img tag, no event handler attribute', () => {
    const pages = fs.readdirSync(runDir()).filter((f) => f.endsWith('.html'));
    expect(pages.length).toBeGreaterThanOrEqual(4);
    for (const page of pages) {
      const html = fs.readFileSync(path.join(runDir(), page), 'utf8');
      expect(html, page).not.toContain(SCRIPT);
      expect(html, page).not.toMatch(/<img\b/i);
      // Every real tag of the page (script bodies aside, they are code): none has an on…= handler, and the only
      // scripts are the page's own.
      const markup = html.replace(/(<script\b[^>]*>)[\s\S]*?<\/script>/gi, '$1</script>');
      for (const [tag, name, attributes] of markup.matchAll(/<([a-zA-Z][\w-]*)\b([^>]*)>/g)) {
        expect(attributes, `${page}: ${tag}`).not.toMatch(/\bon\w+\s*=/i);
        if (name!.toLowerCase() === 'script') expect(tag, page).toMatch(/^<script( type="application\/json" id="[\w-]+")?>$/);
      }
      for (const [, body] of html.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/gi)) {
        // Inside a script, model text may only appear as JSON data that cannot close the element.
        expect(body, page).not.toMatch(/<\/?script|<img/i);
      }
    }
  });

  it('no model text became a path: nothing written outside the run dir, no file named after the traversal', () => {
    const outside = listAll(cwd).filter((f) => !f.startsWith(path.join('work', 'nested', 'run')) && f !== path.join('work', 'nested', 'plan.db'));
    expect(outside.filter((f) => !outsideBefore.includes(f) && !/plan\.db-(wal|shm)$/.test(f))).toEqual([]);
    const names = listAll(runDir());
    expect(names.filter((f) => f.includes('evil') || f.includes('..'))).toEqual([]);
    // Per-item files are numbered, never named from the answer.
    expect(names.filter((f) => /^\d{3}-\d+-\d+-/.test(f)).length).toBeGreaterThan(0);
  });
});

describe('API keys in the human output of a failing build', () => {
  it('servers that echo the key in a refusal and in an error body: the key is in no line printed, no row, no file', async () => {
    const SECRET = 'sk-test-NEVER-PRINT-5d1e0c7a9b';
    const dir = tempDir('plan-security-keys-');
    const refusing = await startFakeOpenAiServer({ handler: () => ({ kind: 'text', text: `I'm sorry, I cannot use the key ${SECRET} for this.` }) });
    const erroring = await startFakeOpenAiServer({
      handler: () => ({ kind: 'status', status: 400, body: `{"error":{"message":"bad request from key ${SECRET}"}}` }),
    });
    try {
      const result = await runPlan(
        [
          'build',
          'runs/demo',
          '--pipeline',
          path.join(repoRoot, 'tests', 'fixtures', 'llm-pipeline.mjs'),
          `--model=openai-compatible:refusing@${refusing.url}`,
          `--model=openai-compatible:erroring@${erroring.url}`,
        ],
        { cwd: dir, env: { OPENAI_COMPATIBLE_API_KEY: SECRET } },
      );
      expect(result.exit).toBe(1);
      expect(result.stderr).toContain('FAIL  Ideas(topic=bread): model call failed on every model');
      expect(result.stderr).toContain('[redacted]');
      expect(refusing.requests.every((r) => r.headers.authorization === `Bearer ${SECRET}`)).toBe(true);
      const everything = [result.stdout, result.stderr];
      for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
        if (entry.isFile()) everything.push(fs.readFileSync(path.join(entry.parentPath, entry.name)).toString('latin1'));
      }
      for (const text of everything) expect(text.includes(SECRET)).toBe(false);
    } finally {
      await Promise.all([refusing.close(), erroring.close()]);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
