import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireRunDirLock, LOCK_FILE, readHolder } from '../../src/engine/lock.js';
import { LockedError } from '../../src/engine/errors.js';
import { tempDir } from '../support/cli.js';

let dir: string;
beforeEach(() => {
  dir = tempDir('plan-lock-');
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('run dir lock', () => {
  it('is exclusive while held and names its holder; released, it can be taken again', () => {
    const lock = acquireRunDirLock(dir);
    expect(readHolder(path.join(dir, LOCK_FILE))).toMatchObject({ pid: process.pid, host: hostname() });
    expect(() => acquireRunDirLock(dir)).toThrow(LockedError);
    expect(() => acquireRunDirLock(dir)).toThrow(new RegExp(`being built by pid ${process.pid} on ${hostname()} since \\d{4}-`));
    lock.release();
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    acquireRunDirLock(dir).release();
  });

  it('takes over a lock whose holder process is dead, and says so', () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    const deadPid = Number(dead.stdout.toString());
    fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: deadPid, host: hostname(), since: '2020-01-01T00:00:00Z', token: 'old' }));
    const lock = acquireRunDirLock(dir);
    expect(lock.tookOver).toBe(true);
    expect(readHolder(path.join(dir, LOCK_FILE))?.pid).toBe(process.pid);
    lock.release();
  });

  it('respects a holder on another host, which it cannot check', () => {
    fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: 1, host: 'elsewhere', since: 'then', token: 't' }));
    expect(() => acquireRunDirLock(dir)).toThrow('being built by pid 1 on elsewhere since then');
  });

  it('does not release a lock that another build took over', () => {
    const lock = acquireRunDirLock(dir);
    fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: 1, host: 'elsewhere', since: 'then', token: 'other' }));
    lock.release();
    expect(readHolder(path.join(dir, LOCK_FILE))?.token).toBe('other');
  });
});
