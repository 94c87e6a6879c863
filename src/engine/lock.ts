import fs from 'node:fs';
import path from 'node:path';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { LockedError } from './errors.js';

export const LOCK_FILE = '.plan-lock';

export interface LockHolder {
  pid: number;
  host: string;
  since: string;
  token: string;
}

export interface RunDirLock {
  readonly holder: LockHolder;
  /** True when the lock was taken over from a dead process (so the last build crashed). */
  readonly tookOver: boolean;
  release(): void;
}

/**
 * One `plan build` per run dir. The lock is a file created with O_EXCL naming its holder; a lock whose holder
 * is dead (same host, no such pid) is taken over. A holder on another host cannot be checked and is respected.
 */
export function acquireRunDirLock(runDir: string): RunDirLock {
  const lockPath = path.join(runDir, LOCK_FILE);
  const holder: LockHolder = { pid: process.pid, host: hostname(), since: new Date().toISOString(), token: randomBytes(8).toString('hex') };
  let tookOver = false;
  for (let tries = 0; tries < 5; tries++) {
    try {
      fs.writeFileSync(lockPath, JSON.stringify(holder), { flag: 'wx' });
      return { holder, tookOver, release: () => releaseIfOurs(lockPath, holder.token) };
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'EEXIST') throw error;
    }
    const current = readHolder(lockPath);
    if (current === null) {
      // Released meanwhile, or being written right now; an unreadable lock that stays so was left by a crash.
      if (unreadableForLong(lockPath)) fs.rmSync(lockPath, { force: true });
      else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
      continue;
    }
    if (isAlive(current)) {
      throw new LockedError(
        `run dir ${runDir} is being built by pid ${current.pid} on ${current.host} since ${current.since}; wait for it or stop it`,
      );
    }
    // Move the dead holder's lock aside atomically; if someone else got there first, their lock stands.
    const aside = `${lockPath}.stale-${holder.token}`;
    try {
      fs.renameSync(lockPath, aside);
    } catch {
      continue;
    }
    const moved = readHolder(aside);
    fs.rmSync(aside, { force: true });
    if (moved?.token !== current.token) continue;
    tookOver = true;
  }
  throw new LockedError(`could not take the lock of run dir ${runDir}: other builds keep taking it`);
}

export function readHolder(lockPath: string): LockHolder | null {
  try {
    const parsed = JSON.parse(fs.readFileSync(lockPath, 'utf8')) as Partial<LockHolder>;
    if (typeof parsed.pid !== 'number' || typeof parsed.host !== 'string') return null;
    return { pid: parsed.pid, host: parsed.host, since: String(parsed.since), token: String(parsed.token) };
  } catch {
    return null;
  }
}

function unreadableForLong(lockPath: string): boolean {
  try {
    return Date.now() - fs.statSync(lockPath).mtimeMs > 2_000;
  } catch {
    return false;
  }
}

/** Whether the process holding a lock still runs (a holder on another host is assumed alive: it cannot be checked). */
export function isAlive(holder: LockHolder): boolean {
  if (holder.host !== hostname()) return true;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: unknown }).code === 'EPERM';
  }
}

function releaseIfOurs(lockPath: string, token: string): void {
  if (readHolder(lockPath)?.token === token) fs.rmSync(lockPath, { force: true });
}
