import path from 'node:path';

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

/** `file('002-1-redline_gate.json')`: the usual way a task names an output. */
export function file(relativePath: string): FileTarget {
  return new FileTarget(relativePath);
}

/** What `output()` returns: one target, or a record of named targets. */
export type Outputs = FileTarget | Record<string, FileTarget>;

export function outputList(outputs: Outputs): FileTarget[] {
  return outputs instanceof FileTarget ? [outputs] : Object.values(outputs);
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
