import { UsageError } from '../engine/errors.js';

const UNIT_MS: Readonly<Record<string, number>> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const DURATION = /^(\d+[smhdw])+$/;
const DATE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** `90d`, `12h`, `1h30m`, `2w`, `45s` → milliseconds; anything else is a usage error naming the option. */
export function parseDuration(text: string, option: string): number {
  const trimmed = text.trim();
  if (!DURATION.test(trimmed)) throw badDuration(text, option, false);
  let total = 0;
  for (const [, amount, unit] of trimmed.matchAll(/(\d+)([smhdw])/g)) total += Number(amount) * UNIT_MS[unit!]!;
  return total;
}

/** A point in time: a duration back from now (`7d`) or a date (`2025-01-31`, UTC midnight; or a full ISO time). */
export function parseSince(text: string, option: string, now = Date.now()): number {
  const trimmed = text.trim();
  if (DURATION.test(trimmed)) return now - parseDuration(trimmed, option);
  if (DATE.test(trimmed)) {
    const at = Date.parse(trimmed);
    if (!Number.isNaN(at)) return at;
  }
  throw badDuration(text, option, true);
}

function badDuration(text: string, option: string, dateToo: boolean): UsageError {
  const hint = dateToo ? 'a number and a unit (30m, 12h, 90d, 2w) or a date (2025-01-31)' : 'a number and a unit: 30m, 12h, 90d, 2w';
  return new UsageError(`bad duration '${text}' for ${option}: use ${hint}`);
}
