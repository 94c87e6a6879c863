import { parseStamp, serializeStamp, stampChange, type Stamp } from './stamp.js';
import { describeCause, type DecisionCause } from './decision-cause.js';
import type { FileState } from './hasher.js';
import type { TaskState } from './events.js';
import type { AttemptRecord } from '../store/store.js';

export interface Decision {
  state: TaskState;
  cause: DecisionCause;
  /** `describeCause(cause)`: the reason a person reads. */
  reason: string;
  /** Outputs that are absent (for `--restore`, which writes them back from the database). */
  missing: string[];
  /** An output present but unusable (a directory, a symlink out of the run dir): the task cannot run. */
  invalid: string | null;
  /** Never built, yet every output is there (a copied or foreign run dir): record them instead of running. */
  adopt: boolean;
  /** Outputs holding a person's edit that running the task will write over (each kept as a stored version). */
  replacesEdits: ReplacedEdit[];
}

export interface ReplacedEdit {
  path: string;
  /** The stored version that holds the edit (null if, unexpectedly, none does). */
  version: number | null;
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
  /** Its outputs a person pinned: then it never runs (a pinned file is never replaced). */
  pinned?: readonly string[];
}

/** The state of one task, with its cause. Pure: no I/O. */
export function decideTaskState(input: DecisionInput): Decision {
  if (input.pinned !== undefined && input.pinned.length > 0) return decision('pinned', { kind: 'pinned', paths: [...input.pinned] });
  if (input.blockedBy !== null) return decision('blocked', { kind: 'blocked', by: input.blockedBy });

  for (const [filePath, state] of input.outputs) {
    if (state.kind === 'invalid') {
      const made = decision('missing', { kind: 'output-invalid', path: filePath, problem: state.problem });
      return { ...made, invalid: made.reason };
    }
  }
  if (input.forced) return decision('stale', { kind: 'forced' });
  if (input.built === undefined || input.built.stamp === null) {
    const all = [...input.outputs.values()];
    if (all.length > 0 && all.every((state) => state.kind === 'file')) return { ...decision('fresh', { kind: 'adopted' }), adopt: true };
    return decision('missing', { kind: 'never-built' });
  }

  const missing = [...input.outputs].filter(([, state]) => state.kind === 'missing').map(([filePath]) => filePath);
  if (missing.length > 0) return { ...decision('missing', { kind: 'output-missing', paths: missing }), missing };
  // The common case (a no-op) is one string comparison; the cause is worked out only when they differ.
  const current = (): Stamp => (typeof input.stamp === 'function' ? input.stamp() : input.stamp);
  if ((input.stampText ?? serializeStamp(current())) === input.built.stamp) return decision('fresh', { kind: 'up-to-date' });
  const change = stampChange(parseStamp(input.built.stamp), current());
  return change === null ? decision('fresh', { kind: 'up-to-date' }) : decision('stale', change);
}

/** A decision with the given state and cause (its reason rendered). */
export function decision(state: TaskState, cause: DecisionCause): Decision {
  return { state, cause, reason: describeCause(cause), missing: [], invalid: null, adopt: false, replacesEdits: [] };
}

/** The decision with the edits it replaces, said in its reason too (the dry run and `plan explain` show it). */
export function withReplacedEdits(made: Decision, edits: ReplacedEdit[]): Decision {
  if (edits.length === 0) return made;
  const said = edits.map((e) => `${e.path} (${e.version === null ? 'stored as a version first' : `kept as v${e.version}`})`).join(', ');
  return { ...made, replacesEdits: edits, reason: `${made.reason} — replaces your edit of ${said}` };
}
