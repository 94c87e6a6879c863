/**
 * Why a task has its state, as data: callers (the dry run, `plan explain`) branch on `kind`, never on the
 * wording of the text a person reads, which `describeCause` renders from it.
 */
export type DecisionCause =
  | { kind: 'up-to-date' }
  | { kind: 'adopted' }
  | { kind: 'never-built' }
  | { kind: 'forced' }
  | { kind: 'output-missing'; paths: string[] }
  | { kind: 'output-invalid'; path: string; problem: string }
  | { kind: 'version-changed'; before: string; after: string }
  | { kind: 'param-changed'; key: string; before: unknown; after: unknown }
  | { kind: 'input-changed'; path: string; before: string; after: string }
  | { kind: 'input-added'; path: string }
  | { kind: 'input-dropped'; path: string }
  | { kind: 'blocked'; by: string }
  | { kind: 'pinned'; paths: string[] }
  /** Dry run only: an upstream task would run first, so this one's inputs are not known yet. */
  | { kind: 'upstream-will-run'; upstream: string }
  /** Dry run only: `--restore` would write the missing outputs back from the database. */
  | { kind: 'will-restore'; paths: string[] };

/** Whether the cause is about inputs only (or nothing at all): what an upstream rebuild would change anyway. */
export function dependsOnInputsOnly(cause: DecisionCause): boolean {
  return cause.kind === 'up-to-date' || cause.kind === 'input-changed' || cause.kind === 'input-added' || cause.kind === 'input-dropped';
}

export function describeCause(cause: DecisionCause): string {
  switch (cause.kind) {
    case 'up-to-date':
      return 'up to date';
    case 'adopted':
      return 'adopted the files already in the run dir';
    case 'never-built':
      return 'never built';
    case 'forced':
      return 'forced';
    case 'output-missing': {
      const more = cause.paths.length > 1 ? ` (and ${cause.paths.length - 1} more)` : '';
      return `output ${cause.paths[0]} is missing${more}`;
    }
    case 'output-invalid':
      return `output ${cause.path} ${cause.problem}`;
    case 'version-changed':
      return `version changed (${cause.before} → ${cause.after})`;
    case 'param-changed':
      return `parameter ${cause.key} changed (${show(cause.before)} → ${show(cause.after)})`;
    case 'input-changed':
      return `input ${cause.path} changed (${short(cause.before)} → ${short(cause.after)})`;
    case 'input-added':
      return `new input ${cause.path}`;
    case 'input-dropped':
      return `input ${cause.path} is no longer required`;
    case 'blocked':
      return `upstream ${cause.by} did not complete`;
    case 'pinned':
      return `pinned: ${cause.paths.join(', ')} (plan unpin lets it be rebuilt)`;
    case 'upstream-will-run':
      return `upstream ${cause.upstream} will run`;
    case 'will-restore':
      return 'outputs will be restored from the database';
  }
}

function show(value: unknown): string {
  if (value === undefined) return 'unset';
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 37)}…` : text;
}

function short(sha256: string): string {
  return sha256.slice(0, 12);
}
