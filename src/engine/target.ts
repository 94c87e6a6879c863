import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from './errors.js';

/**
 * A file inside the run directory. Paths are relative to the run dir, with forward slashes; whether a path
 * stays inside the run dir is checked by the graph before anything runs (see `checkTargetPath`).
 */
export class FileTarget {
  constructor(readonly path: string) {}

  toString(): string {
    return this.path;
  }
}

/**
 * Every installed copy of the package has a FileTarget class of its own, and `instanceof` sees only its own: each
 * copy marks its targets with where it lives, under a key all copies share, so a build can name the copy that
 * made a target it does not recognise.
 */
const MADE_BY = Symbol.for('plan-build.copy');
Object.defineProperty(FileTarget.prototype, MADE_BY, { value: import.meta.url });

/** `file('002-1-redline_gate.json')`: the usual way a task names an output. */
export function file(relativePath: string): FileTarget {
  return new FileTarget(relativePath);
}

/** What `output()` returns: one target, or a record of named targets. */
export type Outputs = FileTarget | Record<string, FileTarget>;

export function outputList(outputs: Outputs): FileTarget[] {
  if (outputs instanceof FileTarget) return [outputs];
  // Only a record is a record of targets: another copy's target is an object too.
  const isRecord = typeof outputs === 'object' && outputs !== null && !looksLikeTarget(outputs);
  const targets: unknown[] = isRecord ? Object.values(outputs) : [outputs];
  for (const target of targets) if (!(target instanceof FileTarget)) throw notATarget(target);
  return targets as FileTarget[];
}

function notATarget(value: unknown): UsageError {
  if (looksLikeTarget(value)) return new ForeignCopyError(`target '${(value as { path?: unknown }).path}'`, value);
  return new UsageError(`output() must return file(…) or a record of file(…) targets, not ${JSON.stringify(value) ?? typeof value}`);
}

/** A FileTarget of some copy of the package: marked by its copy, or of a class so named (a copy older than the mark). */
function looksLikeTarget(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (MADE_BY in value || value.constructor?.name === 'FileTarget');
}

/** The folder of the copy of the package whose `file()` made this value, or null when no copy marked it. */
export function copyOf(value: unknown): string | null {
  const url = typeof value === 'object' && value !== null ? (value as { [MADE_BY]?: unknown })[MADE_BY] : undefined;
  return typeof url === 'string' ? packageRoot(url) : null;
}

/**
 * A task or target made by another copy of the package than the one running the build: the pipeline imported
 * it by path, by `require`, or from a library that bundles its own copy. Found before anything runs.
 */
export class ForeignCopyError extends UsageError {
  override name = 'ForeignCopyError';

  /** `what` names the task or target; `madeBy` is it, or anything its copy made (to say where that copy is). */
  constructor(what: string, madeBy: unknown) {
    const root = packageRoot(import.meta.url);
    const { name } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { name: string };
    const copy = copyOf(madeBy);
    super(
      `${what} comes from another copy of ${name}${copy === null ? '' : ` at ${copy}`}: import it from '${name}' (this build runs the copy at ${root})`,
    );
  }
}

/** A module of the package is two folders down (dist/engine/target.js, src/engine/target.ts). */
function packageRoot(moduleUrl: string): string {
  return path.resolve(fileURLToPath(new URL('../..', moduleUrl)));
}

/** Names reserved for the engine's own files in a run dir (marker, lock, temp files). */
export function isEngineFile(relativePath: string): boolean {
  return path.posix.basename(relativePath).startsWith('.plan-');
}

/**
 * Why a target path is not acceptable, or null when it is. Lexical checks only: symlinks are checked
 * against the real file system by `checkTargetOnDisk`.
 */
export function checkTargetPath(relativePath: string): string | null {
  if (relativePath.length === 0) return 'is empty';
  if (relativePath.includes('\0')) return 'contains a NUL byte';
  if (relativePath.includes('\\')) return 'contains a backslash (use forward slashes)';
  if (path.posix.isAbsolute(relativePath) || path.win32.isAbsolute(relativePath)) return 'is absolute';
  const normal = path.posix.normalize(relativePath);
  if (normal === '..' || normal.startsWith('../')) return 'escapes the run directory';
  if (normal !== relativePath) return `is not in normal form (use '${normal}')`;
  if (normal === '.' || normal.endsWith('/')) return 'names a directory, not a file';
  if (isEngineFile(normal)) return "uses the reserved prefix '.plan-'";
  return null;
}
