import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireRunDirLock, LOCK_FILE, readHolder, type LockHolder } from '../../src/engine/lock.js';
import { LockedError } from '../../src/engine/errors.js';
import { tempDir } from '../support/cli.js';

let dir: string;
beforeEach(() => {
  dir = tempDir('plan-lock-');
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const lockPath = () => path.join(dir, LOCK_FILE);

function deadPid(): number {
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(dead.stdout.toString());
}

/** Puts a lock in place the way a peer's takeover lands: a whole file renamed over the name. */
function replaceLock(holder: LockHolder): void {
  fs.writeFileSync(`${lockPath()}.test-tmp`, JSON.stringify(holder));
  fs.renameSync(`${lockPath()}.test-tmp`, lockPath());
}

/** Field 22 of /proc/<pid>/stat, read independently of the code under test. */
function ownStartTime(): number {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
}

function acquireError(acquire: () => unknown): unknown {
  try {
    acquire();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('run dir lock', () => {
  it('is exclusive while held and names its holder; released, it can be taken again', () => {
    const lock = acquireRunDirLock(dir);
    expect(readHolder(lockPath())).toMatchObject({ pid: process.pid, host: hostname() });
    expect(() => acquireRunDirLock(dir)).toThrow(LockedError);
    expect(() => acquireRunDirLock(dir)).toThrow(new RegExp(`being built by pid ${process.pid} on ${hostname()} since \\d{4}-`));
    lock.release();
    expect(fs.existsSync(lockPath())).toBe(false);
    acquireRunDirLock(dir).release();
  });

  it('takes over a lock whose holder process is dead, and says so', () => {
    fs.writeFileSync(lockPath(), JSON.stringify({ pid: deadPid(), host: hostname(), since: '2020-01-01T00:00:00Z', token: 'old' }));
    const lock = acquireRunDirLock(dir);
    expect(lock.tookOver).toBe(true);
    expect(readHolder(lockPath())?.pid).toBe(process.pid);
    lock.release();
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('takes over a lock left unreadable long ago by a crash, but not one that may be being written now', () => {
    fs.writeFileSync(lockPath(), '');
    expect(() => acquireRunDirLock(dir)).toThrow(LockedError);
    const longAgo = new Date(Date.now() - 60_000);
    fs.utimesSync(lockPath(), longAgo, longAgo);
    const lock = acquireRunDirLock(dir);
    expect(lock.tookOver).toBe(true);
    expect(readHolder(lockPath())?.token).toBe(lock.holder.token);
    lock.release();
  });

  it('respects a holder on another host, which it cannot check', () => {
    fs.writeFileSync(lockPath(), JSON.stringify({ pid: 1, host: 'elsewhere', since: 'then', token: 't' }));
    expect(() => acquireRunDirLock(dir)).toThrow('being built by pid 1 on elsewhere since then');
    expect(() => acquireRunDirLock(dir, { foreignHolderGone: () => false })).toThrow('being built by pid 1 on elsewhere since then');
  });

  it('takes over a holder on another host that the caller knows is gone, and only that one', () => {
    fs.writeFileSync(lockPath(), JSON.stringify({ pid: 1, host: 'elsewhere', since: 'then', token: 't' }));
    const asked: string[] = [];
    const lock = acquireRunDirLock(dir, {
      foreignHolderGone: (holder) => {
        asked.push(`${holder.pid}@${holder.host}`);
        return true;
      },
    });
    expect(lock.tookOver).toBe(true);
    expect(asked).toEqual(['1@elsewhere']);
    expect(readHolder(lockPath())?.token).toBe(lock.holder.token);
    // A live holder on this host is never handed to the caller's judgement.
    expect(() => acquireRunDirLock(dir, { foreignHolderGone: () => true })).toThrow(`being built by pid ${process.pid}`);
    lock.release();
  });

  it('does not release a lock that another build took over', () => {
    const lock = acquireRunDirLock(dir);
    fs.writeFileSync(lockPath(), JSON.stringify({ pid: 1, host: 'elsewhere', since: 'then', token: 'other' }));
    lock.release();
    expect(readHolder(lockPath())?.token).toBe('other');
  });
});

describe('run dir lock takeover races', () => {
  const peer: LockHolder = { pid: process.pid, host: hostname(), since: '2024-05-01T00:00:00.000Z', token: 'peer' };

  /** Our attempt, with a live peer taking the lock over at the worst moment: after we judged it abandoned, before we act. */
  function acquireAsPeerTakesOverFirst(): unknown {
    let peerMoved = false;
    const beforeTakeover = () => {
      if (!peerMoved) replaceLock(peer);
      peerMoved = true;
    };
    return acquireError(() => acquireRunDirLock(dir, {}, { beforeTakeover }));
  }

  function expectPeerKeepsTheLock(error: unknown): void {
    expect(error).toBeInstanceOf(LockedError);
    expect((error as Error).message).toContain(`being built by pid ${process.pid} on ${hostname()} since ${peer.since}`);
    expect(readHolder(lockPath())).toEqual(peer);
    expect(fs.readdirSync(dir)).toEqual([LOCK_FILE]);
  }

  it("a peer that takes over the dead holder's lock just before us keeps it, and we fail naming it", () => {
    fs.writeFileSync(lockPath(), JSON.stringify({ pid: deadPid(), host: hostname(), since: '2020-01-01T00:00:00Z', token: 'dead' }));
    expectPeerKeepsTheLock(acquireAsPeerTakesOverFirst());
  });

  it('a peer that takes over an abandoned unreadable lock just before us keeps it, and we fail naming it', () => {
    fs.writeFileSync(lockPath(), '');
    const longAgo = new Date(Date.now() - 60_000);
    fs.utimesSync(lockPath(), longAgo, longAgo);
    expectPeerKeepsTheLock(acquireAsPeerTakesOverFirst());
  });
});

describe('run dir lock takeover claims', () => {
  // A takeover of the generation holding token `dead` is claimed by creating this file exclusively.
  const claimOfDead = () => path.join(dir, `${LOCK_FILE}.next-${createHash('sha256').update('holder dead').digest('hex').slice(0, 16)}`);
  const deadLock = () => JSON.stringify({ pid: deadPid(), host: hostname(), since: '2020-01-01T00:00:00Z', token: 'dead' });

  it('takes over a dead lock whose takeover was claimed by a process that died doing it', () => {
    fs.writeFileSync(lockPath(), deadLock());
    fs.writeFileSync(claimOfDead(), JSON.stringify({ pid: deadPid(), host: hostname(), since: 'then', token: 'claimant' }));
    const lock = acquireRunDirLock(dir);
    expect(lock.tookOver).toBe(true);
    expect(readHolder(lockPath())?.token).toBe(lock.holder.token);
    expect(fs.readdirSync(dir)).toEqual([LOCK_FILE]);
    lock.release();
  });

  it('leaves a takeover claimed by a live process to it', () => {
    fs.writeFileSync(lockPath(), deadLock());
    const claimant = { pid: process.pid, host: hostname(), since: 'now', token: 'claimant' };
    fs.writeFileSync(claimOfDead(), JSON.stringify(claimant));
    expect(() => acquireRunDirLock(dir)).toThrow(LockedError);
    expect(readHolder(lockPath())?.token).toBe('dead');
    expect(readHolder(claimOfDead())).toEqual(claimant);
  });
});

describe.runIf(process.platform === 'linux')('run dir lock and pid reuse', () => {
  it('records the holder process start time', () => {
    const lock = acquireRunDirLock(dir);
    expect(readHolder(lockPath())?.startTime).toBe(ownStartTime());
    lock.release();
  });

  it('takes over a live pid whose start time differs (the pid was reused), respects the one whose start time matches', () => {
    const holder = { pid: process.pid, host: hostname(), since: '2020-01-01T00:00:00Z', token: 'reused' };
    fs.writeFileSync(lockPath(), JSON.stringify({ ...holder, startTime: ownStartTime() - 1 }));
    const lock = acquireRunDirLock(dir);
    expect(lock.tookOver).toBe(true);
    lock.release();

    fs.writeFileSync(lockPath(), JSON.stringify({ ...holder, startTime: ownStartTime() }));
    expect(() => acquireRunDirLock(dir)).toThrow(`being built by pid ${process.pid}`);
  });

  it('keeps the pid-only check for a lock written without a start time', () => {
    fs.writeFileSync(lockPath(), JSON.stringify({ pid: process.pid, host: hostname(), since: 'then', token: 'older' }));
    expect(() => acquireRunDirLock(dir)).toThrow(`being built by pid ${process.pid}`);
  });
});
