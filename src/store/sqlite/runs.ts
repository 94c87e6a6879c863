import { newRunId } from '../run-id.js';
import { StoreError } from '../store-error.js';
import type { NewRun, RunChanges, RunRecord } from '../store.js';
import type { SqliteContext } from './context.js';
import { toRun, type Row } from './rows.js';

/** The `runs` table. */
export class Runs {
  constructor(private readonly context: SqliteContext) {}

  async createRun(run: NewRun): Promise<RunRecord> {
    const now = Date.now();
    const id = newRunId(now);
    await this.context.write(() =>
      this.context
        .sql(
          `INSERT INTO runs (id, run_dir, pipeline, params_json, status, status_reason, created_at, updated_at)
           VALUES (?, ?, ?, ?, 'created', NULL, ?, ?)`,
        )
        .run(id, run.runDir, run.pipeline, JSON.stringify(run.params), now, now),
    );
    return (await this.getRun(id))!;
  }

  async getRun(runId: string): Promise<RunRecord | null> {
    const row = this.context.sql('SELECT * FROM runs WHERE id = ?').get(runId) as Row | undefined;
    return row ? toRun(row) : null;
  }

  async findRunByDir(runDir: string): Promise<RunRecord | null> {
    const row = this.context.sql('SELECT * FROM runs WHERE run_dir = ? ORDER BY created_at DESC LIMIT 1').get(runDir) as Row | undefined;
    return row ? toRun(row) : null;
  }

  async updateRun(runId: string, changes: RunChanges): Promise<void> {
    if (changes.cancelRequested !== undefined && changes.clearCancelRequestedBefore !== undefined) {
      throw new Error('updateRun: cancelRequested and clearCancelRequestedBefore both set the cancel request; give one');
    }
    // Only the columns given, from this fixed list: a concurrent change to another column is never undone.
    const assignments: string[] = [];
    const args: unknown[] = [];
    const set = (assignment: string, value: unknown): void => {
      assignments.push(assignment);
      args.push(value);
    };
    if (changes.runDir !== undefined) set('run_dir = ?', changes.runDir);
    if (changes.status !== undefined) set('status = ?', changes.status);
    if (changes.statusReason !== undefined) set('status_reason = ?', changes.statusReason);
    if (changes.params !== undefined) set('params_json = ?', JSON.stringify(changes.params));
    if (changes.cancelRequested !== undefined) set('cancel_requested_at = ?', changes.cancelRequested ? Date.now() : null);
    if (changes.clearCancelRequestedBefore !== undefined) {
      set('cancel_requested_at = CASE WHEN cancel_requested_at < ? THEN NULL ELSE cancel_requested_at END', changes.clearCancelRequestedBefore);
    }
    set('updated_at = ?', Date.now());
    args.push(runId);
    await this.context.write(
      () => {
        if (this.context.sql(`UPDATE runs SET ${assignments.join(', ')} WHERE id = ?`).run(...args).changes === 0) {
          throw new StoreError(`no run with id ${runId}`);
        }
      },
      { oneStatement: true },
    );
  }

  async listRuns(): Promise<RunRecord[]> {
    return (this.context.sql('SELECT * FROM runs ORDER BY created_at, id').all() as Row[]).map(toRun);
  }
}
