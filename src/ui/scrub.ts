/**
 * Secrets never reach a page. The store holds no API key, but a run's parameters and settings are what a person
 * typed: a model spec may carry a base URL with `user:password@`, a `--param` may be named like a key. What the
 * dashboard sends of them passes through `scrub`.
 */

const MASK = '[redacted]';

/** `scheme://user:pass@host` → `scheme://host`, anywhere in a text. */
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/)[^/\s@?#]*@/gi;

/** Parameter names whose values are shown masked. */
const SECRET_NAME = /(api[-_]?key|secret|token|password|passwd|auth)/i;

export function scrubText(text: string): string {
  return text.replace(URL_CREDENTIALS, '$1');
}

export function scrub<T>(value: T): T {
  if (typeof value === 'string') return scrubText(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => scrub(v)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) out[key] = SECRET_NAME.test(key) && typeof v === 'string' ? MASK : scrub(v);
    return out as T;
  }
  return value;
}
