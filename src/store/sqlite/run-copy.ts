import { deflateRawSync } from 'node:zlib';
import { StoreError } from '../store-error.js';
import type { ExportedAttempt, ExportedContent, FileStat, InteractionRecord, RunExport } from '../store.js';
import type { Attempts } from './attempts.js';
import type { SqliteContext } from './context.js';
import { toAttempt, toContentVersion, toInteraction, toRun, type Row } from './rows.js';

/** Every row of one run out of this store, and into it (`plan db copy`). */
export class RunCopy {
  constructor(
    private readonly context: SqliteContext,
    private readonly attempts: Attempts,
  ) {}

  async exportRun(runId: string): Promise<RunExport | null> {
    // The `complete` marks and hash-cache entries still waiting belong to the run too.
    await this.attempts.flush();
    // One read transaction: a build of the run in another process cannot commit between the reads (a version
    // whose attempt the export lacks). Inside an open group transaction of this connection, a savepoint.
    return this.context.db.transaction(() => this.readRun(runId))();
  }

  private readRun(runId: string): RunExport | null {
    const runRow = this.context.sql('SELECT * FROM runs WHERE id = ?').get(runId) as Row | undefined;
    if (runRow === undefined) return null;
    const attempts = (this.context.sql('SELECT * FROM task_attempts WHERE run_id = ? ORDER BY id').all(runId) as Row[]).map(
      (row): ExportedAttempt => ({
        ...toAttempt(row),
        pid: (row.pid as number | null) ?? null,
        host: (row.host as string | null) ?? null,
        persistedAt: (row.persisted_at as number | null) ?? null,
      }),
    );
    const contents = (this.context.sql('SELECT * FROM plan_content WHERE run_id = ? ORDER BY id').all(runId) as Row[]).map(
      (row): ExportedContent => ({ ...toContentVersion(row), encoding: row.encoding as string, data: row.data as Buffer }),
    );
    const interactions = (this.context.sql('SELECT * FROM llm_interactions WHERE run_id = ? ORDER BY id').all(runId) as Row[]).map(toInteraction);
    const fileStats = (
      this.context
        .sql('SELECT path, size, mtime_ns, ctime_ns, ino, sha256, stat_at_ns FROM file_stats WHERE run_id = ? ORDER BY path')
        .raw()
        .all(runId) as [string, number, string, string, string, string, string][]
    ).map(
      ([path, size, mtimeNs, ctimeNs, ino, sha256, statAtNs]): FileStat => ({
        path,
        size,
        mtimeNs: BigInt(mtimeNs),
        ctimeNs: BigInt(ctimeNs),
        ino: BigInt(ino),
        sha256,
        statAtNs: BigInt(statAtNs),
      }),
    );
    const pinned = (
      this.context.sql('SELECT path, sha256, pinned_at FROM pinned_files WHERE run_id = ? ORDER BY path').raw().all(runId) as [
        string,
        string,
        number,
      ][]
    ).map(([path, sha256, pinnedAt]) => ({ path, sha256, pinnedAt }));
    return { run: toRun(runRow), attempts, contents, interactions, fileStats, pinned };
  }

  async importRun(data: RunExport): Promise<boolean> {
    const { run } = data;
    const attempts = [...data.attempts].sort((a, b) => a.id - b.id);
    const contents = [...data.contents].sort((a, b) => a.id - b.id);
    // Ascending ids: a replay comes after the call it replays, whose new id is then known.
    const interactions = [...data.interactions].sort((a, b) => a.id - b.id);
    // Compressed before the write, as Interactions.startInteraction stores them: the write lock is held for less.
    const messages = interactions.map((i) => deflateRawSync(JSON.stringify(i.messages ?? null), { level: 1 }));
    return this.context.write(() => {
      if (this.context.sql('SELECT 1 FROM runs WHERE id = ?').get(run.id) !== undefined) return false;
      this.context
        .sql(
          `INSERT INTO runs (id, run_dir, pipeline, params_json, status, status_reason, cancel_requested_at, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          run.id,
          run.runDir,
          run.pipeline,
          JSON.stringify(run.params),
          run.status,
          run.statusReason,
          run.cancelRequestedAt,
          run.createdAt,
          run.updatedAt,
        );

      const attemptIds = new Map<number, number>();
      const insertAttempt = this.context.sql(
        `INSERT INTO task_attempts (run_id, task_id, status, stamp_json, outputs_json, error, pid, host, started_at, persisted_at, finished_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      for (const a of attempts) {
        const id = insertAttempt.run(
          run.id,
          a.taskId,
          a.status,
          a.stamp,
          a.outputs === null ? null : JSON.stringify(a.outputs),
          a.error,
          a.pid,
          a.host,
          a.startedAt,
          a.persistedAt,
          a.finishedAt,
        ).lastInsertRowid as number;
        attemptIds.set(a.id, id);
      }
      const attemptOf = (attemptId: number, what: string): number => {
        const mapped = attemptIds.get(attemptId);
        if (mapped === undefined)
          throw new StoreError(`cannot import run ${run.id}: ${what} belongs to attempt ${attemptId}, which the export does not hold`);
        return mapped;
      };

      const insertContent = this.context.sql(
        `INSERT INTO plan_content (run_id, path, version, task_id, attempt_id, sha256, size, encoding, data, source, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      for (const c of contents) {
        insertContent.run(
          run.id,
          c.path,
          c.version,
          c.taskId,
          c.attemptId === null ? null : attemptOf(c.attemptId, `version ${c.version} of ${c.path}`),
          c.sha256,
          c.size,
          c.encoding,
          c.data,
          c.source,
          c.createdAt,
        );
      }

      const interactionIds = new Map<number, number>();
      const insertInteraction = this.context.sql(
        `INSERT INTO llm_interactions (run_id, task_id, attempt_id, item_key, turn, request_hash, provider, requested_model, answered_model,
           messages_json, messages_z, response_text, parsed_json, status, error_class, error_message, http_status, input_tokens, output_tokens,
           tokens_estimated, duration_ms, cost_usd, price_json, started_at, finished_at, replayed_from, response_format, reasoning_text,
           reasoning_tokens)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      for (const [index, i] of interactions.entries()) {
        const id = insertInteraction.run(
          run.id,
          i.taskId,
          attemptOf(i.attemptId, `model call ${i.id}`),
          i.itemKey,
          i.turn,
          i.requestHash,
          i.provider,
          i.requestedModel,
          i.answeredModel,
          messages[index]!,
          i.responseText,
          jsonOrNull(i.parsed),
          i.status,
          i.errorClass,
          i.errorMessage,
          i.httpStatus,
          i.inputTokens,
          i.outputTokens,
          i.tokensEstimated ? 1 : 0,
          i.durationMs,
          i.costUsd,
          jsonOrNull(i.price),
          i.startedAt,
          i.finishedAt,
          i.replayedFrom === null ? null : replayedFrom(interactionIds, run.id, i),
          i.responseFormat,
          i.reasoningText,
          i.reasoningTokens,
        ).lastInsertRowid as number;
        interactionIds.set(i.id, id);
      }

      const insertStat = this.context.sql(
        `INSERT INTO file_stats (run_id, path, size, mtime_ns, ctime_ns, ino, sha256, stat_at_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      for (const s of data.fileStats) {
        insertStat.run(run.id, s.path, s.size, s.mtimeNs.toString(), s.ctimeNs.toString(), s.ino.toString(), s.sha256, s.statAtNs.toString());
      }
      const insertPin = this.context.sql('INSERT INTO pinned_files (run_id, path, sha256, pinned_at) VALUES (?, ?, ?, ?)');
      for (const p of data.pinned) insertPin.run(run.id, p.path, p.sha256, p.pinnedAt);
      return true;
    });
  }
}

/** The new id of the call a replay answers from: imported before it (ids ascending). */
function replayedFrom(interactionIds: Map<number, number>, runId: string, interaction: InteractionRecord): number {
  const mapped = interactionIds.get(interaction.replayedFrom!);
  if (mapped === undefined) {
    throw new StoreError(
      `cannot import run ${runId}: model call ${interaction.id} replays call ${interaction.replayedFrom}, which the export does not hold before it`,
    );
  }
  return mapped;
}

/** As the store writes a JSON column: NULL for nothing. */
function jsonOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}
