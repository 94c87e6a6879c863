import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { decodeContent, encodeContent } from '../compression.js';
import { StoreError } from '../store-error.js';
import type { AttemptRecord, ContentRef, ContentVersion, FileStat, OutputContent, RunSnapshot } from '../store.js';
import type pg from 'pg';
import type { PgContext, Queryable } from './context.js';
import type { LeaseFence } from './leases.js';
import { plainText, toAttempt, toContentVersion } from './rows.js';

const HOST = hostname();

interface PendingPersist {
  attemptId: number;
  stamp: string;
  outputShas: string;
  outputs: OutputContent[];
  resolve: () => void;
  reject: (error: unknown) => void;
}

interface PendingStart {
  runId: string;
  taskId: string;
  at: number;
  resolve: (id: number) => void;
  reject: (error: unknown) => void;
}
/** Two writers numbering the same version of a file: the later one runs its transaction again. */
const UNIQUE_VIOLATION = '23505';

/**
 * The engine's durable path on PostgreSQL: attempts, the content versions they and edits store, and the
 * snapshot a build decides from. Like the SQLite store, `complete` marks and hash-cache rows are deferred: the
 * marks ride in the next persist's statement (or, when none comes in this turn of the event loop, one of their
 * own), the hash-cache rows in one statement per turn. Losing them costs a re-write of files, never work.
 * Reads that show them (snapshot, attempt list, export) write the waiting ones first.
 */
export class Attempts {
  private pendingCompletes: { attemptId: number; stats: FileStat[]; at: number }[] = [];
  private pendingStats = new Map<string, Map<string, FileStat>>();
  private flushing: Promise<void> = Promise.resolve();
  private pendingStarts: PendingStart[] = [];
  private pendingPersists: PendingPersist[] = [];
  private scheduled = false;
  /** The run of each attempt this store started: persists are fenced by that run's lease without a read. */
  private readonly attemptRuns = new Map<number, string>();
  /** Their tasks: a worker's persists are fenced by its claim of the task (see LeaseFence.holdClaim). */
  private readonly attemptTasks = new Map<number, string>();

  constructor(
    private readonly context: PgContext,
    private readonly fence: LeaseFence,
  ) {}

  async loadRunSnapshot(runId: string): Promise<RunSnapshot> {
    await this.flush();
    const built = new Map<string, AttemptRecord>();
    const attempts = await this.context.query(
      `SELECT DISTINCT ON (task_id) id, run_id, task_id, status, stamp_json, outputs_json, error, started_at, finished_at
         FROM task_attempts WHERE run_id = $1 AND status IN ('persisted', 'complete') ORDER BY task_id, id DESC`,
      [runId],
    );
    for (const row of attempts.rows) built.set(row.task_id as string, toAttempt(row));
    const unmaterialized = [...built.values()].filter((a) => a.status === 'persisted');
    const previousOutputs = new Map<number, Record<string, string>>();
    for (const attempt of unmaterialized) {
      const previous = await this.context.query(
        `SELECT outputs_json FROM task_attempts WHERE run_id = $1 AND task_id = $2 AND id < $3 AND status IN ('persisted', 'complete')
          ORDER BY id DESC LIMIT 1`,
        [runId, attempt.taskId, attempt.id],
      );
      const outputs = previous.rows[0]?.outputs_json as string | null | undefined;
      previousOutputs.set(attempt.id, outputs ? (JSON.parse(outputs) as Record<string, string>) : {});
    }
    const replayable = new Map<string, number[]>();
    const unpersisted = await this.context.query(
      `SELECT id, task_id FROM task_attempts WHERE run_id = $1 AND status IN ('abandoned', 'failed', 'cancelled') ORDER BY id`,
      [runId],
    );
    for (const row of unpersisted.rows) {
      const taskId = row.task_id as string;
      if ((row.id as number) < (built.get(taskId)?.id ?? 0)) continue;
      replayable.set(taskId, [...(replayable.get(taskId) ?? []), row.id as number]);
    }
    const latestContent = new Map<string, string>();
    const content = await this.context.query(
      'SELECT DISTINCT ON (path) path, sha256 FROM plan_content WHERE run_id = $1 ORDER BY path, version DESC',
      [runId],
    );
    for (const row of content.rows) latestContent.set(row.path as string, row.sha256 as string);
    const fileStats = new Map<string, FileStat>();
    const stats = await this.context.query('SELECT path, size, mtime_ns, ctime_ns, ino, sha256, stat_at_ns FROM file_stats WHERE run_id = $1', [
      runId,
    ]);
    for (const row of stats.rows) {
      fileStats.set(row.path as string, {
        path: row.path as string,
        size: row.size as number,
        mtimeNs: BigInt(row.mtime_ns as string),
        ctimeNs: BigInt(row.ctime_ns as string),
        ino: BigInt(row.ino as string),
        sha256: row.sha256 as string,
        statAtNs: BigInt(row.stat_at_ns as string),
      });
    }
    const pins = await this.context.query('SELECT path, sha256 FROM pinned_files WHERE run_id = $1', [runId]);
    const pinned = new Map(pins.rows.map((row) => [row.path as string, row.sha256 as string]));
    return { built, unmaterialized, previousOutputs, replayable, latestContent, fileStats, pinned };
  }

  async abandonRunningAttempts(runId: string): Promise<number> {
    const now = Date.now();
    return this.context.transaction(async (client) => {
      await client.query(
        `UPDATE llm_interactions SET status = 'abandoned', error_message = 'the process running its attempt died', finished_at = $1
          WHERE status = 'pending' AND attempt_id IN (SELECT id FROM task_attempts WHERE run_id = $2 AND status = 'running')`,
        [now, runId],
      );
      const ended = await client.query(`UPDATE task_attempts SET status = 'abandoned', finished_at = $1 WHERE run_id = $2 AND status = 'running'`, [
        now,
        runId,
      ]);
      return ended.rowCount ?? 0;
    });
  }

  /**
   * Queued for this turn of the event loop: the tasks that become ready together start in ONE insert (one round
   * trip and one commit), like the SQLite store's group commit. Each start still returns only after that commit.
   */
  startAttempt(runId: string, taskId: string): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.pendingStarts.push({ runId, taskId, at: Date.now(), resolve, reject });
      if (this.pendingStarts.length === 1) setImmediate(() => void this.writeStarts());
    });
  }

  private async writeStarts(): Promise<void> {
    const starts = this.pendingStarts;
    this.pendingStarts = [];
    try {
      await this.insertStarts(starts);
    } catch (error) {
      if (starts.length === 1) {
        starts[0]!.reject(error);
        return;
      }
      // One bad start (a run that is not there) must not fail the others: each on its own, as if never batched.
      await Promise.all(starts.map((start) => this.insertStarts([start]).catch((one: unknown) => start.reject(one))));
    }
  }

  private async insertStarts(starts: PendingStart[]): Promise<void> {
    const riders = this.takeRiders(6);
    let result: pg.QueryResult;
    try {
      // Sorted by id, the rows come back in the order of the unnest (ids are taken in insertion order); each
      // start takes the id of its own (run, task) in that order, so no reliance on RETURNING's order.
      result = await this.context.query(
        `WITH ${riders.ctes}
         INSERT INTO task_attempts (run_id, task_id, status, pid, host, started_at)
         SELECT u.run_id, u.task_id, 'running', $3, $4, u.at FROM unnest($1::text[], $2::text[], $5::bigint[]) WITH ORDINALITY AS u(run_id, task_id, at, n)
          ORDER BY u.n RETURNING id, run_id, task_id, ${riders.select}`,
        [starts.map((s) => s.runId), starts.map((s) => s.taskId), process.pid, HOST, starts.map((s) => s.at), ...riders.values],
      );
    } catch (error) {
      riders.restore();
      throw error;
    }
    if (result.rows.length > 0) riders.settle(result.rows[0]!);
    else riders.restore();
    const ids = new Map<string, number[]>();
    for (const row of [...result.rows].sort((a, b) => (a.id as number) - (b.id as number))) {
      const key = `${row.run_id as string}\0${row.task_id as string}`;
      ids.set(key, [...(ids.get(key) ?? []), row.id as number]);
    }
    for (const start of starts) {
      const id = ids.get(`${start.runId}\0${start.taskId}`)?.shift();
      if (id === undefined) {
        start.reject(new StoreError(`starting an attempt of ${start.taskId} returned no id`));
        continue;
      }
      this.attemptRuns.set(id, start.runId);
      this.attemptTasks.set(id, start.taskId);
      start.resolve(id);
    }
  }

  /**
   * Checked now, written with the other persists of this turn of the event loop in ONE statement (one round
   * trip, one commit), as SQLite's group commit shares one transaction; each still returns only after that
   * commit, so a task's content is durable before its files are written.
   */
  persistAttempt(attemptId: number, stamp: string, outputs: OutputContent[]): Promise<void> {
    const outputShas: Record<string, string> = {};
    for (const output of outputs) {
      if (sha256Of(output.bytes) !== output.sha256) {
        return Promise.reject(
          new StoreError(`attempt ${attemptId}: the sha256 given for ${output.path} is not that of its bytes; nothing was stored`),
        );
      }
      outputShas[output.path] = output.sha256;
    }
    return new Promise<void>((resolve, reject) => {
      this.pendingPersists.push({ attemptId, stamp, outputShas: JSON.stringify(outputShas), outputs, resolve, reject });
      if (this.pendingPersists.length === 1) setImmediate(() => void this.writePersists());
    });
  }

  private async writePersists(): Promise<void> {
    const persists = this.pendingPersists;
    this.pendingPersists = [];
    const paths = persists.flatMap((p) => p.outputs.map((o) => o.path));
    if (new Set(paths).size === paths.length) {
      await this.insertPersists(persists);
      return;
    }
    // Two persists of one path in one turn (not the engine's way: a file belongs to one task) would number the
    // same version twice: one at a time, in order.
    for (const persist of persists) await this.insertPersists([persist]);
  }

  private async insertPersists(persists: PendingPersist[]): Promise<void> {
    const now = Date.now();
    const runs = persists.map((p) => this.attemptRuns.get(p.attemptId) ?? null);
    const tokens = runs.map((runId) => (runId === null ? null : this.fence.tokenFor(runId)));
    const claims = persists.map((p, i) => {
      const taskId = this.attemptTasks.get(p.attemptId);
      return runs[i] === null || taskId === undefined ? null : this.fence.claimFor(runs[i]!, taskId);
    });
    const outputs = persists.flatMap((p) => p.outputs.map((output) => ({ attemptId: p.attemptId, output, ...encodeContent(output.bytes) })));
    // The `complete` marks and hash-cache rows waiting for a write ride in this one (as on SQLite, where they
    // join the next commit): a build killed right after this persist leaves the tasks it finished before
    // complete, not persisted.
    const riders = this.takeRiders(14);
    let result: pg.QueryResult;
    try {
      // ONE statement: it checks each attempt is running and holds its run's lease or, on a worker, its claim of
      // the task (FOR SHARE: a takeover waits for this commit, so it sees these attempts), marks it persisted, and adds a version of each
      // output whose bytes differ from the newest, numbered one past it. A writer racing on the same path
      // trips the unique key and runs the statement again.
      result = await this.context.query(
        `WITH asked AS (
           SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $13::bigint[])
             AS a(attempt_id, stamp, outputs_json, run_id, token, claim)),
         marked AS (
           UPDATE task_attempts t SET status = 'persisted', stamp_json = a.stamp, outputs_json = a.outputs_json, persisted_at = $6
             FROM asked a
            WHERE t.id = a.attempt_id AND t.status = 'running'
              AND (a.run_id IS NULL
                OR (a.token IS NOT NULL AND EXISTS (SELECT 1 FROM run_leases l WHERE l.run_id = a.run_id AND l.token = a.token FOR SHARE))
                OR (a.claim IS NOT NULL AND EXISTS (SELECT 1 FROM worker_tasks w WHERE w.run_id = a.run_id AND w.task_id = t.task_id
                      AND w.claim_token = a.claim AND w.state = 'running' FOR SHARE)))
            RETURNING t.id, t.run_id, t.task_id),
         outputs AS (
           SELECT * FROM unnest($7::bigint[], $8::text[], $9::text[], $10::bigint[], $11::text[], $12::bytea[])
             AS o(attempt_id, path, sha256, size, encoding, data)),
         latest AS (
           SELECT DISTINCT ON (c.run_id, c.path) c.run_id, c.path, c.sha256, c.version
             FROM plan_content c JOIN marked m ON c.run_id = m.run_id JOIN outputs o ON o.attempt_id = m.id AND o.path = c.path
            ORDER BY c.run_id, c.path, c.version DESC),
         added AS (
           INSERT INTO plan_content (run_id, path, version, task_id, attempt_id, sha256, size, encoding, data, source, created_at)
           SELECT m.run_id, o.path, COALESCE(l.version, 0) + 1, m.task_id, m.id, o.sha256, o.size, o.encoding, o.data, 'task', $6
             FROM marked m JOIN outputs o ON o.attempt_id = m.id LEFT JOIN latest l ON l.run_id = m.run_id AND l.path = o.path
            WHERE l.sha256 IS DISTINCT FROM o.sha256
           RETURNING 1),
         ${riders.ctes}
         SELECT (SELECT COALESCE(array_agg(id), '{}') FROM marked) AS marked, (SELECT COUNT(*) FROM added) AS added, ${riders.select}`,
        [
          persists.map((p) => p.attemptId),
          persists.map((p) => p.stamp),
          persists.map((p) => p.outputShas),
          persists.map((_, i) => (tokens[i] === null && claims[i] === null ? null : runs[i])),
          tokens,
          now,
          outputs.map((o) => o.attemptId),
          outputs.map((o) => o.output.path),
          outputs.map((o) => o.output.sha256),
          outputs.map((o) => o.output.bytes.length),
          outputs.map((o) => o.encoding),
          outputs.map((o) => o.data),
          claims,
          ...riders.values,
        ],
        { retryOn: [UNIQUE_VIOLATION] },
      );
    } catch (error) {
      // Nothing was written: the riders wait for the next write again, and every persist of the statement fails.
      riders.restore();
      for (const persist of persists) persist.reject(error);
      return;
    }
    riders.settle(result.rows[0]!);
    const marked = new Set((result.rows[0]!.marked as (number | string)[]).map(Number));
    for (const [i, persist] of persists.entries()) {
      if (marked.has(persist.attemptId)) persist.resolve();
      else this.whyNotPersisted(this.context, persist.attemptId, runs[i]!, tokens[i]!, claims[i]!).then(persist.reject, persist.reject);
    }
  }

  private async whyNotPersisted(
    client: Queryable,
    attemptId: number,
    runId: string | null,
    token: string | null,
    claim: string | null,
  ): Promise<StoreError> {
    const found = await client.query('SELECT status, task_id FROM task_attempts WHERE id = $1', [attemptId]);
    if (found.rows.length === 0) return new StoreError(`no attempt ${attemptId}`);
    if (found.rows[0]!.status !== 'running') return new StoreError(`attempt ${attemptId} is ${String(found.rows[0]!.status)}, not running`);
    if (token === null && claim !== null) return this.fence.claimLost(client, runId!, found.rows[0]!.task_id as string, claim);
    return this.fence.lost(client, runId!, token!);
  }

  async completeAttempt(attemptId: number, stats: FileStat[]): Promise<void> {
    this.pendingCompletes.push({ attemptId, stats, at: Date.now() });
    this.schedule();
  }

  async saveFileStats(runId: string, stats: FileStat[]): Promise<void> {
    if (stats.length === 0) return;
    this.queueStats(runId, stats);
    await this.flush();
  }

  /** Writes the waiting `complete` marks and hash-cache rows now. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.writePending());
    return this.flushing;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // The tasks finishing in this turn share one write — the starts or persists of this turn, when there are
    // any (they carry the marks: see takeRiders), else one of their own.
    setImmediate(() => {
      this.scheduled = false;
      if (this.pendingStarts.length > 0 || this.pendingPersists.length > 0) return;
      void this.flush();
    });
  }

  /**
   * The deferred writes (waiting `complete` marks and hash-cache rows) as data-modifying CTEs that ride in the
   * statement being sent, with their parameters numbered from `first`. `settle` takes the statement's answer
   * (the columns `select` adds); `restore` puts them back to wait when the statement failed.
   */
  private takeRiders(first: number): { ctes: string; select: string; values: unknown[]; settle(row: pg.QueryResultRow): void; restore(): void } {
    const completes = this.pendingCompletes;
    this.pendingCompletes = [];
    const stats = this.takeStats();
    const $ = (k: number): string => `$${first + k}`;
    return {
      ctes: `ride_completed AS (
           UPDATE task_attempts t SET status = 'complete', finished_at = u.at
             FROM unnest(${$(0)}::bigint[], ${$(1)}::bigint[]) AS u(id, at)
            WHERE t.id = u.id AND t.status = 'persisted' RETURNING t.id, t.run_id),
         ride_stats AS (
           INSERT INTO file_stats (run_id, path, size, mtime_ns, ctime_ns, ino, sha256, stat_at_ns)
           SELECT * FROM unnest(${$(2)}::text[], ${$(3)}::text[], ${$(4)}::bigint[], ${$(5)}::text[], ${$(6)}::text[], ${$(7)}::text[], ${$(8)}::text[], ${$(9)}::text[])
           ON CONFLICT (run_id, path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, ctime_ns = excluded.ctime_ns,
             ino = excluded.ino, sha256 = excluded.sha256, stat_at_ns = excluded.stat_at_ns
           RETURNING 1)`,
      select: `(SELECT COALESCE(json_agg(json_build_array(id, run_id)), '[]') FROM ride_completed) AS ride_completed`,
      values: [completes.map((c) => c.attemptId), completes.map((c) => c.at), ...stats.values],
      // The hash-cache rows of the tasks just marked wait for the next statement (or a flush: snapshot, close).
      settle: (row) => this.settleCompletes(completes, new Map((row.ride_completed as [number, string][]).map(([id, run]) => [Number(id), run]))),
      restore: () => {
        this.pendingCompletes.push(...completes);
        stats.restore();
        if (completes.length > 0 || stats.count > 0) this.schedule();
      },
    };
  }

  /** The waiting hash-cache rows as the eight arrays ride_stats takes (sorted by key: two stores lock them in the same order). */
  private takeStats(): { values: unknown[]; count: number; restore(): void } {
    const taken = this.pendingStats;
    this.pendingStats = new Map();
    const rows: FileStat[] = [];
    const runs: string[] = [];
    for (const [runId, byPath] of taken) {
      for (const filePath of [...byPath.keys()].sort()) {
        rows.push(byPath.get(filePath)!);
        runs.push(runId);
      }
    }
    return {
      values: [
        runs,
        rows.map((s) => s.path),
        rows.map((s) => s.size),
        rows.map((s) => s.mtimeNs.toString()),
        rows.map((s) => s.ctimeNs.toString()),
        rows.map((s) => s.ino.toString()),
        rows.map((s) => s.sha256),
        rows.map((s) => s.statAtNs.toString()),
      ],
      count: rows.length,
      restore: () => {
        // Newer rows queued meanwhile win over the ones put back.
        for (const [runId, byPath] of taken)
          this.queueStats(
            runId,
            [...byPath.values()].filter((stat) => !this.pendingStats.get(runId)?.has(stat.path)),
          );
      },
    };
  }

  /** After `complete` marks were written: the hash-cache rows of the attempts marked wait for the next flush. */
  private settleCompletes(completes: readonly { attemptId: number; stats: FileStat[] }[], marked: ReadonlyMap<number, string>): void {
    for (const { attemptId, stats } of completes) {
      const runId = marked.get(attemptId);
      if (runId !== undefined) this.queueStats(runId, stats);
      this.attemptRuns.delete(attemptId);
      this.attemptTasks.delete(attemptId);
    }
  }

  private queueStats(runId: string, stats: readonly FileStat[]): void {
    let byPath = this.pendingStats.get(runId);
    if (byPath === undefined) {
      byPath = new Map();
      this.pendingStats.set(runId, byPath);
    }
    for (const stat of stats) byPath.set(stat.path, stat);
  }

  /** Never rejects: the marks and cache rows are optional (an attempt left `persisted` has its files written again). */
  private async writePending(): Promise<void> {
    try {
      // The riders in a statement of their own; twice at most: marking attempts complete queues their
      // hash-cache rows, which the second writes.
      for (let round = 0; round < 2 && (this.pendingCompletes.length > 0 || this.pendingStats.size > 0); round++) {
        const riders = this.takeRiders(1);
        const result = await this.context.query(`WITH ${riders.ctes} SELECT ${riders.select}`, riders.values);
        riders.settle(result.rows[0]!);
      }
    } catch {
      // Left for the next build: the attempts stay `persisted`, the files are hashed again.
    }
  }

  async endAttempt(attemptId: number, status: 'failed' | 'cancelled', error: string | null): Promise<void> {
    const now = Date.now();
    await this.context.transaction(async (client) => {
      const ended = await client.query(`UPDATE task_attempts SET status = $1, error = $2, finished_at = $3 WHERE id = $4 AND status = 'running'`, [
        status,
        plainText(error),
        now,
        attemptId,
      ]);
      if (ended.rowCount === 0) return;
      await client.query(
        `UPDATE llm_interactions SET status = 'abandoned', error_message = $1, finished_at = $2 WHERE attempt_id = $3 AND status = 'pending'`,
        [`its attempt ended ${status}`, now, attemptId],
      );
    });
    this.attemptRuns.delete(attemptId);
    this.attemptTasks.delete(attemptId);
  }

  async recordAttemptError(attemptId: number, error: string): Promise<void> {
    const result = await this.context.query('UPDATE task_attempts SET error = $1 WHERE id = $2', [plainText(error), attemptId]);
    if (result.rowCount === 0) throw new StoreError(`no attempt ${attemptId}`);
  }

  async listAttempts(runId: string, taskId?: string): Promise<AttemptRecord[]> {
    await this.flush();
    const result =
      taskId === undefined
        ? await this.context.query('SELECT * FROM task_attempts WHERE run_id = $1 ORDER BY id', [runId])
        : await this.context.query('SELECT * FROM task_attempts WHERE run_id = $1 AND task_id = $2 ORDER BY id', [runId, taskId]);
    return result.rows.map(toAttempt);
  }

  async recordEdit(runId: string, taskId: string, filePath: string, bytes: Buffer): Promise<{ version: number; sha256: string } | null> {
    const sha256 = sha256Of(bytes);
    const { encoding, data } = encodeContent(bytes);
    const token = this.fence.tokenFor(runId);
    const version = await this.context.transaction(
      async (client) => {
        if (token !== null) await this.fence.check(client, runId, token);
        return insertContentIfChanged(client, {
          runId,
          taskId,
          attemptId: null,
          path: filePath,
          sha256,
          size: bytes.length,
          encoding,
          data,
          source: 'edit',
          now: Date.now(),
        });
      },
      { retryOn: [UNIQUE_VIOLATION] },
    );
    return version === null ? null : { version, sha256 };
  }

  async readContent(runId: string, filePath: string, version?: number): Promise<Buffer | null> {
    const result =
      version === undefined
        ? await this.context.query('SELECT encoding, data FROM plan_content WHERE run_id = $1 AND path = $2 ORDER BY version DESC LIMIT 1', [
            runId,
            filePath,
          ])
        : await this.context.query('SELECT encoding, data FROM plan_content WHERE run_id = $1 AND path = $2 AND version = $3', [
            runId,
            filePath,
            version,
          ]);
    const row = result.rows[0];
    return row ? decodeContent(row.encoding as string, row.data as Buffer) : null;
  }

  async readContentBySha(runId: string, filePath: string, sha256: string): Promise<Buffer | null> {
    const result = await this.context.query(
      'SELECT encoding, data FROM plan_content WHERE run_id = $1 AND path = $2 AND sha256 = $3 ORDER BY version DESC LIMIT 1',
      [runId, filePath, sha256],
    );
    const row = result.rows[0];
    return row ? decodeContent(row.encoding as string, row.data as Buffer) : null;
  }

  async readContentsBySha(runId: string, wanted: readonly ContentRef[]): Promise<(Buffer | null)[]> {
    if (wanted.length === 0) return [];
    const result = await this.context.query(
      `SELECT DISTINCT ON (w.i) w.i, c.encoding, c.data
         FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS w(path, sha256, i)
         JOIN plan_content c ON c.run_id = $1 AND c.path = w.path AND c.sha256 = w.sha256
        ORDER BY w.i, c.version DESC`,
      [runId, wanted.map((w) => w.path), wanted.map((w) => w.sha256)],
    );
    const found: (Buffer | null)[] = wanted.map(() => null);
    for (const row of result.rows) found[Number(row.i) - 1] = decodeContent(row.encoding as string, row.data as Buffer);
    return found;
  }

  async listContentVersions(runId: string, filePath?: string): Promise<ContentVersion[]> {
    const columns = 'id, run_id, path, version, task_id, attempt_id, sha256, size, source, created_at';
    const result =
      filePath === undefined
        ? await this.context.query(`SELECT ${columns} FROM plan_content WHERE run_id = $1 ORDER BY path COLLATE "C", version`, [runId])
        : await this.context.query(`SELECT ${columns} FROM plan_content WHERE run_id = $1 AND path = $2 ORDER BY version`, [runId, filePath]);
    return result.rows.map(toContentVersion);
  }
}

interface NewContent {
  runId: string;
  taskId: string;
  attemptId: number | null;
  path: string;
  sha256: string;
  size: number;
  encoding: string;
  data: Buffer;
  source: 'task' | 'edit';
  now: number;
}

/**
 * A new version only when the bytes differ from the newest one, numbered one past it, in one statement. Two
 * writers that read the same newest version both try the same number: the unique key refuses the later, whose
 * transaction runs again against the new newest (compare-and-set, no lost version).
 */
async function insertContentIfChanged(client: Queryable, c: NewContent): Promise<number | null> {
  const result = await client.query(
    `WITH latest AS (SELECT sha256, version FROM plan_content WHERE run_id = $1 AND path = $2 ORDER BY version DESC LIMIT 1)
     INSERT INTO plan_content (run_id, path, version, task_id, attempt_id, sha256, size, encoding, data, source, created_at)
     SELECT $1, $2, COALESCE((SELECT version FROM latest), 0) + 1, $3, $4, $5, $6, $7, $8, $9, $10
      WHERE NOT EXISTS (SELECT 1 FROM latest WHERE sha256 = $5)
     RETURNING version`,
    [c.runId, c.path, c.taskId, c.attemptId, c.sha256, c.size, c.encoding, c.data, c.source, c.now],
  );
  return (result.rows[0]?.version as number | undefined) ?? null;
}

function sha256Of(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
