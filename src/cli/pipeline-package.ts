import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../engine/errors.js';

/** `--pipeline npm:<package>[/<subpath>]`: a pipeline installed as an npm package, found from a folder. */
const PACKAGE_PREFIX = 'npm:';

/** npm's package names: `name` or `@scope/name`, lower case, URL-safe. */
const PACKAGE_NAME = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/;

export function isPackageSpec(spec: string): boolean {
  return spec.startsWith(PACKAGE_PREFIX);
}

/** A package spec as a run keeps it: as given, once it is known to be well formed. */
export function checkedPackageSpec(spec: string): string {
  parsePackageSpec(spec);
  return spec;
}

/** The package's name and the subpath asked of it (`.` for its main entry); a malformed spec is a UsageError. */
export function parsePackageSpec(spec: string): { name: string; subpath: string } {
  const rest = spec.slice(PACKAGE_PREFIX.length);
  const parts = rest.split('/');
  const nameParts = rest.startsWith('@') ? 2 : 1;
  const name = parts.slice(0, nameParts).join('/');
  const sub = parts.slice(nameParts);
  if (!PACKAGE_NAME.test(name) || sub.some((p) => p === '' || p === '.' || p === '..')) {
    throw new UsageError(`--pipeline ${spec} is not a package name (npm:name, npm:@scope/name or npm:name/subpath)`);
  }
  return { name, subpath: sub.length === 0 ? '.' : `./${sub.join('/')}` };
}

/**
 * The module file of a pipeline package installed in `fromDir`'s node_modules (or a parent's), as Node's ESM
 * resolution finds it for `import`: the package's `exports` (with the import/node/default conditions), else
 * its `main`, else index.js. Only what a package's own entry needs: no patterns ("./*") in exports.
 */
export function resolvePipelinePackage(spec: string, fromDir: string): string {
  const { name, subpath } = parsePackageSpec(spec);
  const dir = packageDir(name, fromDir);
  if (dir === null) throw new UsageError(`pipeline package ${name} is not installed in ${fromDir} (nor a folder above it): npm install it there`);
  const manifest = readManifest(dir, name);
  const entry = entryOf(manifest, subpath);
  if (entry === null) throw new UsageError(`pipeline package ${name} does not export ${subpath === '.' ? 'a main entry' : subpath}`);
  const file = path.resolve(dir, entry);
  if (!fs.existsSync(file)) throw new UsageError(`pipeline package ${name}: its entry ${entry} does not exist`);
  return file;
}

function packageDir(name: string, fromDir: string): string | null {
  for (let dir = path.resolve(fromDir); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (path.dirname(dir) === dir) return null;
  }
}

interface Manifest {
  main?: unknown;
  exports?: unknown;
}

function readManifest(dir: string, name: string): Manifest {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as Manifest;
  } catch (error) {
    throw new UsageError(`pipeline package ${name}: cannot read its package.json (${error instanceof Error ? error.message : String(error)})`);
  }
}

function entryOf(manifest: Manifest, subpath: string): string | null {
  const { exports } = manifest;
  if (exports === undefined || exports === null) {
    if (subpath !== '.') return subpath;
    return typeof manifest.main === 'string' ? manifest.main : 'index.js';
  }
  // `exports` is one target, or conditions, for the main entry alone; or a map of subpaths.
  const bySubpath = typeof exports === 'object' && !Array.isArray(exports) && Object.keys(exports).every((k) => k.startsWith('.'));
  const target = bySubpath ? (exports as Record<string, unknown>)[subpath] : subpath === '.' ? exports : undefined;
  return targetOf(target);
}

const CONDITIONS = ['import', 'node', 'default'];

function targetOf(target: unknown): string | null {
  if (typeof target === 'string') return target.startsWith('./') ? target : null;
  if (Array.isArray(target)) {
    for (const t of target) {
      const found = targetOf(t);
      if (found !== null) return found;
    }
    return null;
  }
  if (typeof target === 'object' && target !== null) {
    // Conditions are tried in the package's own order; the first that this loader meets wins.
    for (const [condition, value] of Object.entries(target)) {
      if (!CONDITIONS.includes(condition)) continue;
      const found = targetOf(value);
      if (found !== null) return found;
    }
  }
  return null;
}
