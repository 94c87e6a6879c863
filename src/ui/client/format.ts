/** The CLI's formatting (src/cli/format.ts, output.ts), so a figure reads the same on the page as in the terminal. */

export function formatUsd(usd: number): string {
  if (usd === 0) return '$0';
  return usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

/** A total with calls of unknown price is a lower bound, or unknown. */
export function formatCost(usd: number | null, unpricedCalls = 0): string {
  if (usd === null) return 'unknown';
  if (unpricedCalls === 0) return formatUsd(usd);
  if (usd === 0) return 'unknown';
  return `≥ ${formatUsd(usd)} + ${unpricedCalls} call${unpricedCalls === 1 ? '' : 's'} of unknown price`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

export function formatDuration(ms: number | null): string {
  if (ms === null) return '-';
  if (ms < 1_000) return `${ms}ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)}s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1_000);
  return minutes < 60 ? `${minutes}m${String(seconds).padStart(2, '0')}s` : `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/** Local time to the minute (or second), as listings print it. */
export function formatTime(iso: string | null, seconds = false): string {
  if (iso === null) return '-';
  const d = new Date(iso);
  const pad = (n: number): string => String(n).padStart(2, '0');
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return seconds ? `${date}:${pad(d.getSeconds())}` : date;
}

export function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

export function truncate(text: string, max: number): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
}
