/**
 * One `plan build` per run dir: a lock file naming its holder, taken over when that holder is dead.
 *
 * The takeover is the hard part. "Read the lock, see its holder dead, replace it" races with peers doing the
 * same, and a blind replace or delete can destroy the lock a peer has just taken, leaving two builds. So no step
 * here ever removes or overwrites a lock that may be live:
 * - A free lock is taken by link(2) of a fully written temp file, which fails when the name exists (and means
 *   no reader ever sees a half-written lock).
 * - Each lock generation (a holder's token; for an unreadable file, its inode and change time) can be replaced
 *   only by its one successor: the process that creates `.plan-lock.next-<generation>` exclusively. That process
 *   re-reads the lock and renames its claim over it only if the same generation is still there. Nothing else
 *   can change the lock in between: its holder is dead, and its only successor is this process.
 * - A claimant that died holding its claim leaves a claim with a dead holder, taken over the same way, so a
 *   crash at any moment leaves nothing stuck.
 *
 * Trade-off. Simpler schemes lose a lock: moving the lock aside and linking it back when it turns out live fails
 * once a third process creates a fresh lock while the name is empty; a single takeover-mutex file needs a
 * takeover of its own when its holder dies, with the same race. An OS lock (flock) would die with its process,
 * but Node has none, and the npm packages offering one (fs-ext, os-lock) are native modules. The price here: a
 * process killed in the microseconds between creating a claim or temp file and renaming or removing it leaves
 * that file behind (harmless, never read again). A holder is judged by pid and start time on this host; one on
 * another host (a shared volume, or the same volume after a container restart with a new hostname) only by
 * what the caller knows of it — the build asks the run's lease in the database (see build.ts) — and is
 * otherwise respected until someone removes its lock.
 */
import fs from 'node:fs';
import path from 'node:path';
import { hostname } from 'node:os';
import { createHash, randomBytes } from 'node:crypto';
import { LockedError } from './errors.js';

export const LOCK_FILE = '.plan-lock';

export interface LockHolder {
  pid: number;
  host: string;
  since: string;
  token: string;
  /** When the holder process started (Linux: clock ticks after boot): tells a reused pid from the holder. */
  startTime?: number;
}

export interface RunDirLock {
  readonly holder: LockHolder;
  /** True when the lock was taken over from a dead process (so the last build crashed). */
  readonly tookOver: boolean;
  release(): void;
}

export interface LockOptions {
  /**
   * Whether a holder on another host, which cannot be checked from here, is known to be gone (its run's lease
   * has ended or passed to another build): its lock is then taken over like a dead local holder's.
   */
  foreignHolderGone?: (holder: LockHolder) => boolean;
}

/** Seams for tests; not part of the command line or the public API. */
interface LockInternals {
  /** Called when a lock or claim file has been judged abandoned, just before it is taken over. */
  beforeTakeover?: (file: string) => void;
}

const TRIES = 50;
const RETRY_PAUSE_MS = 5;
/** Only an older version or a damaged disk leaves an unreadable lock; this old, its writer has surely finished. */
const UNREADABLE_ABANDONED_MS = 2_000;

export function acquireRunDirLock(runDir: string, options: LockOptions = {}, internals: LockInternals = {}): RunDirLock {
  const lockPath = path.join(runDir, LOCK_FILE);
  const holder: LockHolder = {
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
    token: randomBytes(8).toString('hex'),
    startTime: processStartTime(process.pid),
  };
  const content = JSON.stringify(holder);
  const held = (tookOver: boolean): RunDirLock => ({ holder, tookOver, release: () => releaseIfOurs(lockPath, holder.token) });
  for (let tries = 0; tries < TRIES; tries++) {
    if (createExclusive(lockPath, content)) return held(false);
    const found = inspect(lockPath);
    if (found === null) continue; // released meanwhile
    if (!isAbandoned(found, options)) {
      if (found.holder !== null) {
        const { pid, host, since } = found.holder;
        throw new LockedError(`run dir ${runDir} is being built by pid ${pid} on ${host} since ${since}; wait for it or stop it`);
      }
      pause();
      continue;
    }
    const outcome = replaceAbandoned(lockPath, found, content, internals);
    if (outcome === 'replaced') return held(true);
    if (outcome === 'busy') pause();
  }
  throw new LockedError(`could not take the lock of run dir ${runDir}: other builds keep taking it`);
}

interface Inspection {
  /** What this version of the file is: it changes whenever the file is replaced. */
  generation: string;
  holder: LockHolder | null;
  modifiedMs: number;
}

/**
 * Replaces `file`, found abandoned, by a file with `content`, unless another process does so first. Only the
 * creator of the claim for this generation replaces it, and only while the file still holds that generation.
 */
function replaceAbandoned(file: string, found: Inspection, content: string, internals: LockInternals): 'replaced' | 'retry' | 'busy' {
  internals.beforeTakeover?.(file);
  const claim = path.join(path.dirname(file), `${LOCK_FILE}.next-${createHash('sha256').update(found.generation).digest('hex').slice(0, 16)}`);
  if (!createExclusive(claim, content)) {
    const rival = inspect(claim);
    if (rival === null) return 'retry';
    // A claim is judged on this host only: its writer is a peer taking over here, never a foreign builder.
    if (!isAbandoned(rival, {})) return 'busy'; // a live peer is finishing this takeover
    const outcome = replaceAbandoned(claim, rival, content, internals);
    if (outcome !== 'replaced') return outcome;
  }
  if (inspect(file)?.generation !== found.generation) {
    // Taken over or released since we looked; the claim is ours, so removing it cannot harm a peer.
    fs.rmSync(claim, { force: true });
    return 'retry';
  }
  fs.renameSync(claim, file);
  return 'replaced';
}

/** Creates `file` holding `content` unless the name exists; readers never see it half-written. */
function createExclusive(file: string, content: string): boolean {
  const temp = path.join(path.dirname(file), `${LOCK_FILE}.tmp-${randomBytes(6).toString('hex')}`);
  fs.writeFileSync(temp, content, { flag: 'wx' });
  try {
    fs.linkSync(temp, file);
    return true;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw error;
  } finally {
    fs.rmSync(temp, { force: true });
  }
  // No hard links on this file system (FAT, some network shares): create in place, readable half-written for a moment.
  try {
    fs.writeFileSync(file, content, { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as { code?: unknown }).code === 'EEXIST') return false;
    throw error;
  }
}

/** The file's holder and generation, read through one descriptor so that both describe the same file. */
function inspect(file: string): Inspection | null {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return null;
    throw error;
  }
  try {
    const stat = fs.fstatSync(fd, { bigint: true });
    const holder = parseHolder(fs.readFileSync(fd, 'utf8'));
    const generation = holder !== null ? `holder ${holder.token}` : `unreadable ${stat.dev}:${stat.ino}:${stat.ctimeNs}:${stat.size}`;
    return { generation, holder, modifiedMs: Number(stat.mtimeMs) };
  } finally {
    fs.closeSync(fd);
  }
}

function isAbandoned(found: Inspection, options: LockOptions): boolean {
  if (found.holder === null) return Date.now() - found.modifiedMs > UNREADABLE_ABANDONED_MS;
  if (found.holder.host !== hostname()) return options.foreignHolderGone?.(found.holder) === true;
  return !isAlive(found.holder);
}

export function readHolder(lockPath: string): LockHolder | null {
  try {
    return parseHolder(fs.readFileSync(lockPath, 'utf8'));
  } catch {
    return null;
  }
}

function parseHolder(text: string): LockHolder | null {
  try {
    const parsed = JSON.parse(text) as Partial<LockHolder>;
    if (typeof parsed.pid !== 'number' || typeof parsed.host !== 'string') return null;
    const holder: LockHolder = { pid: parsed.pid, host: parsed.host, since: String(parsed.since), token: String(parsed.token) };
    if (typeof parsed.startTime === 'number') holder.startTime = parsed.startTime;
    return holder;
  } catch {
    return null;
  }
}

/**
 * Whether the process holding a lock still runs (a holder on another host is assumed alive: it cannot be
 * checked). A live pid that started at another time than the holder is a reused pid, so the holder is dead;
 * a lock written without a start time is judged by its pid alone.
 */
export function isAlive(holder: LockHolder): boolean {
  if (holder.host !== hostname()) return true;
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'EPERM') return false;
  }
  if (holder.startTime === undefined) return true;
  const startTime = processStartTime(holder.pid);
  return startTime === undefined || startTime === holder.startTime;
}

/** Linux: field 22 of /proc/<pid>/stat, in clock ticks after boot. Undefined elsewhere, or when unreadable. */
export function processStartTime(pid: number): number | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2, the command name in parentheses, may itself hold spaces and ')': count from the last ')'.
    const startTime = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    return Number.isSafeInteger(startTime) ? startTime : undefined;
  } catch {
    return undefined;
  }
}

function releaseIfOurs(lockPath: string, token: string): void {
  if (readHolder(lockPath)?.token === token) fs.rmSync(lockPath, { force: true });
}

function pause(): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, RETRY_PAUSE_MS);
}
