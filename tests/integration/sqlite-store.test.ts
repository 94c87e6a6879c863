import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite-store.js';
import { StoreError } from '../../src/store/store-error.js';
import { latestSchemaVersion, migrations } from '../../src/store/migrations.js';
import { tempDir } from '../support/cli.js';

let dir: string;
let store: SqliteStore;
beforeEach(async () => {
  dir = tempDir('plan-store-');
  store = await openSqliteStore(path.join(dir, 'plan.db'));
});
afterEach(async () => {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const sha = (c: string): string => c.repeat(64);

describe('SqliteStore', () => {
  it('applies the migrations on open and records the schema version', () => {
    const db = new Database(path.join(dir, 'plan.db'), { readonly: true });
    const versions = db.prepare('SELECT version FROM schema_version').all();
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((t) => t.name);
    const mode = db.pragma('journal_mode', { simple: true });
    db.close();
    expect(versions).toEqual(migrations.map((m) => ({ version: m.version })));
    expect(latestSchemaVersion).toBe(migrations.length);
    expect(tables).toEqual(['file_stats', 'llm_interactions', 'plan_content', 'runs', 'schema_version', 'task_attempts']);
    expect(mode).toBe('wal');
  });

  it('persists all outputs and the stamp in one step; an identical rebuild adds no version', async () => {
    const run = await store.createRun({ runDir: '/x/run', pipeline: 'p', params: { prompt: 'hi' } });
    const first = await store.startAttempt(run.id, 'T');
    const big = Buffer.from('{"a": 1}\n'.repeat(500));
    await store.persistAttempt(first, '{"version":"1"}', [
      { path: 'a.json', sha256: sha('a'), bytes: big },
      { path: 'b.md', sha256: sha('b'), bytes: Buffer.from('b') },
    ]);
    let snapshot = await store.loadRunSnapshot(run.id);
    expect(snapshot.built.get('T')).toMatchObject({ id: first, status: 'persisted', outputs: { 'a.json': sha('a'), 'b.md': sha('b') } });
    expect(snapshot.unmaterialized.map((a) => a.id)).toEqual([first]);
    await store.completeAttempt(first, []);

    const second = await store.startAttempt(run.id, 'T');
    await store.persistAttempt(second, '{"version":"1"}', [
      { path: 'a.json', sha256: sha('a'), bytes: big },
      { path: 'b.md', sha256: sha('c'), bytes: Buffer.from('c') },
    ]);
    await store.completeAttempt(second, []);
    const versions = await store.listContentVersions(run.id);
    expect(versions.map((v) => [v.path, v.version, v.source])).toEqual([
      ['a.json', 1, 'task'],
      ['b.md', 1, 'task'],
      ['b.md', 2, 'task'],
    ]);
    expect(await store.readContent(run.id, 'a.json')).toEqual(big);
    expect(await store.readContent(run.id, 'b.md', 1)).toEqual(Buffer.from('b'));
    expect(await store.readContent(run.id, 'b.md')).toEqual(Buffer.from('c'));
    snapshot = await store.loadRunSnapshot(run.id);
    expect(snapshot.latestContent.get('b.md')).toBe(sha('c'));
    expect(snapshot.unmaterialized).toEqual([]);

    // Compressed on disk: the 4.5 kB of repeated JSON takes far less.
    const db = new Database(path.join(dir, 'plan.db'), { readonly: true });
    const stored = db.prepare("SELECT encoding, length(data) AS n FROM plan_content WHERE path = 'a.json'").get() as { encoding: string; n: number };
    db.close();
    expect(stored.encoding).toBe('deflate');
    expect(stored.n).toBeLessThan(big.length / 10);
  });

  it('refuses to persist an attempt that is not running (e.g. abandoned by a later build)', async () => {
    const run = await store.createRun({ runDir: '/x/run', pipeline: 'p', params: {} });
    const attempt = await store.startAttempt(run.id, 'T');
    expect(await store.abandonRunningAttempts(run.id)).toBe(1);
    await expect(store.persistAttempt(attempt, '{}', [])).rejects.toThrow(`attempt ${attempt} is abandoned, not running`);
  });

  it('lists the attempts since the last persisted one as replayable, per task', async () => {
    const run = await store.createRun({ runDir: '/x/run', pipeline: 'p', params: {} });
    const old = await store.startAttempt(run.id, 'T');
    await store.endAttempt(old, 'failed', 'boom');
    const ok = await store.startAttempt(run.id, 'T');
    await store.persistAttempt(ok, '{}', []);
    const killed = await store.startAttempt(run.id, 'T');
    const cancelled = await store.startAttempt(run.id, 'U');
    await store.endAttempt(cancelled, 'cancelled', null);
    await store.abandonRunningAttempts(run.id);
    const snapshot = await store.loadRunSnapshot(run.id);
    expect(snapshot.replayable.get('T')).toEqual([killed]);
    expect(snapshot.replayable.get('U')).toEqual([cancelled]);
  });

  it('keeps edits as versions of source edit, and the hash cache round-trips bigints', async () => {
    const run = await store.createRun({ runDir: '/x/run', pipeline: 'p', params: {} });
    await store.recordEdit(run.id, 'T', 'a.md', sha('e'), Buffer.from('edited'));
    await store.saveFileStats(run.id, [{ path: 'a.md', size: 6, mtimeNs: 1732500000123456789n, ino: 99n, sha256: sha('e') }]);
    const versions = await store.listContentVersions(run.id, 'a.md');
    expect(versions.map((v) => [v.version, v.source, v.attemptId])).toEqual([[1, 'edit', null]]);
    expect((await store.loadRunSnapshot(run.id)).fileStats.get('a.md')).toEqual({
      path: 'a.md',
      size: 6,
      mtimeNs: 1732500000123456789n,
      ino: 99n,
      sha256: sha('e'),
    });
  });

  it('finds a run by the dir it was last built in, and keeps params as JSON', async () => {
    const run = await store.createRun({ runDir: '/x/run', pipeline: 'plan', params: { prompt: 'a "quoted" prompt' } });
    await store.updateRun(run.id, { runDir: '/y/moved', status: 'complete' });
    expect(await store.findRunByDir('/x/run')).toBeNull();
    expect(await store.findRunByDir('/y/moved')).toMatchObject({ id: run.id, status: 'complete', params: { prompt: 'a "quoted" prompt' } });
  });
});

describe('model-call messages', () => {
  it('are stored compressed and read back whole', async () => {
    const run = await store.createRun({ runDir: '/x/run', pipeline: 'p', params: {} });
    const attemptId = await store.startAttempt(run.id, 'T');
    const context = 'The plan so far. '.repeat(2_000);
    const messages = [
      { role: 'system', content: 'You plan.' },
      { role: 'user', content: context },
    ];
    const id = await store.startInteraction({
      runId: run.id, taskId: 'T', attemptId, itemKey: null, turn: null, requestHash: 'h', provider: 'offline', requestedModel: 'offline', messages,
    });
    const db = new Database(path.join(dir, 'plan.db'), { readonly: true });
    const row = db.prepare('SELECT messages_json, length(messages_z) AS z FROM llm_interactions WHERE id = ?').get(id) as { messages_json: string; z: number };
    db.close();
    expect(row.messages_json).toBe('');
    expect(row.z).toBeLessThan(context.length / 20);
    expect((await store.listInteractions(run.id))[0]?.messages).toEqual(messages);
  });
});

describe('opening a database', () => {
  it('upgrades a database of schema version 1, keeping what it holds', async () => {
    const file = path.join(dir, 'v1.db');
    const v1 = new Database(file);
    v1.exec('CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
    v1.exec(migrations[0]!.sql);
    v1.prepare('INSERT INTO schema_version VALUES (1, 0)').run();
    v1.prepare("INSERT INTO runs VALUES ('r1', '/old/run', 'plan', '{}', 'complete', NULL, 1, 2)").run();
    v1.prepare(
      "INSERT INTO llm_interactions (run_id, task_id, attempt_id, request_hash, provider, requested_model, messages_json, status, started_at) VALUES ('r1', 'T', 1, 'h', 'offline', 'offline', '[{\"role\":\"user\",\"content\":\"old\"}]', 'completed', 1)",
    ).run();
    v1.close();
    const upgraded = await openSqliteStore(file);
    expect(await upgraded.getRun('r1')).toMatchObject({ runDir: '/old/run', status: 'complete', cancelRequestedAt: null });
    expect((await upgraded.listInteractions('r1'))[0]?.messages).toEqual([{ role: 'user', content: 'old' }]);
    await upgraded.close();
    const check = new Database(file, { readonly: true });
    expect(check.prepare('SELECT version FROM schema_version ORDER BY version').all()).toEqual(migrations.map((m) => ({ version: m.version })));
    check.close();
  });

  it('refuses a file that is not a database, with a clear message, and leaves it untouched', async () => {
    const file = path.join(dir, 'corrupt.db');
    const garbage = Buffer.from('this is not a database at all, just text '.repeat(200));
    fs.writeFileSync(file, garbage);
    await expect(openSqliteStore(file)).rejects.toThrow(/is not a plan database or is corrupt.*left untouched/);
    expect(fs.readFileSync(file)).toEqual(garbage);
  });

  it('refuses a database made by a newer plan', async () => {
    const file = path.join(dir, 'newer.db');
    (await openSqliteStore(file)).close();
    const db = new Database(file);
    db.prepare('INSERT INTO schema_version (version, applied_at) VALUES (?, ?)').run(latestSchemaVersion + 1, Date.now());
    db.close();
    const error = await openSqliteStore(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as Error).message).toContain(`has schema version ${latestSchemaVersion + 1}, newer than this plan knows`);
  });

  it('durability full sets synchronous=FULL; the default is NORMAL', async () => {
    const full = await openSqliteStore(path.join(dir, 'full.db'), { durability: 'full' });
    const pragma = (s: SqliteStore): unknown => (s as unknown as { db: Database.Database }).db.pragma('synchronous', { simple: true });
    expect(pragma(full)).toBe(2);
    expect(pragma(store)).toBe(1);
    await full.close();
  });
});
