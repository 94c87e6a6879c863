import { defineCommand } from '../args.js';
import { UsageError } from '../../engine/errors.js';
import { ExitCode } from '../exit-codes.js';
import { formatDuration, styleFor } from '../output.js';
import { formatCost, formatTime, jsonCost, printJson, truncate } from '../format.js';
import { parseSince } from '../duration.js';
import { renderTable } from '../table.js';
import { openDatabase } from '../run-lookup.js';
import { loadRunGraph } from '../run-graph.js';
import { dbLocationFor, SHARED_DB_OPTION } from '../run-resolution.js';
import { SHOWN_RUN_STATUSES, shownRunsOf, type ShownRun, type ShownRunStatus } from '../run-facts.js';
import type { RunRecord, RunStatus, RunTotals, Store } from '../../store/store.js';
import { runListing, type RunListing as StoredRunListing } from '../../store/views.js';

interface ListArgs {
  status: ShownRunStatus[];
  since?: string;
  promptContains?: string;
  latest?: number;
  db?: string;
  json: boolean;
}

export const listCommand = defineCommand({
  usage: 'list',
  describe: 'runs in the database, newest first: status, progress, cost, duration, model',
  options: {
    status: { type: 'string', array: true, choices: SHOWN_RUN_STATUSES, default: [], describe: 'only runs with this status (repeatable)' },
    since: { type: 'string', describe: 'only runs created since: a duration back (7d, 12h) or a date (2025-01-31)' },
    'prompt-contains': { type: 'string', describe: 'only runs whose prompt contains this text (any case)' },
    latest: { type: 'number', describe: 'only the newest N runs' },
    db: SHARED_DB_OPTION,
    json: { type: 'boolean', default: false },
  },
  run: runList,
});

export type RunListing = StoredRunListing<ShownRunStatus>;

async function runList(args: ListArgs): Promise<number> {
  if (args.latest !== undefined && (!Number.isInteger(args.latest) || args.latest < 1)) {
    throw new UsageError(`--latest takes a whole number ≥ 1 (got ${args.latest})`);
  }
  const createdSince = args.since === undefined ? undefined : parseSince(args.since, '--since');
  const opened = await openDatabase(args.db);
  const runs: RunListing[] = [];
  if (opened !== null) {
    try {
      for (const { record, shown } of await matchingRuns(opened.store, args, createdSince)) {
        runs.push(listing(shown, await opened.store.runTotals(record.id), await taskTotal(record)));
      }
    } finally {
      await opened.store.close();
    }
  }
  const db = opened?.location ?? dbLocationFor(undefined, args.db);
  if (args.json) {
    printJson({ db, runs: runs.map(({ unpricedCalls, ...run }) => ({ ...run, costUsd: jsonCost(run.costUsd, unpricedCalls) })) });
    return ExitCode.ok;
  }
  if (runs.length === 0) {
    process.stdout.write(opened === null ? `no runs (no database at ${db})\n` : 'no runs match\n');
    return ExitCode.ok;
  }
  const style = styleFor(process.stdout);
  const rows = runs.map((r) => [
    r.id,
    r.status,
    `${r.tasks.built}/${r.tasks.total ?? '?'}`,
    String(r.calls),
    formatCost(r.costUsd, r.unpricedCalls),
    r.durationMs === null ? '-' : formatDuration(r.durationMs),
    r.models[0] ?? '-',
    r.createdAt === null ? '-' : formatTime(Date.parse(r.createdAt)),
    r.prompt === null ? r.runDir : truncate(r.prompt, 40),
  ]);
  process.stdout.write(
    renderTable(
      [
        { header: 'RUN' },
        { header: 'STATUS' },
        { header: 'TASKS', align: 'right' },
        { header: 'CALLS', align: 'right' },
        { header: 'COST', align: 'right' },
        { header: 'DURATION', align: 'right' },
        { header: 'MODEL' },
        { header: 'CREATED' },
        { header: 'PROMPT / DIR' },
      ],
      rows,
      style,
    ),
  );
  return ExitCode.ok;
}

/**
 * The runs to list. The database knows `running`, not whether its build still lives: a filter that tells
 * `running` from `interrupted` asks it for `running` and looks at each run's lock, before --latest counts.
 */
async function matchingRuns(store: Store, args: ListArgs, createdSince: number | undefined): Promise<{ record: RunRecord; shown: ShownRun }[]> {
  const wanted = new Set(args.status);
  const statuses = [...new Set(args.status.map((status): RunStatus => (status === 'interrupted' ? 'running' : status)))];
  const split = wanted.has('running') !== wanted.has('interrupted');
  const found = await store.queryRuns({ statuses, createdSince, promptContains: args.promptContains, latest: split ? undefined : args.latest });
  const shown = await shownRunsOf(store, found);
  const runs = found.map((record, i) => ({ record, shown: shown[i]! }));
  return split ? runs.filter((run) => wanted.has(run.shown.status)).slice(0, args.latest) : runs;
}

function listing(run: ShownRun, totals: RunTotals, total: number | null): RunListing {
  return runListing(run, run, totals, total);
}

/** How many tasks the run has, from its pipeline's graph; null when the pipeline cannot be loaded any more. */
async function taskTotal(run: RunRecord): Promise<number | null> {
  try {
    return (await loadRunGraph(run)).graph.order.length;
  } catch {
    return null;
  }
}
