import { UsageError } from '../engine/errors.js';
import { StoreError } from '../store/store-error.js';

/** 0 success (including nothing to do), 1 a task failed, 2 usage/config/graph error, 130 interrupted. */
export const ExitCode = {
  ok: 0,
  taskFailed: 1,
  usage: 2,
  interrupted: 130,
} as const;

/** Errors that are the user's to fix (bad input, configuration, graph) exit 2; anything else is a failure (1). */
export function exitCodeFor(error: unknown): number {
  if (error instanceof UsageError) return ExitCode.usage;
  // A database we cannot use (corrupt, too new, misplaced) is the user's to fix; a full disk or a lock held
  // too long is a failure of this build, resumable once it passes.
  if (error instanceof StoreError) return isPassingFault(error.code ?? '') ? ExitCode.taskFailed : ExitCode.usage;
  return ExitCode.taskFailed;
}

/**
 * A store error this build suffered rather than one the user must fix: a full disk, a lock held too long, a
 * database that went away mid-build, a lease another build took. Unreachable, wrong password, no such database
 * (at open) and a schema too new stay usage errors.
 */
function isPassingFault(code: string): boolean {
  return (
    /^SQLITE_(FULL|IOERR|BUSY)/.test(code) || /^(PG_UNAVAILABLE|PG_LOCK_TIMEOUT|PG_STATEMENT_TIMEOUT|PG_ERROR|PG_[0-9A-Z]{5}|LEASE_LOST)$/.test(code)
  );
}
