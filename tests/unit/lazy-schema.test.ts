import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { answerJsonSchema } from '../../src/llm/json-schema.js';
import type { Completion, CompletionRequest, LlmClient } from '../../src/llm/types.js';
import { readJson } from '../../src/tasks/support/docs.js';
import { type LazySchema, lazySchema, resolveSchema } from '../../src/tasks/support/lazy-schema.js';
import { Transcript } from '../../src/tasks/support/transcript.js';
import { file } from '../../src/engine/target.js';
import { SetupTask } from '../../src/tasks/setup.js';
import { FakeLlm, config, memoryContext } from './tasks-fake.js';
import { repoRoot, tempDir } from '../support/cli.js';

/**
 * Loading the plan pipeline must not load zod: `plan status` and a no-op `plan build` only plan the graph.
 * A fresh node process imports the built pipeline with a loader hook that records every module it loads.
 */
const HOOKS = `
import { appendFileSync } from 'node:fs';
let out;
export function initialize(data) { out = data.out; }
export async function load(url, context, nextLoad) {
  appendFileSync(out, url + '\\n');
  return nextLoad(url, context);
}
`;
const REGISTER = `
import { register } from 'node:module';
register(new URL('./hooks.mjs', import.meta.url), { data: { out: process.env.LOADED_URLS_FILE } });
`;
const dist = (file: string) => pathToFileURL(path.join(repoRoot, 'dist', file)).href;
const CHILD = `
import { readFileSync } from 'node:fs';
const loaded = () => readFileSync(process.env.LOADED_URLS_FILE, 'utf8').split('\\n').filter(Boolean);
const report = {};
const { planPipeline } = await import(${JSON.stringify(dist('tasks/pipeline.js'))});
// Plan the graph, as plan status does: every task's outputs and requirements.
const seen = new Set();
const stack = [...planPipeline.roots({ prompt: 'Open a bakery', startTime: '2026-03-12T10:02:18Z' })];
while (stack.length > 0) {
  const task = stack.pop();
  if (seen.has(task.id)) continue;
  seen.add(task.id);
  task.output();
  stack.push(...task.requires());
}
report.tasks = seen.size;
// The LLM layer the CLI loads to make its services.
await import(${JSON.stringify(dist('llm/index.js'))});
report.planned = loaded();
const { lazySchema } = await import(${JSON.stringify(dist('tasks/support/lazy-schema.js'))});
const schema = lazySchema((z) => z.object({ title: z.string().min(1) }));
try {
  schema.get();
  report.getBeforeLoad = 'returned';
} catch (error) {
  report.getBeforeLoad = error.message;
}
report.parsed = (await schema.resolve()).parse({ title: 'Bakery' });
report.resolved = loaded();
console.log(JSON.stringify(report));
`;

describe('the plan pipeline without zod', () => {
  it('importing dist/tasks/pipeline.js and planning the graph loads no zod; the first schema used loads it', () => {
    expect(fs.existsSync(path.join(repoRoot, 'dist', 'tasks', 'pipeline.js')), 'dist/ is built (npm run build)').toBe(true);
    const dir = tempDir('plan-lazy-schema-');
    try {
      fs.writeFileSync(path.join(dir, 'hooks.mjs'), HOOKS);
      fs.writeFileSync(path.join(dir, 'register.mjs'), REGISTER);
      const out = path.join(dir, 'loaded.txt');
      fs.writeFileSync(out, '');
      const child = spawnSync(
        process.execPath,
        ['--import', pathToFileURL(path.join(dir, 'register.mjs')).href, '--input-type=module', '-e', CHILD],
        {
          env: { ...process.env, LOADED_URLS_FILE: out },
          encoding: 'utf8',
        },
      );
      expect(child.stderr).toBe('');
      expect(child.status).toBe(0);
      const report = JSON.parse(child.stdout) as { tasks: number; planned: string[]; getBeforeLoad: string; parsed: unknown; resolved: string[] };
      const isZod = (url: string) => url.includes('/node_modules/zod/');

      expect(report.tasks).toBe(63);
      // The recorder sees the task modules themselves…
      expect(report.planned.some((url) => url.endsWith('/dist/tasks/levers.js'))).toBe(true);
      expect(report.planned.some((url) => url.endsWith('/dist/llm/json-schema.js'))).toBe(true);
      // …and no zod among them.
      expect(report.planned.filter(isZod)).toEqual([]);

      // A lazy schema used before zod is loaded fails loudly; resolve() loads zod and builds it.
      expect(report.getBeforeLoad).toMatch(/before zod was loaded/);
      expect(report.parsed).toEqual({ title: 'Bakery' });
      expect(report.resolved.filter(isZod).length).toBeGreaterThan(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('lazySchema', () => {
  it('builds once, on first use, with the zod namespace, and parses', async () => {
    let builds = 0;
    const schema = lazySchema((zod) => {
      builds++;
      expect(zod).toBe(z);
      return zod.object({ title: zod.string().min(1), steps: zod.array(zod.string()).max(2) });
    });
    expect(builds).toBe(0);
    const first = await schema.resolve();
    const again = await schema.resolve();
    expect(again).toBe(first);
    expect(schema.get()).toBe(first);
    expect(builds).toBe(1);
    expect(first.parse({ title: 'Bakery', steps: ['rent', 'bake'] })).toEqual({ title: 'Bakery', steps: ['rent', 'bake'] });
    expect(first.safeParse({ title: '', steps: [] }).success).toBe(false);
  });

  it('concurrent first uses build once', async () => {
    let builds = 0;
    const schema = lazySchema((zod) => {
      builds++;
      return zod.string();
    });
    const [a, b, c] = await Promise.all([schema.resolve(), schema.resolve(), resolveSchema(schema)]);
    expect(b).toBe(a);
    expect(c).toBe(a);
    expect(builds).toBe(1);
  });

  it('a schema made of another lazy schema takes it inside its builder, built once for both', async () => {
    let leafBuilds = 0;
    const lever = lazySchema((zod) => {
      leafBuilds++;
      return zod.object({ lever_id: zod.string() });
    });
    const levers = lazySchema((zod) => zod.array(lever.get()));
    const enriched = lazySchema((zod) => lever.get().extend({ description: zod.string() }));
    expect((await levers.resolve()).parse([{ lever_id: 'L1' }])).toEqual([{ lever_id: 'L1' }]);
    expect((await enriched.resolve()).parse({ lever_id: 'L1', description: 'd' })).toEqual({ lever_id: 'L1', description: 'd' });
    expect(leafBuilds).toBe(1);
  });

  it('a builder that takes its own schema fails loudly, and a later use tries again', async () => {
    const self: LazySchema = lazySchema((): z.ZodType => z.array(self.get()));
    await expect(self.resolve()).rejects.toThrow(/refers to itself/);
    await expect(self.resolve()).rejects.toThrow(/refers to itself/);
  });

  it('resolveSchema hands a plain zod schema back as it is', async () => {
    const plain = z.object({ a: z.number() });
    expect(await resolveSchema(plain)).toBe(plain);
  });
});

describe('the task helpers take lazy and plain schemas', () => {
  /** Records the schema each request carries. */
  class Recording implements LlmClient {
    readonly offline = true;
    readonly schemas: unknown[] = [];
    private readonly fake = new FakeLlm();
    complete<T>(request: CompletionRequest<T>): Promise<Completion<T>> {
      this.schemas.push(request.schema);
      return this.fake.complete(request);
    }
    completeText = this.fake.completeText.bind(this.fake);
    reject = this.fake.reject.bind(this.fake);
  }

  it('Transcript.ask sends the built zod schema to the model, for a lazy one and a plain one alike', async () => {
    const lazy = lazySchema((zod) => zod.object({ verdict: zod.enum(['yes', 'no']) }));
    const plain = z.object({ verdict: z.enum(['yes', 'no']) });
    const llm = new Recording();
    const transcript = new Transcript(llm);
    const fromLazy = await transcript.ask({ system: 's', user: 'u', schema: lazy, name: 'verdict' });
    const fromPlain = await transcript.ask({ system: 's', user: 'u', schema: plain, name: 'verdict' });
    expect(['yes', 'no']).toContain(fromLazy.verdict);
    expect(['yes', 'no']).toContain(fromPlain.verdict);
    expect(llm.schemas).toEqual([lazy.get(), plain]);
    expect(llm.schemas[0]).toBe(lazy.get());
    expect(transcript.calls.map((c) => c.schema)).toEqual(['verdict', 'verdict']);
  });

  it('readJson validates a file against a lazy schema', async () => {
    const task = new SetupTask(config());
    const files = new Map([['a.json', JSON.stringify({ n: 3 })]]);
    const ctx = memoryContext(task, files, new FakeLlm());
    const schema = lazySchema((zod) => zod.object({ n: zod.number().int() }));
    expect(await readJson(ctx, file('a.json'), schema)).toEqual({ n: 3 });
    files.set('a.json', JSON.stringify({ n: 'three' }));
    await expect(readJson(ctx, file('a.json'), schema)).rejects.toThrow(/a\.json does not have the expected shape/);
  });
});

describe('answerJsonSchema without a zod import of its own', () => {
  interface Node {
    name: string;
    children: Node[];
  }
  const node: z.ZodType<Node> = z.lazy(() => z.object({ name: z.string().min(1).describe('A name.'), children: z.array(node) }));
  const schema = z.object({
    title: z.string().min(1),
    level: z.enum(['High', 'Low']).default('Low'),
    count: z.union([z.string(), z.number().transform(String)]),
    note: z.string().optional(),
    tree: node,
  });
  const options = { io: 'input', unrepresentable: 'any' } as const;

  it('gives what z.toJSONSchema gives, whether zod was loaded through loadZod or only the schema has its zod', () => {
    const { $schema: _ignored, ...expected } = z.toJSONSchema(schema, options) as Record<string, unknown>;
    expect(answerJsonSchema(schema)).toEqual(expected);
    // The path taken before loadZod() has resolved: the schema's own method.
    const { $schema: _also, ...own } = schema.toJSONSchema(options) as Record<string, unknown>;
    expect(JSON.stringify(own)).toBe(JSON.stringify(expected));
  });

  it('refuses a lazy schema handed to a model call unresolved, saying what to do', () => {
    const lazy = lazySchema((zod) => zod.string());
    expect(() => answerJsonSchema(lazy as never)).toThrow(/zod 4 schema.*await schema\.resolve\(\)/);
  });
});
