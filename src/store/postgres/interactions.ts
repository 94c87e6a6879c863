import { deflateRawSync } from 'node:zlib';
import type { InteractionFinish, InteractionRecord, InteractionStart, InteractionStatus } from '../store.js';
import type { PgContext } from './context.js';
import { plainText, textBytes, toInteraction } from './rows.js';

/** Model calls (`llm_interactions`), as the LLM layer's recorder writes them and replays them. */
export class Interactions {
  constructor(private readonly context: PgContext) {}

  async startInteraction(start: InteractionStart): Promise<number> {
    const result = await this.context.query(
      `INSERT INTO llm_interactions (run_id, task_id, attempt_id, item_key, turn, request_hash, provider, requested_model,
         messages_z, replayed_from, response_format, status, started_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'pending', $12) RETURNING id`,
      [
        start.runId,
        start.taskId,
        start.attemptId,
        start.itemKey,
        start.turn,
        start.requestHash,
        start.provider,
        start.requestedModel,
        // As in SQLite: level 1, a conversation's messages repeat most of the plan so far.
        deflateRawSync(JSON.stringify(start.messages), { level: 1 }),
        start.replayedFrom ?? null,
        start.responseFormat ?? null,
        Date.now(),
      ],
    );
    return result.rows[0]!.id as number;
  }

  async finishInteraction(id: number, finish: InteractionFinish): Promise<void> {
    await this.context.query(
      `UPDATE llm_interactions SET status = $1, answered_model = $2, response_text = $3, parsed_json = $4, error_class = $5,
         error_message = $6, http_status = $7, input_tokens = $8, output_tokens = $9, tokens_estimated = $10, duration_ms = $11,
         cost_usd = $12, price_json = $13, reasoning_text = $14, reasoning_tokens = $15, finished_at = $16
       WHERE id = $17`,
      [
        finish.status,
        finish.answeredModel ?? null,
        textBytes(finish.responseText),
        finish.parsed === undefined ? null : JSON.stringify(finish.parsed),
        finish.errorClass ?? null,
        plainText(finish.errorMessage),
        finish.httpStatus ?? null,
        finish.inputTokens ?? null,
        finish.outputTokens ?? null,
        finish.tokensEstimated === true,
        finish.durationMs ?? null,
        finish.costUsd ?? null,
        finish.price === undefined ? null : JSON.stringify(finish.price),
        textBytes(finish.reasoningText),
        finish.reasoningTokens ?? null,
        Date.now(),
        id,
      ],
    );
  }

  async rejectInteraction(id: number, reason: string): Promise<void> {
    // One statement: the row, and the completed call it replayed (the same refused answer), if any.
    await this.context.query(
      `WITH target AS (
         UPDATE llm_interactions SET status = 'rejected', error_message = $2 WHERE id = $1 AND status IN ('completed', 'replayed')
         RETURNING replayed_from)
       UPDATE llm_interactions SET status = 'rejected', error_message = $2
        WHERE id = (SELECT replayed_from FROM target) AND status = 'completed'`,
      [id, plainText(reason)],
    );
  }

  async findReplayableInteractions(attemptIds: number[], requestHash: string): Promise<InteractionRecord[]> {
    if (attemptIds.length === 0) return [];
    const result = await this.context.query(
      `SELECT * FROM llm_interactions WHERE attempt_id = ANY($1::bigint[]) AND request_hash = $2 AND status = 'completed' ORDER BY id`,
      [attemptIds, requestHash],
    );
    return result.rows.map(toInteraction);
  }

  async listInteractions(runId: string, filter: { taskId?: string; status?: InteractionStatus } = {}): Promise<InteractionRecord[]> {
    const result = await this.context.query(
      `SELECT * FROM llm_interactions WHERE run_id = $1 AND ($2::text IS NULL OR task_id = $2) AND ($3::text IS NULL OR status = $3) ORDER BY id`,
      [runId, filter.taskId ?? null, filter.status ?? null],
    );
    return result.rows.map(toInteraction);
  }

  async getInteraction(id: number): Promise<InteractionRecord | null> {
    const result = await this.context.query('SELECT * FROM llm_interactions WHERE id = $1', [id]);
    return result.rows[0] === undefined ? null : toInteraction(result.rows[0]);
  }
}
