import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileHasher, settled, sha256 } from '../../src/engine/hasher.js';
import type { FileStat } from '../../src/store/store.js';
import { tempDir } from '../support/cli.js';

let dir: string;
beforeEach(() => {
  dir = tempDir('plan-hasher-');
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Past one file-system timestamp tick: an entry hashed from now on is settled (not racily clean). */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 30));

describe('FileHasher', () => {
  it('hashes a file once; with the stat cache a no-op reads nothing, a changed stat re-hashes', async () => {
    fs.writeFileSync(path.join(dir, 'a.txt'), 'alpha');
    await settle();
    const cache = new Map<string, FileStat>();
    const first = new FileHasher(dir, cache);
    expect(first.state('a.txt')).toEqual({ kind: 'file', sha256: sha256('alpha') });
    expect(first.takeNewStats().map((s) => s.path)).toEqual(['a.txt']);

    // A second build with the same cache: the stat matches, so nothing is re-hashed.
    const second = new FileHasher(dir, cache);
    expect(second.state('a.txt')).toEqual({ kind: 'file', sha256: sha256('alpha') });
    expect(second.takeNewStats()).toEqual([]);

    // Same content, new mtime (touch): re-hashed, same sha.
    const later = new Date(Date.now() + 5_000);
    fs.utimesSync(path.join(dir, 'a.txt'), later, later);
    const third = new FileHasher(dir, cache);
    expect(third.state('a.txt')).toEqual({ kind: 'file', sha256: sha256('alpha') });
    expect(third.takeNewStats()).toHaveLength(1);

    fs.writeFileSync(path.join(dir, 'a.txt'), 'beta!');
    expect(new FileHasher(dir, cache).state('a.txt')).toEqual({ kind: 'file', sha256: sha256('beta!') });
  });

  it('sees an edit that keeps size and mtime (cp -p, touch -r, rsync -t): ctime is in the cached stat', async () => {
    const file = path.join(dir, 'a.txt');
    fs.writeFileSync(file, 'alpha');
    await settle();
    const cache = new Map<string, FileStat>();
    new FileHasher(dir, cache).state('a.txt');
    const reference = path.join(dir, 'times-of-a');
    execFileSync('cp', ['-p', file, reference]);
    await settle();
    // Same size, then the old times put back with the real tool: only the ctime tells.
    fs.writeFileSync(file, 'omega');
    execFileSync('touch', ['-r', reference, file]);
    expect(fs.statSync(file, { bigint: true }).mtimeNs).toBe(cache.get('a.txt')!.mtimeNs);
    expect(new FileHasher(dir, cache).state('a.txt')).toEqual({ kind: 'file', sha256: sha256('omega') });
  });

  it('re-hashes a racily clean entry (its stat taken within a timestamp tick of the change), once', async () => {
    const file = path.join(dir, 'a.txt');
    fs.writeFileSync(file, 'alpha');
    const cache = new Map<string, FileStat>();
    // Hashed at once after the write: another same-size write in the same tick would keep every stat field.
    new FileHasher(dir, cache).state('a.txt');
    expect(settled(cache.get('a.txt')!)).toBe(false);
    const next = new FileHasher(dir, cache);
    await settle();
    expect(next.state('a.txt')).toEqual({ kind: 'file', sha256: sha256('alpha') });
    expect(next.takeNewStats()).toHaveLength(1);
    expect(settled(cache.get('a.txt')!)).toBe(true);
    const after = new FileHasher(dir, cache);
    after.state('a.txt');
    expect(after.takeNewStats()).toEqual([]);
  });

  it('trusts an entry of a whole-second file system only two seconds after the change', () => {
    const base = { path: 'a', size: 1, ino: 1n, sha256: 'x' };
    const second = 1_000_000_000n;
    expect(settled({ ...base, mtimeNs: 100n * second, ctimeNs: 100n * second, statAtNs: 101n * second })).toBe(false);
    expect(settled({ ...base, mtimeNs: 100n * second, ctimeNs: 100n * second, statAtNs: 102n * second })).toBe(true);
    expect(settled({ ...base, mtimeNs: 100n * second + 5n, ctimeNs: 100n * second + 5n, statAtNs: 100n * second + 30_000_005n })).toBe(true);
    // A change in the future (a clock ahead, touch -d): never trusted, always hashed.
    expect(settled({ ...base, mtimeNs: 200n * second, ctimeNs: 100n * second, statAtNs: 150n * second })).toBe(false);
  });

  it('sees an mtime that moved by a few microseconds, and caches the exact nanoseconds', async () => {
    const file = path.join(dir, 'a.txt');
    fs.writeFileSync(file, 'alpha');
    await settle();
    const cache = new Map<string, FileStat>();
    new FileHasher(dir, cache).state('a.txt');
    const before = cache.get('a.txt')!;
    expect(before.mtimeNs).toBe(fs.statSync(file, { bigint: true }).mtimeNs);

    // Ten microseconds past the old time (floored to the microsecond). utimes takes seconds as a double, which
    // lands within a microsecond of the asked time: the move is 9 to 10 µs, well above the comparison's ~0.25 µs.
    const seconds = Number(before.mtimeNs / 1_000_000_000n) + 0.000_001 * (Number((before.mtimeNs / 1_000n) % 1_000_000n) + 10);
    fs.utimesSync(file, seconds, seconds);
    const moved = new FileHasher(dir, cache);
    expect(moved.state('a.txt')).toEqual({ kind: 'file', sha256: sha256('alpha') });
    expect(moved.takeNewStats()).toHaveLength(1);
    expect(cache.get('a.txt')!.mtimeNs).not.toBe(before.mtimeNs);
  });

  it('reports missing files, directories and symlinks that lead out of the run dir', () => {
    const hasher = new FileHasher(dir, new Map());
    expect(hasher.state('none.txt')).toEqual({ kind: 'missing' });
    fs.mkdirSync(path.join(dir, 'folder'));
    expect(hasher.state('folder')).toEqual({ kind: 'invalid', problem: 'is a directory, not a file' });
    const outside = tempDir('plan-outside-');
    fs.writeFileSync(path.join(outside, 'secret.txt'), 'x');
    fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(dir, 'link.txt'));
    expect(hasher.state('link.txt')).toMatchObject({ kind: 'invalid', problem: expect.stringContaining('symlink leading out of the run directory') });
    fs.writeFileSync(path.join(dir, 'inside.txt'), 'in');
    fs.symlinkSync(path.join(dir, 'inside.txt'), path.join(dir, 'ok-link.txt'));
    expect(hasher.state('ok-link.txt')).toEqual({ kind: 'file', sha256: sha256('in') });
    fs.rmSync(outside, { recursive: true, force: true });
  });
});
