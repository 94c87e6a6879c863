import type pg from 'pg';
import { newRunId } from '../run-id.js';
import { StoreError } from '../store-error.js';
import type {
  AttemptRecord,
  ContentRef,
  ContentVersion,
  EndpointMode,
  FileStat,
  InteractionFinish,
  InteractionRecord,
  InteractionStart,
  InteractionStatus,
  InteractionSummary,
  LeaseOutcome,
  LeaseRequest,
  NewRun,
  OutputContent,
  RunChanges,
  RunExport,
  RunLease,
  RunQuery,
  RunRecord,
  RunSnapshot,
  RunTotals,
  SpendGrouping,
  SpendQuery,
  SpendRow,
  Store,
  TaskCallHistory,
} from '../store.js';
import { withoutCredentials } from '../url-credentials.js';
import { Attempts } from './attempts.js';
import { createPool, describePgError, parsePostgresUrl, poolSettingsFromEnv, retryBudgetFromEnv } from './connection.js';
import { PgContext } from './context.js';
import { Inspection } from './inspection.js';
import { Interactions } from './interactions.js';
import { LeaseFence, Leases } from './leases.js';
import { migratePostgres } from './migrations.js';
import { RunCopy } from './run-copy.js';
import { toRun } from './rows.js';
import { ChangeFeed } from './change-feed.js';
import { WorkerTasks } from './worker-tasks.js';

/**
 * Opens the store at a `postgres://` URL: connects, creates the schema (`?schema=`, default `plan`) and applies
 * the migrations it lacks. A database that cannot be reached, refuses the login or does not exist is a
 * StoreError with a one-line message (no retry: that is a configuration to fix, not a passing fault).
 */
export async function openPostgresStore(url: string): Promise<PostgresStore> {
  const target = parsePostgresUrl(url);
  const settings = poolSettingsFromEnv();
  const pool = createPool(target, settings);
  let client: pg.PoolClient | undefined;
  try {
    client = await pool.connect();
    await migratePostgres(client, target.schema, target.location);
  } catch (error) {
    client?.release(true);
    client = undefined;
    await pool.end().catch(() => undefined);
    throw describePgError(error, target.location, settings.lockTimeoutMs);
  } finally {
    client?.release();
  }
  return new PostgresStore(pool, target.location, new PgContext(pool, target.location, retryBudgetFromEnv(), settings.lockTimeoutMs), target.schema);
}

/**
 * Whether the URL names a plan store already made (its schema holds plan's tables), without making one: the
 * inspect commands look, they do not create (as with a SQLite file that is not there). A server that cannot be
 * reached is the same one-line StoreError as for opening.
 */
export async function postgresStoreExists(url: string): Promise<boolean> {
  const target = parsePostgresUrl(url);
  const settings = { ...poolSettingsFromEnv(), max: 1 };
  const pool = createPool(target, settings);
  try {
    const found = await pool.query(
      `SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'schema_version') AS made`,
      [target.schema],
    );
    return found.rows[0]!.made === true;
  } catch (error) {
    throw describePgError(error, target.location, settings.lockTimeoutMs);
  } finally {
    await pool.end().catch(() => undefined);
  }
}

/**
 * The shared store: a pool of connections to PostgreSQL, so that a run outlives the machine that builds it
 * and several builders share one database. Same contract as the SQLite store (see store.ts); the SQL of each
 * table group lives in its own module, this class wires them.
 */
export class PostgresStore implements Store {
  private readonly fence = new LeaseFence();
  private readonly attempts: Attempts;
  private readonly interactions: Interactions;
  private readonly inspection: Inspection;
  private readonly leases: Leases;
  private readonly copy: RunCopy;
  private closed = false;
  private readonly changes: ChangeFeed;

  constructor(
    private readonly pool: pg.Pool,
    readonly location: string,
    private readonly context: PgContext,
    /** The schema its tables live in (`?schema=`). */
    readonly schema: string,
  ) {
    this.changes = new ChangeFeed(pool, schema);
    this.attempts = new Attempts(context, this.fence);
    this.interactions = new Interactions(context);
    this.inspection = new Inspection(context);
    this.leases = new Leases(context, this.fence);
    this.copy = new RunCopy(context, this.attempts);
  }

  /** The state of runs handed to workers, whose ready tasks are jobs in graphile-worker's `jobsSchema`. */
  workerTasks(jobsSchema: string): WorkerTasks {
    return new WorkerTasks(this.context, this.fence, jobsSchema);
  }

  // runs

  async createRun(run: NewRun): Promise<RunRecord> {
    const now = Date.now();
    const result = await this.context.query(
      `INSERT INTO runs (id, run_dir, pipeline, params_json, status, status_reason, created_at, updated_at)
       VALUES ($1, $2, $3, $4, 'created', NULL, $5, $5) RETURNING *`,
      [newRunId(now), run.runDir, run.pipeline, JSON.stringify(run.params), now],
    );
    return toRun(result.rows[0]!);
  }

  async getRun(runId: string): Promise<RunRecord | null> {
    const result = await this.context.query('SELECT * FROM runs WHERE id = $1', [runId]);
    return result.rows[0] === undefined ? null : toRun(result.rows[0]);
  }

  async findRunByDir(runDir: string): Promise<RunRecord | null> {
    const result = await this.context.query('SELECT * FROM runs WHERE run_dir = $1 ORDER BY created_at DESC LIMIT 1', [runDir]);
    return result.rows[0] === undefined ? null : toRun(result.rows[0]);
  }

  async updateRun(runId: string, changes: RunChanges): Promise<void> {
    if (changes.cancelRequested !== undefined && changes.clearCancelRequestedBefore !== undefined) {
      throw new Error('updateRun: cancelRequested and clearCancelRequestedBefore both set the cancel request; give one');
    }
    // Only the columns given, from this fixed list: a concurrent change to another column is never undone.
    const assignments: string[] = [];
    const args: unknown[] = [];
    const set = (column: string, value: unknown, expression?: (placeholder: string) => string): void => {
      args.push(value);
      assignments.push(`${column} = ${expression ? expression(`$${args.length}`) : `$${args.length}`}`);
    };
    if (changes.runDir !== undefined) set('run_dir', changes.runDir);
    if (changes.status !== undefined) set('status', changes.status);
    if (changes.statusReason !== undefined) set('status_reason', changes.statusReason);
    if (changes.params !== undefined) set('params_json', JSON.stringify(changes.params));
    if (changes.cancelRequested !== undefined) set('cancel_requested_at', changes.cancelRequested ? Date.now() : null);
    if (changes.clearCancelRequestedBefore !== undefined) {
      set(
        'cancel_requested_at',
        changes.clearCancelRequestedBefore,
        (p) => `CASE WHEN cancel_requested_at < ${p}::bigint THEN NULL ELSE cancel_requested_at END`,
      );
    }
    set('updated_at', Date.now());
    args.push(runId);
    const result = await this.context.query(`UPDATE runs SET ${assignments.join(', ')} WHERE id = $${args.length}`, args);
    if (result.rowCount === 0) throw new StoreError(`no run with id ${runId}`);
  }

  async listRuns(): Promise<RunRecord[]> {
    return (await this.context.query('SELECT * FROM runs ORDER BY created_at, id COLLATE "C"')).rows.map(toRun);
  }

  // attempts and content

  loadRunSnapshot(runId: string): Promise<RunSnapshot> {
    return this.attempts.loadRunSnapshot(runId);
  }

  abandonRunningAttempts(runId: string): Promise<number> {
    return this.attempts.abandonRunningAttempts(runId);
  }

  startAttempt(runId: string, taskId: string): Promise<number> {
    return this.attempts.startAttempt(runId, taskId);
  }

  persistAttempt(attemptId: number, stamp: string, outputs: OutputContent[]): Promise<void> {
    return this.attempts.persistAttempt(attemptId, stamp, outputs);
  }

  completeAttempt(attemptId: number, stats: FileStat[]): Promise<void> {
    return this.attempts.completeAttempt(attemptId, stats);
  }

  /** Writes the `complete` marks and hash-cache rows still waiting (see completeAttempt). */
  flush(): Promise<void> {
    return this.attempts.flush();
  }

  endAttempt(attemptId: number, status: 'failed' | 'cancelled', error: string | null): Promise<void> {
    return this.attempts.endAttempt(attemptId, status, error);
  }

  recordAttemptError(attemptId: number, error: string): Promise<void> {
    return this.attempts.recordAttemptError(attemptId, error);
  }

  listAttempts(runId: string, taskId?: string): Promise<AttemptRecord[]> {
    return this.attempts.listAttempts(runId, taskId);
  }

  recordEdit(runId: string, taskId: string, filePath: string, bytes: Buffer): Promise<{ version: number; sha256: string } | null> {
    return this.attempts.recordEdit(runId, taskId, filePath, bytes);
  }

  readContent(runId: string, filePath: string, version?: number): Promise<Buffer | null> {
    return this.attempts.readContent(runId, filePath, version);
  }

  readContentBySha(runId: string, filePath: string, sha256: string): Promise<Buffer | null> {
    return this.attempts.readContentBySha(runId, filePath, sha256);
  }

  readContentsBySha(runId: string, wanted: readonly ContentRef[]): Promise<(Buffer | null)[]> {
    return this.attempts.readContentsBySha(runId, wanted);
  }

  listContentVersions(runId: string, filePath?: string): Promise<ContentVersion[]> {
    return this.attempts.listContentVersions(runId, filePath);
  }

  saveFileStats(runId: string, stats: FileStat[]): Promise<void> {
    return this.attempts.saveFileStats(runId, stats);
  }

  // model calls

  startInteraction(start: InteractionStart): Promise<number> {
    return this.interactions.startInteraction(start);
  }

  finishInteraction(id: number, finish: InteractionFinish): Promise<void> {
    return this.interactions.finishInteraction(id, finish);
  }

  rejectInteraction(id: number, reason: string): Promise<void> {
    return this.interactions.rejectInteraction(id, reason);
  }

  findReplayableInteractions(attemptIds: number[], requestHash: string): Promise<InteractionRecord[]> {
    return this.interactions.findReplayableInteractions(attemptIds, requestHash);
  }

  listInteractions(runId: string, filter?: { taskId?: string; status?: InteractionStatus }): Promise<InteractionRecord[]> {
    return this.interactions.listInteractions(runId, filter);
  }

  getInteraction(id: number): Promise<InteractionRecord | null> {
    return this.interactions.getInteraction(id);
  }

  // model endpoints

  async getEndpointMode(baseUrl: string, model: string): Promise<EndpointMode | null> {
    const result = await this.context.query('SELECT mode FROM endpoint_modes WHERE base_url = $1 AND model = $2', [
      withoutCredentials(baseUrl),
      model,
    ]);
    return (result.rows[0]?.mode as EndpointMode | undefined) ?? null;
  }

  async saveEndpointMode(baseUrl: string, model: string, mode: EndpointMode): Promise<void> {
    await this.context.query(
      `INSERT INTO endpoint_modes (base_url, model, mode, learned_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (base_url, model) DO UPDATE SET mode = excluded.mode, learned_at = excluded.learned_at`,
      [withoutCredentials(baseUrl), model, mode, Date.now()],
    );
  }

  // pins

  async pinFile(runId: string, path: string, sha256: string): Promise<void> {
    await this.context.query(
      `INSERT INTO pinned_files (run_id, path, sha256, pinned_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (run_id, path) DO UPDATE SET sha256 = excluded.sha256, pinned_at = excluded.pinned_at`,
      [runId, path, sha256, Date.now()],
    );
  }

  async unpinFile(runId: string, path: string): Promise<boolean> {
    return ((await this.context.query('DELETE FROM pinned_files WHERE run_id = $1 AND path = $2', [runId, path])).rowCount ?? 0) > 0;
  }

  async listPinned(runId: string): Promise<{ path: string; sha256: string; pinnedAt: number }[]> {
    const result = await this.context.query('SELECT path, sha256, pinned_at FROM pinned_files WHERE run_id = $1 ORDER BY path COLLATE "C"', [runId]);
    return result.rows.map((row) => ({ path: row.path as string, sha256: row.sha256 as string, pinnedAt: row.pinned_at as number }));
  }

  // inspection queries

  queryRuns(query: RunQuery): Promise<RunRecord[]> {
    return this.inspection.queryRuns(query);
  }

  runTotals(runId: string): Promise<RunTotals> {
    return this.inspection.runTotals(runId);
  }

  summarizeSpend(by: SpendGrouping, query?: SpendQuery): Promise<SpendRow[]> {
    return this.inspection.summarizeSpend(by, query);
  }

  listInteractionSummaries(runId: string, filter?: { status?: InteractionStatus }): Promise<InteractionSummary[]> {
    return this.inspection.listInteractionSummaries(runId, filter);
  }

  taskCallHistory(filter?: { pipeline?: string; speed?: string }): Promise<TaskCallHistory[]> {
    return this.inspection.taskCallHistory(filter);
  }

  deleteRun(runId: string): Promise<void> {
    return this.inspection.deleteRun(runId);
  }

  vacuum(): Promise<void> {
    return this.inspection.vacuum();
  }

  // run leases

  acquireRunLease(request: LeaseRequest): Promise<LeaseOutcome> {
    return this.leases.acquireRunLease(request);
  }

  renewRunLease(runId: string, token: string, ttlMs: number): Promise<boolean> {
    return this.leases.renewRunLease(runId, token, ttlMs);
  }

  releaseRunLease(runId: string, token: string): Promise<void> {
    return this.leases.releaseRunLease(runId, token);
  }

  getRunLease(runId: string): Promise<RunLease | null> {
    return this.leases.getRunLease(runId);
  }

  // copying between stores

  exportRun(runId: string): Promise<RunExport | null> {
    return this.copy.exportRun(runId);
  }

  importRun(data: RunExport): Promise<boolean> {
    return this.copy.importRun(data);
  }

  /** Pushed by the schema's triggers over LISTEN/NOTIFY (migration 2): see ChangeFeed. */
  watchChanges(listener: (runId: string) => void): Promise<() => Promise<void>> {
    return this.changes.watch(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.changes.close();
    // The waiting marks are optional: a database gone away must not hide the error that ended the build.
    await this.flush().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }
}
