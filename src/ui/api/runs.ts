import type { RunRecord, RunTotals } from '../../store/store.js';
import { promptOf, runListing, type RunListing as StoredRunListing } from '../../store/views.js';
import type { UiContext } from '../context.js';
import type { GraphTask, ShownStatus } from '../engine-callbacks.js';
import { layoutGraph } from '../layout.js';
import { scrub, scrubText } from '../scrub.js';

/** The runs page: every run, newest first, with the figures `plan list` gives. */

export type RunListing = StoredRunListing<ShownStatus['status']>;

/** How many of the newest listed runs get their graph laid out ahead of a visit. */
const WARM_LAYOUTS = 10;

/** Engines whose build engine a dry run has loaded already (see listRuns). */
const engineWarmed = new WeakSet<object>();

export interface RunsFilter {
  /** Only runs with one of these statuses (as shown: `interrupted` included); empty: all. */
  statuses: readonly string[];
  /** Case-insensitive text in the run's id, prompt or dir. */
  text: string;
}

export async function listRuns(ctx: UiContext, filter: RunsFilter): Promise<{ db: string; runs: RunListing[] }> {
  const records = await ctx.store.queryRuns({});
  const shown = await ctx.engine.shownStatuses(records);
  const text = filter.text.trim().toLowerCase();
  const wanted = new Set(filter.statuses);
  const runs: RunListing[] = [];
  const graphs: GraphTask[][] = [];
  let smallest: { record: RunRecord; tasks: number } | null = null;
  for (const [i, record] of records.entries()) {
    const status = shown[i]!;
    if (wanted.size > 0 && !wanted.has(status.status)) continue;
    const prompt = promptOf(record);
    if (text !== '' && ![record.id, prompt ?? '', record.runDir].some((field) => field.toLowerCase().includes(text))) continue;
    const [totals, graph] = await Promise.all([ctx.store.runTotals(record.id), ctx.engine.graph(record).catch(() => null)]);
    runs.push(listing(record, status, totals, graph?.length ?? null));
    if (graph !== null && runs.length <= WARM_LAYOUTS) {
      graphs.push([...graph]);
      if (smallest === null || graph.length < smallest.tasks) smallest = { record, tasks: graph.length };
    }
  }
  // A run's page is most often opened from here: lay out the newest runs' graphs now (once per shape, cached),
  // after this answer has gone out, so the run page draws at once; and, once per dashboard, one dry run (of the
  // smallest of them) loads the build engine that every run page's decisions need.
  const dryRun = smallest !== null && !engineWarmed.has(ctx.engine) ? smallest.record : null;
  if (dryRun !== null) engineWarmed.add(ctx.engine);
  if (graphs.length > 0 || dryRun !== null)
    setImmediate(() => {
      for (const graph of graphs) layoutGraph(graph);
      if (dryRun !== null) void ctx.engine.decide(dryRun).catch(() => null);
    });
  return { db: ctx.location, runs };
}

function listing(run: RunRecord, shown: ShownStatus, totals: RunTotals, total: number | null): RunListing {
  const listed = runListing(run, shown, totals, total);
  // A prompt or a model's base URL may carry a secret a person pasted: never on a page.
  return { ...listed, prompt: listed.prompt === null ? null : scrubText(listed.prompt), models: scrub(listed.models) };
}
