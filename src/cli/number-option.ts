import { UsageError } from '../engine/errors.js';

/**
 * A numeric option, read as text so that a value that is no number is shown as typed ('abc') rather than as
 * the NaN a numeric parse makes of it. `rule` says what the option takes, e.g. "a whole number ≥ 1".
 */
export function numberOption(flag: string, raw: string | string[] | undefined, rule: string): number | undefined {
  if (raw === undefined) return undefined;
  // Given twice, the last one counts, as for every other option.
  const text = String(Array.isArray(raw) ? raw.at(-1) : raw).trim();
  const value = Number(text);
  if (text === '' || Number.isNaN(value)) throw new UsageError(`${flag} must be ${rule} ('${text}' is not a number)`);
  return value;
}
