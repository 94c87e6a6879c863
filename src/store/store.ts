/**
 * The durable record of every run. Async so that a networked database (PostgreSQL) can implement it;
 * the embedded SQLite implementation answers synchronously under the hood.
 *
 * Nothing here knows about plans or models: the engine stores attempts and content, the LLM layer stores
 * interactions, and both only through this interface.
 */

export type RunStatus = 'created' | 'running' | 'complete' | 'failed' | 'cancelled' | 'stopped';

export interface RunRecord {
  id: string;
  runDir: string;
  pipeline: string;
  /** Parameters the run was created with (e.g. the prompt), as plain JSON. */
  params: Record<string, unknown>;
  status: RunStatus;
  statusReason: string | null;
  /** When `plan cancel` asked the build of this run to stop; cleared when a build starts. */
  cancelRequestedAt: number | null;
  createdAt: number;
  updatedAt: number;
}

export type AttemptStatus = 'running' | 'persisted' | 'complete' | 'failed' | 'cancelled' | 'abandoned';

/** One output file as an attempt produced it. */
export interface OutputContent {
  path: string;
  sha256: string;
  bytes: Buffer;
}

export interface AttemptRecord {
  id: number;
  runId: string;
  taskId: string;
  status: AttemptStatus;
  /** The stamp (what the task was built from), serialised; null until persisted. */
  stamp: string | null;
  /** path → sha256 of every file the attempt wrote; null until persisted. */
  outputs: Record<string, string> | null;
  /**
   * Why it failed or was cancelled; for a `persisted` attempt, what went wrong after persisting (its files could
   * not be written): the content is durable and the next build writes the files again.
   */
  error: string | null;
  startedAt: number;
  finishedAt: number | null;
}

export type ContentSource = 'task' | 'edit' | 'restore';

/** A file's content as a version of it holds it: its path and sha256. */
export interface ContentRef {
  path: string;
  sha256: string;
}

export interface ContentVersion {
  id: number;
  runId: string;
  path: string;
  taskId: string;
  attemptId: number | null;
  /** 1-based version number of this file within the run. */
  version: number;
  sha256: string;
  size: number;
  source: ContentSource;
  createdAt: number;
}

/**
 * The `(size, mtime_ns, ctime_ns, inode) → sha256` cache that lets a no-op build re-hash nothing. ctime is in it
 * because tools that keep size and mtime (`cp -p`, `touch -r`, `rsync -t`, tar) cannot keep ctime.
 */
export interface FileStat {
  path: string;
  size: number;
  mtimeNs: bigint;
  ctimeNs: bigint;
  ino: bigint;
  sha256: string;
  /**
   * When the stat was taken (wall clock, epoch ns). An entry whose file changed within a timestamp tick of
   * this moment is "racily clean" (a later change in the same tick would keep every field) and is re-hashed.
   */
  statAtNs: bigint;
}

/** Everything the engine needs to decide a run's tasks, read in one go. */
export interface RunSnapshot {
  /** Per task id: the newest attempt that reached `persisted` or `complete`. */
  built: Map<string, AttemptRecord>;
  /** Attempts a dead process left `persisted` (files not yet written) — recovered without re-running. */
  unmaterialized: AttemptRecord[];
  /**
   * Per attempt id of `unmaterialized`: the outputs (path → sha256) of the newest earlier attempt of the same
   * task that reached `persisted` or `complete` ({} when none): recovery removes the extra files it no longer writes.
   */
  previousOutputs: Map<number, Record<string, string>>;
  /**
   * Per task id: attempts since its newest persisted one that never persisted (abandoned, failed, cancelled),
   * oldest first. Work they finished (model calls) may be replayed instead of paid for again.
   */
  replayable: Map<string, number[]>;
  /** Per path: sha256 of the newest stored content version. */
  latestContent: Map<string, string>;
  fileStats: Map<string, FileStat>;
  /** Files a person pinned (path → the sha256 pinned): a build never replaces them. */
  pinned: Map<string, string>;
}

/**
 * `rejected`: the answer parsed, but the task refused it (a check beyond the schema); never replayed.
 * `abandoned`: still pending when its attempt ended (the process died, or the attempt ended without it).
 */
export type InteractionStatus = 'pending' | 'completed' | 'failed' | 'cancelled' | 'replayed' | 'rejected' | 'abandoned';

/**
 * How a request asked for its answer: `json_schema` (structured output), `json_object` (JSON mode), `prompt`
 * (the schema only in the instructions) or `text` (no JSON asked for).
 */
export type ResponseFormat = 'json_schema' | 'json_object' | 'prompt' | 'text';

/** The structured-output mode a model endpoint was found to accept. */
export type EndpointMode = Exclude<ResponseFormat, 'text'>;

/** Fields known when a model call starts. */
export interface InteractionStart {
  runId: string;
  taskId: string;
  attemptId: number;
  itemKey: string | null;
  turn: number | null;
  requestHash: string;
  provider: string;
  requestedModel: string;
  /** The messages sent (system + user + earlier turns), as JSON. Never contains credentials. */
  messages: unknown;
  /** For a `replayed` call: the id of the earlier interaction whose answer it replays. */
  replayedFrom?: number | null;
  /** How the request asked for its answer; null for a call that sent none (a replay). */
  responseFormat?: ResponseFormat | null;
}

/** Fields known when a model call ends, whatever the outcome. */
export interface InteractionFinish {
  status: Exclude<InteractionStatus, 'pending'>;
  answeredModel?: string | null;
  responseText?: string | null;
  parsed?: unknown;
  errorClass?: string | null;
  errorMessage?: string | null;
  httpStatus?: number | null;
  inputTokens?: number | null;
  outputTokens?: number | null;
  tokensEstimated?: boolean;
  durationMs?: number | null;
  costUsd?: number | null;
  /** The price used for costUsd (e.g. { inputPerM, outputPerM }), so a figure can be recomputed. */
  price?: unknown;
  /** A reasoning model's thinking, kept apart from `responseText` (the answer). */
  reasoningText?: string | null;
  /** Of `outputTokens`, how many were reasoning (as the server counted them, else estimated from the text). */
  reasoningTokens?: number | null;
}

export interface InteractionRecord extends InteractionStart {
  id: number;
  replayedFrom: number | null;
  status: InteractionStatus;
  answeredModel: string | null;
  responseText: string | null;
  parsed: unknown;
  errorClass: string | null;
  errorMessage: string | null;
  httpStatus: number | null;
  inputTokens: number | null;
  outputTokens: number | null;
  tokensEstimated: boolean;
  durationMs: number | null;
  costUsd: number | null;
  price: unknown;
  startedAt: number;
  finishedAt: number | null;
  responseFormat: ResponseFormat | null;
  reasoningText: string | null;
  reasoningTokens: number | null;
}

export interface RunChanges {
  runDir?: string;
  status?: RunStatus;
  statusReason?: string | null;
  params?: Record<string, unknown>;
  /** true: ask the running build to stop (`plan cancel`); false: clear the request. */
  cancelRequested?: boolean;
  /**
   * Clear a cancel request only if it was made before this moment (epoch ms): a build starting clears stale
   * requests without erasing one made while it was starting. Compare-and-set in the one UPDATE.
   */
  clearCancelRequestedBefore?: number;
}

export interface NewRun {
  runDir: string;
  pipeline: string;
  params: Record<string, unknown>;
}

export interface Store {
  /** What the store is, for messages: a file path or a URL without credentials. */
  readonly location: string;

  // runs
  createRun(run: NewRun): Promise<RunRecord>;
  getRun(runId: string): Promise<RunRecord | null>;
  findRunByDir(runDir: string): Promise<RunRecord | null>;
  /** Changes only the columns given (one UPDATE, no read-modify-write of the row). */
  updateRun(runId: string, changes: RunChanges): Promise<void>;
  listRuns(): Promise<RunRecord[]>;

  // attempts and content: the engine's durable path
  loadRunSnapshot(runId: string): Promise<RunSnapshot>;
  /** Marks attempts a dead process left `running` as `abandoned`, and their `pending` interactions too; returns how many attempts. */
  abandonRunningAttempts(runId: string): Promise<number>;
  startAttempt(runId: string, taskId: string): Promise<number>;
  /**
   * ONE transaction: every output's content (a new version where the bytes differ from the newest one) and the
   * attempt's stamp; the attempt becomes `persisted`. After this returns, the work survives `kill -9`.
   * Each output's sha256 is checked against its bytes: a mismatch stores nothing and rejects.
   */
  persistAttempt(attemptId: number, stamp: string, outputs: OutputContent[]): Promise<void>;
  /**
   * Files are on disk: the attempt becomes `complete` and the hash cache learns their stats. Both stores may
   * defer these writes to ride with later ones (they are optional: an attempt left `persisted` by a crash has
   * its files written again by the next build); every read that shows them (snapshot, attempt list, export)
   * and `close` write the waiting ones first.
   */
  completeAttempt(attemptId: number, stats: FileStat[]): Promise<void>;
  /** A `running` attempt ends failed or cancelled; its `pending` interactions become `abandoned`. */
  endAttempt(attemptId: number, status: 'failed' | 'cancelled', error: string | null): Promise<void>;
  /**
   * Something went wrong after the attempt persisted (its files could not be written): the error is stored on
   * the attempt, which stays `persisted` (its content is durable; the next build writes the files).
   */
  recordAttemptError(attemptId: number, error: string): Promise<void>;
  /** Attempts of one task in a run, oldest first. */
  listAttempts(runId: string, taskId?: string): Promise<AttemptRecord[]>;

  /**
   * A file changed on disk by someone else: store these bytes as a new version (source `edit`), their sha256
   * computed by the store. Returns the version and sha stored, or null when the bytes equal the newest version.
   */
  recordEdit(runId: string, taskId: string, path: string, bytes: Buffer): Promise<{ version: number; sha256: string } | null>;
  /** Bytes of a file: the newest version, or a given 1-based version. */
  readContent(runId: string, path: string, version?: number): Promise<Buffer | null>;
  /** Bytes of the version with this sha256, if stored. */
  readContentBySha(runId: string, path: string, sha256: string): Promise<Buffer | null>;
  /** readContentBySha of many files at once (one round trip on a server), in the order asked; null for each absent. */
  readContentsBySha(runId: string, wanted: readonly ContentRef[]): Promise<(Buffer | null)[]>;
  listContentVersions(runId: string, path?: string): Promise<ContentVersion[]>;
  saveFileStats(runId: string, stats: FileStat[]): Promise<void>;

  // model calls: written by the LLM layer's recorder
  startInteraction(start: InteractionStart): Promise<number>;
  finishInteraction(id: number, finish: InteractionFinish): Promise<void>;
  /**
   * The task refused this answer (a check beyond the schema): the row becomes `rejected` with the reason (in
   * `errorMessage`), and so does the row it replayed, if any, so that no later attempt replays it. Only
   * `completed` and `replayed` rows change.
   */
  rejectInteraction(id: number, reason: string): Promise<void>;
  /**
   * Completed interactions of the given attempts whose request hash matches, oldest first: what a re-run of a
   * task that never reached `persisted` may replay instead of paying again.
   */
  findReplayableInteractions(attemptIds: number[], requestHash: string): Promise<InteractionRecord[]>;
  listInteractions(runId: string, filter?: { taskId?: string; status?: InteractionStatus }): Promise<InteractionRecord[]>;

  // model endpoints: what the LLM layer learned about the servers it calls, kept across builds

  /** The structured-output mode last learned for an endpoint (base URL + model); null when none was. */
  getEndpointMode(baseUrl: string, model: string): Promise<EndpointMode | null>;
  /** Remembers it, replacing an older one. A base URL is stored without user info (`user:pass@`). */
  saveEndpointMode(baseUrl: string, model: string, mode: EndpointMode): Promise<void>;

  // pins: files a person fixed in place (`plan pin`)

  /** Pins a file at this content (a stored version of it): builds never replace it. */
  pinFile(runId: string, path: string, sha256: string): Promise<void>;
  /** Returns whether the file was pinned. */
  unpinFile(runId: string, path: string): Promise<boolean>;
  listPinned(runId: string): Promise<{ path: string; sha256: string; pinnedAt: number }[]>;

  // inspection queries: read views and housekeeping for `plan list/show/llm/costs/clean/db`; never on the build path

  /** Runs matching every given condition, newest first. */
  queryRuns(query: RunQuery): Promise<RunRecord[]>;
  /** What one run holds and has spent, from its attempts, contents and interactions. */
  runTotals(runId: string): Promise<RunTotals>;
  /** Model calls added up per run, task, model or UTC day, ordered by key. */
  summarizeSpend(by: SpendGrouping, query?: SpendQuery): Promise<SpendRow[]>;
  /** A run's interactions without their (large) messages and responses, oldest first. */
  listInteractionSummaries(runId: string, filter?: { status?: InteractionStatus }): Promise<InteractionSummary[]>;
  getInteraction(id: number): Promise<InteractionRecord | null>;
  /** Deletes a run and every row that belongs to it (attempts, contents, interactions, hash cache), in one transaction. */
  deleteRun(runId: string): Promise<void>;
  /** Gives the space of deleted rows back to the file system. */
  vacuum(): Promise<void>;
  /**
   * Per task id, the model calls of its successful attempts in earlier runs (of a pipeline, at a speed): what
   * `plan build --dry-run` bases its call and cost estimate on.
   */
  taskCallHistory(filter?: { pipeline?: string; speed?: string }): Promise<TaskCallHistory[]>;

  // run leases: one build of a run at a time, across machines sharing the database

  /**
   * Takes the run's lease for `ttlMs` when it is free, expired, or held under `replaceToken` (a holder the
   * caller found dead). One conditional write: two callers never both get it. While this store holds the
   * lease, its writes of that run's attempts and edits are fenced by it: once another holder took the lease,
   * they fail with a StoreError of code `LEASE_LOST` and store nothing.
   */
  acquireRunLease(request: LeaseRequest): Promise<LeaseOutcome>;
  /**
   * Extends the lease by `ttlMs` from now; false when it was taken over (the token no longer holds it). A lost
   * lease keeps fencing this store's writes of the run (they fail) until it is released.
   */
  renewRunLease(runId: string, token: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up (no-op when another holder has it); writes of the run are no longer fenced. */
  releaseRunLease(runId: string, token: string): Promise<void>;
  /** Who holds the run's lease now, if anyone (an expired lease is still shown, with its expiry). */
  getRunLease(runId: string): Promise<RunLease | null>;

  // change notification (the dashboard's live view)

  /**
   * Calls `listener` soon after any write that changes a run (its row, attempts, model calls) commits, in any
   * process sharing the database, with that run's id; resolves to a stop function. Only stores that can push
   * changes have it (PostgreSQL: LISTEN/NOTIFY); with the others a watcher polls. A notification may be lost
   * (a connection cut): a watcher still polls now and then.
   */
  watchChanges?(listener: (runId: string) => void): Promise<() => Promise<void>>;

  // copying between stores (`plan db copy`)

  /** Every row of one run, to be imported into another store; null when there is no such run. */
  exportRun(runId: string): Promise<RunExport | null>;
  /**
   * Writes an exported run in one transaction, with new attempt and interaction ids. Returns false, and
   * writes nothing, when the store already holds a run with that id (copying again is a no-op).
   */
  importRun(data: RunExport): Promise<boolean>;

  close(): Promise<void>;
}

// run leases

export interface LeaseHolder {
  host: string;
  pid: number;
  /** When the holder process started (Linux: clock ticks after boot), to tell a reused pid from it; null elsewhere. */
  startTime: number | null;
}

export interface LeaseRequest {
  runId: string;
  holder: LeaseHolder;
  ttlMs: number;
  /** Take the lease even though it is live, if it is still held under this token. */
  replaceToken?: string;
}

export interface RunLease extends LeaseHolder {
  runId: string;
  /** The fencing token: a number that grows with every new holder of the run's lease. */
  token: string;
  /** Epoch ms, by the database's clock where it has one. */
  acquiredAt: number;
  expiresAt: number;
  /** The database's clock when this was read (epoch ms): compare `expiresAt` with it, not with the local clock. */
  now: number;
}

export type LeaseOutcome = { acquired: true; lease: RunLease; replaced: RunLease | null } | { acquired: false; current: RunLease };

// copying between stores

export interface ExportedAttempt extends AttemptRecord {
  pid: number | null;
  host: string | null;
  persistedAt: number | null;
}

export interface ExportedContent extends ContentVersion {
  /** As stored: `raw` or `deflate` (see compression.ts). */
  encoding: string;
  data: Buffer;
}

export interface RunExport {
  run: RunRecord;
  attempts: ExportedAttempt[];
  contents: ExportedContent[];
  interactions: InteractionRecord[];
  fileStats: FileStat[];
  pinned: { path: string; sha256: string; pinnedAt: number }[];
}

// inspection queries

export interface RunQuery {
  statuses?: readonly RunStatus[];
  /** Created at or after (epoch ms). */
  createdSince?: number;
  /** Last updated before (epoch ms). */
  updatedBefore?: number;
  /** Case-insensitive substring of the run's `prompt` parameter. */
  promptContains?: string;
  /** Only the newest N runs. */
  latest?: number;
}

export interface RunTotals {
  runId: string;
  /** Tasks with an attempt that reached `persisted` or `complete`. */
  tasksBuilt: number;
  /** Tasks whose newest attempt failed, was cancelled or abandoned. */
  tasksFailed: number;
  attempts: number;
  /** Distinct files stored, and all their versions. */
  files: number;
  versions: number;
  calls: number;
  failedCalls: number;
  inputTokens: number;
  outputTokens: number;
  /** What the priced calls cost; with `unpricedCalls` > 0 it is a lower bound. */
  costUsd: number;
  /** Calls that used tokens of a model without a known price (their cost is NULL, not $0). */
  unpricedCalls: number;
  /** Models that answered, most calls first. */
  models: string[];
  /** First attempt started and last attempt or call ended (epoch ms); null for a run that never ran. */
  firstActivityAt: number | null;
  lastActivityAt: number | null;
}

export type SpendGrouping = 'run' | 'task' | 'model' | 'day';

export interface SpendQuery {
  runId?: string;
  /** Calls started at or after (epoch ms). */
  since?: number;
}

export interface SpendRow {
  /** The run id, task id, model (the one that answered, else the one asked) or UTC day `YYYY-MM-DD`. */
  key: string;
  calls: number;
  failedCalls: number;
  inputTokens: number;
  outputTokens: number;
  /** What the priced calls cost; with `unpricedCalls` > 0 it is a lower bound. */
  costUsd: number;
  unpricedCalls: number;
  durationMs: number;
}

export type InteractionSummary = Omit<InteractionRecord, 'messages' | 'responseText' | 'parsed' | 'reasoningText'>;

/**
 * A task's model calls in earlier runs, one build per run (its newest persisted attempt's): `calls / runs` is
 * what one build of the task asks for, however often those runs were rebuilt.
 */
export interface TaskCallHistory {
  taskId: string;
  /** Runs in which the task was built, when any of those builds made model calls. */
  runs: number;
  /** Answered calls (completed, replayed or rejected) of those builds, together; tokens likewise. */
  calls: number;
  inputTokens: number;
  outputTokens: number;
}
