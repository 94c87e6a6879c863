import type Database from 'better-sqlite3';
import { StoreError } from '../store-error.js';

/**
 * Forward-only schema migrations. A migration is never edited once released: add a new one instead.
 * `schema_version` records each applied version; opening a database applies what is missing, in order,
 * and refuses a database whose version is newer than this code knows.
 */
export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    description: 'runs, attempts, content versions, model calls, hash cache',
    sql: `
      CREATE TABLE runs (
        id            TEXT PRIMARY KEY,
        run_dir       TEXT NOT NULL,
        pipeline      TEXT NOT NULL,
        params_json   TEXT NOT NULL,
        status        TEXT NOT NULL,
        status_reason TEXT,
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL
      );
      CREATE INDEX runs_by_dir ON runs (run_dir);

      CREATE TABLE task_attempts (
        id           INTEGER PRIMARY KEY,
        run_id       TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        task_id      TEXT NOT NULL,
        status       TEXT NOT NULL CHECK (status IN ('running','persisted','complete','failed','cancelled','abandoned')),
        stamp_json   TEXT,
        outputs_json TEXT,
        error        TEXT,
        pid          INTEGER,
        host         TEXT,
        started_at   INTEGER NOT NULL,
        persisted_at INTEGER,
        finished_at  INTEGER
      );
      CREATE INDEX attempts_by_task ON task_attempts (run_id, task_id, id);
      CREATE INDEX attempts_by_status ON task_attempts (run_id, status);

      CREATE TABLE plan_content (
        id         INTEGER PRIMARY KEY,
        run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        path       TEXT NOT NULL,
        version    INTEGER NOT NULL,
        task_id    TEXT NOT NULL,
        attempt_id INTEGER REFERENCES task_attempts (id) ON DELETE SET NULL,
        sha256     TEXT NOT NULL,
        size       INTEGER NOT NULL,
        encoding   TEXT NOT NULL CHECK (encoding IN ('raw','deflate')),
        data       BLOB NOT NULL,
        source     TEXT NOT NULL CHECK (source IN ('task','edit','restore')),
        created_at INTEGER NOT NULL,
        UNIQUE (run_id, path, version)
      );

      CREATE TABLE llm_interactions (
        id               INTEGER PRIMARY KEY,
        run_id           TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        task_id          TEXT NOT NULL,
        attempt_id       INTEGER NOT NULL,
        item_key         TEXT,
        turn             INTEGER,
        request_hash     TEXT NOT NULL,
        provider         TEXT NOT NULL,
        requested_model  TEXT NOT NULL,
        answered_model   TEXT,
        messages_json    TEXT NOT NULL,
        response_text    TEXT,
        parsed_json      TEXT,
        status           TEXT NOT NULL CHECK (status IN ('pending','completed','failed','cancelled','replayed')),
        error_class      TEXT,
        error_message    TEXT,
        http_status      INTEGER,
        input_tokens     INTEGER,
        output_tokens    INTEGER,
        tokens_estimated INTEGER NOT NULL DEFAULT 0,
        duration_ms      INTEGER,
        cost_usd         REAL,
        price_json       TEXT,
        started_at       INTEGER NOT NULL,
        finished_at      INTEGER
      );
      CREATE INDEX interactions_by_run ON llm_interactions (run_id, task_id, id);
      CREATE INDEX interactions_by_attempt ON llm_interactions (attempt_id, request_hash);

      CREATE TABLE file_stats (
        run_id   TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        path     TEXT NOT NULL,
        size     INTEGER NOT NULL,
        mtime_ns TEXT NOT NULL,
        ino      TEXT NOT NULL,
        sha256   TEXT NOT NULL,
        PRIMARY KEY (run_id, path)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    description: 'cancel requests from other processes; compressed model-call messages',
    sql: `
      ALTER TABLE runs ADD COLUMN cancel_requested_at INTEGER;
      -- The messages of a call repeat most of the plan built so far: stored deflated, they take a fraction.
      -- messages_json stays for rows written before this version (new rows leave it empty).
      ALTER TABLE llm_interactions ADD COLUMN messages_z BLOB;
    `,
  },
  {
    version: 3,
    description: 'a small index of running attempts instead of one over every status',
    sql: `
      -- (run_id, status) changed three times in every task's life (running, persisted, complete): three index
      -- updates per task on the hot path. Queries by status also name the run, which attempts_by_task covers;
      -- only the running attempts need a quick way in (recovery, live status), and they are few.
      DROP INDEX attempts_by_status;
      CREATE INDEX attempts_running ON task_attempts (run_id) WHERE status = 'running';
    `,
  },
  {
    version: 4,
    description: 'rejected and abandoned model calls, the call a replay answers from; ctime and stat time in the hash cache',
    sql: `
      -- SQLite cannot change a CHECK constraint in place: the table is rebuilt and every row copied. No table
      -- references llm_interactions, so with foreign_keys on the drop and the rename check nothing.
      CREATE TABLE llm_interactions_v4 (
        id               INTEGER PRIMARY KEY,
        run_id           TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        task_id          TEXT NOT NULL,
        attempt_id       INTEGER NOT NULL,
        item_key         TEXT,
        turn             INTEGER,
        request_hash     TEXT NOT NULL,
        provider         TEXT NOT NULL,
        requested_model  TEXT NOT NULL,
        answered_model   TEXT,
        messages_json    TEXT NOT NULL,
        response_text    TEXT,
        parsed_json      TEXT,
        status           TEXT NOT NULL
                         CHECK (status IN ('pending','completed','failed','cancelled','replayed','rejected','abandoned')),
        error_class      TEXT,
        error_message    TEXT,
        http_status      INTEGER,
        input_tokens     INTEGER,
        output_tokens    INTEGER,
        tokens_estimated INTEGER NOT NULL DEFAULT 0,
        duration_ms      INTEGER,
        cost_usd         REAL,
        price_json       TEXT,
        started_at       INTEGER NOT NULL,
        finished_at      INTEGER,
        messages_z       BLOB,
        replayed_from    INTEGER
      );
      INSERT INTO llm_interactions_v4 (id, run_id, task_id, attempt_id, item_key, turn, request_hash, provider, requested_model,
          answered_model, messages_json, response_text, parsed_json, status, error_class, error_message, http_status,
          input_tokens, output_tokens, tokens_estimated, duration_ms, cost_usd, price_json, started_at, finished_at, messages_z)
        SELECT id, run_id, task_id, attempt_id, item_key, turn, request_hash, provider, requested_model,
          answered_model, messages_json, response_text, parsed_json, status, error_class, error_message, http_status,
          input_tokens, output_tokens, tokens_estimated, duration_ms, cost_usd, price_json, started_at, finished_at, messages_z
        FROM llm_interactions;
      DROP TABLE llm_interactions;
      ALTER TABLE llm_interactions_v4 RENAME TO llm_interactions;
      CREATE INDEX interactions_by_run ON llm_interactions (run_id, task_id, id);
      CREATE INDEX interactions_by_attempt ON llm_interactions (attempt_id, request_hash);

      -- 0 never equals a real ctime: entries written before this version are re-hashed once.
      ALTER TABLE file_stats ADD COLUMN ctime_ns TEXT NOT NULL DEFAULT '0';
      ALTER TABLE file_stats ADD COLUMN stat_at_ns TEXT NOT NULL DEFAULT '0';
    `,
  },
  {
    version: 5,
    description: 'the structured-output mode each model endpoint accepts; per call the response format sent and the reasoning',
    sql: `
      -- One row per endpoint that refused a richer mode: later builds start at what it accepts instead of paying
      -- the same refusals again. The base URL never holds credentials (the store strips user info).
      CREATE TABLE endpoint_modes (
        base_url   TEXT NOT NULL,
        model      TEXT NOT NULL,
        mode       TEXT NOT NULL CHECK (mode IN ('json_schema','json_object','prompt')),
        learned_at INTEGER NOT NULL,
        PRIMARY KEY (base_url, model)
      ) WITHOUT ROWID;

      -- NULL in rows written before this version, and in replays (nothing was sent).
      ALTER TABLE llm_interactions ADD COLUMN response_format TEXT
        CHECK (response_format IN ('json_schema','json_object','prompt','text'));
      ALTER TABLE llm_interactions ADD COLUMN reasoning_text TEXT;
      ALTER TABLE llm_interactions ADD COLUMN reasoning_tokens INTEGER;
    `,
  },
  {
    version: 6,
    description: 'files a person pinned: builds never replace them',
    sql: `
      CREATE TABLE pinned_files (
        run_id    TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        path      TEXT NOT NULL,
        sha256    TEXT NOT NULL,
        pinned_at INTEGER NOT NULL,
        PRIMARY KEY (run_id, path)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 7,
    description: 'run leases: one build of a run at a time, fenced by a token that grows with every holder',
    sql: `
      -- One row per run that was ever leased. Releasing keeps the row (expires_at = 0) so that the token keeps
      -- growing: a holder of an old token can never match a later lease.
      CREATE TABLE run_leases (
        run_id      TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
        token       INTEGER NOT NULL,
        host        TEXT NOT NULL,
        pid         INTEGER NOT NULL,
        start_time  INTEGER,
        acquired_at INTEGER NOT NULL,
        renewed_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
];

export const latestSchemaVersion = migrations[migrations.length - 1]!.version;

/** Applies the migrations a database lacks, in one transaction; refuses one made by a newer plan. */
export function migrate(db: Database.Database, location: string): void {
  try {
    db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
    const current = (db.prepare('SELECT MAX(version) AS v FROM schema_version').get() as { v: number | null }).v ?? 0;
    if (current > latestSchemaVersion) {
      throw new StoreError(`database ${location} has schema version ${current}, newer than this plan knows (${latestSchemaVersion}): upgrade plan`);
    }
    const apply = db.transaction(() => {
      for (const migration of migrations) {
        if (migration.version <= current) continue;
        db.exec(migration.sql);
        db.prepare('INSERT INTO schema_version (version, applied_at) VALUES (?, ?)').run(migration.version, Date.now());
      }
    });
    apply.immediate();
  } catch (error) {
    throw StoreError.from(error, `cannot use database ${location}`);
  }
}
