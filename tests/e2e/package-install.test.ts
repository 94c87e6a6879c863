import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, collect, repoRoot, tempDir } from '../support/cli.js';

/**
 * The package as a user gets it: packed by `npm pack`, installed from the tarball into a new project outside
 * this repo, the README's pipelines written there and built by the installed `plan`.
 *
 * better-sqlite3 compiles its addon from source on install (1–2 minutes, no prebuilt binary can be
 * downloaded here): the project installs with `--ignore-scripts`, pins better-sqlite3 to the version this
 * repo compiled, and gets a copy of this repo's compiled addon. `npm pack` packs dist/ as it is: compile first.
 */
const PACKAGE = 'plan-build';

let work: string;
let project: string;

beforeAll(async () => {
  // Real path: the messages under test name folders as Node resolves them (/tmp may be a symlink).
  work = fs.realpathSync(tempDir('plan-install-'));
  const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], repoRoot);
  const tarball = path.join(work, (JSON.parse(packed.stdout) as { filename: string }[])[0]!.filename);
  project = path.join(work, 'project');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'my-pipelines', private: true, type: 'module' }));
  const sqlite = path.join(repoRoot, 'node_modules', 'better-sqlite3');
  const sqliteVersion = (JSON.parse(fs.readFileSync(path.join(sqlite, 'package.json'), 'utf8')) as { version: string }).version;
  await run(
    'npm',
    ['install', tarball, `better-sqlite3@${sqliteVersion}`, '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'],
    project,
  );
  const addon = path.join('build', 'Release', 'better_sqlite3.node');
  fs.mkdirSync(path.dirname(path.join(project, 'node_modules', 'better-sqlite3', addon)), { recursive: true });
  fs.copyFileSync(path.join(sqlite, addon), path.join(project, 'node_modules', 'better-sqlite3', addon));
}, 300_000);

afterAll(() => {
  if (work !== undefined) fs.rmSync(work, { recursive: true, force: true });
});

describe(`the ${PACKAGE} package installed from its tarball`, () => {
  it("builds the README's pipeline in a new project outside the repo with the installed plan", async () => {
    const [shout] = readmeExamples();
    expect(shout).toContain(`from '${PACKAGE}'`);
    fs.writeFileSync(path.join(project, 'shout.mjs'), shout!);

    const result = await plan(['build', 'runs/shout', '--pipeline', 'shout.mjs'], project);
    expect(result.stderr).toMatch(/build complete: ran 2 tasks/);
    expect(result.exit).toBe(0);
    expect(fs.readFileSync(path.join(project, 'runs', 'shout', 'shout.txt'), 'utf8')).toBe('HELLO\n');
  });

  it("builds the README's model-calling pipeline (z, check, writeOutputs, runPerItem, converse, Transcript) offline", async () => {
    const [, risks] = readmeExamples();
    expect(risks).toContain(`from '${PACKAGE}'`);
    fs.writeFileSync(path.join(project, 'risks.mjs'), risks!);

    const result = await plan(['build', 'runs/risks', '--pipeline', 'risks.mjs', '--prompt', 'A bakery'], project);
    expect(result.stderr).toMatch(/build complete: ran 3 tasks/);
    expect(result.exit).toBe(0);
    const runDir = path.join(project, 'runs', 'risks');
    const outline = JSON.parse(fs.readFileSync(path.join(runDir, 'outline.json'), 'utf8')) as { steps: string[] };
    const perItem = outline.steps.map((_, i) => `steps/${i + 1}_raw.json`);
    expect(listFiles(runDir)).toEqual(['outline.json', 'outline.md', 'risks_raw.json', 'steps.md', ...perItem].sort());
    const conversation = JSON.parse(fs.readFileSync(path.join(runDir, 'risks_raw.json'), 'utf8')) as {
      response: unknown[];
      calls: { turn: number }[];
    };
    expect(conversation.response).toHaveLength(2);
    expect(conversation.calls.map((call) => call.turn)).toEqual([1, 2]);
  });

  it("runs the README's build() from code, with createLlmServices, in the installed project", async () => {
    const [, risks, fromCode] = readmeExamples();
    fs.writeFileSync(path.join(project, 'risks.mjs'), risks!);
    fs.writeFileSync(path.join(project, 'build.mjs'), fromCode!);

    const result = await run(process.execPath, ['build.mjs'], project);
    expect(result.stdout).toMatch(/^success /);
    expect(fs.readFileSync(path.join(project, 'runs', 'from-code', 'steps.md'), 'utf8')).toMatch(/^## /);
    const status = await plan(['status', 'runs/from-code', '--json'], project);
    expect(status.exit).toBe(0);
    expect((JSON.parse(status.stdout) as { counts: Record<string, number> }).counts).toMatchObject({ fresh: 3, missing: 0, stale: 0 });
  });

  it('typechecks a TypeScript task against the installed declarations', async () => {
    fs.writeFileSync(
      path.join(project, 'typed.ts'),
      `import { Task, file, z, Transcript, runPerItem, type LlmServices, type PlanContext, type CompletionRequest } from '${PACKAGE}';

const Answer = z.object({ text: z.string() });

export class Typed extends Task<LlmServices> {
  output() {
    return file('typed.json');
  }
  async run(ctx: PlanContext): Promise<void> {
    const request: CompletionRequest<z.infer<typeof Answer>> = { messages: [{ role: 'user', content: 'hi' }], schema: Answer, schemaName: 'answer' };
    const { value } = await ctx.llm.complete(request);
    const items = await runPerItem(ctx, { items: [value.text], speed: 'full', key: (_t, n) => \`t-\${n}\`, run: (t, tr: Transcript) => tr.askText('s', t) });
    ctx.write(this.output(), items.map((i) => i.result.toUpperCase()).join());
  }
}
`,
    );
    const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const options = [
      '--noEmit',
      '--strict',
      '--module',
      'nodenext',
      '--target',
      'es2022',
      '--skipLibCheck',
      '--typeRoots',
      path.join(repoRoot, 'node_modules', '@types'),
      '--types',
      'node',
    ];
    const result = await collect(spawn(process.execPath, [tsc, ...options, 'typed.ts'], { cwd: project, stdio: ['ignore', 'pipe', 'pipe'] }));
    expect(result.stdout).toBe('');
    expect(result.exit).toBe(0);
  });

  it('binds a pipeline to the plan that runs it when a second copy of the package sits in its own node_modules', async () => {
    // tools/ holds the same package installed again: Node alone would resolve the pipeline's import to it.
    const tools = path.join(project, 'tools');
    fs.cpSync(path.join(project, 'node_modules', PACKAGE), path.join(tools, 'node_modules', PACKAGE), { recursive: true });
    fs.writeFileSync(path.join(tools, 'shout.mjs'), readmeExamples()[0]!);

    const result = await plan(['build', 'runs/tools', '--pipeline', 'tools/shout.mjs'], project);
    expect(result.stderr).toMatch(/build complete: ran 2 tasks/);
    expect(result.exit).toBe(0);
    expect(fs.readFileSync(path.join(project, 'runs', 'tools', 'shout.txt'), 'utf8')).toBe('HELLO\n');
  });

  it('builds a pipeline installed as a package (--pipeline npm:<name>), and resumes it from the name kept with the run', async () => {
    // The pipeline's own package, as npm lays it out when installed: node_modules/@acme/shout-pipelines.
    const installed = path.join(project, 'node_modules', '@acme', 'shout-pipelines');
    fs.mkdirSync(installed, { recursive: true });
    fs.writeFileSync(
      path.join(installed, 'package.json'),
      JSON.stringify({
        name: '@acme/shout-pipelines',
        type: 'module',
        exports: { '.': { import: './shout.mjs' } },
        peerDependencies: { [PACKAGE]: '*' },
      }),
    );
    fs.writeFileSync(path.join(installed, 'shout.mjs'), readmeExamples()[0]!);

    const built = await plan(['build', 'runs/pkg', '--pipeline', 'npm:@acme/shout-pipelines'], project);
    expect(built.stderr).toMatch(/build complete: ran 2 tasks/);
    expect(built.exit).toBe(0);
    expect(fs.readFileSync(path.join(project, 'runs', 'pkg', 'shout.txt'), 'utf8')).toBe('HELLO\n');
    const again = await plan(['build', 'runs/pkg'], project);
    expect(again.stderr).toMatch(/build complete: ran 0 tasks/);
    expect(again.exit).toBe(0);
    const show = await plan(['show', 'runs/pkg', '--json'], project);
    expect((JSON.parse(show.stdout) as { run: { pipeline: string } }).run.pipeline).toBe('npm:@acme/shout-pipelines');

    const missing = await plan(['build', 'runs/none', '--pipeline', 'npm:@acme/absent'], project);
    expect(missing.exit).toBe(2);
    expect(missing.stderr.split('\n').filter((line) => line.startsWith('plan: '))).toEqual([
      `plan: pipeline package @acme/absent is not installed in ${project} (nor a folder above it): npm install it there`,
    ]);
    expect(fs.existsSync(path.join(project, 'runs', 'none'))).toBe(false);
  });

  it('refuses in one line, exit 2, a pipeline whose tasks and targets come from another copy of the package', async () => {
    const vendored = path.join(project, 'vendor', PACKAGE);
    fs.cpSync(path.join(project, 'node_modules', PACKAGE), vendored, { recursive: true });
    // Imported by path, past any package resolution: these classes are not the running engine's.
    fs.writeFileSync(
      path.join(project, 'vendored.mjs'),
      readmeExamples()[0]!.replace(`from '${PACKAGE}'`, `from './vendor/${PACKAGE}/dist/index.js'`),
    );

    const result = await plan(['build', 'runs/vendored', '--pipeline', 'vendored.mjs'], project);
    expect(result.exit).toBe(2);
    // The first build in a folder also says it created the database.
    const errors = result.stderr.split('\n').filter((line) => line.startsWith('plan: '));
    expect(errors).toEqual([
      expect.stringContaining(`plan: task Shout comes from another copy of ${PACKAGE} at ${vendored}: import it from '${PACKAGE}'`),
    ]);
    expect(fs.existsSync(path.join(project, 'runs', 'vendored', 'shout.txt'))).toBe(false);
  });
});

/** The js blocks of the README's "Write your own pipeline" section, in order. */
function readmeExamples(): string[] {
  const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Write your own pipeline'));
  const body = section.slice(0, section.indexOf('\n## ', 1));
  return [...body.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

function listFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && !entry.name.startsWith('.plan-'))
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort();
}

/** The installed CLI, run the way the project's user runs it. */
function plan(args: string[], cwd: string): Promise<CliResult> {
  return collect(
    spawn(path.join(cwd, 'node_modules', '.bin', 'plan'), args, {
      cwd,
      env: { ...withoutNpmConfig(), NO_COLOR: '1', CI: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}

async function run(command: string, args: string[], cwd: string): Promise<CliResult> {
  const result = await collect(spawn(command, args, { cwd, env: withoutNpmConfig(), stdio: ['ignore', 'pipe', 'pipe'] }));
  if (result.exit !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${result.exit}):\n${result.stderr}`);
  return result;
}

/** This process's environment without the npm_* settings an enclosing `npm test` exports, which would steer npm. */
function withoutNpmConfig(): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith('npm_')));
}
