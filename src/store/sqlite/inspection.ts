import { StoreError } from '../store-error.js';
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
import type { SqliteContext } from './context.js';
import { toInteraction, toRun, type Row } from './rows.js';

/**
 * Calls that used tokens but have no cost: their model's price was unknown. A call that never got an answer
 * (no tokens) cost nothing and is not counted.
 */
const UNPRICED = 'COALESCE(SUM(cost_usd IS NULL AND (input_tokens IS NOT NULL OR output_tokens IS NOT NULL)), 0)';

/** Read views and housekeeping for `plan list/show/llm/costs/clean/db`; never on the build path. */
export class Inspection {
  constructor(private readonly context: SqliteContext) {}

  /** For tests and `plan db` commands: the integrity check's verdict ('ok' when sound). */
  integrityCheck(): string {
    return (this.context.db.pragma('integrity_check', { simple: true }) as string) ?? 'unknown';
  }

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
      // plan_lower: JavaScript's toLowerCase (SQLite's lower() folds ASCII letters only).
      where.push(`instr(plan_lower(COALESCE(json_extract(params_json, '$.prompt'), '')), plan_lower(?)) > 0`);
      args.push(query.promptContains);
    }
    let text = `SELECT * FROM runs${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC`;
    if (query.latest !== undefined) {
      text += ' LIMIT ?';
      args.push(query.latest);
    }
    return (this.context.sql(text).all(...args) as Row[]).map(toRun);
  }

  async runTotals(runId: string): Promise<RunTotals> {
    const attempts = this.context
      .sql(
        `SELECT COUNT(*) AS attempts, MIN(started_at) AS first, MAX(COALESCE(finished_at, persisted_at, started_at)) AS last,
         COUNT(DISTINCT CASE WHEN status IN ('persisted', 'complete') THEN task_id END) AS built
       FROM task_attempts WHERE run_id = ?`,
      )
      .get(runId) as Row;
    const failed = this.context
      .sql(
        `SELECT COUNT(*) AS n FROM task_attempts a
       WHERE a.run_id = ? AND a.status IN ('failed', 'cancelled', 'abandoned')
         AND a.id = (SELECT MAX(b.id) FROM task_attempts b WHERE b.run_id = a.run_id AND b.task_id = a.task_id)`,
      )
      .get(runId) as Row;
    const content = this.context
      .sql('SELECT COUNT(DISTINCT path) AS files, COUNT(*) AS versions FROM plan_content WHERE run_id = ?')
      .get(runId) as Row;
    const calls = this.context
      .sql(
        `SELECT COUNT(*) AS calls, COALESCE(SUM(status = 'failed'), 0) AS failed, COALESCE(SUM(input_tokens), 0) AS input,
         COALESCE(SUM(output_tokens), 0) AS output, COALESCE(SUM(cost_usd), 0) AS cost, ${UNPRICED} AS unpriced,
         MAX(COALESCE(finished_at, started_at)) AS last
       FROM llm_interactions WHERE run_id = ?`,
      )
      .get(runId) as Row;
    const models = this.context
      .sql(
        `SELECT answered_model AS model, COUNT(*) AS n FROM llm_interactions WHERE run_id = ? AND answered_model IS NOT NULL
       GROUP BY answered_model ORDER BY n DESC, answered_model`,
      )
      .all(runId) as Row[];
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
      unpricedCalls: calls.unpriced as number,
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
    const rows = this.context
      .sql(
        `SELECT ${keys[by]} AS key, COUNT(*) AS calls, COALESCE(SUM(status = 'failed'), 0) AS failed,
         COALESCE(SUM(input_tokens), 0) AS input, COALESCE(SUM(output_tokens), 0) AS output,
         COALESCE(SUM(cost_usd), 0) AS cost, ${UNPRICED} AS unpriced, COALESCE(SUM(duration_ms), 0) AS duration
       FROM llm_interactions${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''}
       GROUP BY key ORDER BY key`,
      )
      .all(...args) as Row[];
    return rows.map((row) => ({
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
    const columns = `id, run_id, task_id, attempt_id, item_key, turn, request_hash, provider, requested_model, replayed_from, status, answered_model,
      error_class, error_message, http_status, input_tokens, output_tokens, tokens_estimated, duration_ms, cost_usd, price_json,
      started_at, finished_at, response_format, reasoning_tokens, '[]' AS messages_json`;
    const rows =
      filter.status === undefined
        ? this.context.sql(`SELECT ${columns} FROM llm_interactions WHERE run_id = ? ORDER BY id`).all(runId)
        : this.context.sql(`SELECT ${columns} FROM llm_interactions WHERE run_id = ? AND status = ? ORDER BY id`).all(runId, filter.status);
    return (rows as Row[]).map((row) => {
      const { messages: _messages, responseText: _response, parsed: _parsed, reasoningText: _reasoning, ...summary } = toInteraction(row);
      return summary;
    });
  }

  async deleteRun(runId: string): Promise<void> {
    // Children first, explicitly: correct whether or not the connection enforces the foreign keys' cascades.
    await this.context.write(() => {
      for (const table of ['llm_interactions', 'file_stats', 'pinned_files', 'run_leases', 'plan_content', 'task_attempts'] as const) {
        this.context.sql(`DELETE FROM ${table} WHERE run_id = ?`).run(runId);
      }
      this.context.sql('DELETE FROM runs WHERE id = ?').run(runId);
    });
  }

  async vacuum(): Promise<void> {
    try {
      this.context.db.exec('VACUUM');
      this.context.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch (error) {
      throw StoreError.from(error, `cannot vacuum database ${this.context.location}`);
    }
  }

  async taskCallHistory(filter: { pipeline?: string; speed?: string } = {}): Promise<TaskCallHistory[]> {
    // One build per task and run: the calls of the task's newest persisted attempt. A run rebuilt five times
    // holds five builds of a task, and a new run pays for one. The calls of attempts that never persisted are
    // left out too: the attempt that persisted replays them, so they are counted there.
    const rows = this.context
      .sql(
        `WITH builds AS (
           SELECT a.run_id, a.task_id, MAX(a.id) AS attempt_id
             FROM task_attempts a
             JOIN runs r ON r.id = a.run_id
            WHERE a.status IN ('persisted', 'complete')
              AND (@pipeline IS NULL OR r.pipeline = @pipeline)
              AND (@speed IS NULL OR json_extract(r.params_json, '$.speed') = @speed)
            GROUP BY a.run_id, a.task_id
         )
         SELECT b.task_id AS taskId, COUNT(DISTINCT b.run_id) AS runs, COUNT(i.id) AS calls,
                COALESCE(SUM(i.input_tokens), 0) AS inputTokens, COALESCE(SUM(i.output_tokens), 0) AS outputTokens
           FROM builds b
           LEFT JOIN llm_interactions i ON i.attempt_id = b.attempt_id AND i.status IN ('completed', 'replayed', 'rejected')
          GROUP BY b.task_id
         HAVING COUNT(i.id) > 0
          ORDER BY b.task_id`,
      )
      .all({ pipeline: filter.pipeline ?? null, speed: filter.speed ?? null }) as TaskCallHistory[];
    return rows;
  }
}
