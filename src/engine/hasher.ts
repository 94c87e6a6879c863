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
 * Content hashes of run-dir files with the git-index trick: a file whose `(size, mtime_ns, ctime_ns, inode)`
 * matches the cache is not read again, so a no-op build costs one `lstat` per file.
 *
 * Racily clean entries (git's term): a file changed again within one file-system timestamp tick of the moment
 * its stat was taken keeps every stat field, so an entry is trusted only when its stat was taken at least a
 * tick after the file's last change; otherwise the file is hashed again (once: the new entry is then settled).
 * A file the engine just wrote is racy by that rule, so the build after it re-hashes it once.
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
    if (cached && matches(cached, stat) && settled(cached)) return { kind: 'file', sha256: cached.sha256 };
    // Changed, unknown or racy: the exact stat for the cache (taken before the read: a change during the read
    // then shows as a newer ctime next time), then the content.
    const statAtNs = nowNs();
    const exact = link ? fs.statSync(absolute, { bigint: true }) : fs.lstatSync(absolute, { bigint: true });
    const bytes = fs.readFileSync(absolute);
    const entry = entryOf(relativePath, exact, sha256(bytes), statAtNs);
    this.cache.set(relativePath, entry);
    this.fresh.set(relativePath, entry);
    return { kind: 'file', sha256: entry.sha256 };
  }

  /**
   * Learn the stat of a file whose content hash is known (the engine wrote those bytes): the stat given (taken
   * on the open file after its rename: a rename changes the ctime), else one taken now.
   */
  learn(relativePath: string, sha: string, written?: fs.BigIntStats): FileStat {
    const statAtNs = nowNs();
    const stat = written ?? fs.statSync(path.join(this.runDir, relativePath), { bigint: true });
    const entry = entryOf(relativePath, stat, sha, statAtNs);
    this.cache.set(relativePath, entry);
    this.fresh.delete(relativePath);
    return entry;
  }

  /** The cache's entry for a file, if any (whatever its state). */
  entry(relativePath: string): FileStat | undefined {
    return this.cache.get(relativePath);
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

/** A hash-cache entry: `stat` must have been taken no earlier than `statAtNs`, and before `sha` was read. */
export function entryOf(relativePath: string, stat: fs.BigIntStats, sha: string, statAtNs: bigint): FileStat {
  return { path: relativePath, size: Number(stat.size), mtimeNs: stat.mtimeNs, ctimeNs: stat.ctimeNs, ino: stat.ino, sha256: sha, statAtNs };
}

/** The cached stat is the file's stat now (compared as Node's plain `Stats` has the times: doubles in ms). */
function matches(cached: FileStat, stat: fs.Stats): boolean {
  return (
    cached.size === stat.size && msOf(cached.mtimeNs) === stat.mtimeMs && msOf(cached.ctimeNs) === stat.ctimeMs && Number(cached.ino) === stat.ino
  );
}

/**
 * The stat was taken at least one timestamp tick after the file's last change, so any later change shows in
 * ctime. A tick is at most 10 ms where the file system keeps sub-second times (Linux's coarse clock); where
 * it keeps whole seconds (both times end in .000000000), it is taken as 2 s.
 */
export function settled(entry: FileStat): boolean {
  // biome-ignore lint/complexity/useMathMinMax: bigints, which Math.max does not take
  const changed = entry.ctimeNs > entry.mtimeNs ? entry.ctimeNs : entry.mtimeNs;
  const wholeSeconds = entry.mtimeNs % NS_PER_S === 0n && entry.ctimeNs % NS_PER_S === 0n;
  return entry.statAtNs - changed >= (wholeSeconds ? COARSE_TICK_NS : TICK_NS);
}

const NS_PER_S = 1_000_000_000n;
const TICK_NS = 20_000_000n;
const COARSE_TICK_NS = 2n * NS_PER_S;

export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/** A time in ns as Node's plain `Stats.mtimeMs`/`ctimeMs` has it (seconds × 1e3 + nanoseconds ÷ 1e6, in doubles). */
function msOf(ns: bigint): number {
  return Number(ns / NS_PER_S) * 1e3 + Number(ns % NS_PER_S) / 1e6;
}

export function isNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
