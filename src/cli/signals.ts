/**
 * SIGINT/SIGTERM abort the build (no new task starts, running ones are cancelled and recorded); a second
 * signal exits at once. Returns a function that removes the handlers.
 */
export function abortOnSignals(controller: AbortController, onSecond: () => void = () => process.exit(130)): () => void {
  let received = 0;
  const handler = (): void => {
    received++;
    if (received === 1) controller.abort(new Error('interrupted'));
    else onSecond();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
