import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { decodeContent, encodeContent } from '../compression.js';
import { StoreError } from '../store-error.js';
import type { AttemptRecord, ContentVersion, FileStat, OutputContent, RunSnapshot } from '../store.js';
import type { PgContext, Queryable } from './context.js';
import type { LeaseFence } from './leases.js';
import { plainText, toAttempt, toContentVersion } from './rows.js';

const HOST = hostname();

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
  private scheduled = false;
  /** The run of each attempt this store started: persists are fenced by that run's lease without a read. */
  private readonly attemptRuns = new Map<number, string>();

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
    // Sorted by id, the rows come back in the order of the unnest (ids are taken in insertion order); each
    // start takes the id of its own (run, task) in that order, so no reliance on RETURNING's order.
    const result = await this.context.query(
      `INSERT INTO task_attempts (run_id, task_id, status, pid, host, started_at)
       SELECT u.run_id, u.task_id, 'running', $3, $4, u.at FROM unnest($1::text[], $2::text[], $5::bigint[]) WITH ORDINALITY AS u(run_id, task_id, at, n)
        ORDER BY u.n RETURNING id, run_id, task_id`,
      [starts.map((s) => s.runId), starts.map((s) => s.taskId), process.pid, HOST, starts.map((s) => s.at)],
    );
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
      start.resolve(id);
    }
  }

  async persistAttempt(attemptId: number, stamp: string, outputs: OutputContent[]): Promise<void> {
    const now = Date.now();
    const outputShas: Record<string, string> = {};
    for (const output of outputs) {
      if (sha256Of(output.bytes) !== output.sha256) {
        throw new StoreError(`attempt ${attemptId}: the sha256 given for ${output.path} is not that of its bytes; nothing was stored`);
      }
      outputShas[output.path] = output.sha256;
    }
    const encoded = outputs.map((output) => ({ output, ...encodeContent(output.bytes) }));
    const runId = this.attemptRuns.get(attemptId) ?? null;
    const token = runId === null ? null : this.fence.tokenFor(runId);
    // The `complete` marks waiting for a write ride in this one (as on SQLite, where they join the next commit):
    // a build killed right after this persist leaves the tasks it finished before complete, not persisted.
    const riding = this.pendingCompletes;
    this.pendingCompletes = [];
    // ONE statement, so one round trip and one commit: it checks the attempt is running and the lease (FOR
    // SHARE: a takeover waits for this commit, so its build sees this attempt), marks it persisted, and adds a
    // version of each output whose bytes differ from the newest, numbered one past it. A writer racing on the
    // same path trips the unique key and runs the statement again.
    const result = await this.context
      .query(
        `WITH marked AS (
         UPDATE task_attempts SET status = 'persisted', stamp_json = $1, outputs_json = $2, persisted_at = $3
          WHERE id = $4 AND status = 'running'
            AND ($5::text IS NULL OR EXISTS (SELECT 1 FROM run_leases WHERE run_id = $5 AND token = $6::bigint FOR SHARE))
          RETURNING run_id, task_id),
       outputs AS (
         SELECT * FROM unnest($7::text[], $8::text[], $9::bigint[], $10::text[], $11::bytea[]) AS o(path, sha256, size, encoding, data)),
       latest AS (
         SELECT DISTINCT ON (c.path) c.path, c.sha256, c.version FROM plan_content c JOIN marked m ON c.run_id = m.run_id
          WHERE c.path = ANY($7::text[]) ORDER BY c.path, c.version DESC),
       added AS (
         INSERT INTO plan_content (run_id, path, version, task_id, attempt_id, sha256, size, encoding, data, source, created_at)
         SELECT m.run_id, o.path, COALESCE(l.version, 0) + 1, m.task_id, $4, o.sha256, o.size, o.encoding, o.data, 'task', $3
           FROM marked m CROSS JOIN outputs o LEFT JOIN latest l ON l.path = o.path
          WHERE l.sha256 IS DISTINCT FROM o.sha256
         RETURNING 1),
       completed AS (
         UPDATE task_attempts t SET status = 'complete', finished_at = u.at
           FROM unnest($12::bigint[], $13::bigint[]) AS u(id, at)
          WHERE t.id = u.id AND t.status = 'persisted' RETURNING t.id, t.run_id)
       SELECT (SELECT COUNT(*) FROM marked) AS marked, (SELECT COUNT(*) FROM added) AS added,
              (SELECT COALESCE(json_agg(json_build_array(id, run_id)), '[]') FROM completed) AS completed`,
        [
          stamp,
          JSON.stringify(outputShas),
          now,
          attemptId,
          token === null ? null : runId,
          token,
          encoded.map((e) => e.output.path),
          encoded.map((e) => e.output.sha256),
          encoded.map((e) => e.output.bytes.length),
          encoded.map((e) => e.encoding),
          encoded.map((e) => e.data),
          riding.map((c) => c.attemptId),
          riding.map((c) => c.at),
        ],
        { retryOn: [UNIQUE_VIOLATION] },
      )
      .catch((error: unknown) => {
        // Not written: the marks wait for the next write again.
        this.pendingCompletes.push(...riding);
        if (riding.length > 0) this.schedule();
        throw error;
      });
    this.settleCompletes(riding, new Map((result.rows[0]!.completed as [number, string][]).map(([id, run]) => [Number(id), run])));
    if (result.rows[0]!.marked === 0) throw await this.whyNotPersisted(this.context, attemptId, runId, token);
  }

  private async whyNotPersisted(client: Queryable, attemptId: number, runId: string | null, token: string | null): Promise<StoreError> {
    const found = await client.query('SELECT status FROM task_attempts WHERE id = $1', [attemptId]);
    if (found.rows.length === 0) return new StoreError(`no attempt ${attemptId}`);
    if (found.rows[0]!.status !== 'running') return new StoreError(`attempt ${attemptId} is ${String(found.rows[0]!.status)}, not running`);
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
    // The tasks finishing in this turn share one write.
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  /** After `complete` marks were written: the hash-cache rows of the attempts marked wait for the next flush. */
  private settleCompletes(completes: readonly { attemptId: number; stats: FileStat[] }[], marked: ReadonlyMap<number, string>): void {
    for (const { attemptId, stats } of completes) {
      const runId = marked.get(attemptId);
      if (runId !== undefined) this.queueStats(runId, stats);
      this.attemptRuns.delete(attemptId);
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
    const completes = this.pendingCompletes;
    this.pendingCompletes = [];
    try {
      if (completes.length > 0) {
        const marked = await this.context.query(
          `UPDATE task_attempts t SET status = 'complete', finished_at = u.at
             FROM unnest($1::bigint[], $2::bigint[]) AS u(id, at)
            WHERE t.id = u.id AND t.status = 'persisted' RETURNING t.id, t.run_id`,
          [completes.map((c) => c.attemptId), completes.map((c) => c.at)],
        );
        this.settleCompletes(completes, new Map(marked.rows.map((row) => [row.id as number, row.run_id as string])));
      }
      await this.writeStats();
    } catch {
      // Left for the next build: the attempts stay `persisted`, the files are hashed again.
    }
  }

  private async writeStats(): Promise<void> {
    if (this.pendingStats.size === 0) return;
    const rows: FileStat[] = [];
    const runs: string[] = [];
    for (const [runId, byPath] of this.pendingStats) {
      // Sorted by key: two stores upserting the same rows take their locks in the same order.
      for (const filePath of [...byPath.keys()].sort()) {
        rows.push(byPath.get(filePath)!);
        runs.push(runId);
      }
    }
    this.pendingStats = new Map();
    await this.context.query(
      `INSERT INTO file_stats (run_id, path, size, mtime_ns, ctime_ns, ino, sha256, stat_at_ns)
       SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
       ON CONFLICT (run_id, path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, ctime_ns = excluded.ctime_ns,
         ino = excluded.ino, sha256 = excluded.sha256, stat_at_ns = excluded.stat_at_ns`,
      [
        runs,
        rows.map((s) => s.path),
        rows.map((s) => s.size),
        rows.map((s) => s.mtimeNs.toString()),
        rows.map((s) => s.ctimeNs.toString()),
        rows.map((s) => s.ino.toString()),
        rows.map((s) => s.sha256),
        rows.map((s) => s.statAtNs.toString()),
      ],
    );
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
