import { createHash } from 'node:crypto';
import type { ChatMessage } from './types.js';
import type { JsonSchema } from './json-schema.js';

/**
 * What identifies a call for replay. The model is left out on purpose: a run resumed on another model (the
 * first one down or too dear) still replays the answers it already paid for.
 */
export interface HashedRequest {
  kind: 'json' | 'text';
  messages: readonly ChatMessage[];
  schemaName: string | null;
  jsonSchema: JsonSchema | null;
  itemKey: string | null;
  turn: number | null;
  /** Only when the call sets one (absent keys leave the hashes of calls that set none as they were). */
  temperature?: number;
}

export function requestHash(request: HashedRequest): string {
  return sha256Hex(canonicalJson(request));
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** JSON with object keys sorted at every level, so equal values always hash alike. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}
