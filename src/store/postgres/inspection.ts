import type {
  InteractionStatus,
  InteractionSummary,
  RunQuery,
  RunRecord,
  RunTotals,
  SpendGrouping,
  SpendQuery,
  SpendRow,
  TaskCallHistory,
} from '../store.js';
import type { PgContext } from './context.js';
import { toInteraction, toRun } from './rows.js';

/** Calls that used tokens but have no cost: their model's price was unknown (see the SQLite store). */
const UNPRICED = 'COUNT(*) FILTER (WHERE cost_usd IS NULL AND (input_tokens IS NOT NULL OR output_tokens IS NOT NULL))';

/** Read views and housekeeping for `plan list/show/llm/costs/clean/db`; never on the build path. */
export class Inspection {
  constructor(private readonly context: PgContext) {}

  async queryRuns(query: RunQuery): Promise<RunRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const arg = (value: unknown): string => {
      args.push(value);
      return `$${args.length}`;
    };
    if (query.statuses !== undefined && query.statuses.length > 0) where.push(`status = ANY(${arg([...query.statuses])}::text[])`);
    if (query.createdSince !== undefined) where.push(`created_at >= ${arg(query.createdSince)}`);
    if (query.updatedBefore !== undefined) where.push(`updated_at < ${arg(query.updatedBefore)}`);
    if (query.promptContains !== undefined) {
      where.push(`strpos(lower(COALESCE(params_json::jsonb ->> 'prompt', '')), lower(${arg(query.promptContains)})) > 0`);
    }
    let text = `SELECT * FROM runs${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC`;
    if (query.latest !== undefined) text += ` LIMIT ${arg(query.latest)}`;
    return (await this.context.query(text, args)).rows.map(toRun);
  }

  async runTotals(runId: string): Promise<RunTotals> {
    const [attempts, failed, content, calls, models] = await Promise.all([
      this.context.query(
        `SELECT COUNT(*) AS attempts, MIN(started_at) AS first, MAX(COALESCE(finished_at, persisted_at, started_at)) AS last,
           COUNT(DISTINCT CASE WHEN status IN ('persisted', 'complete') THEN task_id END) AS built
         FROM task_attempts WHERE run_id = $1`,
        [runId],
      ),
      this.context.query(
        `SELECT COUNT(*) AS n FROM task_attempts a
          WHERE a.run_id = $1 AND a.status IN ('failed', 'cancelled', 'abandoned')
            AND a.id = (SELECT MAX(b.id) FROM task_attempts b WHERE b.run_id = a.run_id AND b.task_id = a.task_id)`,
        [runId],
      ),
      this.context.query('SELECT COUNT(DISTINCT path) AS files, COUNT(*) AS versions FROM plan_content WHERE run_id = $1', [runId]),
      this.context.query(
        `SELECT COUNT(*) AS calls, COUNT(*) FILTER (WHERE status = 'failed') AS failed, COALESCE(SUM(input_tokens), 0) AS input,
           COALESCE(SUM(output_tokens), 0) AS output, COALESCE(SUM(cost_usd), 0) AS cost, ${UNPRICED} AS unpriced,
           MAX(COALESCE(finished_at, started_at)) AS last
         FROM llm_interactions WHERE run_id = $1`,
        [runId],
      ),
      this.context.query(
        `SELECT answered_model AS model, COUNT(*) AS n FROM llm_interactions WHERE run_id = $1 AND answered_model IS NOT NULL
          GROUP BY answered_model ORDER BY n DESC, answered_model COLLATE "C"`,
        [runId],
      ),
    ]);
    const a = attempts.rows[0]!;
    const c = calls.rows[0]!;
    const ends = [a.last, c.last].filter((t): t is number => typeof t === 'number');
    return {
      runId,
      tasksBuilt: a.built as number,
      tasksFailed: failed.rows[0]!.n as number,
      attempts: a.attempts as number,
      files: content.rows[0]!.files as number,
      versions: content.rows[0]!.versions as number,
      calls: c.calls as number,
      failedCalls: c.failed as number,
      inputTokens: c.input as number,
      outputTokens: c.output as number,
      costUsd: c.cost as number,
      unpricedCalls: c.unpriced as number,
      models: models.rows.map((row) => row.model as string),
      firstActivityAt: (a.first as number | null) ?? null,
      lastActivityAt: ends.length > 0 ? Math.max(...ends) : null,
    };
  }

  async summarizeSpend(by: SpendGrouping, query: SpendQuery = {}): Promise<SpendRow[]> {
    // The grouping picks one of these fixed expressions; no caller text reaches the SQL.
    const keys: Record<SpendGrouping, string> = {
      run: 'run_id',
      task: 'task_id',
      model: 'COALESCE(answered_model, requested_model)',
      day: `to_char(to_timestamp(started_at / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD')`,
    };
    const result = await this.context.query(
      `SELECT ${keys[by]} AS key, COUNT(*) AS calls, COUNT(*) FILTER (WHERE status = 'failed') AS failed,
         COALESCE(SUM(input_tokens), 0) AS input, COALESCE(SUM(output_tokens), 0) AS output,
         COALESCE(SUM(cost_usd), 0) AS cost, ${UNPRICED} AS unpriced, COALESCE(SUM(duration_ms), 0) AS duration
       FROM llm_interactions WHERE ($1::text IS NULL OR run_id = $1) AND ($2::bigint IS NULL OR started_at >= $2)
       GROUP BY 1 ORDER BY ${keys[by]} COLLATE "C"`,
      [query.runId ?? null, query.since ?? null],
    );
    return result.rows.map((row) => ({
      key: row.key as string,
      calls: row.calls as number,
      failedCalls: row.failed as number,
      inputTokens: row.input as number,
      outputTokens: row.output as number,
      costUsd: row.cost as number,
      unpricedCalls: row.unpriced as number,
      durationMs: row.duration as number,
    }));
  }

  async listInteractionSummaries(runId: string, filter: { status?: InteractionStatus } = {}): Promise<InteractionSummary[]> {
    const result = await this.context.query(
      `SELECT id, run_id, task_id, attempt_id, item_key, turn, request_hash, provider, requested_model, replayed_from, status, answered_model,
         error_class, error_message, http_status, input_tokens, output_tokens, tokens_estimated, duration_ms, cost_usd, price_json,
         started_at, finished_at, response_format, reasoning_tokens
       FROM llm_interactions WHERE run_id = $1 AND ($2::text IS NULL OR status = $2) ORDER BY id`,
      [runId, filter.status ?? null],
    );
    return result.rows.map((row) => {
      const { messages: _messages, responseText: _response, parsed: _parsed, reasoningText: _reasoning, ...summary } = toInteraction(row);
      return summary;
    });
  }

  async deleteRun(runId: string): Promise<void> {
    await this.context.transaction(async (client) => {
      for (const table of ['llm_interactions', 'file_stats', 'pinned_files', 'run_leases', 'plan_content', 'task_attempts'] as const) {
        await client.query(`DELETE FROM ${table} WHERE run_id = $1`, [runId]);
      }
      await client.query('DELETE FROM runs WHERE id = $1', [runId]);
    });
  }

  /** VACUUM and ANALYZE of the store's tables (VACUUM cannot run in a transaction: one statement on the pool). */
  async vacuum(): Promise<void> {
    await this.context.query(
      'VACUUM (ANALYZE) runs, task_attempts, plan_content, llm_interactions, file_stats, endpoint_modes, pinned_files, run_leases',
    );
  }

  async taskCallHistory(filter: { pipeline?: string; speed?: string } = {}): Promise<TaskCallHistory[]> {
    // One build per task and run (see the SQLite store for why).
    const result = await this.context.query(
      `WITH builds AS (
         SELECT a.run_id, a.task_id, MAX(a.id) AS attempt_id
           FROM task_attempts a
           JOIN runs r ON r.id = a.run_id
          WHERE a.status IN ('persisted', 'complete')
            AND ($1::text IS NULL OR r.pipeline = $1)
            AND ($2::text IS NULL OR r.params_json::jsonb ->> 'speed' = $2)
          GROUP BY a.run_id, a.task_id
       )
       SELECT b.task_id AS "taskId", COUNT(DISTINCT b.run_id) AS runs, COUNT(i.id) AS calls,
              COALESCE(SUM(i.input_tokens), 0) AS "inputTokens", COALESCE(SUM(i.output_tokens), 0) AS "outputTokens"
         FROM builds b
         LEFT JOIN llm_interactions i ON i.attempt_id = b.attempt_id AND i.status IN ('completed', 'replayed', 'rejected')
        GROUP BY b.task_id
       HAVING COUNT(i.id) > 0
        ORDER BY b.task_id COLLATE "C"`,
      [filter.pipeline ?? null, filter.speed ?? null],
    );
    return result.rows as TaskCallHistory[];
  }
}
