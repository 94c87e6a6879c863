import { StoreError } from '../store-error.js';
import type { RunStatus } from '../store.js';
import type { PgContext, Queryable } from './context.js';
import type { LeaseFence } from './leases.js';
import { plainText } from './rows.js';

/** The database's clock in epoch ms: every worker judges claims and heartbeats by the same clock. */
const NOW_MS = '(extract(epoch from clock_timestamp()) * 1000)::bigint';

/** `runs.status_reason` of a run the workers are building. */
export const HANDED_TO_WORKERS = 'handed to workers';

/** `workers.stop_reason` of a worker that stopped by itself (others were declared dead by a sweeper). */
const STOPPED = 'stopped';

/** The job every ready task becomes on the queue (graphile-worker's task identifier). */
export const TASK_JOB = 'plan_task';

export type WorkerTaskState = 'waiting' | 'ready' | 'running' | 'done' | 'failed' | 'blocked' | 'cancelled';

export interface HandedTask {
  id: string;
  requires: readonly string[];
  /** Queue priority: smaller runs first (the longest chain of dependents first, as in a local build). */
  priority: number;
}

export interface Handover {
  runId: string;
  tasks: readonly HandedTask[];
  keepGoing: boolean;
  forced: readonly string[];
}

/** A task this worker now runs, alone, until it finishes or the claim is taken (fencing token). */
export interface TaskClaim {
  runId: string;
  taskId: string;
  token: string;
  /** Running attempts of the task left by a worker that died, now abandoned (their answers may be replayed). */
  abandoned: number;
}

export type ClaimRefusal = 'not-ready' | 'run-finished' | 'run-stopping' | 'cancelled' | 'local-build';

export type FinishedAs =
  | { state: 'done'; outcome: 'fresh' | 'ran' | 'pinned' }
  | { state: 'failed'; error: string }
  | { state: 'cancelled'; error: string }
  /** Given back (the worker is stopping): ready again for any worker. */
  | { state: 'released' };

export interface RunFinish {
  status: RunStatus;
  reason: string | null;
}

export interface WorkerRow {
  id: string;
  name: string;
  host: string;
  pid: number;
  concurrency: number;
  queueIds: string[];
  startedAt: number;
  heartbeatAt: number;
  stoppedAt: number | null;
  stopReason: string | null;
  running: { runId: string; taskId: string; since: number }[];
  now: number;
}

export interface WorkerTaskRow {
  taskId: string;
  state: WorkerTaskState;
  outcome: string | null;
  workerId: string | null;
  error: string | null;
  readyAt: number | null;
  startedAt: number | null;
  finishedAt: number | null;
}

/**
 * The state of the tasks of runs handed to workers (`worker_tasks`), and the workers alive (`workers`): the
 * distributed form of what the scheduler keeps in memory in a local build. Every change that makes a task
 * ready adds its job to graphile-worker's queue in the same transaction (`<jobs schema>.add_job`), so a task
 * is on the queue exactly when its row says it is ready. A task is run by the worker holding its claim; the
 * claim's token fences that worker's persists (LeaseFence.holdClaim).
 */
export class WorkerTasks {
  /** Scopes and limits whose slot rows this process made sure of. */
  private readonly slotsMade = new Set<string>();

  constructor(
    private readonly context: PgContext,
    private readonly fence: LeaseFence,
    /** graphile-worker's schema (a plain identifier, checked by the caller). */
    private readonly jobsSchema: string,
  ) {}

  /**
   * Hands a run to the workers: its tasks (all `waiting`, those without dependencies `ready` and on the queue).
   * A run handed before is handed again from the start (its built tasks are found fresh at once); refused while
   * a task of it runs on a live claim.
   */
  async handOver(handover: Handover): Promise<void> {
    await this.context.transaction(async (client) => {
      await client.query('SELECT 1 FROM runs WHERE id = $1 FOR UPDATE', [handover.runId]);
      const live = await client.query(
        `SELECT task_id, worker_id FROM worker_tasks WHERE run_id = $1 AND state = 'running' AND claim_expires_at > ${NOW_MS} LIMIT 1`,
        [handover.runId],
      );
      if (live.rows.length > 0) {
        throw new StoreError(
          `run ${handover.runId} is being built by workers (${String(live.rows[0]!.task_id)} on worker ${String(live.rows[0]!.worker_id)}): cancel it first`,
          'RUN_BUSY',
        );
      }
      await client.query('DELETE FROM worker_runs WHERE run_id = $1', [handover.runId]);
      await client.query(`INSERT INTO worker_runs (run_id, keep_going, forced_json, handed_at) VALUES ($1, $2, $3, ${NOW_MS})`, [
        handover.runId,
        handover.keepGoing,
        JSON.stringify(handover.forced),
      ]);
      const tasks = handover.tasks;
      await client.query(
        `INSERT INTO worker_tasks (run_id, task_id, requires_json, deps_left, state, ready_at)
         SELECT $1, u.task_id, u.requires, u.deps, CASE WHEN u.deps = 0 THEN 'ready' ELSE 'waiting' END,
                CASE WHEN u.deps = 0 THEN ${NOW_MS} END
           FROM unnest($2::text[], $3::text[], $4::int[]) AS u(task_id, requires, deps)`,
        [handover.runId, tasks.map((t) => t.id), tasks.map((t) => JSON.stringify(t.requires)), tasks.map((t) => t.requires.length)],
      );
      const ready = tasks.filter((t) => t.requires.length === 0);
      await this.addJobs(
        client,
        handover.runId,
        ready.map((t) => t.id),
        ready.map((t) => t.priority),
      );
      await client.query(`UPDATE runs SET status = 'running', status_reason = $3, updated_at = $2 WHERE id = $1`, [
        handover.runId,
        Date.now(),
        HANDED_TO_WORKERS,
      ]);
    });
  }

  /**
   * Claims a ready task (or one whose claim expired: its worker died) for `workerId`: one conditional update,
   * so two workers never both get it. The task's attempts left `running` by an earlier claim are abandoned in
   * the same transaction. Null with the reason when the task is not this worker's to run (a duplicate delivery
   * of its job, a finished or stopping run, a cancel request, a local `plan build` holding the run).
   */
  async claim(runId: string, taskId: string, workerId: string, ttlMs: number): Promise<TaskClaim | { refused: ClaimRefusal }> {
    const outcome = await this.context.transaction(async (client): Promise<TaskClaim | { refused: ClaimRefusal }> => {
      const run = await client.query(
        `SELECT r.stopping, r.finished_at, (u.cancel_requested_at IS NOT NULL AND u.cancel_requested_at >= r.handed_at) AS cancel,
                EXISTS (SELECT 1 FROM run_leases l WHERE l.run_id = r.run_id AND l.expires_at > ${NOW_MS}) AS leased
           FROM worker_runs r JOIN runs u ON u.id = r.run_id WHERE r.run_id = $1 FOR UPDATE OF r`,
        [runId],
      );
      const row = run.rows[0];
      if (row === undefined || row.finished_at !== null) return { refused: 'run-finished' };
      if (row.leased === true) return { refused: 'local-build' };
      if (row.cancel === true) {
        await this.endUnstarted(client, runId, 'cancelled', 'the run was cancelled');
        await this.finishRunIfDone(client, runId);
        return { refused: 'cancelled' };
      }
      if (row.stopping === true) {
        await this.finishRunIfDone(client, runId);
        return { refused: 'run-stopping' };
      }
      // One statement: the claim, and only when it is taken, the earlier claims' attempts and their unanswered
      // calls abandoned (the CTEs share one snapshot: the calls are found through the attempts it ends).
      const claimed = await client.query(
        `WITH claimed AS (
           UPDATE worker_tasks SET state = 'running', claim_token = claim_token + 1, worker_id = $3, claim_expires_at = ${NOW_MS} + $4,
                  started_at = ${NOW_MS}, error = NULL
            WHERE run_id = $1 AND task_id = $2 AND (state = 'ready' OR (state = 'running' AND claim_expires_at <= ${NOW_MS}))
            RETURNING claim_token::text AS token
         ), ended AS (
           UPDATE task_attempts SET status = 'abandoned', finished_at = $5
            WHERE run_id = $1 AND task_id = $2 AND status = 'running' AND EXISTS (SELECT 1 FROM claimed)
            RETURNING id
         ), calls AS (
           UPDATE llm_interactions SET status = 'abandoned', error_message = 'the worker running its attempt died', finished_at = $5
            WHERE status = 'pending' AND attempt_id IN (SELECT id FROM ended)
         )
         SELECT token, (SELECT COUNT(*) FROM ended)::int AS abandoned FROM claimed`,
        [runId, taskId, workerId, ttlMs, Date.now()],
      );
      if (claimed.rows.length === 0) return { refused: 'not-ready' };
      return { runId, taskId, token: claimed.rows[0]!.token as string, abandoned: claimed.rows[0]!.abandoned as number };
    });
    if ('token' in outcome) this.fence.holdClaim(runId, taskId, outcome.token);
    return outcome;
  }

  /**
   * The end of a claimed task, in one transaction fenced by the claim: its row, and what follows from it —
   * dependents whose last dependency finished become ready (and are queued), a failure blocks every task
   * downstream (`blocked`) and, without --keep-going, stops the run; the run ends once nothing runs or can.
   * Returns false (and writes nothing) when the claim was taken over; the run's end when this finished it.
   */
  async finish(
    claim: TaskClaim,
    as: FinishedAs,
    graph: { dependents: readonly string[]; downstream: readonly string[]; priorities: ReadonlyMap<string, number> },
  ): Promise<{ held: boolean; runFinished: RunFinish | null }> {
    const { runId, taskId, token } = claim;
    try {
      return await this.context.transaction(async (client) => {
        const state = as.state === 'released' ? 'ready' : as.state;
        const ended = await client.query(
          `UPDATE worker_tasks SET state = $4, outcome = $5, error = $6, worker_id = CASE WHEN $4 = 'ready' THEN NULL ELSE worker_id END,
                  claim_expires_at = NULL, finished_at = CASE WHEN $4 = 'ready' THEN NULL ELSE ${NOW_MS} END,
                  ready_at = CASE WHEN $4 = 'ready' THEN ${NOW_MS} ELSE ready_at END
            WHERE run_id = $1 AND task_id = $2 AND claim_token = $3::bigint AND state = 'running'`,
          [
            runId,
            taskId,
            token,
            state,
            as.state === 'done' ? as.outcome : null,
            as.state === 'failed' || as.state === 'cancelled' ? plainText(as.error) : null,
          ],
        );
        if (ended.rowCount === 0) return { held: false, runFinished: null };
        if (as.state === 'released') {
          await this.addJobs(client, runId, [taskId], [graph.priorities.get(taskId) ?? 0]);
        } else if (as.state === 'done' && graph.dependents.length > 0) {
          const ready = await client.query(
            `UPDATE worker_tasks SET deps_left = deps_left - 1,
                    state = CASE WHEN deps_left = 1 AND state = 'waiting' THEN 'ready' ELSE state END,
                    ready_at = CASE WHEN deps_left = 1 AND state = 'waiting' THEN ${NOW_MS} ELSE ready_at END
              WHERE run_id = $1 AND task_id = ANY($2::text[]) RETURNING task_id, state, deps_left`,
            [runId, graph.dependents],
          );
          const now = ready.rows.filter((r) => r.state === 'ready' && r.deps_left === 0).map((r) => r.task_id as string);
          await this.addJobs(
            client,
            runId,
            now,
            now.map((id) => graph.priorities.get(id) ?? 0),
          );
        } else if (as.state === 'failed') {
          await client.query(
            `UPDATE worker_tasks SET state = 'blocked', error = $3, finished_at = ${NOW_MS}
              WHERE run_id = $1 AND task_id = ANY($2::text[]) AND state IN ('waiting', 'ready')`,
            [runId, graph.downstream, `blocked by ${taskId}`],
          );
          await client.query('UPDATE worker_runs SET stopping = TRUE WHERE run_id = $1 AND NOT keep_going', [runId]);
        } else if (as.state === 'cancelled') {
          await this.endUnstarted(client, runId, 'cancelled', 'the run was cancelled');
        }
        return { held: true, runFinished: await this.finishRunIfDone(client, runId) };
      });
    } finally {
      this.fence.dropClaim(runId, taskId, token);
    }
  }

  /**
   * The heartbeat of a worker: its row, and the claims it holds (`held`) extended by `ttlMs`. Returns its claims that
   * still hold, each with whether its run was asked to stop (`plan cancel`), and whether the worker had been
   * declared dead (its heartbeats stopped for a while: it was paused): its claims were given to others.
   */
  async heartbeat(
    workerId: string,
    ttlMs: number,
    held: readonly { runId: string; taskId: string; token: string }[],
  ): Promise<{ declaredDead: boolean; claims: { runId: string; taskId: string; token: string; cancel: boolean }[] }> {
    return this.context.transaction(async (client) => {
      const me = await client.query(`UPDATE workers SET heartbeat_at = ${NOW_MS} WHERE id = $1 RETURNING stopped_at, stop_reason`, [workerId]);
      const declaredDead = me.rows[0] !== undefined && me.rows[0].stopped_at !== null && me.rows[0].stop_reason !== STOPPED;
      // Alive after all (it was paused): listed as alive again; its old claims stay with whoever took them.
      if (declaredDead) await client.query('UPDATE workers SET stopped_at = NULL, stop_reason = NULL WHERE id = $1', [workerId]);
      const kept = await client.query(
        `UPDATE worker_tasks t SET claim_expires_at = ${NOW_MS} + $2
           FROM worker_runs r JOIN runs u ON u.id = r.run_id,
                unnest($3::text[], $4::text[], $5::bigint[]) AS h(run_id, task_id, token)
          WHERE t.run_id = h.run_id AND t.task_id = h.task_id AND t.claim_token = h.token AND t.worker_id = $1
            AND t.state = 'running' AND r.run_id = t.run_id
          RETURNING t.run_id, t.task_id, t.claim_token::text AS token,
                    (u.cancel_requested_at IS NOT NULL AND u.cancel_requested_at >= r.handed_at) AS cancel`,
        [workerId, ttlMs, held.map((c) => c.runId), held.map((c) => c.taskId), held.map((c) => c.token)],
      );
      return {
        declaredDead,
        claims: kept.rows.map((r) => ({
          runId: r.run_id as string,
          taskId: r.task_id as string,
          token: r.token as string,
          cancel: r.cancel === true,
        })),
      };
    });
  }

  async registerWorker(worker: { id: string; name: string; host: string; pid: number; concurrency: number }): Promise<void> {
    await this.context.query(
      `INSERT INTO workers (id, name, host, pid, concurrency, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5, ${NOW_MS}, ${NOW_MS})`,
      [worker.id, worker.name, worker.host, worker.pid, worker.concurrency],
    );
  }

  /** The ids graphile-worker gave this worker's job runners: what the sweeper unlocks when the worker dies. */
  async setQueueIds(workerId: string, queueIds: readonly string[]): Promise<void> {
    await this.context.query('UPDATE workers SET queue_ids = $2 WHERE id = $1', [workerId, JSON.stringify(queueIds)]);
  }

  /** The worker stopped by itself (SIGTERM/SIGINT). */
  async stopWorker(workerId: string): Promise<void> {
    await this.context.query(`UPDATE workers SET stopped_at = ${NOW_MS}, stop_reason = $2 WHERE id = $1`, [workerId, STOPPED]);
  }

  /**
   * Workers whose heartbeat is older than `deadAfterMs` are declared dead: their claims are given back (the
   * tasks ready again) and the ids of their job runners returned, for graphile-worker to unlock their jobs.
   */
  async sweep(deadAfterMs: number): Promise<{ workerIds: string[]; queueIds: string[]; released: number }> {
    return this.context.transaction(async (client) => {
      const dead = await client.query(
        `UPDATE workers SET stopped_at = ${NOW_MS}, stop_reason = $2
          WHERE stopped_at IS NULL AND heartbeat_at < ${NOW_MS} - $1 RETURNING id, queue_ids`,
        [deadAfterMs, `no heartbeat for ${Math.round(deadAfterMs / 1000)} s`],
      );
      const workerIds = dead.rows.map((r) => r.id as string);
      if (workerIds.length === 0) return { workerIds, queueIds: [], released: 0 };
      const released = await client.query(
        `UPDATE worker_tasks SET state = 'ready', worker_id = NULL, claim_expires_at = NULL, ready_at = ${NOW_MS}
          WHERE state = 'running' AND worker_id = ANY($1::text[])`,
        [workerIds],
      );
      const queueIds = dead.rows.flatMap((r) => JSON.parse(r.queue_ids as string) as string[]);
      return { workerIds, queueIds, released: released.rowCount ?? 0 };
    });
  }

  /** Live workers (stopped ones of the last `recentMs` too), with the tasks each runs. */
  async listWorkers(recentMs = 60_000): Promise<WorkerRow[]> {
    const rows = await this.context.query(
      `SELECT w.*, ${NOW_MS} AS now,
              COALESCE((SELECT json_agg(json_build_object('runId', t.run_id, 'taskId', t.task_id, 'since', t.started_at) ORDER BY t.started_at)
                 FROM worker_tasks t WHERE t.worker_id = w.id AND t.state = 'running'), '[]') AS running
         FROM workers w WHERE w.stopped_at IS NULL OR w.stopped_at > ${NOW_MS} - $1 ORDER BY w.started_at, w.id`,
      [recentMs],
    );
    return rows.rows.map((r) => ({
      id: r.id as string,
      name: r.name as string,
      host: r.host as string,
      pid: r.pid as number,
      concurrency: r.concurrency as number,
      queueIds: JSON.parse(r.queue_ids as string) as string[],
      startedAt: Number(r.started_at),
      heartbeatAt: Number(r.heartbeat_at),
      stoppedAt: r.stopped_at === null ? null : Number(r.stopped_at),
      stopReason: (r.stop_reason as string | null) ?? null,
      running: (r.running as { runId: string; taskId: string; since: string | number }[]).map((t) => ({ ...t, since: Number(t.since) })),
      now: Number(r.now),
    }));
  }

  /** The tasks of a run handed to workers, or null when it never was. */
  async listTasks(runId: string): Promise<{ finishedAt: number | null; stopping: boolean; tasks: WorkerTaskRow[] } | null> {
    const run = await this.context.query('SELECT finished_at, stopping FROM worker_runs WHERE run_id = $1', [runId]);
    if (run.rows.length === 0) return null;
    const rows = await this.context.query('SELECT * FROM worker_tasks WHERE run_id = $1 ORDER BY task_id COLLATE "C"', [runId]);
    return {
      finishedAt: run.rows[0]!.finished_at === null ? null : Number(run.rows[0]!.finished_at),
      stopping: run.rows[0]!.stopping === true,
      tasks: rows.rows.map((r) => ({
        taskId: r.task_id as string,
        state: r.state as WorkerTaskState,
        outcome: (r.outcome as string | null) ?? null,
        workerId: (r.worker_id as string | null) ?? null,
        error: (r.error as string | null) ?? null,
        readyAt: r.ready_at === null ? null : Number(r.ready_at),
        startedAt: r.started_at === null ? null : Number(r.started_at),
        finishedAt: r.finished_at === null ? null : Number(r.finished_at),
      })),
    };
  }

  /** Whether the workers are building the run now (handed over, not finished). */
  async building(runId: string): Promise<boolean> {
    const row = (await this.context.query('SELECT finished_at FROM worker_runs WHERE run_id = $1', [runId])).rows[0];
    return row !== undefined && row.finished_at === null;
  }

  /** The run's options as it was handed over. */
  async handedOptions(runId: string): Promise<{ keepGoing: boolean; forced: string[] } | null> {
    const row = (await this.context.query('SELECT keep_going, forced_json FROM worker_runs WHERE run_id = $1', [runId])).rows[0];
    return row === undefined ? null : { keepGoing: row.keep_going === true, forced: JSON.parse(row.forced_json as string) as string[] };
  }

  /**
   * Reserves a call's estimated cost against the run's `--max-cost` (`maxUsd`, null: none) when what the run's
   * calls cost so far, plus what calls in flight on every worker reserved, plus this estimate stays within it —
   * one conditional update, so two workers never both take the last dollars. Refused, the run stops
   * (`stopped: budget`): no task of it starts any more. Returns whether it was reserved, with the figures.
   */
  async reserveCost(
    runId: string,
    estimateUsd: number,
    maxUsd: number | null,
  ): Promise<{ reserved: boolean; spentUsd: number; inFlightUsd: number }> {
    const spent = '(SELECT COALESCE(SUM(i.cost_usd), 0) FROM llm_interactions i WHERE i.run_id = $1)';
    const taken = await this.context.query(
      `UPDATE worker_runs SET reserved_usd = reserved_usd + $2
        WHERE run_id = $1 AND ($3::float8 IS NULL OR ${spent} + reserved_usd + $2 <= $3::float8)
        RETURNING ${spent}::float8 AS spent, reserved_usd - $2 AS in_flight`,
      [runId, estimateUsd, maxUsd],
    );
    if (taken.rows.length > 0) return { reserved: true, spentUsd: Number(taken.rows[0]!.spent), inFlightUsd: Number(taken.rows[0]!.in_flight) };
    const refused = await this.context.query(
      `UPDATE worker_runs SET stopping = TRUE, stop_reason = 'budget' WHERE run_id = $1 RETURNING ${spent}::float8 AS spent, reserved_usd AS in_flight`,
      [runId],
    );
    const row = refused.rows[0];
    return { reserved: false, spentUsd: Number(row?.spent ?? 0), inFlightUsd: Number(row?.in_flight ?? 0) };
  }

  async releaseCost(runId: string, estimateUsd: number): Promise<void> {
    await this.context.query('UPDATE worker_runs SET reserved_usd = GREATEST(0, reserved_usd - $2) WHERE run_id = $1', [runId, estimateUsd]);
  }

  /**
   * One of `limit` slots of `scope` (a provider) for `holder`, for `ttlMs` (a holder that dies frees it then), or
   * null when all are taken. Slots at or above the limit are never given: a lower limit takes effect at once.
   */
  async takeSlot(scope: string, limit: number, holder: string, ttlMs: number): Promise<number | null> {
    // The slots are made apart from taking one, once per scope and limit: an INSERT … ON CONFLICT in the same
    // statement waits on the slot rows other takers are updating, while holding its own (a deadlock, seen at 2 workers).
    const key = `${scope}\0${limit}`;
    if (!this.slotsMade.has(key)) {
      await this.context.query('INSERT INTO call_slots (scope, slot) SELECT $1, g FROM generate_series(0, $2::int - 1) AS g ON CONFLICT DO NOTHING', [
        scope,
        limit,
      ]);
      this.slotsMade.add(key);
    }
    const taken = await this.context.query(
      `UPDATE call_slots c SET holder = $3, expires_at = ${NOW_MS} + $4
         FROM (SELECT scope, slot FROM call_slots WHERE scope = $1 AND slot < $2 AND (holder IS NULL OR expires_at <= ${NOW_MS})
                ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED) free
        WHERE c.scope = free.scope AND c.slot = free.slot RETURNING c.slot`,
      [scope, limit, holder, ttlMs],
    );
    return taken.rows.length === 0 ? null : (taken.rows[0]!.slot as number);
  }

  async freeSlot(scope: string, slot: number, holder: string): Promise<void> {
    await this.context.query('UPDATE call_slots SET holder = NULL, expires_at = NULL WHERE scope = $1 AND slot = $2 AND holder = $3', [
      scope,
      slot,
      holder,
    ]);
  }

  /**
   * Books one call of `tokens` in `scope`'s sliding window when the window has room under `requestsPerMinute`
   * and `tokensPerMinute` (either may be absent), as the process-local limiter does but counting every
   * worker's calls; else says how long until its oldest call leaves the window. Takers of one scope go one at a
   * time (a transaction-scoped advisory lock), so two cannot both see the last free place.
   */
  async takeRate(
    scope: string,
    limits: { requestsPerMinute?: number; tokensPerMinute?: number },
    tokens: number,
    windowMs: number,
  ): Promise<{ booked: number } | { waitMs: number }> {
    return this.context.transaction(async (client) => {
      await client.query(`SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || ':call_window:' || $1, 0))`, [scope]);
      await client.query(`DELETE FROM call_window WHERE scope = $1 AND started_at <= ${NOW_MS} - $2`, [scope, windowMs]);
      const seen = await client.query(
        `SELECT COUNT(*)::int AS n, COALESCE(SUM(tokens), 0)::float8 AS used, MIN(started_at)::float8 AS oldest, ${NOW_MS}::float8 AS now
           FROM call_window WHERE scope = $1`,
        [scope],
      );
      const { n, used, oldest, now } = seen.rows[0] as { n: number; used: number; oldest: number | null; now: number };
      const { requestsPerMinute: rpm, tokensPerMinute: tpm } = limits;
      // As locally: a call bigger than the whole token budget still goes when the window is empty.
      const full = (rpm !== undefined && n >= rpm) || (tpm !== undefined && oldest !== null && used + tokens > tpm);
      if (full && oldest !== null) return { waitMs: Math.max(1, oldest + windowMs - now) };
      const booked = await client.query(`INSERT INTO call_window (scope, started_at, tokens) VALUES ($1, ${NOW_MS}, $2) RETURNING id`, [
        scope,
        Math.max(0, Math.round(tokens)),
      ]);
      return { booked: Number(booked.rows[0]!.id) };
    });
  }

  /** A booked call's tokens as its answer counted them (the estimate was booked). */
  async settleRate(booked: number, tokens: number): Promise<void> {
    await this.context.query('UPDATE call_window SET tokens = $2 WHERE id = $1', [booked, Math.max(0, Math.round(tokens))]);
  }

  /** A cancel request reached a run no worker is running a task of: end it now (the others end as their tasks do). */
  async cancelIdle(runId: string): Promise<RunFinish | null> {
    return this.context.transaction(async (client) => {
      await client.query('SELECT 1 FROM worker_runs WHERE run_id = $1 FOR UPDATE', [runId]);
      await this.endUnstarted(client, runId, 'cancelled', 'the run was cancelled');
      return this.finishRunIfDone(client, runId);
    });
  }

  private async endUnstarted(client: Queryable, runId: string, state: 'cancelled', why: string): Promise<void> {
    await client.query(
      `UPDATE worker_tasks SET state = $2, error = $3, finished_at = ${NOW_MS} WHERE run_id = $1 AND state IN ('waiting', 'ready')`,
      [runId, state, why],
    );
  }

  /** When no task of the run runs and none can start any more: the run's end, written once. */
  private async finishRunIfDone(client: Queryable, runId: string): Promise<RunFinish | null> {
    const counts = await client.query(
      `SELECT r.finished_at, r.stopping, r.stop_reason, (u.cancel_requested_at IS NOT NULL AND u.cancel_requested_at >= r.handed_at) AS cancel,
              COUNT(*) FILTER (WHERE t.state = 'running') AS running,
              COUNT(*) FILTER (WHERE t.state IN ('waiting', 'ready')) AS pending,
              COALESCE(array_agg(t.task_id ORDER BY t.task_id COLLATE "C") FILTER (WHERE t.state = 'failed'), '{}') AS failed,
              COUNT(*) FILTER (WHERE t.state = 'blocked') AS blocked,
              COUNT(*) FILTER (WHERE t.state = 'cancelled') AS cancelled
         FROM worker_runs r JOIN runs u ON u.id = r.run_id LEFT JOIN worker_tasks t ON t.run_id = r.run_id
        WHERE r.run_id = $1 GROUP BY r.finished_at, r.stopping, r.stop_reason, u.cancel_requested_at, r.handed_at`,
      [runId],
    );
    const row = counts.rows[0];
    if (row === undefined || row.finished_at !== null) return null;
    if (Number(row.running) > 0) return null;
    if (Number(row.pending) > 0 && row.stopping !== true && row.cancel !== true) return null;
    const failed = row.failed as string[];
    const finish: RunFinish =
      row.stop_reason === 'budget'
        ? { status: 'stopped', reason: 'budget' }
        : row.cancel === true || Number(row.cancelled) > 0
          ? { status: 'cancelled', reason: 'interrupted' }
          : failed.length > 0 || Number(row.blocked) > 0
            ? { status: 'failed', reason: `failed: ${failed.join(', ')}` }
            : { status: 'complete', reason: null };
    await client.query(`UPDATE worker_runs SET finished_at = ${NOW_MS} WHERE run_id = $1`, [runId]);
    await client.query('UPDATE runs SET status = $2, status_reason = $3, updated_at = $4 WHERE id = $1', [
      runId,
      finish.status,
      finish.reason,
      Date.now(),
    ]);
    return finish;
  }

  /** Each task becomes a job (its key is the run and task: a job added again replaces a waiting one). */
  private async addJobs(client: Queryable, runId: string, taskIds: readonly string[], priorities: readonly number[]): Promise<void> {
    if (taskIds.length === 0) return;
    await client.query(
      `SELECT ${this.jobsSchema}.add_job($1, json_build_object('runId', $2::text, 'taskId', u.task_id), job_key => $2 || '/' || u.task_id,
              priority => u.priority, max_attempts => 5)
         FROM unnest($3::text[], $4::int[]) AS u(task_id, priority)`,
      [TASK_JOB, runId, taskIds, priorities],
    );
  }
}
