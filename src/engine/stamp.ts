import type { TaskParams } from './task.js';
import { describeCause, type DecisionCause } from './decision-cause.js';

/**
 * What a task was built from. Plain data in a fixed key order, so freshness is comparing two strings and a
 * difference can be explained field by field.
 */
export interface Stamp {
  version: string;
  params: TaskParams;
  /** Input path → sha256, for every output of every required task. */
  inputs: Record<string, string>;
}

export function serializeStamp(stamp: Stamp): string {
  const paths = Object.keys(stamp.inputs);
  if (paths.length > 1) paths.sort();
  return stampText(stampHead(stamp.version, stamp.params), paths, (filePath) => stamp.inputs[filePath]!);
}

// A stamp's text is built directly from two parts (it runs once per task on every build): the same text as
// JSON.stringify of the record with sorted keys. A caller may cache the head, which holds no input.

/** Version and parameters, up to the opening of the inputs. */
export function stampHead(version: string, params: TaskParams): string {
  return `{"version":${JSON.stringify(version)},"params":${sortedJson(params)},"inputs":{`;
}

/** The whole text: the head, then each input path (in sorted order) with its sha256. */
export function stampText(head: string, sortedPaths: readonly string[], sha256Of: (filePath: string) => string): string {
  let text = head;
  for (let i = 0; i < sortedPaths.length; i++) {
    text += `${i > 0 ? ',' : ''}${JSON.stringify(sortedPaths[i])}:${JSON.stringify(sha256Of(sortedPaths[i]!))}`;
  }
  return `${text}}}`;
}

function sortedJson(record: Readonly<Record<string, unknown>>): string {
  const keys = Object.keys(record);
  if (keys.length === 0) return '{}';
  if (keys.length > 1) keys.sort();
  let out = '{';
  for (let i = 0; i < keys.length; i++) out += `${i > 0 ? ',' : ''}${JSON.stringify(keys[i])}:${JSON.stringify(record[keys[i]!])}`;
  return `${out}}`;
}

export function parseStamp(text: string): Stamp {
  return JSON.parse(text) as Stamp;
}

/** How `current` differs from what the task was built from (the first difference), or null when it does not. */
export function stampChange(built: Stamp, current: Stamp): StampChange | null {
  if (built.version !== current.version) return { kind: 'version-changed', before: built.version, after: current.version };
  const param = firstDifference(built.params, current.params);
  if (param !== null) return { kind: 'param-changed', key: param.key, before: param.before, after: param.after };
  const input = firstDifference(built.inputs, current.inputs);
  if (input === null) return null;
  if (input.before === undefined) return { kind: 'input-added', path: input.key };
  if (input.after === undefined) return { kind: 'input-dropped', path: input.key };
  return { kind: 'input-changed', path: input.key, before: input.before, after: input.after };
}

/** The same, as the text a person reads. */
export function explainStampChange(built: Stamp, current: Stamp): string | null {
  const change = stampChange(built, current);
  return change === null ? null : describeCause(change);
}

type StampChange = Extract<DecisionCause, { kind: 'version-changed' | 'param-changed' | 'input-changed' | 'input-added' | 'input-dropped' }>;

function firstDifference<T>(
  before: Readonly<Record<string, T>>,
  after: Readonly<Record<string, T>>,
): { key: string; before: T | undefined; after: T | undefined } | null {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  for (const key of keys) {
    if (before[key] !== after[key]) return { key, before: before[key], after: after[key] };
  }
  return null;
}
