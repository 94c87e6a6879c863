import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { GroupCommit } from '../group-commit.js';
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
import { Attempts } from './attempts.js';
import { SqliteContext } from './context.js';
import { Endpoints } from './endpoints.js';
import { Pins } from './pins.js';
import { FileStatBatch } from './file-stats.js';
import { Inspection } from './inspection.js';
import { Interactions } from './interactions.js';
import { Leases } from './leases.js';
import { migrate } from './migrations.js';
import { RunCopy } from './run-copy.js';
import { Runs } from './runs.js';

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

/**
 * The embedded store: one better-sqlite3 connection whose writes share a transaction per turn of the event
 * loop (see GroupCommit). The SQL of each table group lives in its own module; this class opens, wires and closes.
 */
export class SqliteStore implements Store {
  readonly location: string;
  private readonly db: Database.Database;
  /** One reusable transaction wrapper: making a new one per write is measurable on a 10k-task build. */
  private readonly transaction: Database.Transaction<(work: () => unknown) => unknown>;
  private readonly group: GroupCommit;
  private readonly runs: Runs;
  private readonly attempts: Attempts;
  private readonly fileStats: FileStatBatch;
  private readonly interactions: Interactions;
  private readonly endpoints: Endpoints;
  private readonly pins: Pins;
  private readonly inspection: Inspection;
  private readonly leases: Leases;
  private readonly runCopy: RunCopy;

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
    this.db.function('plan_lower', { deterministic: true }, (text: unknown) => (typeof text === 'string' ? text.toLowerCase() : text) as string);
    // Checkpoint the WAL every ~16 MB instead of every 4 MB: each checkpoint is an fsync.
    this.db.pragma('wal_autocheckpoint = 4000');
    this.transaction = this.db.transaction((work: () => unknown) => work());
    const begin = this.db.prepare('BEGIN IMMEDIATE');
    const commit = this.db.prepare('COMMIT');
    const rollback = this.db.prepare('ROLLBACK');
    this.group = new GroupCommit({
      begin: () => begin.run(),
      beforeCommit: () => {
        // The deferred writes are optional (see Attempts.pendingCompletes): one that fails must not undo the group's writes.
        try {
          this.transaction(() => this.attempts.writeDeferred());
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
    const context = new SqliteContext(this.db, this.location, this.group);
    this.runs = new Runs(context);
    this.fileStats = new FileStatBatch(context);
    this.leases = new Leases(context);
    this.attempts = new Attempts(context, this.fileStats, (runId) => this.leases.checkFence(runId));
    this.interactions = new Interactions(context);
    this.endpoints = new Endpoints(context);
    this.pins = new Pins(context);
    this.inspection = new Inspection(context);
    this.runCopy = new RunCopy(context, this.attempts);
    migrate(this.db, this.location);
  }

  // runs

  createRun(run: NewRun): Promise<RunRecord> {
    return this.runs.createRun(run);
  }

  getRun(runId: string): Promise<RunRecord | null> {
    return this.runs.getRun(runId);
  }

  findRunByDir(runDir: string): Promise<RunRecord | null> {
    return this.runs.findRunByDir(runDir);
  }

  updateRun(runId: string, changes: RunChanges): Promise<void> {
    return this.runs.updateRun(runId, changes);
  }

  listRuns(): Promise<RunRecord[]> {
    return this.runs.listRuns();
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

  /** Commits the `complete` marks and hash-cache entries still waiting (see completeAttempt). */
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

  getEndpointMode(baseUrl: string, model: string): Promise<EndpointMode | null> {
    return this.endpoints.getEndpointMode(baseUrl, model);
  }

  saveEndpointMode(baseUrl: string, model: string, mode: EndpointMode): Promise<void> {
    return this.endpoints.saveEndpointMode(baseUrl, model, mode);
  }

  // pins

  pinFile(runId: string, path: string, sha256: string): Promise<void> {
    return this.pins.pinFile(runId, path, sha256);
  }

  unpinFile(runId: string, path: string): Promise<boolean> {
    return this.pins.unpinFile(runId, path);
  }

  listPinned(runId: string): Promise<{ path: string; sha256: string; pinnedAt: number }[]> {
    return this.pins.listPinned(runId);
  }

  // inspection queries

  /** For tests and `plan db` commands: the integrity check's verdict ('ok' when sound). */
  integrityCheck(): string {
    return this.inspection.integrityCheck();
  }

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
    return this.runCopy.exportRun(runId);
  }

  importRun(data: RunExport): Promise<boolean> {
    return this.runCopy.importRun(data);
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
