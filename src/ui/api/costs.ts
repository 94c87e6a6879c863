import type { SpendGrouping } from '../../store/store.js';
import { type SpendFigures, spendReport } from '../../store/views.js';
import { isoTime, type UiContext } from '../context.js';
import { HttpError } from '../http.js';
import { scrubText } from '../scrub.js';

/**
 * The costs page: model calls added up per run, task, model or UTC day — the store's `summarizeSpend`, sorted
 * and totalled as `plan costs --by … --json` does (src/cli/commands/costs.ts), so each figure is the one the
 * command prints. `costUsd` is null where calls of unknown price were made, as there; `knownCostUsd` and
 * `unpricedCalls` are added for the page, which shows such a cost as the command's table does (`unknown`, or
 * `≥ $x + N calls of unknown price`).
 */

export const GROUPINGS: readonly SpendGrouping[] = ['run', 'task', 'model', 'day'];

const UNIT_MS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `7d`, `30d`, `12h`, `2w` back from now, a date (`2025-01-31`), or `all` / nothing: no bound. */
export function parseSinceFilter(text: string | null, now = Date.now()): number | undefined {
  const trimmed = (text ?? '').trim();
  if (trimmed === '' || trimmed === 'all') return undefined;
  if (/^(\d+[smhdw])+$/.test(trimmed)) {
    let total = 0;
    for (const [, amount, unit] of trimmed.matchAll(/(\d+)([smhdw])/g)) total += Number(amount) * UNIT_MS[unit!]!;
    return now - total;
  }
  if (/^\d{4}-\d{2}-\d{2}/.test(trimmed) && !Number.isNaN(Date.parse(trimmed))) return Date.parse(trimmed);
  throw new HttpError(400, `since must be all, a duration back (7d, 30d, 12h) or a date (2025-01-31), not '${trimmed}'`);
}

export function parseGrouping(text: string | null): SpendGrouping {
  const by = text === null || text === '' ? 'run' : text;
  if (!(GROUPINGS as readonly string[]).includes(by)) throw new HttpError(400, `by must be one of ${GROUPINGS.join(', ')}, not '${by}'`);
  return by as SpendGrouping;
}

type Figures = SpendFigures;

function shown<T extends Figures & { key?: string }>({ unpricedCalls, ...row }: T) {
  // A model's name may carry a base URL with `user:password@`: never on a page.
  if (row.key !== undefined) row.key = scrubText(row.key);
  return { ...row, costUsd: unpricedCalls === 0 ? row.costUsd : null, knownCostUsd: row.costUsd, unpricedCalls };
}

export async function costs(ctx: UiContext, by: SpendGrouping, since: number | undefined) {
  // Ordered and totalled as plan costs does.
  const { rows, total } = spendReport(by, await ctx.store.summarizeSpend(by, { since }));
  return { db: ctx.location, by, since: isoTime(since), rows: rows.map(shown), total: shown(total) };
}
