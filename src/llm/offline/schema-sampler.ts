import type { JsonSchema } from '../json-schema.js';
import type { SeededRandom } from './seeded-random.js';
import { offlineString } from './prose.js';

/**
 * Builds a value that satisfies a JSON schema (as zod's toJSONSchema writes them): the offline model's answer.
 * Every choice draws from one seeded stream in schema order, so the same request always gives the same value.
 */

/** Past this depth recursive schemas stop growing: arrays take their minimum, nullable fields become null. */
const MAX_DEPTH = 6;

export function sampleJson(schema: JsonSchema, random: SeededRandom, words: readonly string[]): unknown {
  return new Sampler(schema, random, words).sample(schema, 0);
}

class Sampler {
  constructor(
    private readonly root: JsonSchema,
    private readonly random: SeededRandom,
    private readonly words: readonly string[],
  ) {}

  sample(schema: JsonSchema, depth: number): unknown {
    if (typeof schema.$ref === 'string') return this.sample(this.resolve(schema.$ref), depth + 1);
    if ('const' in schema) return schema.const;
    if (Array.isArray(schema.enum) && schema.enum.length > 0) return this.random.pick(schema.enum);
    const union = asSchemas(schema.anyOf) ?? asSchemas(schema.oneOf);
    if (union) return this.sample(this.chooseBranch(union, depth), depth + 1);
    const all = asSchemas(schema.allOf);
    if (all) return this.sampleAllOf(all, depth);

    switch (this.chooseType(schema, depth)) {
      case 'object':
        return this.sampleObject(schema, depth);
      case 'array':
        return this.sampleArray(schema, depth);
      case 'string':
        return this.sampleString(schema);
      case 'integer':
        return this.sampleNumber(schema, true);
      case 'number':
        return this.sampleNumber(schema, false);
      case 'boolean':
        return this.random.bool();
      case 'null':
        return null;
      default:
        // `{}` (z.unknown(), or a type JSON cannot describe): any value passes, a marked string reads best.
        return offlineString(this.random, this.words);
    }
  }

  private resolve(ref: string): JsonSchema {
    if (ref === '#') return this.root;
    const path = ref
      .replace(/^#\//, '')
      .split('/')
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    let node: unknown = this.root;
    for (const key of path) node = isSchema(node) ? node[key] : undefined;
    if (!isSchema(node)) throw new Error(`offline model: unresolvable $ref ${ref}`);
    return node;
  }

  /** Prefer a real value over null (readers want content), except deep inside recursion where null ends it. */
  private chooseBranch(branches: JsonSchema[], depth: number): JsonSchema {
    const nonNull = branches.filter((b) => b.type !== 'null');
    if (nonNull.length === 0) return branches[0] ?? {};
    if (depth >= MAX_DEPTH && nonNull.length < branches.length) return { type: 'null' };
    return this.random.pick(nonNull);
  }

  private chooseType(schema: JsonSchema, depth: number): string | undefined {
    const type = schema.type;
    if (typeof type === 'string') return type;
    if (Array.isArray(type)) {
      const names = type.filter((t): t is string => typeof t === 'string');
      const real = names.filter((t) => t !== 'null');
      if (real.length === 0) return names[0];
      if (depth >= MAX_DEPTH && real.length < names.length) return 'null';
      return this.random.pick(real);
    }
    if (isSchema(schema.properties)) return 'object';
    if (isSchema(schema.items) || Array.isArray(schema.prefixItems)) return 'array';
    return undefined;
  }

  private sampleAllOf(parts: JsonSchema[], depth: number): unknown {
    const values = parts.map((p) => this.sample(p, depth + 1));
    if (values.every((v) => v !== null && typeof v === 'object' && !Array.isArray(v))) return Object.assign({}, ...values);
    return values[values.length - 1];
  }

  private sampleObject(schema: JsonSchema, depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const listed = Array.isArray(schema.required) ? schema.required : [];
    const required = new Set(listed.filter((r): r is string => typeof r === 'string'));
    const properties = isSchema(schema.properties) ? schema.properties : {};
    for (const [key, sub] of Object.entries(properties)) {
      if (!isSchema(sub)) continue;
      // Optional fields are filled too (a fuller answer reads better), until recursion must stop.
      if (!required.has(key) && depth >= MAX_DEPTH) continue;
      out[key] = this.sample(sub, depth + 1);
    }
    const extra = schema.additionalProperties;
    if (isSchema(extra) && Object.keys(properties).length === 0) {
      // A record: enum keys must all be present (zod checks exhaustiveness); free keys get a few examples.
      const names = isSchema(schema.propertyNames) && Array.isArray(schema.propertyNames.enum) ? schema.propertyNames.enum : null;
      const keys = names ? names.map(String) : this.recordKeys(depth);
      for (const key of keys) out[key] = this.sample(extra, depth + 1);
    }
    for (const key of required) if (!(key in out)) out[key] = offlineString(this.random, this.words);
    return out;
  }

  private recordKeys(depth: number): string[] {
    const count = depth >= MAX_DEPTH ? 0 : this.random.int(1, 3);
    return Array.from({ length: count }, (_, i) => `${this.random.pick(this.words)}_${i + 1}`);
  }

  private sampleArray(schema: JsonSchema, depth: number): unknown[] {
    const prefix = asSchemas(schema.prefixItems) ?? [];
    const min = numberOr(schema.minItems, 0);
    const max = numberOr(schema.maxItems, Infinity);
    const wanted = depth >= MAX_DEPTH ? min : this.random.int(2, 5);
    // A tuple (`items: false`) has exactly its prefix items.
    const cap = Math.min(max, schema.items === false ? prefix.length : Infinity);
    const count = Math.max(min, prefix.length, Math.min(cap, wanted));
    const items = isSchema(schema.items) ? schema.items : {};
    return Array.from({ length: count }, (_, i) => this.sample(prefix[i] ?? items, depth + 1));
  }

  private sampleString(schema: JsonSchema): string {
    const format = typeof schema.format === 'string' ? schema.format : null;
    const fixed = format ? formattedString(format, this.random) : null;
    if (fixed !== null) return fixed;
    return offlineString(this.random, this.words, numberOr(schema.minLength, 0), numberOr(schema.maxLength, Infinity));
  }

  private sampleNumber(schema: JsonSchema, integer: boolean): number {
    let lo = numberOr(schema.minimum, -Infinity);
    let hi = numberOr(schema.maximum, Infinity);
    const exclusiveLo = typeof schema.exclusiveMinimum === 'number' ? schema.exclusiveMinimum : null;
    const exclusiveHi = typeof schema.exclusiveMaximum === 'number' ? schema.exclusiveMaximum : null;
    const step = typeof schema.multipleOf === 'number' && schema.multipleOf > 0 ? schema.multipleOf : integer ? 1 : null;
    // Exclusive bounds move inwards by a step, or by a sliver of the range when any real number will do.
    const sliver = step ?? Math.max(1e-6, Math.min(0.01, ((exclusiveHi ?? hi) - (exclusiveLo ?? lo)) / 100 || 0.01));
    if (exclusiveLo !== null) lo = Math.max(lo, exclusiveLo + sliver);
    if (exclusiveHi !== null) hi = Math.min(hi, exclusiveHi - sliver);
    // Prefer friendly figures (1–100) when the schema allows them.
    const friendlyLo = Math.max(lo, 1);
    const friendlyHi = Math.min(hi, 100);
    const [from, to] = friendlyLo <= friendlyHi ? [friendlyLo, friendlyHi] : boundedWindow(lo, hi);
    if (step !== null) {
      const first = Math.ceil(from / step - 1e-9);
      const last = Math.floor(to / step + 1e-9);
      const k = last >= first ? this.random.int(first, last) : first;
      return roundLike(k * step, step);
    }
    const raw = from + this.random.next() * (to - from);
    const rounded = Math.round(raw * 100) / 100;
    return rounded >= from && rounded <= to ? rounded : raw;
  }
}

/** A window of at most 100 inside [lo, hi] when the friendly range is out of bounds. */
function boundedWindow(lo: number, hi: number): [number, number] {
  if (Number.isFinite(lo)) return [lo, Math.min(hi, lo + 100)];
  if (Number.isFinite(hi)) return [Math.max(lo, hi - 100), hi];
  return [1, 100];
}

/** k × 0.1 is 0.30000000000000004 in floating point; round to the step's own decimals. */
function roundLike(value: number, step: number): number {
  const decimals = (String(step).split('.')[1] ?? '').length;
  return decimals === 0 ? value : Number(value.toFixed(decimals));
}

function formattedString(format: string, random: SeededRandom): string | null {
  const hex = (n: number): string => Array.from({ length: n }, () => random.int(0, 15).toString(16)).join('');
  switch (format) {
    case 'email':
      return 'offline@example.com';
    case 'uri':
    case 'url':
      return `https://example.com/offline/${hex(6)}`;
    case 'uuid':
      return `${hex(8)}-${hex(4)}-4${hex(3)}-${random.pick(['8', '9', 'a', 'b'])}${hex(3)}-${hex(12)}`;
    case 'date-time':
      return `2025-01-${String(random.int(10, 28))}T${String(random.int(10, 23))}:00:00Z`;
    case 'date':
      return `2025-01-${String(random.int(10, 28))}`;
    case 'time':
      return `${String(random.int(10, 23))}:00:00`;
    case 'ipv4':
      return `192.0.2.${random.int(1, 254)}`;
    case 'ipv6':
      return `2001:db8::${random.int(1, 9999)}`;
    default:
      return null;
  }
}

function isSchema(value: unknown): value is JsonSchema {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function asSchemas(value: unknown): JsonSchema[] | null {
  return Array.isArray(value) && value.length > 0 ? value.filter(isSchema) : null;
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}
