import { explainStampChange, parseStamp, serializeStamp, type Stamp } from './stamp.js';
import type { FileState } from './hasher.js';
import type { TaskState } from './events.js';
import type { AttemptRecord } from '../store/store.js';

export interface Decision {
  state: TaskState;
  reason: string;
  /** Outputs that are absent (for `--restore`, which writes them back from the database). */
  missing: string[];
  /** An output present but unusable (a directory, a symlink out of the run dir): the task cannot run. */
  invalid: string | null;
  /** Never built, yet every output is there (a copied or foreign run dir): record them instead of running. */
  adopt: boolean;
}

export interface DecisionInput {
  /** The newest attempt that persisted, if any. */
  built: AttemptRecord | undefined;
  /** What the task would be built from now (a function: only needed to explain a difference). */
  stamp: Stamp | (() => Stamp);
  /** Its text, when the caller has it already (else it is serialized from `stamp`). */
  stampText?: string;
  /** State of every output: declared ones and the extra files the built attempt wrote. */
  outputs: ReadonlyMap<string, FileState>;
  forced: boolean;
  /** The upstream task that failed or is blocked, if any. */
  blockedBy: string | null;
}

/** The state of one task, with the reason a person would ask for. Pure: no I/O. */
export function decideTaskState(input: DecisionInput): Decision {
  if (input.blockedBy !== null) return decision('blocked', `upstream ${input.blockedBy} did not complete`);

  for (const [filePath, state] of input.outputs) {
    if (state.kind === 'invalid') return { ...decision('missing', `output ${filePath} ${state.problem}`), invalid: `output ${filePath} ${state.problem}` };
  }
  if (input.forced) return decision('stale', 'forced');
  if (input.built === undefined || input.built.stamp === null) {
    const all = [...input.outputs.values()];
    if (all.length > 0 && all.every((state) => state.kind === 'file')) return { ...decision('fresh', 'adopted the files already in the run dir'), adopt: true };
    return decision('missing', 'never built');
  }

  const missing = [...input.outputs].filter(([, state]) => state.kind === 'missing').map(([filePath]) => filePath);
  if (missing.length > 0) {
    const more = missing.length > 1 ? ` (and ${missing.length - 1} more)` : '';
    return { ...decision('missing', `output ${missing[0]} is missing${more}`), missing };
  }
  // The common case (a no-op) is one string comparison; the reason is worked out only when they differ.
  const current = (): Stamp => (typeof input.stamp === 'function' ? input.stamp() : input.stamp);
  if ((input.stampText ?? serializeStamp(current())) === input.built.stamp) return decision('fresh', 'up to date');
  const change = explainStampChange(parseStamp(input.built.stamp), current());
  if (change !== null) return decision('stale', change);
  return decision('fresh', 'up to date');
}

function decision(state: TaskState, reason: string): Decision {
  return { state, reason, missing: [], invalid: null, adopt: false };
}
