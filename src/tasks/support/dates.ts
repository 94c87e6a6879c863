/** Calendar arithmetic on `YYYY-MM-DD` dates, in UTC so a plan's dates never depend on the machine's zone. */

const DAY_MS = 86_400_000;

/** The UTC date of an ISO timestamp, as `YYYY-MM-DD`. */
export function isoDate(timestamp: string): string {
  const ms = Date.parse(timestamp);
  if (Number.isNaN(ms)) throw new Error(`not an ISO date or timestamp: '${timestamp}'`);
  return new Date(ms).toISOString().slice(0, 10);
}

export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/** `2026-Mar-12`, the way the plan text states today's date. */
export function longDate(date: string): string {
  const d = new Date(`${date}T00:00:00Z`);
  const month = d.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' });
  return `${d.getUTCFullYear()}-${month}-${String(d.getUTCDate()).padStart(2, '0')}`;
}
