import { describe, expect, it } from 'vitest';
import { checkTargetPath } from '../../src/engine/target.js';
import { taskId } from '../../src/engine/task.js';

describe('checkTargetPath', () => {
  it.each([
    ['a.txt', null],
    ['dir/sub/a.md', null],
    ['../a.txt', 'escapes the run directory'],
    ['dir/../../a.txt', 'escapes the run directory'],
    ['dir/../a.txt', "is not in normal form (use 'a.txt')"],
    ['/tmp/a.txt', 'is absolute'],
    ['C:\\x', 'contains a backslash (use forward slashes)'],
    ['./a.txt', "is not in normal form (use 'a.txt')"],
    ['', 'is empty'],
    ['dir/', 'names a directory, not a file'],
    ['.plan-lock', "uses the reserved prefix '.plan-'"],
  ])('%j → %j', (input, expected) => {
    expect(checkTargetPath(input)).toBe(expected);
  });
});

describe('taskId', () => {
  it('is the class name alone without parameters, and sorted key=value pairs with them', () => {
    expect(taskId('Setup', {})).toBe('Setup');
    expect(taskId('Chunk', { b: 2, a: 'x' })).toBe('Chunk(a=x,b=2)');
    expect(taskId('Chunk', { a: 'two words', b: null, c: true })).toBe('Chunk(a="two words",b=null,c=true)');
  });
});
