import type { TaskParams } from './task.js';

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
  return JSON.stringify({ version: stamp.version, params: sortKeys(stamp.params), inputs: sortKeys(stamp.inputs) });
}

export function parseStamp(text: string): Stamp {
  return JSON.parse(text) as Stamp;
}

function sortKeys<T>(record: Readonly<Record<string, T>>): Record<string, T> {
  const sorted: Record<string, T> = {};
  for (const key of Object.keys(record).sort()) sorted[key] = record[key]!;
  return sorted;
}

/** Why `current` differs from what the task was built from, or null when it does not. */
export function explainStampChange(built: Stamp, current: Stamp): string | null {
  if (built.version !== current.version) return `version changed (${built.version} → ${current.version})`;
  const param = firstDifference(built.params, current.params);
  if (param !== null) return `parameter ${param.key} changed (${show(param.before)} → ${show(param.after)})`;
  const input = firstDifference(built.inputs, current.inputs);
  if (input === null) return null;
  if (input.before === undefined) return `new input ${input.key}`;
  if (input.after === undefined) return `input ${input.key} is no longer required`;
  return `input ${input.key} changed (${short(input.before)} → ${short(input.after)})`;
}

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

function show(value: unknown): string {
  if (value === undefined) return 'unset';
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 37)}…` : text;
}

function short(sha256: string): string {
  return sha256.slice(0, 12);
}
