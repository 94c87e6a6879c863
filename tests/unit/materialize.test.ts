import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TEMP_PREFIX, removeTempFiles, writeFileAtomic } from '../../src/engine/materialize.js';
import { tempDir } from '../support/cli.js';

let dir: string;
beforeEach(() => {
  dir = tempDir('plan-materialize-');
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('writes the bytes, makes missing folders, leaves no temp file, and returns the stat of the file in place', () => {
    const stat = writeFileAtomic(dir, 'deep/er/out.txt', Buffer.from('hello'));
    const target = path.join(dir, 'deep', 'er', 'out.txt');
    expect(fs.readFileSync(target, 'utf8')).toBe('hello');
    const after = fs.statSync(target, { bigint: true });
    expect([stat.size, stat.mtimeNs, stat.ino]).toEqual([after.size, after.mtimeNs, after.ino]);
    expect(fs.readdirSync(path.join(dir, 'deep', 'er'))).toEqual(['out.txt']);
  });

  it('replaces a file whole, with a new inode, and returns the new one', () => {
    writeFileAtomic(dir, 'out.txt', Buffer.from('first version, longer'));
    const before = fs.statSync(path.join(dir, 'out.txt'), { bigint: true });
    const stat = writeFileAtomic(dir, 'out.txt', Buffer.from('second'));
    expect(fs.readFileSync(path.join(dir, 'out.txt'), 'utf8')).toBe('second');
    expect(stat.ino).not.toBe(before.ino);
    expect(stat.ino).toBe(fs.statSync(path.join(dir, 'out.txt'), { bigint: true }).ino);
    expect(stat.size).toBe(6n);
  });

  it('removeTempFiles clears what a killed writer left, and nothing else', () => {
    fs.writeFileSync(path.join(dir, `${TEMP_PREFIX}out.txt.123.1`), 'half');
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.writeFileSync(path.join(dir, 'sub', `${TEMP_PREFIX}x.txt.123.2`), 'half');
    fs.writeFileSync(path.join(dir, 'keep.txt'), 'kept');
    expect(removeTempFiles(dir)).toBe(2);
    expect(fs.readdirSync(dir, { recursive: true }).map(String).sort()).toEqual(['keep.txt', 'sub']);
  });
});
