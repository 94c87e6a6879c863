import type { Store } from '../store/store.js';

/**
 * `plan cancel` works through the database, so it reaches a build on this machine or another one sharing it:
 * it marks the run, and the build polls the mark and stops as on Ctrl-C. A poll is one primary-key read.
 */
export function stopOnCancelRequest(
  store: Store,
  runId: string,
  controller: AbortController,
  options: { since?: number; intervalMs?: number } = {},
): () => void {
  const since = options.since ?? 0;
  let busy = false;
  const timer = setInterval(() => {
    if (busy || controller.signal.aborted) return;
    busy = true;
    store
      .getRun(runId)
      .then((run) => {
        // An older request was for an earlier build (this one clears it as it starts).
        if (run?.cancelRequestedAt != null && run.cancelRequestedAt >= since) controller.abort(new Error('cancelled by plan cancel'));
      })
      .catch(() => undefined) // a busy or closing database: ask again at the next tick
      .finally(() => (busy = false));
  }, options.intervalMs ?? 250);
  timer.unref();
  return () => clearInterval(timer);
}
