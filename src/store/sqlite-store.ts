import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { decodeContent, encodeContent } from './compression.js';
import { latestSchemaVersion, migrations } from './migrations.js';
import { GroupCommit } from './group-commit.js';
import { StoreError } from './store-error.js';
import type {
  AttemptRecord,
  AttemptStatus,
  ContentVersion,
  FileStat,
  InteractionFinish,
  InteractionRecord,
  InteractionStart,
  InteractionStatus,
  NewRun,
  OutputContent,
  RunChanges,
  TaskCallHistory,
  RunRecord,
  RunSnapshot,
  RunStatus,
  Store,
} from './store.js';

/**
 * `process`: a committed attempt survives `kill -9` (WAL, synchronous=NORMAL).
 * `full`: it also survives power loss (every commit is fsynced before its files are written).
 */
export type Durability = 'process' | 'full';

export interface SqliteStoreOptions {
  durability?: Durability;
  /** How long a write waits for another process's write lock before failing with SQLITE_BUSY. */
  busyTimeoutMs?: number;
}

type Row = Record<string, unknown>;

/** Asked once: `os.hostname()` is a system call, and attempts record it. */
const HOST = hostname();

/** Hash-cache entries written in one batch once this many wait (see SqliteStore.pendingStats). */
const STAT_BATCH = 4096;

/** `PLAN_DB_BUSY_TIMEOUT_MS` (whole ms ≥ 0), else 10 s: how long a write waits for another process's lock. */
function busyTimeoutFromEnv(): number {
  const text = process.env.PLAN_DB_BUSY_TIMEOUT_MS;
  if (text === undefined || text.trim() === '') return 10_000;
  const ms = Number(text);
  if (!Number.isInteger(ms) || ms < 0) throw new StoreError(`PLAN_DB_BUSY_TIMEOUT_MS must be a whole number of milliseconds ≥ 0 (got '${text}')`);
  return ms;
}

export async function openSqliteStore(file: string, options: SqliteStoreOptions = {}): Promise<SqliteStore> {
  return new SqliteStore(file, options);
}

export class SqliteStore implements Store {
  readonly location: string;
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(file: string, options: SqliteStoreOptions = {}) {
    this.location = path.resolve(file);
    fs.mkdirSync(path.dirname(this.location), { recursive: true });
    try {
      this.db = new Database(this.location, { timeout: options.busyTimeoutMs ?? busyTimeoutFromEnv() });
      this.db.pragma('journal_mode = WAL');
    } catch (error) {
      throw StoreError.from(error, `cannot open database ${this.location}`);
    }
    this.db.pragma(`synchronous = ${options.durability === 'full' ? 'FULL' : 'NORMAL'}`);
    this.db.pragma('foreign_keys = ON');
    // Checkpoint the WAL every ~16 MB instead of every 4 MB: each checkpoint is an fsync.
    this.db.pragma('wal_autocheckpoint = 4000');
    this.transaction = this.db.transaction((work: () => unknown) => work());
    const begin = this.db.prepare('BEGIN IMMEDIATE');
    const commit = this.db.prepare('COMMIT');
    const rollback = this.db.prepare('ROLLBACK');
    this.group = new GroupCommit({
      begin: () => begin.run(),
      beforeCommit: () => {
        // The marks are optional (see pendingCompletes): one that fails must not undo the group's writes.
        try {
          this.transaction(() => this.flushCompletes());
        } catch {
          // A transaction SQLite rolled back by itself makes the COMMIT that follows fail, as it should.
        }
      },
      commit: () => commit.run(),
      rollback: () => rollback.run(),
      inTransaction: () => this.db.inTransaction,
      // Called inside the open transaction, better-sqlite3 makes it a savepoint.
      savepoint: (work) => this.transaction(work) as ReturnType<typeof work>,
    });
    this.migrate();
  }

  private migrate(): void {
    try {
      this.db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
      const current = (this.db.prepare('SELECT MAX(version) AS v FROM schema_version').get() as { v: number | null }).v ?? 0;
      if (current > latestSchemaVersion) {
        throw new StoreError(
          `database ${this.location} has schema version ${current}, newer than this plan knows (${latestSchemaVersion}): upgrade plan`,
        );
      }
      const apply = this.db.transaction(() => {
        for (const migration of migrations) {
          if (migration.version <= current) continue;
          this.db.exec(migration.sql);
          this.db.prepare('INSERT INTO schema_version (version, applied_at) VALUES (?, ?)').run(migration.version, Date.now());
        }
      });
      apply.immediate();
    } catch (error) {
      throw StoreError.from(error, `cannot use database ${this.location}`);
    }
  }

  /** Prepared once, reused: the per-task path runs a handful of these. */
  private sql(text: string): Database.Statement {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.db.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
  }

  /** Every write goes through the group commit: it settles once its transaction has committed. */
  private async write<T>(work: () => T, options: { oneStatement?: boolean } = {}): Promise<T> {
    try {
      return await this.group.write(work, options);
    } catch (error) {
      throw StoreError.from(error, `cannot write to database ${this.location}`);
    }
  }

  /** One reusable transaction wrapper: making a new one per write is measurable on a 10k-task build. */
  private readonly transaction: Database.Transaction<(work: () => unknown) => unknown>;
  private readonly group: GroupCommit;

  /**
   * `complete` marks ride in the next commit (of a task's start and persist, or the build's end) instead
   * of paying a commit of their own. Losing one in a crash is harmless: the attempt stays `persisted` and the
   * next build writes its files from the database again.
   */
  private pendingCompletes: { attemptId: number; stats: FileStat[]; at: number }[] = [];

  /**
   * Hash-cache entries (run → path → stat) waiting to be written in one batch, sorted by key: one upsert per
   * task would dirty a random page of file_stats in every commit. They are a cache: one lost in a crash only
   * costs the next build a re-hash of that file.
   */
  private pendingStats = new Map<string, Map<string, FileStat>>();
  private pendingStatCount = 0;
  /** Set by flush: write every pending stat in the next commit. */
  private statsDue = false;

  private flushCompletes(): void {
    if (this.pendingCompletes.length > 0) {
      const pending = this.pendingCompletes;
      this.pendingCompletes = [];
      const mark = this.sql(`UPDATE task_attempts SET status = 'complete', finished_at = ? WHERE id = ? AND status = 'persisted' RETURNING run_id`);
      for (const { attemptId, stats, at } of pending) {
        const row = mark.get(at, attemptId) as Row | undefined;
        if (row) this.queueFileStats(row.run_id as string, stats);
      }
    }
    if (this.statsDue || this.pendingStatCount >= STAT_BATCH) this.writePendingStats();
  }

  private queueFileStats(runId: string, stats: readonly FileStat[]): void {
    let byPath = this.pendingStats.get(runId);
    if (byPath === undefined) this.pendingStats.set(runId, (byPath = new Map()));
    for (const stat of stats) {
      if (!byPath.has(stat.path)) this.pendingStatCount++;
      byPath.set(stat.path, stat);
    }
  }

  private writePendingStats(): void {
    this.statsDue = false;
    if (this.pendingStatCount === 0) return;
    const upsert = this.sql(
      `INSERT INTO file_stats (run_id, path, size, mtime_ns, ino, sha256) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (run_id, path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, ino = excluded.ino, sha256 = excluded.sha256`,
    );
    for (const [runId, byPath] of this.pendingStats) {
      for (const filePath of [...byPath.keys()].sort()) {
        const s = byPath.get(filePath)!;
        upsert.run(runId, s.path, s.size, s.mtimeNs.toString(), s.ino.toString(), s.sha256);
      }
    }
    this.pendingStats.clear();
    this.pendingStatCount = 0;
  }

  // runs

  async createRun(run: NewRun): Promise<RunRecord> {
    const now = Date.now();
    const id = newRunId(now);
    await this.write(() =>
      this.sql(
        `INSERT INTO runs (id, run_dir, pipeline, params_json, status, status_reason, created_at, updated_at)
         VALUES (?, ?, ?, ?, 'created', NULL, ?, ?)`,
      ).run(id, run.runDir, run.pipeline, JSON.stringify(run.params), now, now),
    );
    return (await this.getRun(id))!;
  }

  async getRun(runId: string): Promise<RunRecord | null> {
    const row = this.sql('SELECT * FROM runs WHERE id = ?').get(runId) as Row | undefined;
    return row ? toRun(row) : null;
  }

  async findRunByDir(runDir: string): Promise<RunRecord | null> {
    const row = this.sql('SELECT * FROM runs WHERE run_dir = ? ORDER BY created_at DESC LIMIT 1').get(runDir) as Row | undefined;
    return row ? toRun(row) : null;
  }

  async updateRun(runId: string, changes: RunChanges): Promise<void> {
    await this.write(() => {
      const current = this.sql('SELECT * FROM runs WHERE id = ?').get(runId) as Row | undefined;
      if (!current) throw new StoreError(`no run with id ${runId}`);
      const cancelRequestedAt = changes.cancelRequested === undefined ? current.cancel_requested_at : changes.cancelRequested ? Date.now() : null;
      this.sql(
        'UPDATE runs SET run_dir = ?, status = ?, status_reason = ?, params_json = ?, cancel_requested_at = ?, updated_at = ? WHERE id = ?',
      ).run(
        changes.runDir ?? current.run_dir,
        changes.status ?? current.status,
        changes.statusReason === undefined ? current.status_reason : changes.statusReason,
        changes.params === undefined ? current.params_json : JSON.stringify(changes.params),
        cancelRequestedAt,
        Date.now(),
        runId,
      );
    });
  }

  async listRuns(): Promise<RunRecord[]> {
    return (this.sql('SELECT * FROM runs ORDER BY created_at, id').all() as Row[]).map(toRun);
  }

  // attempts and content

  async loadRunSnapshot(runId: string): Promise<RunSnapshot> {
    await this.flush();
    // The no-op hot path: three reads of small columns as raw arrays (no per-row objects from the driver),
    // only the newest persisted attempt of each task.
    const built = new Map<string, AttemptRecord>();
    const attempts = this.sql(
      `SELECT id, task_id, status, stamp_json, outputs_json, started_at, finished_at FROM task_attempts
        WHERE id IN (SELECT MAX(id) FROM task_attempts WHERE run_id = ? AND status IN ('persisted', 'complete') GROUP BY task_id)`,
    )
      .raw()
      .all(runId) as [number, string, AttemptStatus, string | null, string | null, number, number | null][];
    for (const [id, taskId, status, stamp, outputs, startedAt, finishedAt] of attempts) {
      built.set(taskId, {
        id,
        runId,
        taskId,
        status,
        stamp,
        outputs: outputs === null ? null : (JSON.parse(outputs) as Record<string, string>),
        error: null,
        startedAt,
        finishedAt,
      });
    }
    const unmaterialized = [...built.values()].filter((a) => a.status === 'persisted');

    const replayable = new Map<string, number[]>();
    const unpersisted = this.sql(
      `SELECT id, task_id FROM task_attempts WHERE run_id = ? AND status IN ('abandoned', 'failed', 'cancelled') ORDER BY id`,
    )
      .raw()
      .all(runId) as [number, string][];
    for (const [id, taskId] of unpersisted) {
      if (id < (built.get(taskId)?.id ?? 0)) continue;
      replayable.set(taskId, [...(replayable.get(taskId) ?? []), id]);
    }

    const latestContent = new Map<string, string>();
    // SQLite returns the bare columns of the row holding MAX(version).
    const content = this.sql('SELECT path, sha256, MAX(version) FROM plan_content WHERE run_id = ? GROUP BY path').raw().all(runId) as [string, string][];
    for (const [filePath, sha] of content) latestContent.set(filePath, sha);

    const fileStats = new Map<string, FileStat>();
    const stats = this.sql('SELECT path, size, mtime_ns, ino, sha256 FROM file_stats WHERE run_id = ?').raw().all(runId) as [string, number, string, string, string][];
    for (const [filePath, size, mtimeNs, ino, sha] of stats) {
      fileStats.set(filePath, { path: filePath, size, mtimeNs: BigInt(mtimeNs), ino: BigInt(ino), sha256: sha });
    }
    return { built, unmaterialized, replayable, latestContent, fileStats };
  }

  async abandonRunningAttempts(runId: string): Promise<number> {
    return this.write(
      () =>
        this.sql(`UPDATE task_attempts SET status = 'abandoned', finished_at = ? WHERE run_id = ? AND status = 'running'`).run(Date.now(), runId)
          .changes,
    );
  }

  async startAttempt(runId: string, taskId: string): Promise<number> {
    return this.write(
      () =>
        this.sql(`INSERT INTO task_attempts (run_id, task_id, status, pid, host, started_at) VALUES (?, ?, 'running', ?, ?, ?)`).run(
          runId,
          taskId,
          process.pid,
          HOST,
          Date.now(),
        ).lastInsertRowid as number,
      { oneStatement: true },
    );
  }

  async persistAttempt(attemptId: number, stamp: string, outputs: OutputContent[]): Promise<void> {
    const now = Date.now();
    const outputShas: Record<string, string> = {};
    for (const output of outputs) outputShas[output.path] = output.sha256;
    await this.write(() => {
      // One statement checks and marks: the savepoint undoes it if a content row then fails.
      const attempt = this.sql(
        `UPDATE task_attempts SET status = 'persisted', stamp_json = ?, outputs_json = ?, persisted_at = ? WHERE id = ? AND status = 'running'
         RETURNING run_id, task_id`,
      ).get(stamp, JSON.stringify(outputShas), now, attemptId) as Row | undefined;
      if (!attempt) {
        const found = this.sql('SELECT status FROM task_attempts WHERE id = ?').get(attemptId) as Row | undefined;
        throw new StoreError(found ? `attempt ${attemptId} is ${String(found.status)}, not running` : `no attempt ${attemptId}`);
      }
      for (const output of outputs) {
        this.insertContentIfChanged(attempt.run_id as string, attempt.task_id as string, attemptId, output.path, output.sha256, output.bytes, 'task', now);
      }
    });
  }

  /** A new version only when the bytes differ from the newest one: an identical rebuild is not a new version. */
  private insertContentIfChanged(
    runId: string,
    taskId: string,
    attemptId: number | null,
    filePath: string,
    sha256: string,
    bytes: Buffer,
    source: 'task' | 'edit',
    now: number,
  ): void {
    const latest = this.sql('SELECT sha256, version FROM plan_content WHERE run_id = ? AND path = ? ORDER BY version DESC LIMIT 1').get(
      runId,
      filePath,
    ) as Row | undefined;
    if (latest && latest.sha256 === sha256) return;
    const { encoding, data } = encodeContent(bytes);
    this.sql(
      `INSERT INTO plan_content (run_id, path, version, task_id, attempt_id, sha256, size, encoding, data, source, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(runId, filePath, ((latest?.version as number | undefined) ?? 0) + 1, taskId, attemptId, sha256, bytes.length, encoding, data, source, now);
  }

  async completeAttempt(attemptId: number, stats: FileStat[]): Promise<void> {
    this.pendingCompletes.push({ attemptId, stats, at: Date.now() });
    if (this.pendingCompletes.length >= 256) await this.write(() => undefined);
  }

  /** Commits the `complete` marks and hash-cache entries still waiting (see completeAttempt). */
  async flush(): Promise<void> {
    if (this.pendingCompletes.length === 0 && this.pendingStatCount === 0) return;
    this.statsDue = true;
    await this.write(() => undefined);
  }

  async endAttempt(attemptId: number, status: 'failed' | 'cancelled', error: string | null): Promise<void> {
    await this.write(() =>
      this.sql(`UPDATE task_attempts SET status = ?, error = ?, finished_at = ? WHERE id = ? AND status = 'running'`).run(
        status,
        error,
        Date.now(),
        attemptId,
      ),
    );
  }

  async listAttempts(runId: string, taskId?: string): Promise<AttemptRecord[]> {
    await this.flush();
    const rows =
      taskId === undefined
        ? this.sql('SELECT * FROM task_attempts WHERE run_id = ? ORDER BY id').all(runId)
        : this.sql('SELECT * FROM task_attempts WHERE run_id = ? AND task_id = ? ORDER BY id').all(runId, taskId);
    return (rows as Row[]).map(toAttempt);
  }

  async recordEdit(runId: string, taskId: string, filePath: string, sha256: string, bytes: Buffer): Promise<void> {
    await this.write(() => this.insertContentIfChanged(runId, taskId, null, filePath, sha256, bytes, 'edit', Date.now()));
  }

  async readContent(runId: string, filePath: string, version?: number): Promise<Buffer | null> {
    const row = (
      version === undefined
        ? this.sql('SELECT encoding, data FROM plan_content WHERE run_id = ? AND path = ? ORDER BY version DESC LIMIT 1').get(runId, filePath)
        : this.sql('SELECT encoding, data FROM plan_content WHERE run_id = ? AND path = ? AND version = ?').get(runId, filePath, version)
    ) as Row | undefined;
    return row ? decodeContent(row.encoding as string, row.data as Buffer) : null;
  }

  async readContentBySha(runId: string, filePath: string, sha256: string): Promise<Buffer | null> {
    const row = this.sql('SELECT encoding, data FROM plan_content WHERE run_id = ? AND path = ? AND sha256 = ? ORDER BY version DESC LIMIT 1').get(
      runId,
      filePath,
      sha256,
    ) as Row | undefined;
    return row ? decodeContent(row.encoding as string, row.data as Buffer) : null;
  }

  async listContentVersions(runId: string, filePath?: string): Promise<ContentVersion[]> {
    const columns = 'id, run_id, path, version, task_id, attempt_id, sha256, size, source, created_at';
    const rows =
      filePath === undefined
        ? this.sql(`SELECT ${columns} FROM plan_content WHERE run_id = ? ORDER BY path, version`).all(runId)
        : this.sql(`SELECT ${columns} FROM plan_content WHERE run_id = ? AND path = ? ORDER BY version`).all(runId, filePath);
    return (rows as Row[]).map(toContentVersion);
  }

  async saveFileStats(runId: string, stats: FileStat[]): Promise<void> {
    if (stats.length === 0) return;
    // Through the pending batch, so a newer entry is never overwritten by an older one still waiting.
    this.queueFileStats(runId, stats);
    await this.flush();
  }

  // model calls

  async startInteraction(start: InteractionStart): Promise<number> {
    return this.write(
      () =>
        this.sql(
          `INSERT INTO llm_interactions (run_id, task_id, attempt_id, item_key, turn, request_hash, provider, requested_model,
             messages_json, messages_z, status, started_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', ?, 'pending', ?)`,
        ).run(
          start.runId,
          start.taskId,
          start.attemptId,
          start.itemKey,
          start.turn,
          start.requestHash,
          start.provider,
          start.requestedModel,
          // Level 1: a 20-turn conversation stores ~100 KB of messages per turn; speed matters more than the last few %.
          deflateRawSync(JSON.stringify(start.messages), { level: 1 }),
          Date.now(),
        ).lastInsertRowid as number,
    );
  }

  async finishInteraction(id: number, finish: InteractionFinish): Promise<void> {
    await this.write(() =>
      this.sql(
        `UPDATE llm_interactions SET status = ?, answered_model = ?, response_text = ?, parsed_json = ?, error_class = ?,
           error_message = ?, http_status = ?, input_tokens = ?, output_tokens = ?, tokens_estimated = ?, duration_ms = ?,
           cost_usd = ?, price_json = ?, finished_at = ?
         WHERE id = ?`,
      ).run(
        finish.status,
        finish.answeredModel ?? null,
        finish.responseText ?? null,
        finish.parsed === undefined ? null : JSON.stringify(finish.parsed),
        finish.errorClass ?? null,
        finish.errorMessage ?? null,
        finish.httpStatus ?? null,
        finish.inputTokens ?? null,
        finish.outputTokens ?? null,
        finish.tokensEstimated ? 1 : 0,
        finish.durationMs ?? null,
        finish.costUsd ?? null,
        finish.price === undefined ? null : JSON.stringify(finish.price),
        Date.now(),
        id,
      ),
    );
  }

  async findReplayableInteractions(attemptIds: number[], requestHash: string): Promise<InteractionRecord[]> {
    if (attemptIds.length === 0) return [];
    const placeholders = attemptIds.map(() => '?').join(', ');
    const rows = this.db
      .prepare(
        `SELECT * FROM llm_interactions WHERE attempt_id IN (${placeholders}) AND request_hash = ?
           AND status = 'completed' ORDER BY id`,
      )
      .all(...attemptIds, requestHash) as Row[];
    return rows.map(toInteraction);
  }

  async listInteractions(runId: string, filter: { taskId?: string; status?: InteractionStatus } = {}): Promise<InteractionRecord[]> {
    const where = ['run_id = ?'];
    const args: unknown[] = [runId];
    if (filter.taskId !== undefined) {
      where.push('task_id = ?');
      args.push(filter.taskId);
    }
    if (filter.status !== undefined) {
      where.push('status = ?');
      args.push(filter.status);
    }
    return (this.sql(`SELECT * FROM llm_interactions WHERE ${where.join(' AND ')} ORDER BY id`).all(...args) as Row[]).map(toInteraction);
  }

  /** For tests and `plan db` commands: the integrity check's verdict ('ok' when sound). */
  integrityCheck(): string {
    return (this.db.pragma('integrity_check', { simple: true }) as string) ?? 'unknown';
  }

  // inspection queries: read views and housekeeping for `plan list/show/llm/costs/clean/db`; never on the build path

  async queryRuns(query: RunQuery): Promise<RunRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (query.statuses !== undefined && query.statuses.length > 0) {
      where.push(`status IN (${query.statuses.map(() => '?').join(', ')})`);
      args.push(...query.statuses);
    }
    if (query.createdSince !== undefined) {
      where.push('created_at >= ?');
      args.push(query.createdSince);
    }
    if (query.updatedBefore !== undefined) {
      where.push('updated_at < ?');
      args.push(query.updatedBefore);
    }
    if (query.promptContains !== undefined) {
      where.push(`instr(lower(COALESCE(json_extract(params_json, '$.prompt'), '')), lower(?)) > 0`);
      args.push(query.promptContains);
    }
    let text = `SELECT * FROM runs${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC`;
    if (query.latest !== undefined) {
      text += ' LIMIT ?';
      args.push(query.latest);
    }
    return (this.sql(text).all(...args) as Row[]).map(toRun);
  }

  async runTotals(runId: string): Promise<RunTotals> {
    const attempts = this.sql(
      `SELECT COUNT(*) AS attempts, MIN(started_at) AS first, MAX(COALESCE(finished_at, persisted_at, started_at)) AS last,
         COUNT(DISTINCT CASE WHEN status IN ('persisted', 'complete') THEN task_id END) AS built
       FROM task_attempts WHERE run_id = ?`,
    ).get(runId) as Row;
    const failed = this.sql(
      `SELECT COUNT(*) AS n FROM task_attempts a
       WHERE a.run_id = ? AND a.status IN ('failed', 'cancelled', 'abandoned')
         AND a.id = (SELECT MAX(b.id) FROM task_attempts b WHERE b.run_id = a.run_id AND b.task_id = a.task_id)`,
    ).get(runId) as Row;
    const content = this.sql('SELECT COUNT(DISTINCT path) AS files, COUNT(*) AS versions FROM plan_content WHERE run_id = ?').get(runId) as Row;
    const calls = this.sql(
      `SELECT COUNT(*) AS calls, COALESCE(SUM(status = 'failed'), 0) AS failed, COALESCE(SUM(input_tokens), 0) AS input,
         COALESCE(SUM(output_tokens), 0) AS output, COALESCE(SUM(cost_usd), 0) AS cost, MAX(COALESCE(finished_at, started_at)) AS last
       FROM llm_interactions WHERE run_id = ?`,
    ).get(runId) as Row;
    const models = this.sql(
      `SELECT answered_model AS model, COUNT(*) AS n FROM llm_interactions WHERE run_id = ? AND answered_model IS NOT NULL
       GROUP BY answered_model ORDER BY n DESC, answered_model`,
    ).all(runId) as Row[];
    const ends = [attempts.last, calls.last].filter((t): t is number => typeof t === 'number');
    return {
      runId,
      tasksBuilt: attempts.built as number,
      tasksFailed: failed.n as number,
      attempts: attempts.attempts as number,
      files: content.files as number,
      versions: content.versions as number,
      calls: calls.calls as number,
      failedCalls: calls.failed as number,
      inputTokens: calls.input as number,
      outputTokens: calls.output as number,
      costUsd: calls.cost as number,
      models: models.map((row) => row.model as string),
      firstActivityAt: (attempts.first as number | null) ?? null,
      lastActivityAt: ends.length > 0 ? Math.max(...ends) : null,
    };
  }

  async summarizeSpend(by: SpendGrouping, query: SpendQuery = {}): Promise<SpendRow[]> {
    // The grouping picks one of these fixed expressions; no caller text reaches the SQL.
    const keys: Record<SpendGrouping, string> = {
      run: 'run_id',
      task: 'task_id',
      model: 'COALESCE(answered_model, requested_model)',
      day: `strftime('%Y-%m-%d', started_at / 1000, 'unixepoch')`,
    };
    const where: string[] = [];
    const args: unknown[] = [];
    if (query.runId !== undefined) {
      where.push('run_id = ?');
      args.push(query.runId);
    }
    if (query.since !== undefined) {
      where.push('started_at >= ?');
      args.push(query.since);
    }
    const rows = this.sql(
      `SELECT ${keys[by]} AS key, COUNT(*) AS calls, COALESCE(SUM(status = 'failed'), 0) AS failed,
         COALESCE(SUM(input_tokens), 0) AS input, COALESCE(SUM(output_tokens), 0) AS output,
         COALESCE(SUM(cost_usd), 0) AS cost, COALESCE(SUM(duration_ms), 0) AS duration
       FROM llm_interactions${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''}
       GROUP BY key ORDER BY key`,
    ).all(...args) as Row[];
    return rows.map((row) => ({
      key: row.key as string,
      calls: row.calls as number,
      failedCalls: row.failed as number,
      inputTokens: row.input as number,
      outputTokens: row.output as number,
      costUsd: row.cost as number,
      durationMs: row.duration as number,
    }));
  }

  async listInteractionSummaries(runId: string, filter: { status?: InteractionStatus } = {}): Promise<InteractionSummary[]> {
    const columns = `id, run_id, task_id, attempt_id, item_key, turn, request_hash, provider, requested_model, status, answered_model,
      error_class, error_message, http_status, input_tokens, output_tokens, tokens_estimated, duration_ms, cost_usd, price_json,
      started_at, finished_at, '[]' AS messages_json`;
    const rows =
      filter.status === undefined
        ? this.sql(`SELECT ${columns} FROM llm_interactions WHERE run_id = ? ORDER BY id`).all(runId)
        : this.sql(`SELECT ${columns} FROM llm_interactions WHERE run_id = ? AND status = ? ORDER BY id`).all(runId, filter.status);
    return (rows as Row[]).map((row) => {
      const { messages: _messages, responseText: _response, parsed: _parsed, ...summary } = toInteraction(row);
      return summary;
    });
  }

  async getInteraction(id: number): Promise<InteractionRecord | null> {
    const row = this.sql('SELECT * FROM llm_interactions WHERE id = ?').get(id) as Row | undefined;
    return row ? toInteraction(row) : null;
  }

  async deleteRun(runId: string): Promise<void> {
    // Children first, explicitly: correct whether or not the connection enforces the foreign keys' cascades.
    await this.write(() => {
      for (const table of ['llm_interactions', 'file_stats', 'plan_content', 'task_attempts'] as const) {
        this.sql(`DELETE FROM ${table} WHERE run_id = ?`).run(runId);
      }
      this.sql('DELETE FROM runs WHERE id = ?').run(runId);
    });
  }

  async vacuum(): Promise<void> {
    try {
      this.db.exec('VACUUM');
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch (error) {
      throw StoreError.from(error, `cannot vacuum database ${this.location}`);
    }
  }

  async taskCallHistory(filter: { pipeline?: string; speed?: string } = {}): Promise<TaskCallHistory[]> {
    // Only calls of attempts that persisted: an abandoned attempt's calls are replayed by the next one, and
    // counting both would count them twice.
    const rows = this.sql(
      `SELECT i.task_id AS taskId, COUNT(DISTINCT i.run_id) AS runs, COUNT(*) AS calls,
              COALESCE(SUM(i.input_tokens), 0) AS inputTokens, COALESCE(SUM(i.output_tokens), 0) AS outputTokens
         FROM llm_interactions i
         JOIN task_attempts a ON a.id = i.attempt_id AND a.status IN ('persisted', 'complete')
         JOIN runs r ON r.id = i.run_id
        WHERE i.status IN ('completed', 'replayed')
          AND (@pipeline IS NULL OR r.pipeline = @pipeline)
          AND (@speed IS NULL OR json_extract(r.params_json, '$.speed') = @speed)
        GROUP BY i.task_id
        ORDER BY i.task_id`,
    ).all({ pipeline: filter.pipeline ?? null, speed: filter.speed ?? null }) as TaskCallHistory[];
    return rows;
  }

  async close(): Promise<void> {
    if (!this.db.open) return;
    try {
      this.group.commit();
      await this.flush();
    } catch {
      // A full disk or a held lock must not hide the error that ended the build: the marks are optional, and
      // their attempts stay `persisted`, which the next build handles by writing the files again.
    }
    this.db.close();
  }
}

function newRunId(now: number): string {
  const stamp = new Date(now).toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 13);
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

function toRun(row: Row): RunRecord {
  return {
    id: row.id as string,
    runDir: row.run_dir as string,
    pipeline: row.pipeline as string,
    params: JSON.parse(row.params_json as string) as Record<string, unknown>,
    status: row.status as RunStatus,
    statusReason: (row.status_reason as string | null) ?? null,
    cancelRequestedAt: (row.cancel_requested_at as number | null) ?? null,
    createdAt: row.created_at as number,
    updatedAt: row.updated_at as number,
  };
}

function toAttempt(row: Row): AttemptRecord {
  return {
    id: row.id as number,
    runId: row.run_id as string,
    taskId: row.task_id as string,
    status: row.status as AttemptStatus,
    stamp: (row.stamp_json as string | null) ?? null,
    outputs: row.outputs_json ? (JSON.parse(row.outputs_json as string) as Record<string, string>) : null,
    error: (row.error as string | null) ?? null,
    startedAt: row.started_at as number,
    finishedAt: (row.finished_at as number | null) ?? null,
  };
}

function toContentVersion(row: Row): ContentVersion {
  return {
    id: row.id as number,
    runId: row.run_id as string,
    path: row.path as string,
    taskId: row.task_id as string,
    attemptId: (row.attempt_id as number | null) ?? null,
    version: row.version as number,
    sha256: row.sha256 as string,
    size: row.size as number,
    source: row.source as ContentVersion['source'],
    createdAt: row.created_at as number,
  };
}

function toInteraction(row: Row): InteractionRecord {
  return {
    id: row.id as number,
    runId: row.run_id as string,
    taskId: row.task_id as string,
    attemptId: row.attempt_id as number,
    itemKey: (row.item_key as string | null) ?? null,
    turn: (row.turn as number | null) ?? null,
    requestHash: row.request_hash as string,
    provider: row.provider as string,
    requestedModel: row.requested_model as string,
    messages: JSON.parse(row.messages_z ? inflateRawSync(row.messages_z as Buffer).toString('utf8') : (row.messages_json as string)) as unknown,
    status: row.status as InteractionStatus,
    answeredModel: (row.answered_model as string | null) ?? null,
    responseText: (row.response_text as string | null) ?? null,
    parsed: row.parsed_json ? (JSON.parse(row.parsed_json as string) as unknown) : null,
    errorClass: (row.error_class as string | null) ?? null,
    errorMessage: (row.error_message as string | null) ?? null,
    httpStatus: (row.http_status as number | null) ?? null,
    inputTokens: (row.input_tokens as number | null) ?? null,
    outputTokens: (row.output_tokens as number | null) ?? null,
    tokensEstimated: row.tokens_estimated === 1,
    durationMs: (row.duration_ms as number | null) ?? null,
    costUsd: (row.cost_usd as number | null) ?? null,
    price: row.price_json ? (JSON.parse(row.price_json as string) as unknown) : null,
    startedAt: row.started_at as number,
    finishedAt: (row.finished_at as number | null) ?? null,
  };
}

// inspection queries: types used by the section of the same name in SqliteStore

type RunQuery = import('./store.js').RunQuery;
type RunTotals = import('./store.js').RunTotals;
type SpendGrouping = import('./store.js').SpendGrouping;
type SpendQuery = import('./store.js').SpendQuery;
type SpendRow = import('./store.js').SpendRow;
type InteractionSummary = import('./store.js').InteractionSummary;
