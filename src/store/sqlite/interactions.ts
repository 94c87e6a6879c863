import { deflateRawSync } from 'node:zlib';
import type { InteractionFinish, InteractionRecord, InteractionStart, InteractionStatus } from '../store.js';
import type { SqliteContext } from './context.js';
import { toInteraction, type Row } from './rows.js';

/** Model calls (`llm_interactions`), as the LLM layer's recorder writes them and replays them. */
export class Interactions {
  constructor(private readonly context: SqliteContext) {}

  async startInteraction(start: InteractionStart): Promise<number> {
    return this.context.write(
      () =>
        this.context
          .sql(
            `INSERT INTO llm_interactions (run_id, task_id, attempt_id, item_key, turn, request_hash, provider, requested_model,
             messages_json, messages_z, replayed_from, response_format, status, started_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?, 'pending', ?)`,
          )
          .run(
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
            start.replayedFrom ?? null,
            start.responseFormat ?? null,
            Date.now(),
          ).lastInsertRowid as number,
    );
  }

  async finishInteraction(id: number, finish: InteractionFinish): Promise<void> {
    await this.context.write(() =>
      this.context
        .sql(
          `UPDATE llm_interactions SET status = ?, answered_model = ?, response_text = ?, parsed_json = ?, error_class = ?,
           error_message = ?, http_status = ?, input_tokens = ?, output_tokens = ?, tokens_estimated = ?, duration_ms = ?,
           cost_usd = ?, price_json = ?, reasoning_text = ?, reasoning_tokens = ?, finished_at = ?
         WHERE id = ?`,
        )
        .run(
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
          finish.reasoningText ?? null,
          finish.reasoningTokens ?? null,
          Date.now(),
          id,
        ),
    );
  }

  async rejectInteraction(id: number, reason: string): Promise<void> {
    await this.context.write(() => {
      const replayedFrom = this.context
        .sql(
          `UPDATE llm_interactions SET status = 'rejected', error_message = ? WHERE id = ? AND status IN ('completed', 'replayed')
         RETURNING replayed_from`,
        )
        .pluck()
        .get(reason, id) as number | null | undefined;
      // The answer it replayed is the same refused answer: no later attempt may replay it either.
      if (typeof replayedFrom === 'number') {
        this.context
          .sql(`UPDATE llm_interactions SET status = 'rejected', error_message = ? WHERE id = ? AND status = 'completed'`)
          .run(reason, replayedFrom);
      }
    });
  }

  async findReplayableInteractions(attemptIds: number[], requestHash: string): Promise<InteractionRecord[]> {
    if (attemptIds.length === 0) return [];
    const placeholders = attemptIds.map(() => '?').join(', ');
    const rows = this.context.db
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
    return (this.context.sql(`SELECT * FROM llm_interactions WHERE ${where.join(' AND ')} ORDER BY id`).all(...args) as Row[]).map(toInteraction);
  }

  async getInteraction(id: number): Promise<InteractionRecord | null> {
    const row = this.context.sql('SELECT * FROM llm_interactions WHERE id = ?').get(id) as Row | undefined;
    return row ? toInteraction(row) : null;
  }
}
