import type { UiContext } from '../context.js';
import { loadRun } from './run.js';

/**
 * What `plan cancel` does: mark the run in the database; its build (in another process, on any machine
 * sharing the database) sees the mark within 250 ms, stops, and exits 130. A run with no live build has
 * nothing to cancel.
 */
export async function cancelRun(ctx: UiContext, runId: string): Promise<{ runId: string; outcome: 'requested' | 'not-running'; status: string }> {
  const run = await loadRun(ctx, runId);
  const [shown] = await ctx.engine.shownStatuses([run]);
  if (shown!.status !== 'running') return { runId: run.id, outcome: 'not-running', status: shown!.status };
  await ctx.store.updateRun(run.id, { cancelRequested: true });
  return { runId: run.id, outcome: 'requested', status: shown!.status };
}
