import type { Store } from '../store/store.js';

/**
 * `plan cancel` works through the database, so it reaches a build on this machine or another one sharing it:
 * it marks the run, and the build polls the mark and stops as on Ctrl-C. A poll is one primary-key read.
 */
export function stopOnCancelRequest(store: Store, runId: string, controller: AbortController, intervalMs = 250): () => void {
  let busy = false;
  const timer = setInterval(() => {
    if (busy || controller.signal.aborted) return;
    busy = true;
    store
      .getRun(runId)
      .then((run) => {
        if (run?.cancelRequestedAt != null) controller.abort(new Error('cancelled by plan cancel'));
      })
      .catch(() => undefined) // a busy or closing database: ask again at the next tick
      .finally(() => (busy = false));
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
