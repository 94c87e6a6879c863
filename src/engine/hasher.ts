import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { FileStat } from '../store/store.js';

export function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export type FileState =
  | { kind: 'missing' }
  | { kind: 'file'; sha256: string }
  /** Present but unusable as a target: a directory, a special file, a symlink leading out of the run dir. */
  | { kind: 'invalid'; problem: string };

/**
 * Content hashes of run-dir files with the git-index trick: a file whose `(size, mtime_ns, inode)` matches the
 * cache is not read again, so a no-op build costs one `lstat` per file.
 */
export class FileHasher {
  private readonly fresh = new Map<string, FileStat>();
  private realRunDir: string | undefined;

  constructor(
    private readonly runDir: string,
    private readonly cache: Map<string, FileStat>,
  ) {}

  state(relativePath: string): FileState {
    const absolute = path.join(this.runDir, relativePath);
    let stat: fs.Stats | undefined;
    try {
      // A plain lstat (the bigint one allocates a BigInt per field); throwIfNoEntry: a missing output (every
      // one, on a first build) costs no exception.
      stat = fs.lstatSync(absolute, { throwIfNoEntry: false });
    } catch (error) {
      if (isNotFound(error)) return { kind: 'missing' };
      throw error;
    }
    if (stat === undefined) return { kind: 'missing' };
    const link = stat.isSymbolicLink();
    if (link) {
      const problem = this.symlinkProblem(absolute);
      if (problem !== null) return { kind: 'invalid', problem };
      stat = fs.statSync(absolute);
    }
    if (stat.isDirectory()) return { kind: 'invalid', problem: 'is a directory, not a file' };
    if (!stat.isFile()) return { kind: 'invalid', problem: 'is not a regular file' };

    const cached = this.cache.get(relativePath);
    if (cached && cached.size === stat.size && mtimeMsOf(cached.mtimeNs) === stat.mtimeMs && Number(cached.ino) === stat.ino) {
      return { kind: 'file', sha256: cached.sha256 };
    }
    // Changed or unknown: the exact stat for the cache, then the content.
    const exact = link ? fs.statSync(absolute, { bigint: true }) : fs.lstatSync(absolute, { bigint: true });
    const bytes = fs.readFileSync(absolute);
    const entry: FileStat = { path: relativePath, size: Number(exact.size), mtimeNs: exact.mtimeNs, ino: exact.ino, sha256: sha256(bytes) };
    this.cache.set(relativePath, entry);
    this.fresh.set(relativePath, entry);
    return { kind: 'file', sha256: entry.sha256 };
  }

  /** Learn the stat of a file the engine just wrote, whose hash it already knows (its stat, when the writer has it). */
  learn(relativePath: string, sha: string, written?: fs.BigIntStats): FileStat {
    const stat = written ?? fs.statSync(path.join(this.runDir, relativePath), { bigint: true });
    const entry: FileStat = { path: relativePath, size: Number(stat.size), mtimeNs: stat.mtimeNs, ino: stat.ino, sha256: sha };
    this.cache.set(relativePath, entry);
    this.fresh.delete(relativePath);
    return entry;
  }

  forget(relativePath: string): void {
    this.cache.delete(relativePath);
    this.fresh.delete(relativePath);
  }

  /** Entries re-hashed since the last call, for the store's hash cache. */
  takeNewStats(): FileStat[] {
    const stats = [...this.fresh.values()];
    this.fresh.clear();
    return stats;
  }

  private symlinkProblem(absolute: string): string | null {
    let target: string;
    try {
      target = fs.realpathSync(absolute);
    } catch {
      return 'is a dangling symlink';
    }
    this.realRunDir ??= fs.realpathSync(this.runDir);
    const inside = path.relative(this.realRunDir, target);
    return inside.startsWith('..') || path.isAbsolute(inside) ? `is a symlink leading out of the run directory (to ${target})` : null;
  }
}

/** The modification time as Node's plain `Stats.mtimeMs` has it (seconds × 1e3 + nanoseconds ÷ 1e6, in doubles). */
function mtimeMsOf(mtimeNs: bigint): number {
  return Number(mtimeNs / NS_PER_S) * 1e3 + Number(mtimeNs % NS_PER_S) / 1e6;
}

const NS_PER_S = 1_000_000_000n;

export function isNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
