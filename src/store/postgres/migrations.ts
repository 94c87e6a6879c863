import type pg from 'pg';
import { StoreError } from '../store-error.js';
import type { Migration } from '../sqlite/migrations.js';

/**
 * The PostgreSQL schema, forward-only like SQLite's (a released migration is never edited: add one). Its
 * versions count on their own: version 1 holds what SQLite reached in its seven.
 *
 * Timestamps are epoch ms in BIGINT, as in SQLite, so both stores answer alike and `plan db copy` moves rows
 * as they are. JSON stays TEXT: what was stored is read back byte for byte (jsonb would reorder keys).
 */
export const postgresMigrations: readonly Migration[] = [
  {
    version: 1,
    description: 'runs, attempts, content versions, model calls, hash cache, endpoint modes, pins, run leases',
    sql: `
      CREATE TABLE runs (
        id                  TEXT PRIMARY KEY,
        run_dir             TEXT NOT NULL,
        pipeline            TEXT NOT NULL,
        params_json         TEXT NOT NULL,
        status              TEXT NOT NULL,
        status_reason       TEXT,
        cancel_requested_at BIGINT,
        created_at          BIGINT NOT NULL,
        updated_at          BIGINT NOT NULL
      );
      CREATE INDEX runs_by_dir ON runs (run_dir, created_at);

      CREATE TABLE task_attempts (
        id           BIGSERIAL PRIMARY KEY,
        run_id       TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        task_id      TEXT NOT NULL,
        status       TEXT NOT NULL CHECK (status IN ('running','persisted','complete','failed','cancelled','abandoned')),
        stamp_json   TEXT,
        outputs_json TEXT,
        error        TEXT,
        pid          INTEGER,
        host         TEXT,
        started_at   BIGINT NOT NULL,
        persisted_at BIGINT,
        finished_at  BIGINT
      );
      CREATE INDEX attempts_by_task ON task_attempts (run_id, task_id, id);
      CREATE INDEX attempts_running ON task_attempts (run_id) WHERE status = 'running';

      CREATE TABLE plan_content (
        id         BIGSERIAL PRIMARY KEY,
        run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        path       TEXT NOT NULL,
        version    INTEGER NOT NULL,
        task_id    TEXT NOT NULL,
        attempt_id BIGINT REFERENCES task_attempts (id) ON DELETE SET NULL,
        sha256     TEXT NOT NULL,
        size       BIGINT NOT NULL,
        encoding   TEXT NOT NULL CHECK (encoding IN ('raw','deflate')),
        data       BYTEA NOT NULL,
        source     TEXT NOT NULL CHECK (source IN ('task','edit','restore')),
        created_at BIGINT NOT NULL,
        -- Two writers numbering the same version: one fails here and runs again (compare-and-set).
        UNIQUE (run_id, path, version)
      );
      -- Already compressed by the store: TOAST compressing again only costs CPU.
      ALTER TABLE plan_content ALTER COLUMN data SET STORAGE EXTERNAL;

      CREATE TABLE llm_interactions (
        id               BIGSERIAL PRIMARY KEY,
        run_id           TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        task_id          TEXT NOT NULL,
        attempt_id       BIGINT NOT NULL,
        item_key         TEXT,
        turn             INTEGER,
        request_hash     TEXT NOT NULL,
        provider         TEXT NOT NULL,
        requested_model  TEXT NOT NULL,
        answered_model   TEXT,
        messages_z       BYTEA NOT NULL,
        -- UTF-8 bytes, not TEXT: a model's answer may hold U+0000, which PostgreSQL's text cannot.
        response_text    BYTEA,
        parsed_json      TEXT,
        status           TEXT NOT NULL
                         CHECK (status IN ('pending','completed','failed','cancelled','replayed','rejected','abandoned')),
        error_class      TEXT,
        error_message    TEXT,
        http_status      INTEGER,
        input_tokens     BIGINT,
        output_tokens    BIGINT,
        tokens_estimated BOOLEAN NOT NULL DEFAULT false,
        duration_ms      BIGINT,
        cost_usd         DOUBLE PRECISION,
        price_json       TEXT,
        started_at       BIGINT NOT NULL,
        finished_at      BIGINT,
        replayed_from    BIGINT,
        response_format  TEXT CHECK (response_format IN ('json_schema','json_object','prompt','text')),
        reasoning_text   BYTEA,
        reasoning_tokens BIGINT
      );
      ALTER TABLE llm_interactions ALTER COLUMN messages_z SET STORAGE EXTERNAL;
      CREATE INDEX interactions_by_run ON llm_interactions (run_id, task_id, id);
      CREATE INDEX interactions_by_attempt ON llm_interactions (attempt_id, request_hash);

      CREATE TABLE file_stats (
        run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        path       TEXT NOT NULL,
        size       BIGINT NOT NULL,
        mtime_ns   TEXT NOT NULL,
        ctime_ns   TEXT NOT NULL,
        ino        TEXT NOT NULL,
        sha256     TEXT NOT NULL,
        stat_at_ns TEXT NOT NULL,
        PRIMARY KEY (run_id, path)
      );

      CREATE TABLE endpoint_modes (
        base_url   TEXT NOT NULL,
        model      TEXT NOT NULL,
        mode       TEXT NOT NULL CHECK (mode IN ('json_schema','json_object','prompt')),
        learned_at BIGINT NOT NULL,
        PRIMARY KEY (base_url, model)
      );

      CREATE TABLE pinned_files (
        run_id    TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        path      TEXT NOT NULL,
        sha256    TEXT NOT NULL,
        pinned_at BIGINT NOT NULL,
        PRIMARY KEY (run_id, path)
      );

      -- One build of a run at a time across machines: the token grows with every holder and fences its writes.
      CREATE TABLE run_leases (
        run_id      TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
        token       BIGINT NOT NULL,
        host        TEXT NOT NULL,
        pid         INTEGER NOT NULL,
        start_time  BIGINT,
        acquired_at BIGINT NOT NULL,
        renewed_at  BIGINT NOT NULL,
        expires_at  BIGINT NOT NULL
      );
    `,
  },
  {
    version: 2,
    description: 'notify listeners (plan ui) of every change to a run: its row, attempts and model calls',
    // Statement-level triggers, so a statement that writes many rows notifies once per run it touched; the
    // notifications are sent at commit, only of what committed. Channel plan_changes, payload '<schema> <run id>'.
    sql: `
      CREATE FUNCTION notify_run_rows() RETURNS trigger LANGUAGE plpgsql AS $fn$
      DECLARE changed_run TEXT;
      BEGIN
        FOR changed_run IN SELECT DISTINCT id FROM changed LOOP
          PERFORM pg_notify('plan_changes', TG_TABLE_SCHEMA || ' ' || changed_run);
        END LOOP;
        RETURN NULL;
      END $fn$;

      CREATE FUNCTION notify_run_children() RETURNS trigger LANGUAGE plpgsql AS $fn$
      DECLARE changed_run TEXT;
      BEGIN
        FOR changed_run IN SELECT DISTINCT run_id FROM changed LOOP
          PERFORM pg_notify('plan_changes', TG_TABLE_SCHEMA || ' ' || changed_run);
        END LOOP;
        RETURN NULL;
      END $fn$;

      CREATE TRIGGER runs_inserted AFTER INSERT ON runs REFERENCING NEW TABLE AS changed
        FOR EACH STATEMENT EXECUTE FUNCTION notify_run_rows();
      CREATE TRIGGER runs_updated AFTER UPDATE ON runs REFERENCING NEW TABLE AS changed
        FOR EACH STATEMENT EXECUTE FUNCTION notify_run_rows();
      CREATE TRIGGER attempts_inserted AFTER INSERT ON task_attempts REFERENCING NEW TABLE AS changed
        FOR EACH STATEMENT EXECUTE FUNCTION notify_run_children();
      CREATE TRIGGER attempts_updated AFTER UPDATE ON task_attempts REFERENCING NEW TABLE AS changed
        FOR EACH STATEMENT EXECUTE FUNCTION notify_run_children();
      CREATE TRIGGER interactions_inserted AFTER INSERT ON llm_interactions REFERENCING NEW TABLE AS changed
        FOR EACH STATEMENT EXECUTE FUNCTION notify_run_children();
      CREATE TRIGGER interactions_updated AFTER UPDATE ON llm_interactions REFERENCING NEW TABLE AS changed
        FOR EACH STATEMENT EXECUTE FUNCTION notify_run_children();
    `,
  },
  {
    version: 3,
    description: 'workers: runs handed to workers, the state of each of their tasks, the workers alive',
    // A run built by `plan worker` processes has no one process holding it: the state of its tasks lives here,
    // each task claimed by one worker at a time under a fencing token (claim_token grows with every claim).
    sql: `
      CREATE TABLE worker_runs (
        run_id       TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
        keep_going   BOOLEAN NOT NULL,
        forced_json  TEXT NOT NULL,
        -- A failure without --keep-going: no task of the run is started any more.
        stopping     BOOLEAN NOT NULL DEFAULT FALSE,
        handed_at    BIGINT NOT NULL,
        finished_at  BIGINT
      );

      CREATE TABLE worker_tasks (
        run_id           TEXT NOT NULL REFERENCES worker_runs (run_id) ON DELETE CASCADE,
        task_id          TEXT NOT NULL,
        requires_json    TEXT NOT NULL,
        deps_left        INTEGER NOT NULL,
        state            TEXT NOT NULL CHECK (state IN ('waiting','ready','running','done','failed','blocked','cancelled')),
        outcome          TEXT,
        claim_token      BIGINT NOT NULL DEFAULT 0,
        worker_id        TEXT,
        claim_expires_at BIGINT,
        ready_at         BIGINT,
        started_at       BIGINT,
        finished_at      BIGINT,
        error            TEXT,
        PRIMARY KEY (run_id, task_id)
      );
      CREATE INDEX worker_tasks_running ON worker_tasks (worker_id) WHERE state = 'running';

      CREATE TABLE workers (
        id            TEXT PRIMARY KEY,
        name          TEXT NOT NULL,
        host          TEXT NOT NULL,
        pid           INTEGER NOT NULL,
        concurrency   INTEGER NOT NULL,
        queue_ids     TEXT NOT NULL DEFAULT '[]',
        started_at    BIGINT NOT NULL,
        heartbeat_at  BIGINT NOT NULL,
        stopped_at    BIGINT,
        stop_reason   TEXT
      );

      CREATE TRIGGER worker_tasks_updated AFTER UPDATE ON worker_tasks REFERENCING NEW TABLE AS changed
        FOR EACH STATEMENT EXECUTE FUNCTION notify_run_children();
    `,
  },
  {
    version: 4,
    description: "limits all workers hold together: a run's --max-cost (reservations of calls in flight), each provider's concurrency",
    sql: `
      ALTER TABLE worker_runs ADD COLUMN reserved_usd DOUBLE PRECISION NOT NULL DEFAULT 0;
      ALTER TABLE worker_runs ADD COLUMN stop_reason TEXT;

      -- One row per slot of a provider's concurrency; a call holds one (with an expiry, for a worker that dies).
      CREATE TABLE call_slots (
        scope      TEXT NOT NULL,
        slot       INTEGER NOT NULL,
        holder     TEXT,
        expires_at BIGINT,
        PRIMARY KEY (scope, slot)
      );
    `,
  },
  {
    version: 5,
    description: "each provider's requests and tokens per minute, over all workers: the calls of the last window",
    sql: `
      -- One row per call started (its tokens: estimated, then as the answer counted them); rows older than the
      -- window are deleted by the next taker. A worker that dies leaves rows that simply age out.
      CREATE TABLE call_window (
        id         BIGSERIAL PRIMARY KEY,
        scope      TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        tokens     BIGINT NOT NULL
      );
      CREATE INDEX call_window_scope ON call_window (scope, started_at);
    `,
  },
];

export const latestPostgresSchemaVersion = postgresMigrations[postgresMigrations.length - 1]!.version;

/**
 * Creates the schema and applies what it lacks, under an advisory lock: two processes opening a new database
 * at once take turns, and the second finds the work done. Refuses a schema made by a newer plan.
 */
export async function migratePostgres(client: pg.ClientBase, schema: string, location: string): Promise<void> {
  // One lock id per schema, so stores in other schemas of the database never wait on each other.
  await client.query('SELECT pg_advisory_lock(hashtext($1))', [`plan schema ${schema}`]);
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
    const current = Number((await client.query('SELECT COALESCE(MAX(version), 0) AS v FROM schema_version')).rows[0].v);
    if (current > latestPostgresSchemaVersion) {
      throw new StoreError(
        `database ${location} has schema version ${current}, newer than this plan knows (${latestPostgresSchemaVersion}): upgrade plan`,
        'PG_SCHEMA_NEWER',
      );
    }
    if (current === latestPostgresSchemaVersion) return;
    await client.query('BEGIN');
    try {
      for (const migration of postgresMigrations) {
        if (migration.version <= current) continue;
        await client.query(migration.sql);
        await client.query('INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)', [migration.version, Date.now()]);
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock(hashtext($1))', [`plan schema ${schema}`]).catch(() => undefined);
  }
}
