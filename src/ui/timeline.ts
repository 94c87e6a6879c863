import type { AttemptRecord, InteractionSummary } from '../store/store.js';
import type { GraphTask } from './engine-callbacks.js';

/**
 * The run page's timeline (a Gantt chart) of the run's last build: each task's attempts as bars from start to
 * end, their model calls inside them (replayed ones marked), retries as several bars in one row, and the
 * critical path — the chain of tasks, along the graph's edges, with the longest total duration that ends at
 * the task that finished last.
 *
 * The store records attempts, not builds, so the last build is found from the attempts' times: sorted by
 * start, an attempt begins a new build when its task already ran in the current stretch and did not fail (a
 * build runs a task once; only a failure is retried), when nothing ran for more than a second before it (a
 * build starts a ready task at once), or, for a retry of a failed task, for longer than the longest retry
 * backoff (30 s).
 * An abandoned attempt ended when the next build found it dead, so its end is taken from its last answered
 * model call (or its start), never from that mark.
 */

/** Longer than the longest retry backoff (30 s, engine/backoff.ts): a pause up to this before a failed task's next attempt is a retry. */
const RETRY_PAUSE_MS = 31_000;
/** A build starts a ready task at once; a pause longer than this with nothing running is the gap between two builds. */
const BUILD_PAUSE_MS = 1_000;

export interface TimelineCall {
  id: number;
  status: string;
  replayedFrom: number | null;
  /** Offsets from the build's start (ms). */
  start: number;
  end: number;
}

export interface TimelineAttempt {
  id: number;
  status: AttemptRecord['status'];
  error: string | null;
  start: number;
  end: number;
  /** Still running in a live build: `end` is the server's now. */
  open: boolean;
  /** The end is not known (an attempt a dead build left running, or abandoned): `end` is its last known activity. */
  endUnknown: boolean;
  calls: TimelineCall[];
}

export interface TimelineRow {
  taskId: string;
  attempts: TimelineAttempt[];
  /** First start to last end of the task's attempts in this build (ms). */
  spanMs: number;
  critical: boolean;
}

export interface Timeline {
  /** Epoch ms of the build's first attempt start; offsets are from it. Null when no task ever ran. */
  t0: number | null;
  /** The server's clock when this was made (epoch ms): a page extends running bars from it. */
  now: number;
  spanMs: number;
  /** How many builds the run's attempts make, this one the newest; and what the earlier ones hold. */
  builds: number;
  earlierAttempts: number;
  rows: TimelineRow[];
  /** Task ids from the first of the chain to the task that finished last. */
  criticalPath: string[];
  criticalMs: number;
  calls: number;
  replayedCalls: number;
  retriedTasks: number;
}

function lastActivity(attempt: AttemptRecord, calls: readonly InteractionSummary[]): number {
  let end = attempt.startedAt;
  for (const call of calls) {
    if (call.status === 'abandoned' || call.status === 'pending') end = Math.max(end, call.startedAt);
    else end = Math.max(end, call.finishedAt ?? call.startedAt);
  }
  return end;
}

interface Span {
  end: number;
  open: boolean;
  endUnknown: boolean;
}

function spanOf(attempt: AttemptRecord, calls: readonly InteractionSummary[], now: number, live: boolean): Span {
  if (attempt.status === 'abandoned') return { end: lastActivity(attempt, calls), open: false, endUnknown: true };
  if (attempt.finishedAt !== null) return { end: attempt.finishedAt, open: false, endUnknown: false };
  if (attempt.status === 'running' && live) return { end: Math.max(now, attempt.startedAt), open: true, endUnknown: false };
  return { end: lastActivity(attempt, calls), open: false, endUnknown: true };
}

/** The run's attempts cut into builds (see above), oldest build first, each in start order. */
export function splitBuilds(
  attempts: readonly AttemptRecord[],
  callsOf: (attemptId: number) => readonly InteractionSummary[],
  now: number,
  live: boolean,
): AttemptRecord[][] {
  const sorted = [...attempts].sort((a, b) => a.startedAt - b.startedAt || a.id - b.id);
  const builds: AttemptRecord[][] = [];
  let current: AttemptRecord[] = [];
  let busyUntil = Number.NEGATIVE_INFINITY;
  let lastOfTask = new Map<string, AttemptRecord>();
  for (const attempt of sorted) {
    if (current.length > 0) {
      const pause = attempt.startedAt - busyUntil;
      const before = lastOfTask.get(attempt.taskId);
      // A task that ended otherwise than failed in this stretch does not run again in the same build.
      const newBuild =
        before !== undefined && before.status !== 'failed' && before.status !== 'running'
          ? true
          : pause > 0 && (before === undefined ? pause > BUILD_PAUSE_MS : pause > RETRY_PAUSE_MS);
      if (newBuild) {
        builds.push(current);
        current = [];
        lastOfTask = new Map();
        busyUntil = Number.NEGATIVE_INFINITY;
      }
    }
    current.push(attempt);
    lastOfTask.set(attempt.taskId, attempt);
    busyUntil = Math.max(busyUntil, spanOf(attempt, callsOf(attempt.id), now, live).end);
  }
  if (current.length > 0) builds.push(current);
  return builds;
}

export function buildTimeline(
  attempts: readonly AttemptRecord[],
  calls: readonly InteractionSummary[],
  tasks: readonly GraphTask[],
  options: { now: number; live: boolean },
): Timeline {
  const { now, live } = options;
  const byAttempt = new Map<number, InteractionSummary[]>();
  for (const call of calls) {
    const list = byAttempt.get(call.attemptId);
    if (list === undefined) byAttempt.set(call.attemptId, [call]);
    else list.push(call);
  }
  const callsOf = (id: number): readonly InteractionSummary[] => byAttempt.get(id) ?? [];
  const builds = splitBuilds(attempts, callsOf, now, live);
  const last = builds.at(-1) ?? [];
  const empty: Timeline = {
    t0: null,
    now,
    spanMs: 0,
    builds: builds.length,
    earlierAttempts: attempts.length - last.length,
    rows: [],
    criticalPath: [],
    criticalMs: 0,
    calls: 0,
    replayedCalls: 0,
    retriedTasks: 0,
  };
  if (last.length === 0) return empty;
  const t0 = last[0]!.startedAt;

  const rows = new Map<string, TimelineRow>();
  let spanEnd = t0;
  let callCount = 0;
  let replayed = 0;
  const ends = new Map<string, { start: number; end: number }>();
  for (const attempt of last) {
    const span = spanOf(attempt, callsOf(attempt.id), now, live);
    const shownCalls: TimelineCall[] = callsOf(attempt.id).map((call) => {
      const start = call.startedAt - t0;
      const end = (call.finishedAt ?? (call.status === 'pending' && span.open ? now : call.startedAt)) - t0;
      return { id: call.id, status: call.status, replayedFrom: call.replayedFrom, start, end: Math.max(start, end) };
    });
    callCount += shownCalls.length;
    replayed += shownCalls.filter((c) => c.status === 'replayed').length;
    const row = rows.get(attempt.taskId) ?? { taskId: attempt.taskId, attempts: [], spanMs: 0, critical: false };
    row.attempts.push({
      id: attempt.id,
      status: attempt.status,
      error: attempt.error,
      start: attempt.startedAt - t0,
      end: span.end - t0,
      open: span.open,
      endUnknown: span.endUnknown,
      calls: shownCalls,
    });
    rows.set(attempt.taskId, row);
    const seen = ends.get(attempt.taskId);
    ends.set(attempt.taskId, {
      start: Math.min(seen?.start ?? attempt.startedAt, attempt.startedAt),
      end: Math.max(seen?.end ?? span.end, span.end),
    });
    spanEnd = Math.max(spanEnd, span.end);
  }
  for (const row of rows.values()) {
    const { start, end } = ends.get(row.taskId)!;
    row.spanMs = end - start;
  }

  const { path, totalMs } = criticalPath(rows, ends, tasks);
  for (const id of path) rows.get(id)!.critical = true;
  return {
    ...empty,
    t0,
    spanMs: spanEnd - t0,
    rows: [...rows.values()],
    criticalPath: path,
    criticalMs: totalMs,
    calls: callCount,
    replayedCalls: replayed,
    retriedTasks: [...rows.values()].filter((r) => r.attempts.length > 1).length,
  };
}

/**
 * The chain along the graph's edges (among the tasks of this build) with the longest total duration that
 * ends at the task that finished last. Each task counts its span in the build (retries and their pauses
 * included). Ties go to the dependency that finished last: the one the task waited for.
 */
function criticalPath(
  rows: ReadonlyMap<string, TimelineRow>,
  ends: ReadonlyMap<string, { start: number; end: number }>,
  tasks: readonly GraphTask[],
): { path: string[]; totalMs: number } {
  if (rows.size === 0) return { path: [], totalMs: 0 };
  const requires = new Map(tasks.map((t) => [t.id, t.requires]));
  // Dependencies first: the graph's order where the graph is known, then the build's order for the rest.
  const order = [...tasks.map((t) => t.id).filter((id) => rows.has(id)), ...[...rows.keys()].filter((id) => !requires.has(id))];
  const longest = new Map<string, { total: number; via: string | null }>();
  for (const id of order) {
    let best: { total: number; via: string | null } = { total: 0, via: null };
    for (const dep of requires.get(id) ?? []) {
      const at = longest.get(dep);
      if (at === undefined) continue;
      if (at.total > best.total || (at.total === best.total && best.via !== null && ends.get(dep)!.end > ends.get(best.via)!.end)) {
        best = { total: at.total, via: dep };
      }
    }
    longest.set(id, { total: best.total + rows.get(id)!.spanMs, via: best.via });
  }
  let lastId: string | null = null;
  for (const [id, { end }] of ends) if (lastId === null || end > ends.get(lastId)!.end) lastId = id;
  const path: string[] = [];
  for (let id: string | null = lastId; id !== null; id = longest.get(id)?.via ?? null) path.unshift(id);
  return { path, totalMs: longest.get(lastId!)?.total ?? 0 };
}
