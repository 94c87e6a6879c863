import { terminalText } from './terminal-text.js';
/** Small formatters shared by the inspection commands (the human side; `--json` prints raw values). */

export function formatUsd(usd: number): string {
  if (usd === 0) return '$0';
  return usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

/**
 * A total that may include calls of a model without a known price: those are not $0, so the total is
 * "unknown", or with some priced calls a lower bound that says how many calls it leaves out.
 */
export function formatCost(usd: number, unpricedCalls: number, known: (usd: number) => string = formatUsd): string {
  if (unpricedCalls === 0) return known(usd);
  if (usd === 0) return 'unknown';
  return `≥ ${known(usd)} + ${unpricedCalls} call${unpricedCalls === 1 ? '' : 's'} of unknown price`;
}

/** A call that used tokens of a model without a known price; one without tokens (no answer) cost nothing. */
export function isUnpriced(call: { costUsd: number | null; inputTokens: number | null; outputTokens: number | null }): boolean {
  return call.costUsd === null && (call.inputTokens !== null || call.outputTokens !== null);
}

/** `--json`'s cost of a total: null (unknown) when a call in it had no known price, like a single call's. */
export function jsonCost(usd: number, unpricedCalls: number): number | null {
  return unpricedCalls === 0 ? usd : null;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** Local time to the minute (or second), the way a person reads a listing. */
export function formatTime(epochMs: number, seconds = false): string {
  const d = new Date(epochMs);
  const pad = (n: number): string => String(n).padStart(2, '0');
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return seconds ? `${date}:${pad(d.getSeconds())}` : date;
}

/** `--json` times are ISO 8601 UTC strings (null when unknown). */
export { isoTime } from '../store/views.js';

export function shortSha(sha256: string | null | undefined): string {
  return sha256 ? sha256.slice(0, 12) : '-';
}

export function truncate(text: string, max: number): string {
  const oneLine = terminalText(text.replace(/\s+/g, ' ').trim());
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
