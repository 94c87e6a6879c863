/**
 * Errors a person must fix before anything runs (usage, configuration, the graph). They map to exit code 2;
 * a task failure maps to 1 and an interruption to 130 (see src/cli/exit-codes.ts).
 */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Every problem found while planning the graph, reported together like a compiler's errors. */
export class GraphError extends UsageError {
  override name = 'GraphError';

  constructor(readonly problems: readonly string[]) {
    super(problems.length === 1 ? problems[0]! : `${problems.length} problems in the task graph:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Another process builds this run dir right now. */
export class LockedError extends UsageError {
  override name = 'LockedError';
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
