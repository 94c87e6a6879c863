import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parsePackageSpec, resolvePipelinePackage } from '../../src/cli/pipeline-package.js';
import { UsageError } from '../../src/engine/errors.js';
import { tempDir } from '../support/cli.js';

// `--pipeline npm:<package>`: the entry a package's manifest gives for `import`, found in node_modules.

let dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  dirs = [];
});

function project(packages: Record<string, { manifest: object; files: string[] }>): string {
  const root = fs.realpathSync(tempDir('plan-pkg-'));
  dirs.push(root);
  for (const [name, { manifest, files }] of Object.entries(packages)) {
    const dir = path.join(root, 'node_modules', name);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, ...manifest }));
    for (const file of files) {
      fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      fs.writeFileSync(path.join(dir, file), 'export const pipeline = {};\n');
    }
  }
  return root;
}

describe('pipeline packages', () => {
  it("finds the entry as import would: exports' conditions, a map of subpaths, main, index.js", () => {
    const root = project({
      conditional: { manifest: { exports: { '.': { require: './cjs.cjs', import: './esm.mjs' } } }, files: ['cjs.cjs', 'esm.mjs'] },
      plain: { manifest: { exports: './lib/p.js' }, files: ['lib/p.js'] },
      sugar: { manifest: { exports: { node: './n.js', default: './d.js' } }, files: ['n.js', 'd.js'] },
      '@acme/pipes': {
        manifest: { exports: { '.': './main.js', './risks': { default: './risks/index.js' } } },
        files: ['main.js', 'risks/index.js'],
      },
      old: { manifest: { main: 'lib/old.js' }, files: ['lib/old.js', 'extra/x.js'] },
      bare: { manifest: {}, files: ['index.js'] },
    });
    const at = (name: string, file: string) => path.join(root, 'node_modules', name, file);
    expect(resolvePipelinePackage('npm:conditional', root)).toBe(at('conditional', 'esm.mjs'));
    expect(resolvePipelinePackage('npm:plain', root)).toBe(at('plain', 'lib/p.js'));
    expect(resolvePipelinePackage('npm:sugar', root)).toBe(at('sugar', 'n.js'));
    expect(resolvePipelinePackage('npm:@acme/pipes', root)).toBe(at('@acme/pipes', 'main.js'));
    expect(resolvePipelinePackage('npm:@acme/pipes/risks', root)).toBe(at('@acme/pipes', 'risks/index.js'));
    expect(resolvePipelinePackage('npm:old', root)).toBe(at('old', 'lib/old.js'));
    expect(resolvePipelinePackage('npm:old/extra/x.js', root)).toBe(at('old', 'extra/x.js'));
    expect(resolvePipelinePackage('npm:bare', root)).toBe(at('bare', 'index.js'));
    // From a folder below the project, as Node looks: up through the parents' node_modules.
    const below = path.join(root, 'runs', 'deep');
    fs.mkdirSync(below, { recursive: true });
    expect(resolvePipelinePackage('npm:plain', below)).toBe(at('plain', 'lib/p.js'));
  });

  it('says in one line what is wrong: not installed, not exported, a missing entry, not a package name', () => {
    const root = project({
      '@acme/pipes': { manifest: { exports: { '.': './main.js' } }, files: ['main.js'] },
      broken: { manifest: { main: 'gone.js' }, files: [] },
      'require-only': { manifest: { exports: { require: './c.cjs' } }, files: ['c.cjs'] },
    });
    const fails = (spec: string) => {
      try {
        resolvePipelinePackage(spec, root);
      } catch (error) {
        expect(error).toBeInstanceOf(UsageError);
        return (error as Error).message;
      }
      throw new Error(`${spec} resolved`);
    };
    expect(fails('npm:absent')).toBe(`pipeline package absent is not installed in ${root} (nor a folder above it): npm install it there`);
    expect(fails('npm:@acme/pipes/secret')).toBe('pipeline package @acme/pipes does not export ./secret');
    expect(fails('npm:require-only')).toBe('pipeline package require-only does not export a main entry');
    expect(fails('npm:broken')).toBe('pipeline package broken: its entry gone.js does not exist');
    for (const bad of ['npm:', 'npm:../up', 'npm:a/../../b', 'npm:@scope', 'npm:Upper', 'npm:a//b'])
      expect(fails(bad)).toMatch(/is not a package name/);
    expect(parsePackageSpec('npm:@acme/pipes/risks')).toEqual({ name: '@acme/pipes', subpath: './risks' });
  });
});
