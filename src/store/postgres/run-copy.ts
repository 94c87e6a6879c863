import { deflateRawSync } from 'node:zlib';
import type { ExportedAttempt, ExportedContent, FileStat, RunExport } from '../store.js';
import type { Attempts } from './attempts.js';
import type { PgContext } from './context.js';
import { plainText, textBytes, toAttempt, toContentVersion, toInteraction, toRun } from './rows.js';

/** Every row of a run out of this store, and into it (`plan db copy`). */
export class RunCopy {
  constructor(
    private readonly context: PgContext,
    private readonly attempts: Attempts,
  ) {}

  async exportRun(runId: string): Promise<RunExport | null> {
    await this.attempts.flush();
    return this.context.transaction(async (client) => {
      // One snapshot of the run: a build writing meanwhile is seen before or after, never half.
      await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const run = await client.query('SELECT * FROM runs WHERE id = $1', [runId]);
      if (run.rows.length === 0) return null;
      const attempts = await client.query('SELECT * FROM task_attempts WHERE run_id = $1 ORDER BY id', [runId]);
      const contents = await client.query('SELECT * FROM plan_content WHERE run_id = $1 ORDER BY id', [runId]);
      const interactions = await client.query('SELECT * FROM llm_interactions WHERE run_id = $1 ORDER BY id', [runId]);
      const stats = await client.query('SELECT * FROM file_stats WHERE run_id = $1 ORDER BY path COLLATE "C"', [runId]);
      const pins = await client.query('SELECT path, sha256, pinned_at FROM pinned_files WHERE run_id = $1 ORDER BY path COLLATE "C"', [runId]);
      return {
        run: toRun(run.rows[0]!),
        attempts: attempts.rows.map(
          (row): ExportedAttempt => ({
            ...toAttempt(row),
            pid: (row.pid as number | null) ?? null,
            host: (row.host as string | null) ?? null,
            persistedAt: (row.persisted_at as number | null) ?? null,
          }),
        ),
        contents: contents.rows.map(
          (row): ExportedContent => ({ ...toContentVersion(row), encoding: row.encoding as string, data: row.data as Buffer }),
        ),
        interactions: interactions.rows.map(toInteraction),
        fileStats: stats.rows.map(
          (row): FileStat => ({
            path: row.path as string,
            size: row.size as number,
            mtimeNs: BigInt(row.mtime_ns as string),
            ctimeNs: BigInt(row.ctime_ns as string),
            ino: BigInt(row.ino as string),
            sha256: row.sha256 as string,
            statAtNs: BigInt(row.stat_at_ns as string),
          }),
        ),
        pinned: pins.rows.map((row) => ({ path: row.path as string, sha256: row.sha256 as string, pinnedAt: row.pinned_at as number })),
      };
    });
  }

  async importRun(data: RunExport): Promise<boolean> {
    return this.context.transaction(async (client) => {
      const { run } = data;
      const created = await client.query(
        `INSERT INTO runs (id, run_dir, pipeline, params_json, status, status_reason, cancel_requested_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING`,
        [
          run.id,
          run.runDir,
          run.pipeline,
          JSON.stringify(run.params),
          run.status,
          run.statusReason,
          run.cancelRequestedAt,
          run.createdAt,
          run.updatedAt,
        ],
      );
      if (created.rowCount === 0) return false;
      const attemptIds = new Map<number, number>();
      for (const a of data.attempts) {
        const inserted = await client.query(
          `INSERT INTO task_attempts (run_id, task_id, status, stamp_json, outputs_json, error, pid, host, started_at, persisted_at, finished_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
          [
            run.id,
            a.taskId,
            a.status,
            a.stamp,
            a.outputs === null ? null : JSON.stringify(a.outputs),
            plainText(a.error),
            a.pid,
            a.host,
            a.startedAt,
            a.persistedAt,
            a.finishedAt,
          ],
        );
        attemptIds.set(a.id, inserted.rows[0]!.id as number);
      }
      for (const c of data.contents) {
        await client.query(
          `INSERT INTO plan_content (run_id, path, version, task_id, attempt_id, sha256, size, encoding, data, source, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
          [
            run.id,
            c.path,
            c.version,
            c.taskId,
            c.attemptId === null ? null : (attemptIds.get(c.attemptId) ?? null),
            c.sha256,
            c.size,
            c.encoding,
            c.data,
            c.source,
            c.createdAt,
          ],
        );
      }
      // Ascending ids: a replay always comes after the call it replays, so its new id is known by then.
      const interactionIds = new Map<number, number>();
      for (const i of data.interactions) {
        const inserted = await client.query(
          `INSERT INTO llm_interactions (run_id, task_id, attempt_id, item_key, turn, request_hash, provider, requested_model, answered_model,
             messages_z, response_text, parsed_json, status, error_class, error_message, http_status, input_tokens, output_tokens,
             tokens_estimated, duration_ms, cost_usd, price_json, started_at, finished_at, replayed_from, response_format, reasoning_text,
             reasoning_tokens)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)
           RETURNING id`,
          [
            run.id,
            i.taskId,
            attemptIds.get(i.attemptId) ?? i.attemptId,
            i.itemKey,
            i.turn,
            i.requestHash,
            i.provider,
            i.requestedModel,
            i.answeredModel,
            deflateRawSync(JSON.stringify(i.messages), { level: 1 }),
            textBytes(i.responseText),
            i.parsed === null ? null : JSON.stringify(i.parsed),
            i.status,
            i.errorClass,
            plainText(i.errorMessage),
            i.httpStatus,
            i.inputTokens,
            i.outputTokens,
            i.tokensEstimated,
            i.durationMs,
            i.costUsd,
            i.price === null ? null : JSON.stringify(i.price),
            i.startedAt,
            i.finishedAt,
            i.replayedFrom === null ? null : (interactionIds.get(i.replayedFrom) ?? null),
            i.responseFormat,
            textBytes(i.reasoningText),
            i.reasoningTokens,
          ],
        );
        interactionIds.set(i.id, inserted.rows[0]!.id as number);
      }
      for (const s of data.fileStats) {
        await client.query(
          `INSERT INTO file_stats (run_id, path, size, mtime_ns, ctime_ns, ino, sha256, stat_at_ns) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [run.id, s.path, s.size, s.mtimeNs.toString(), s.ctimeNs.toString(), s.ino.toString(), s.sha256, s.statAtNs.toString()],
        );
      }
      for (const p of data.pinned) {
        await client.query('INSERT INTO pinned_files (run_id, path, sha256, pinned_at) VALUES ($1, $2, $3, $4)', [
          run.id,
          p.path,
          p.sha256,
          p.pinnedAt,
        ]);
      }
      return true;
    });
  }
}
