/**
 * Keys must never reach the database, a log line or an error message. Every text the LLM layer records or
 * throws passes through `redact` with the keys in use at that moment.
 */

const MASK = '[redacted]';

/** Values too short to be a key would mask ordinary words; real keys are long. */
const MIN_SECRET_LENGTH = 8;

export function redact(text: string, secrets: readonly (string | null | undefined)[]): string {
  const out = maskSecrets(text, secrets);
  // An echoed header (some servers include the request in their error body) is masked whatever the key was.
  return out
    .replace(/(authorization["']?\s*[:=]\s*["']?)(bearer\s+)?[^\s"',}]+/gi, `$1$2${MASK}`)
    .replace(/\bbearer\s+[A-Za-z0-9._~+/=-]{8,}/gi, `Bearer ${MASK}`);
}

/**
 * Only the key values themselves, for model answers that tasks turn into files: unlike `redact`, it leaves
 * ordinary text alone ("bearer bonds", "Authorization: required").
 */
export function maskSecrets(text: string, secrets: readonly (string | null | undefined)[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret != null && secret.length >= MIN_SECRET_LENGTH) out = out.split(secret).join(MASK);
  }
  return out;
}

/** Redacts every string inside a JSON-like value (messages, parsed answers) before it is stored. */
export function redactDeep<T>(value: T, secrets: readonly (string | null | undefined)[]): T {
  if (typeof value === 'string') return redact(value, secrets) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => redactDeep(v, secrets)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactDeep(v, secrets);
    return out as T;
  }
  return value;
}
