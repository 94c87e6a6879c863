import { defineCommand } from '../args.js';
import { ExitCode } from '../exit-codes.js';
import { formatDuration, styleFor } from '../output.js';
import { formatCost, formatCount, isoTime, jsonCost, printJson } from '../format.js';
import { parseSince } from '../duration.js';
import { renderTable } from '../table.js';
import { openDatabase } from '../run-lookup.js';
import { dbLocationFor, SHARED_DB_OPTION } from '../run-resolution.js';
import type { SpendGrouping, SpendRow } from '../../store/store.js';
import { spendReport } from '../../store/views.js';

const GROUPINGS: readonly SpendGrouping[] = ['run', 'task', 'model', 'day'];

interface CostsArgs {
  by: SpendGrouping;
  since?: string;
  db?: string;
  json: boolean;
}

export const costsCommand = defineCommand({
  usage: 'costs',
  describe: 'spend on model calls from the database, per run, task, model or day',
  options: {
    by: { type: 'string', choices: GROUPINGS, default: 'run', describe: 'one row per run, task, model or day (UTC)' },
    since: { type: 'string', describe: 'only calls since: a duration back (7d, 12h) or a date (2025-01-31)' },
    db: SHARED_DB_OPTION,
    json: { type: 'boolean', default: false },
  },
  run: runCosts,
});

async function runCosts(args: CostsArgs): Promise<number> {
  const since = args.since === undefined ? undefined : parseSince(args.since, '--since');
  const opened = await openDatabase(args.db);
  let rows: SpendRow[] = [];
  if (opened !== null) {
    try {
      rows = await opened.store.summarizeSpend(args.by, { since });
    } finally {
      await opened.store.close();
    }
  }
  const { total } = spendReport(args.by, rows);

  if (args.json) {
    const json = ({ unpricedCalls, ...row }: SpendRow | Omit<SpendRow, 'key'>) => ({ ...row, costUsd: jsonCost(row.costUsd, unpricedCalls) });
    printJson({
      db: opened?.location ?? dbLocationFor(undefined, args.db),
      by: args.by,
      since: isoTime(since),
      rows: rows.map(json),
      total: json(total),
    });
    return ExitCode.ok;
  }
  if (rows.length === 0) {
    process.stdout.write(opened === null ? `no model calls (no database at ${dbLocationFor(undefined, args.db)})\n` : 'no model calls match\n');
    return ExitCode.ok;
  }
  const style = styleFor(process.stdout);
  const cells = (key: string, r: Omit<SpendRow, 'key'>): string[] => [
    key,
    String(r.calls),
    String(r.failedCalls),
    formatCount(r.inputTokens),
    formatCount(r.outputTokens),
    formatDuration(r.durationMs),
    formatCost(r.costUsd, r.unpricedCalls),
  ];
  process.stdout.write(
    renderTable(
      [
        { header: args.by.toUpperCase() + (args.by === 'day' ? ' (UTC)' : '') },
        { header: 'CALLS', align: 'right' },
        { header: 'FAILED', align: 'right' },
        { header: 'IN TOKENS', align: 'right' },
        { header: 'OUT TOKENS', align: 'right' },
        { header: 'MODEL TIME', align: 'right' },
        { header: 'COST', align: 'right' },
      ],
      [...rows.map((r) => cells(r.key, r)), cells('total', total)],
      style,
    ),
  );
  return ExitCode.ok;
}
