import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { decodeContent, encodeContent } from '../compression.js';
import { StoreError } from '../store-error.js';
import type { AttemptRecord, AttemptStatus, ContentRef, ContentVersion, FileStat, OutputContent, RunSnapshot } from '../store.js';
import type { SqliteContext } from './context.js';
import type { FileStatBatch } from './file-stats.js';
import { toAttempt, toContentVersion, type Row } from './rows.js';

/** Asked once: `os.hostname()` is a system call, and attempts record it. */
const HOST = hostname();

/**
 * The engine's durable path: attempts (`task_attempts`), the content versions they and edits store
 * (`plan_content`), and the snapshot a build decides from.
 */
export class Attempts {
  /**
   * `complete` marks ride in the next commit (of a task's start and persist, or the build's end) instead
   * of paying a commit of their own. Losing one in a crash is harmless: the attempt stays `persisted` and the
   * next build writes its files from the database again.
   */
  private pendingCompletes: { attemptId: number; stats: FileStat[]; at: number }[] = [];

  constructor(
    private readonly context: SqliteContext,
    private readonly fileStats: FileStatBatch,
    /** Inside a write, before it stores anything of the run: throws when this store lost the run's lease (see Leases). */
    private readonly checkFence: (runId: string) => void,
  ) {}

  /** Runs inside every commit, just before it: the writes deferred until a commit. */
  writeDeferred(): void {
    if (this.pendingCompletes.length > 0) {
      const pending = this.pendingCompletes;
      this.pendingCompletes = [];
      const mark = this.context.sql(
        `UPDATE task_attempts SET status = 'complete', finished_at = ? WHERE id = ? AND status = 'persisted' RETURNING run_id`,
      );
      for (const { attemptId, stats, at } of pending) {
        const row = mark.get(at, attemptId) as Row | undefined;
        if (row) this.fileStats.queue(row.run_id as string, stats);
      }
    }
    this.fileStats.writeIfDue();
  }

  async loadRunSnapshot(runId: string): Promise<RunSnapshot> {
    await this.flush();
    // The no-op hot path: four reads of small columns as raw arrays (no per-row objects from the driver),
    // only the newest persisted attempt of each task.
    const built = new Map<string, AttemptRecord>();
    const attempts = this.context
      .sql(
        `SELECT id, task_id, status, stamp_json, outputs_json, error, started_at, finished_at FROM task_attempts
        WHERE id IN (SELECT MAX(id) FROM task_attempts WHERE run_id = ? AND status IN ('persisted', 'complete') GROUP BY task_id)`,
      )
      .raw()
      .all(runId) as [number, string, AttemptStatus, string | null, string | null, string | null, number, number | null][];
    for (const [id, taskId, status, stamp, outputs, error, startedAt, finishedAt] of attempts) {
      built.set(taskId, {
        id,
        runId,
        taskId,
        status,
        stamp,
        outputs: outputs === null ? null : (JSON.parse(outputs) as Record<string, string>),
        error,
        startedAt,
        finishedAt,
      });
    }
    const unmaterialized = [...built.values()].filter((a) => a.status === 'persisted');
    // Rare (a process died between persist and materialize): one small read per such attempt.
    const previousOutputs = new Map<number, Record<string, string>>();
    for (const attempt of unmaterialized) {
      const previous = this.context
        .sql(
          `SELECT outputs_json FROM task_attempts WHERE run_id = ? AND task_id = ? AND id < ? AND status IN ('persisted', 'complete')
          ORDER BY id DESC LIMIT 1`,
        )
        .pluck()
        .get(runId, attempt.taskId, attempt.id) as string | null | undefined;
      previousOutputs.set(attempt.id, previous ? (JSON.parse(previous) as Record<string, string>) : {});
    }

    const replayable = new Map<string, number[]>();
    const unpersisted = this.context
      .sql(`SELECT id, task_id FROM task_attempts WHERE run_id = ? AND status IN ('abandoned', 'failed', 'cancelled') ORDER BY id`)
      .raw()
      .all(runId) as [number, string][];
    for (const [id, taskId] of unpersisted) {
      if (id < (built.get(taskId)?.id ?? 0)) continue;
      replayable.set(taskId, [...(replayable.get(taskId) ?? []), id]);
    }

    const latestContent = new Map<string, string>();
    // SQLite returns the bare columns of the row holding MAX(version).
    const content = this.context.sql('SELECT path, sha256, MAX(version) FROM plan_content WHERE run_id = ? GROUP BY path').raw().all(runId) as [
      string,
      string,
    ][];
    for (const [filePath, sha] of content) latestContent.set(filePath, sha);

    const fileStats = new Map<string, FileStat>();
    const stats = this.context
      .sql('SELECT path, size, mtime_ns, ctime_ns, ino, sha256, stat_at_ns FROM file_stats WHERE run_id = ?')
      .raw()
      .all(runId) as [string, number, string, string, string, string, string][];
    for (const [filePath, size, mtimeNs, ctimeNs, ino, sha, statAtNs] of stats) {
      fileStats.set(filePath, {
        path: filePath,
        size,
        mtimeNs: BigInt(mtimeNs),
        ctimeNs: BigInt(ctimeNs),
        ino: BigInt(ino),
        sha256: sha,
        statAtNs: BigInt(statAtNs),
      });
    }
    const pinned = new Map(this.context.sql('SELECT path, sha256 FROM pinned_files WHERE run_id = ?').raw().all(runId) as [string, string][]);
    return { built, unmaterialized, previousOutputs, replayable, latestContent, fileStats, pinned };
  }

  async abandonRunningAttempts(runId: string): Promise<number> {
    const now = Date.now();
    return this.context.write(() => {
      // Their calls first: the attempts are found by their `running` status.
      this.context
        .sql(
          `UPDATE llm_interactions SET status = 'abandoned', error_message = 'the process running its attempt died', finished_at = ?
          WHERE status = 'pending' AND attempt_id IN (SELECT id FROM task_attempts WHERE run_id = ? AND status = 'running')`,
        )
        .run(now, runId);
      return this.context
        .sql(`UPDATE task_attempts SET status = 'abandoned', finished_at = ? WHERE run_id = ? AND status = 'running'`)
        .run(now, runId).changes;
    });
  }

  async startAttempt(runId: string, taskId: string): Promise<number> {
    return this.context.write(
      () =>
        this.context
          .sql(`INSERT INTO task_attempts (run_id, task_id, status, pid, host, started_at) VALUES (?, ?, 'running', ?, ?, ?)`)
          .run(runId, taskId, process.pid, HOST, Date.now()).lastInsertRowid as number,
      { oneStatement: true },
    );
  }

  async persistAttempt(attemptId: number, stamp: string, outputs: OutputContent[]): Promise<void> {
    const now = Date.now();
    const outputShas: Record<string, string> = {};
    for (const output of outputs) {
      // The sha is the content's identity (freshness, early cutoff, restore): one that lies must never be stored.
      if (sha256Of(output.bytes) !== output.sha256) {
        throw new StoreError(`attempt ${attemptId}: the sha256 given for ${output.path} is not that of its bytes; nothing was stored`);
      }
      outputShas[output.path] = output.sha256;
    }
    await this.fencedWrite(() => {
      // One statement checks and marks: the savepoint undoes it if a content row then fails.
      const attempt = this.context
        .sql(
          `UPDATE task_attempts SET status = 'persisted', stamp_json = ?, outputs_json = ?, persisted_at = ? WHERE id = ? AND status = 'running'
         RETURNING run_id, task_id`,
        )
        .get(stamp, JSON.stringify(outputShas), now, attemptId) as Row | undefined;
      if (!attempt) {
        const found = this.context.sql('SELECT status FROM task_attempts WHERE id = ?').get(attemptId) as Row | undefined;
        throw new StoreError(found ? `attempt ${attemptId} is ${String(found.status)}, not running` : `no attempt ${attemptId}`);
      }
      // A build that lost its run's lease stores nothing: the savepoint undoes the UPDATE above.
      this.checkFence(attempt.run_id as string);
      for (const output of outputs) {
        this.insertContentIfChanged(
          attempt.run_id as string,
          attempt.task_id as string,
          attemptId,
          output.path,
          output.sha256,
          output.bytes,
          'task',
          now,
        );
      }
    });
  }

  /**
   * A new version only when the bytes differ from the newest one: an identical rebuild is not a new version.
   * Returns the version added, or null.
   */
  private insertContentIfChanged(
    runId: string,
    taskId: string,
    attemptId: number | null,
    filePath: string,
    sha256: string,
    bytes: Buffer,
    source: 'task' | 'edit',
    now: number,
  ): number | null {
    const latest = this.context
      .sql('SELECT sha256, version FROM plan_content WHERE run_id = ? AND path = ? ORDER BY version DESC LIMIT 1')
      .get(runId, filePath) as Row | undefined;
    if (latest && latest.sha256 === sha256) return null;
    const { encoding, data } = encodeContent(bytes);
    const version = ((latest?.version as number | undefined) ?? 0) + 1;
    this.context
      .sql(
        `INSERT INTO plan_content (run_id, path, version, task_id, attempt_id, sha256, size, encoding, data, source, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(runId, filePath, version, taskId, attemptId, sha256, bytes.length, encoding, data, source, now);
    return version;
  }

  /**
   * A write that checks the run's lease: refused (LEASE_LOST), it settles only once the turn's transaction has
   * ended, as a write that succeeds does, so that the write lock is free when the caller learns of it.
   */
  private async fencedWrite<T>(work: () => T): Promise<T> {
    try {
      return await this.context.write(work);
    } catch (error) {
      if (error instanceof StoreError && error.code === 'LEASE_LOST')
        await this.context.write(() => undefined, { oneStatement: true }).catch(() => undefined);
      throw error;
    }
  }

  async completeAttempt(attemptId: number, stats: FileStat[]): Promise<void> {
    this.pendingCompletes.push({ attemptId, stats, at: Date.now() });
    if (this.pendingCompletes.length >= 256) await this.context.write(() => undefined);
  }

  /** Commits the `complete` marks and hash-cache entries still waiting (see completeAttempt). */
  async flush(): Promise<void> {
    if (this.pendingCompletes.length === 0 && this.fileStats.isEmpty) return;
    this.fileStats.markDue();
    await this.context.write(() => undefined);
  }

  async endAttempt(attemptId: number, status: 'failed' | 'cancelled', error: string | null): Promise<void> {
    const now = Date.now();
    await this.context.write(() => {
      const ended = this.context
        .sql(`UPDATE task_attempts SET status = ?, error = ?, finished_at = ? WHERE id = ? AND status = 'running'`)
        .run(status, error, now, attemptId).changes;
      if (ended === 0) return;
      // A call still pending will never be answered into this attempt.
      this.context
        .sql(`UPDATE llm_interactions SET status = 'abandoned', error_message = ?, finished_at = ? WHERE attempt_id = ? AND status = 'pending'`)
        .run(`its attempt ended ${status}`, now, attemptId);
    });
  }

  async recordAttemptError(attemptId: number, error: string): Promise<void> {
    await this.context.write(
      () => {
        if (this.context.sql('UPDATE task_attempts SET error = ? WHERE id = ?').run(error, attemptId).changes === 0) {
          throw new StoreError(`no attempt ${attemptId}`);
        }
      },
      { oneStatement: true },
    );
  }

  async listAttempts(runId: string, taskId?: string): Promise<AttemptRecord[]> {
    await this.flush();
    const rows =
      taskId === undefined
        ? this.context.sql('SELECT * FROM task_attempts WHERE run_id = ? ORDER BY id').all(runId)
        : this.context.sql('SELECT * FROM task_attempts WHERE run_id = ? AND task_id = ? ORDER BY id').all(runId, taskId);
    return (rows as Row[]).map(toAttempt);
  }

  async recordEdit(runId: string, taskId: string, filePath: string, bytes: Buffer): Promise<{ version: number; sha256: string } | null> {
    const sha256 = sha256Of(bytes);
    const version = await this.fencedWrite(() => {
      this.checkFence(runId);
      return this.insertContentIfChanged(runId, taskId, null, filePath, sha256, bytes, 'edit', Date.now());
    });
    return version === null ? null : { version, sha256 };
  }

  async readContent(runId: string, filePath: string, version?: number): Promise<Buffer | null> {
    const row = (
      version === undefined
        ? this.context.sql('SELECT encoding, data FROM plan_content WHERE run_id = ? AND path = ? ORDER BY version DESC LIMIT 1').get(runId, filePath)
        : this.context.sql('SELECT encoding, data FROM plan_content WHERE run_id = ? AND path = ? AND version = ?').get(runId, filePath, version)
    ) as Row | undefined;
    return row ? decodeContent(row.encoding as string, row.data as Buffer) : null;
  }

  async readContentBySha(runId: string, filePath: string, sha256: string): Promise<Buffer | null> {
    const row = this.context
      .sql('SELECT encoding, data FROM plan_content WHERE run_id = ? AND path = ? AND sha256 = ? ORDER BY version DESC LIMIT 1')
      .get(runId, filePath, sha256) as Row | undefined;
    return row ? decodeContent(row.encoding as string, row.data as Buffer) : null;
  }

  /** In-process reads cost no round trip: one statement per file. */
  async readContentsBySha(runId: string, wanted: readonly ContentRef[]): Promise<(Buffer | null)[]> {
    const found: (Buffer | null)[] = [];
    for (const { path, sha256 } of wanted) found.push(await this.readContentBySha(runId, path, sha256));
    return found;
  }

  async listContentVersions(runId: string, filePath?: string): Promise<ContentVersion[]> {
    const columns = 'id, run_id, path, version, task_id, attempt_id, sha256, size, source, created_at';
    const rows =
      filePath === undefined
        ? this.context.sql(`SELECT ${columns} FROM plan_content WHERE run_id = ? ORDER BY path, version`).all(runId)
        : this.context.sql(`SELECT ${columns} FROM plan_content WHERE run_id = ? AND path = ? ORDER BY version`).all(runId, filePath);
    return (rows as Row[]).map(toContentVersion);
  }

  async saveFileStats(runId: string, stats: FileStat[]): Promise<void> {
    if (stats.length === 0) return;
    // Through the pending batch, so a newer entry is never overwritten by an older one still waiting.
    this.fileStats.queue(runId, stats);
    await this.flush();
  }
}

function sha256Of(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
