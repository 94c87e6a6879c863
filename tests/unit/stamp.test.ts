import { describe, expect, it } from 'vitest';
import { explainStampChange, parseStamp, serializeStamp, type Stamp } from '../../src/engine/stamp.js';
import { decideTaskState } from '../../src/engine/decide.js';
import type { AttemptRecord } from '../../src/store/store.js';
import type { FileState } from '../../src/engine/hasher.js';

const base: Stamp = { version: '1', params: { speed: 'fast' }, inputs: { 'b.txt': 'b'.repeat(64), 'a.txt': 'a'.repeat(64) } };

function built(stamp: Stamp): AttemptRecord {
  return {
    id: 1,
    runId: 'r',
    taskId: 'T',
    status: 'complete',
    stamp: serializeStamp(stamp),
    outputs: { 'out.txt': 'x' },
    error: null,
    startedAt: 0,
    finishedAt: 0,
  };
}
const present = new Map<string, FileState>([['out.txt', { kind: 'file', sha256: 'x' }]]);

describe('stamps', () => {
  it('serialise in a fixed key order whatever the insertion order', () => {
    const reordered: Stamp = { inputs: { 'a.txt': 'a'.repeat(64), 'b.txt': 'b'.repeat(64) }, params: { speed: 'fast' }, version: '1' };
    expect(serializeStamp(reordered)).toBe(serializeStamp(base));
    expect(parseStamp(serializeStamp(base))).toEqual(base);
  });

  it('explain the first difference: version, then parameter, then input', () => {
    expect(explainStampChange(base, base)).toBeNull();
    expect(explainStampChange(base, { ...base, version: '2' })).toBe('version changed (1 → 2)');
    expect(explainStampChange(base, { ...base, params: { speed: 'full' } })).toBe('parameter speed changed ("fast" → "full")');
    expect(explainStampChange(base, { ...base, inputs: { ...base.inputs, 'a.txt': 'c'.repeat(64) } })).toBe(
      `input a.txt changed (${'a'.repeat(12)} → ${'c'.repeat(12)})`,
    );
    expect(explainStampChange(base, { ...base, inputs: { ...base.inputs, 'z.txt': 'z' } })).toBe('new input z.txt');
  });
});

describe('decideTaskState', () => {
  const decide = (overrides: Partial<Parameters<typeof decideTaskState>[0]>) =>
    decideTaskState({ built: built(base), stamp: base, outputs: present, forced: false, blockedBy: null, ...overrides });

  it('fresh when the stamp matches and every output is there', () => {
    expect(decide({})).toMatchObject({ state: 'fresh', reason: 'up to date' });
  });
  it('blocked by a failed upstream before anything else', () => {
    expect(decide({ blockedBy: 'Up', forced: true })).toMatchObject({ state: 'blocked', reason: 'upstream Up did not complete' });
  });
  it('missing when never built, or when an output is absent (naming it)', () => {
    expect(decide({ built: undefined, outputs: new Map([['out.txt', { kind: 'missing' }]]) })).toMatchObject({
      state: 'missing',
      reason: 'never built',
    });
    expect(decide({ outputs: new Map([['out.txt', { kind: 'missing' }]]) })).toMatchObject({
      state: 'missing',
      reason: 'output out.txt is missing',
      missing: ['out.txt'],
    });
  });
  it('adopts files already there for a task never built', () => {
    expect(decide({ built: undefined })).toMatchObject({ state: 'fresh', adopt: true });
  });
  it('stale with the stamp difference as reason, or when forced', () => {
    expect(decide({ stamp: { ...base, version: '3' } })).toMatchObject({ state: 'stale', reason: 'version changed (1 → 3)' });
    expect(decide({ forced: true })).toMatchObject({ state: 'stale', reason: 'forced' });
  });
  it('an output that is a directory makes the task unable to run', () => {
    const decision = decide({ outputs: new Map([['out.txt', { kind: 'invalid', problem: 'is a directory, not a file' }]]) });
    expect(decision.invalid).toBe('output out.txt is a directory, not a file');
  });
});
