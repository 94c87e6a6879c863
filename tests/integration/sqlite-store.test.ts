import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { StoreError } from '../../src/store/store-error.js';
import { latestSchemaVersion, migrations } from '../../src/store/sqlite/migrations.js';
import type { FileStat, InteractionStart, LeaseHolder, OutputContent, RunExport } from '../../src/store/store.js';
import { tempDir } from '../support/cli.js';
import { normalizeExport } from '../support/run-export.js';

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

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
/** One output as a task hands it over: the path, its bytes and their real sha256. */
const output = (filePath: string, bytes: Buffer | string): OutputContent => {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
  return { path: filePath, sha256: sha256(buffer), bytes: buffer };
};
const stat = (filePath: string, sha: string): FileStat => ({
  path: filePath,
  size: 6,
  mtimeNs: 1732500000123456789n,
  ctimeNs: 1732500000987654321n,
  ino: 99n,
  sha256: sha,
  statAtNs: 1732500001000000007n,
});
const call = (runId: string, attemptId: number, extra: Partial<InteractionStart> = {}): InteractionStart => ({
  runId,
  taskId: 'T',
  attemptId,
  itemKey: null,
  turn: null,
  requestHash: 'h',
  provider: 'offline',
  requestedModel: 'offline',
  messages: [{ role: 'user', content: 'hi' }],
  ...extra,
});

describe('SqliteStore', () => {
  it('applies the migrations on open and records the schema version', () => {
    const db = new Database(path.join(dir, 'plan.db'), { readonly: true });
    const versions = db.prepare('SELECT version FROM schema_version').all();
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((t) => t.name);
    const mode = db.pragma('journal_mode', { simple: true });
    db.close();
    expect(versions).toEqual(migrations.map((m) => ({ version: m.version })));
    expect(latestSchemaVersion).toBe(migrations.length);
    expect(tables).toEqual([
      'endpoint_modes',
      'file_stats',
      'llm_interactions',
      'pinned_files',
      'plan_content',
      'run_leases',
      'runs',
      'schema_version',
      'task_attempts',
    ]);
    expect(mode).toBe('wal');
  });

  it('persists all outputs and the stamp in one step; an identical rebuild adds no version', async () => {
    const run = await store.createRun({ runDir: '/x/run', pipeline: 'p', params: { prompt: 'hi' } });
    const first = await store.startAttempt(run.id, 'T');
    const big = Buffer.from('{"a": 1}\n'.repeat(500));
    await store.persistAttempt(first, '{"version":"1"}', [output('a.json', big), output('b.md', 'b')]);
    let snapshot = await store.loadRunSnapshot(run.id);
    expect(snapshot.built.get('T')).toMatchObject({
      id: first,
      status: 'persisted',
      outputs: { 'a.json': sha256(big), 'b.md': sha256(Buffer.from('b')) },
    });
    expect(snapshot.unmaterialized.map((a) => a.id)).toEqual([first]);
    await store.completeAttempt(first, []);

    const second = await store.startAttempt(run.id, 'T');
    await store.persistAttempt(second, '{"version":"1"}', [output('a.json', big), output('b.md', 'c')]);
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
    expect(snapshot.latestContent.get('b.md')).toBe(sha256(Buffer.from('c')));
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

  it('keeps edits as versions of source edit, and the hash cache round-trips bigints, ctime and stat time included', async () => {
    const run = await store.createRun({ runDir: '/x/run', pipeline: 'p', params: {} });
    await store.recordEdit(run.id, 'T', 'a.md', Buffer.from('edited'));
    await store.saveFileStats(run.id, [stat('a.md', sha256(Buffer.from('edited')))]);
    const versions = await store.listContentVersions(run.id, 'a.md');
    expect(versions.map((v) => [v.version, v.source, v.attemptId])).toEqual([[1, 'edit', null]]);
    expect((await store.loadRunSnapshot(run.id)).fileStats.get('a.md')).toEqual(stat('a.md', sha256(Buffer.from('edited'))));
  });

  it('recordEdit hashes the bytes itself and returns the version stored, or null when they equal the newest version', async () => {
    const run = await store.createRun({ runDir: '/x/run', pipeline: 'p', params: {} });
    const attempt = await store.startAttempt(run.id, 'T');
    await store.persistAttempt(attempt, '{}', [output('a.md', 'built')]);
    expect(await store.recordEdit(run.id, 'T', 'a.md', Buffer.from('built'))).toBeNull();
    expect(await store.recordEdit(run.id, 'T', 'a.md', Buffer.from('edited'))).toEqual({ version: 2, sha256: sha256(Buffer.from('edited')) });
    expect(await store.recordEdit(run.id, 'T', 'a.md', Buffer.from('edited'))).toBeNull();
    const versions = await store.listContentVersions(run.id, 'a.md');
    expect(versions.map((v) => [v.version, v.source, v.sha256])).toEqual([
      [1, 'task', sha256(Buffer.from('built'))],
      [2, 'edit', sha256(Buffer.from('edited'))],
    ]);
  });

  it('refuses to persist an output whose sha256 is not that of its bytes, naming the path, and stores nothing', async () => {
    const run = await store.createRun({ runDir: '/x/run', pipeline: 'p', params: {} });
    const attempt = await store.startAttempt(run.id, 'T');
    const lying = { ...output('b.md', 'real bytes'), sha256: sha256(Buffer.from('other bytes')) };
    const error = await store.persistAttempt(attempt, '{}', [output('a.md', 'fine'), lying]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as Error).message).toContain('b.md');
    expect(await store.listContentVersions(run.id)).toEqual([]);
    expect((await store.listAttempts(run.id)).map((a) => [a.status, a.stamp, a.outputs])).toEqual([['running', null, null]]);
    // Still running: a persist with honest shas goes through.
    await store.persistAttempt(attempt, '{}', [output('a.md', 'fine'), output('b.md', 'real bytes')]);
    expect((await store.listAttempts(run.id)).map((a) => a.status)).toEqual(['persisted']);
  });

  it('keeps an error recorded after persist on the attempt, which stays persisted, and the snapshot carries it', async () => {
    const run = await store.createRun({ runDir: '/x/run', pipeline: 'p', params: {} });
    const attempt = await store.startAttempt(run.id, 'T');
    await store.persistAttempt(attempt, '{}', [output('a.md', 'a')]);
    await store.recordAttemptError(attempt, 'EACCES: cannot write a.md');
    expect((await store.listAttempts(run.id)).map((a) => [a.status, a.error])).toEqual([['persisted', 'EACCES: cannot write a.md']]);
    const snapshot = await store.loadRunSnapshot(run.id);
    expect(snapshot.built.get('T')).toMatchObject({ id: attempt, status: 'persisted', error: 'EACCES: cannot write a.md' });
    expect(snapshot.unmaterialized.map((a) => a.error)).toEqual(['EACCES: cannot write a.md']);
    await expect(store.recordAttemptError(attempt + 1000, 'x')).rejects.toThrow(StoreError);
  });

  it("gives each unmaterialized attempt the outputs of its task's newest earlier persisted or complete attempt, or {}", async () => {
    const run = await store.createRun({ runDir: '/x/run', pipeline: 'p', params: {} });
    const other = await store.createRun({ runDir: '/x/other', pipeline: 'p', params: {} });
    const older = await store.startAttempt(run.id, 'T');
    await store.persistAttempt(older, '{}', [output('old.md', 'old')]);
    await store.completeAttempt(older, []);
    const newer = await store.startAttempt(run.id, 'T');
    await store.persistAttempt(newer, '{}', [output('a.md', 'a'), output('extra.md', 'extra')]);
    await store.completeAttempt(newer, []);
    const failed = await store.startAttempt(run.id, 'T');
    await store.endAttempt(failed, 'failed', 'boom');
    // Another run's attempt of the same task, in between: not this run's history.
    const elsewhere = await store.startAttempt(other.id, 'T');
    await store.persistAttempt(elsewhere, '{}', [output('elsewhere.md', 'x')]);
    const recovering = await store.startAttempt(run.id, 'T');
    await store.persistAttempt(recovering, '{}', [output('a.md', 'a2')]);
    const first = await store.startAttempt(run.id, 'U');
    await store.persistAttempt(first, '{}', [output('u.md', 'u')]);

    const snapshot = await store.loadRunSnapshot(run.id);
    expect(snapshot.unmaterialized.map((a) => a.id).sort((a, b) => a - b)).toEqual([recovering, first]);
    expect(snapshot.previousOutputs).toEqual(
      new Map([
        [recovering, { 'a.md': sha256(Buffer.from('a')), 'extra.md': sha256(Buffer.from('extra')) }],
        [first, {}],
      ]),
    );
    expect((await store.loadRunSnapshot(other.id)).previousOutputs).toEqual(new Map([[elsewhere, {}]]));
  });

  it('finds a run by the dir it was last built in, and keeps params as JSON', async () => {
    const run = await store.createRun({ runDir: '/x/run', pipeline: 'plan', params: { prompt: 'a "quoted" prompt' } });
    await store.updateRun(run.id, { runDir: '/y/moved', status: 'complete' });
    expect(await store.findRunByDir('/x/run')).toBeNull();
    expect(await store.findRunByDir('/y/moved')).toMatchObject({ id: run.id, status: 'complete', params: { prompt: 'a "quoted" prompt' } });
  });
});

describe('updateRun', () => {
  it('changes only the columns given: the UPDATE names no other column, and a change made by another connection stays', async () => {
    const run = await store.createRun({ runDir: '/x/run', pipeline: 'plan', params: { prompt: 'p' } });
    const other = await openSqliteStore(path.join(dir, 'plan.db'));
    await other.updateRun(run.id, { status: 'running', statusReason: 'started elsewhere' });
    await other.close();
    // `AFTER UPDATE OF column` fires only for the columns an UPDATE sets.
    const admin = new Database(path.join(dir, 'plan.db'));
    admin.exec('CREATE TABLE columns_set (name TEXT)');
    for (const column of ['run_dir', 'status', 'status_reason', 'params_json', 'cancel_requested_at', 'updated_at']) {
      admin.exec(`CREATE TRIGGER set_${column} AFTER UPDATE OF ${column} ON runs BEGIN INSERT INTO columns_set VALUES ('${column}'); END`);
    }
    admin.close();
    await store.updateRun(run.id, { runDir: '/y/moved' });
    const check = new Database(path.join(dir, 'plan.db'), { readonly: true });
    expect(check.prepare('SELECT name FROM columns_set ORDER BY name').pluck().all()).toEqual(['run_dir', 'updated_at']);
    check.close();
    expect(await store.getRun(run.id)).toMatchObject({
      runDir: '/y/moved',
      status: 'running',
      statusReason: 'started elsewhere',
      params: { prompt: 'p' },
    });
    await store.updateRun(run.id, { statusReason: null, params: { prompt: 'q' } });
    expect(await store.getRun(run.id)).toMatchObject({ runDir: '/y/moved', status: 'running', statusReason: null, params: { prompt: 'q' } });
  });

  it('prepares one statement per set of columns changed, reused by later calls', async () => {
    const run = await store.createRun({ runDir: '/x/run', pipeline: 'p', params: {} });
    const prepare = vi.spyOn((store as unknown as { db: Database.Database }).db, 'prepare');
    await store.updateRun(run.id, { status: 'running' });
    await store.updateRun(run.id, { status: 'complete' });
    expect(prepare).toHaveBeenCalledTimes(1);
    await store.updateRun(run.id, { status: 'failed', statusReason: 'boom' });
    await store.updateRun(run.id, { statusReason: 'boom again', status: 'failed' });
    expect(prepare).toHaveBeenCalledTimes(2);
    prepare.mockRestore();
  });

  it('cancelRequested true stamps the request with the time; false clears it', async () => {
    const run = await store.createRun({ runDir: '/x/run', pipeline: 'p', params: {} });
    const before = Date.now();
    await store.updateRun(run.id, { cancelRequested: true });
    const requested = (await store.getRun(run.id))!.cancelRequestedAt;
    expect(requested).toBeGreaterThanOrEqual(before);
    expect(requested).toBeLessThanOrEqual(Date.now());
    await store.updateRun(run.id, { cancelRequested: false });
    expect((await store.getRun(run.id))!.cancelRequestedAt).toBeNull();
  });

  it('clearCancelRequestedBefore clears a request made before that moment and keeps one made at or after it', async () => {
    const run = await store.createRun({ runDir: '/x/run', pipeline: 'p', params: {} });
    await store.updateRun(run.id, { cancelRequested: true });
    const requested = (await store.getRun(run.id))!.cancelRequestedAt!;
    await store.updateRun(run.id, { status: 'running', clearCancelRequestedBefore: requested });
    expect(await store.getRun(run.id)).toMatchObject({ status: 'running', cancelRequestedAt: requested });
    await store.updateRun(run.id, { clearCancelRequestedBefore: requested + 1 });
    expect((await store.getRun(run.id))!.cancelRequestedAt).toBeNull();
  });

  it('refuses cancelRequested and clearCancelRequestedBefore together, changing nothing', async () => {
    const run = await store.createRun({ runDir: '/x/run', pipeline: 'p', params: {} });
    await expect(store.updateRun(run.id, { status: 'running', cancelRequested: false, clearCancelRequestedBefore: Date.now() })).rejects.toThrow(
      /cancelRequested and clearCancelRequestedBefore/,
    );
    expect((await store.getRun(run.id))!.status).toBe('created');
  });

  it('fails with a StoreError naming the run when there is no such run', async () => {
    const error = await store.updateRun('no-such-run', { status: 'running' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as Error).message).toBe('no run with id no-such-run');
  });
});

describe('model calls', () => {
  it('stores the interaction a replay answers from, null when none, in every read', async () => {
    const run = await store.createRun({ runDir: '/x/run', pipeline: 'p', params: {} });
    const attempt = await store.startAttempt(run.id, 'T');
    const original = await store.startInteraction(call(run.id, attempt));
    const replay = await store.startInteraction(call(run.id, attempt, { replayedFrom: original }));
    expect((await store.getInteraction(original))!.replayedFrom).toBeNull();
    expect((await store.getInteraction(replay))!.replayedFrom).toBe(original);
    expect((await store.listInteractions(run.id)).map((i) => i.replayedFrom)).toEqual([null, original]);
    expect((await store.listInteractionSummaries(run.id)).map((i) => i.replayedFrom)).toEqual([null, original]);
  });

  it('rejecting a replayed answer rejects the completed call it replayed too, with the reason; other statuses stay', async () => {
    const run = await store.createRun({ runDir: '/x/run', pipeline: 'p', params: {} });
    const first = await store.startAttempt(run.id, 'T');
    const original = await store.startInteraction(call(run.id, first));
    await store.finishInteraction(original, { status: 'completed', responseText: '{}' });
    const failed = await store.startInteraction(call(run.id, first));
    await store.finishInteraction(failed, { status: 'failed', errorMessage: 'HTTP 500' });
    await store.endAttempt(first, 'failed', 'boom');
    const second = await store.startAttempt(run.id, 'T');
    const replay = await store.startInteraction(call(run.id, second, { replayedFrom: original }));
    await store.finishInteraction(replay, { status: 'replayed', responseText: '{}' });
    const pending = await store.startInteraction(call(run.id, second));

    await store.rejectInteraction(replay, 'the plan names no budget');
    await store.rejectInteraction(failed, 'not an answer');
    await store.rejectInteraction(pending, 'not yet answered');
    const rows = new Map((await store.listInteractions(run.id)).map((i) => [i.id, [i.status, i.errorMessage]]));
    expect(rows).toEqual(
      new Map([
        [original, ['rejected', 'the plan names no budget']],
        [failed, ['failed', 'HTTP 500']],
        [replay, ['rejected', 'the plan names no budget']],
        [pending, ['pending', null]],
      ]),
    );
  });

  it('rejects a completed call that replays nothing, alone', async () => {
    const run = await store.createRun({ runDir: '/x/run', pipeline: 'p', params: {} });
    const attempt = await store.startAttempt(run.id, 'T');
    const kept = await store.startInteraction(call(run.id, attempt));
    await store.finishInteraction(kept, { status: 'completed' });
    const refused = await store.startInteraction(call(run.id, attempt));
    await store.finishInteraction(refused, { status: 'completed' });
    await store.rejectInteraction(refused, 'too short');
    expect((await store.listInteractions(run.id)).map((i) => [i.id, i.status, i.errorMessage])).toEqual([
      [kept, 'completed', null],
      [refused, 'rejected', 'too short'],
    ]);
  });

  it('never offers a rejected call for replay', async () => {
    const run = await store.createRun({ runDir: '/x/run', pipeline: 'p', params: {} });
    const attempt = await store.startAttempt(run.id, 'T');
    const good = await store.startInteraction(call(run.id, attempt));
    await store.finishInteraction(good, { status: 'completed' });
    const refused = await store.startInteraction(call(run.id, attempt));
    await store.finishInteraction(refused, { status: 'completed' });
    expect((await store.findReplayableInteractions([attempt], 'h')).map((i) => i.id)).toEqual([good, refused]);
    await store.rejectInteraction(refused, 'too short');
    await store.endAttempt(attempt, 'failed', 'too short');
    expect((await store.findReplayableInteractions([attempt], 'h')).map((i) => i.id)).toEqual([good]);
  });

  it("ending an attempt abandons its pending calls, naming how it ended; its answered calls and other attempts' stay", async () => {
    const run = await store.createRun({ runDir: '/x/run', pipeline: 'p', params: {} });
    const failing = await store.startAttempt(run.id, 'T');
    const cancelled = await store.startAttempt(run.id, 'U');
    const running = await store.startAttempt(run.id, 'V');
    const answered = await store.startInteraction(call(run.id, failing));
    await store.finishInteraction(answered, { status: 'completed' });
    const waiting = await store.startInteraction(call(run.id, failing));
    const cancelledWaiting = await store.startInteraction(call(run.id, cancelled, { taskId: 'U' }));
    const stillRunning = await store.startInteraction(call(run.id, running, { taskId: 'V' }));
    await store.endAttempt(failing, 'failed', 'boom');
    await store.endAttempt(cancelled, 'cancelled', null);
    const rows = new Map((await store.listInteractions(run.id)).map((i) => [i.id, [i.status, i.errorMessage]]));
    expect(rows).toEqual(
      new Map([
        [answered, ['completed', null]],
        [waiting, ['abandoned', 'its attempt ended failed']],
        [cancelledWaiting, ['abandoned', 'its attempt ended cancelled']],
        [stillRunning, ['pending', null]],
      ]),
    );
  });

  it("abandoning a dead process's attempts abandons their pending calls too, and counts the attempts", async () => {
    const run = await store.createRun({ runDir: '/x/run', pipeline: 'p', params: {} });
    const other = await store.createRun({ runDir: '/x/other', pipeline: 'p', params: {} });
    const dead = await store.startAttempt(run.id, 'T');
    const deadToo = await store.startAttempt(run.id, 'U');
    const elsewhere = await store.startAttempt(other.id, 'T');
    const answered = await store.startInteraction(call(run.id, dead));
    await store.finishInteraction(answered, { status: 'completed' });
    const waiting = await store.startInteraction(call(run.id, dead));
    const otherRunWaiting = await store.startInteraction(call(other.id, elsewhere));
    expect(await store.abandonRunningAttempts(run.id)).toBe(2);
    expect((await store.listAttempts(run.id)).map((a) => [a.id, a.status])).toEqual([
      [dead, 'abandoned'],
      [deadToo, 'abandoned'],
    ]);
    expect((await store.listInteractions(run.id)).map((i) => [i.id, i.status, i.errorMessage])).toEqual([
      [answered, 'completed', null],
      [waiting, 'abandoned', 'the process running its attempt died'],
    ]);
    expect((await store.listInteractions(other.id)).map((i) => [i.id, i.status])).toEqual([[otherRunWaiting, 'pending']]);
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
      runId: run.id,
      taskId: 'T',
      attemptId,
      itemKey: null,
      turn: null,
      requestHash: 'h',
      provider: 'offline',
      requestedModel: 'offline',
      messages,
    });
    const db = new Database(path.join(dir, 'plan.db'), { readonly: true });
    const row = db.prepare('SELECT messages_json, length(messages_z) AS z FROM llm_interactions WHERE id = ?').get(id) as {
      messages_json: string;
      z: number;
    };
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

  it('upgrades a database of schema version 3 to 4, keeping every row and column, and accepts the new call statuses', async () => {
    const file = path.join(dir, 'v3.db');
    const v3 = new Database(file);
    v3.exec('CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
    for (const migration of migrations.filter((m) => m.version <= 3)) {
      v3.exec(migration.sql);
      v3.prepare('INSERT INTO schema_version VALUES (?, 0)').run(migration.version);
    }
    v3.prepare(
      "INSERT INTO runs (id, run_dir, pipeline, params_json, status, created_at, updated_at) VALUES ('r3', '/old/run', 'plan', '{}', 'running', 1, 2)",
    ).run();
    v3.prepare("INSERT INTO task_attempts (id, run_id, task_id, status, started_at) VALUES (7, 'r3', 'T', 'running', 3)").run();
    const messages = [{ role: 'user', content: 'old' }];
    v3.prepare(
      `INSERT INTO llm_interactions (id, run_id, task_id, attempt_id, item_key, turn, request_hash, provider, requested_model, answered_model,
         messages_json, messages_z, response_text, parsed_json, status, error_class, error_message, http_status, input_tokens, output_tokens,
         tokens_estimated, duration_ms, cost_usd, price_json, started_at, finished_at)
       VALUES (11, 'r3', 'T', 7, 'item', 2, 'h', 'openai', 'gpt', 'gpt-x', '', ?, 'text', '{"a":1}', 'completed', NULL, NULL, 200, 10, 20, 1, 30,
         0.5, '{"inputPerM":1}', 4, 5)`,
    ).run(deflateRawSync(JSON.stringify(messages)));
    v3.prepare("INSERT INTO file_stats VALUES ('r3', 'a.md', 6, '1732500000123456789', '99', ?)").run('e'.repeat(64));
    v3.close();

    const upgraded = await openSqliteStore(file);
    expect(await upgraded.getRun('r3')).toMatchObject({ runDir: '/old/run', status: 'running' });
    expect(await upgraded.getInteraction(11)).toEqual({
      id: 11,
      runId: 'r3',
      taskId: 'T',
      attemptId: 7,
      itemKey: 'item',
      turn: 2,
      requestHash: 'h',
      provider: 'openai',
      requestedModel: 'gpt',
      messages,
      replayedFrom: null,
      status: 'completed',
      answeredModel: 'gpt-x',
      responseText: 'text',
      parsed: { a: 1 },
      errorClass: null,
      errorMessage: null,
      httpStatus: 200,
      inputTokens: 10,
      outputTokens: 20,
      tokensEstimated: true,
      durationMs: 30,
      costUsd: 0.5,
      price: { inputPerM: 1 },
      startedAt: 4,
      finishedAt: 5,
      // Columns of later versions (v5): empty for a call recorded before them.
      responseFormat: null,
      reasoningText: null,
      reasoningTokens: null,
    });
    // Written before ctime was kept: 0, which no real file has, so the next build re-hashes it once.
    expect((await upgraded.loadRunSnapshot('r3')).fileStats.get('a.md')).toEqual({
      path: 'a.md',
      size: 6,
      mtimeNs: 1732500000123456789n,
      ctimeNs: 0n,
      ino: 99n,
      sha256: 'e'.repeat(64),
      statAtNs: 0n,
    });
    const pending = await upgraded.startInteraction(call('r3', 7));
    await upgraded.rejectInteraction(11, 'refused');
    expect(await upgraded.abandonRunningAttempts('r3')).toBe(1);
    expect((await upgraded.listInteractions('r3')).map((i) => [i.id, i.status])).toEqual([
      [11, 'rejected'],
      [pending, 'abandoned'],
    ]);
    await upgraded.close();

    const check = new Database(file, { readonly: true });
    const versions = check.prepare('SELECT version FROM schema_version ORDER BY version').pluck().all();
    expect(versions).toEqual(migrations.map((m) => m.version));
    expect(versions).toContain(4);
    const indexes = check
      .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'llm_interactions' ORDER BY name")
      .pluck()
      .all();
    expect(indexes).toEqual(['interactions_by_attempt', 'interactions_by_run']);
    expect(check.prepare("SELECT name FROM sqlite_master WHERE name LIKE 'llm_interactions%'").pluck().all()).toEqual(['llm_interactions']);
    expect(check.pragma('foreign_key_check')).toEqual([]);
    expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
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

describe('run leases', () => {
  const holder = (pid: number, host = 'builder'): LeaseHolder => ({ host, pid, startTime: 987_654 });
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
  const newRun = () => store.createRun({ runDir: '/x/run', pipeline: 'p', params: {} });

  it('acquires a free lease with token 1; a second acquire is refused and names the current holder', async () => {
    const run = await newRun();
    expect(await store.getRunLease(run.id)).toBeNull();
    const before = Date.now();
    const first = await store.acquireRunLease({ runId: run.id, holder: holder(100), ttlMs: 60_000 });
    if (!first.acquired) throw new Error('not acquired');
    expect(first.replaced).toBeNull();
    expect(first.lease).toMatchObject({ runId: run.id, token: '1', host: 'builder', pid: 100, startTime: 987_654 });
    expect(first.lease.acquiredAt).toBeGreaterThanOrEqual(before);
    expect(first.lease.expiresAt).toBe(first.lease.acquiredAt + 60_000);
    expect(first.lease.now).toBe(first.lease.acquiredAt);

    const second = await store.acquireRunLease({ runId: run.id, holder: holder(200, 'elsewhere'), ttlMs: 60_000 });
    expect(second).toEqual({ acquired: false, current: { ...first.lease, now: expect.any(Number) } });
    const current = await store.getRunLease(run.id);
    expect(current).toEqual({ ...first.lease, now: expect.any(Number) });
    expect(current!.now).toBeGreaterThanOrEqual(first.lease.now);
  });

  it('takes an expired lease: the token grows and the holder it replaced is returned', async () => {
    const run = await newRun();
    const first = await store.acquireRunLease({ runId: run.id, holder: holder(100), ttlMs: 20 });
    expect(first.acquired).toBe(true);
    await sleep(50);
    // Expired, but still shown with its expiry.
    const stale = await store.getRunLease(run.id);
    expect(stale).toMatchObject({ token: '1', pid: 100 });
    expect(stale!.expiresAt).toBeLessThanOrEqual(stale!.now);

    const second = await store.acquireRunLease({ runId: run.id, holder: holder(200, 'elsewhere'), ttlMs: 60_000 });
    expect(second).toMatchObject({
      acquired: true,
      lease: { runId: run.id, token: '2', host: 'elsewhere', pid: 200 },
      replaced: { runId: run.id, token: '1', host: 'builder', pid: 100 },
    });
  });

  it('replaceToken takes a live lease held under that token, and only that one', async () => {
    const run = await newRun();
    await store.acquireRunLease({ runId: run.id, holder: holder(100), ttlMs: 60_000 });
    expect(await store.acquireRunLease({ runId: run.id, holder: holder(200), ttlMs: 60_000, replaceToken: '7' })).toMatchObject({
      acquired: false,
      current: { token: '1', pid: 100 },
    });
    expect(await store.acquireRunLease({ runId: run.id, holder: holder(200), ttlMs: 60_000, replaceToken: 'not a token' })).toMatchObject({
      acquired: false,
    });
    const taken = await store.acquireRunLease({ runId: run.id, holder: holder(200), ttlMs: 60_000, replaceToken: '1' });
    expect(taken).toMatchObject({ acquired: true, lease: { token: '2', pid: 200 }, replaced: { token: '1', pid: 100 } });
    // The token it replaced is gone: a second caller that found the same dead holder gets nothing.
    expect(await store.acquireRunLease({ runId: run.id, holder: holder(300), ttlMs: 60_000, replaceToken: '1' })).toMatchObject({
      acquired: false,
      current: { token: '2', pid: 200 },
    });
  });

  it('release keeps the row with expires_at 0: the next acquire gets a bigger token and replaces nobody', async () => {
    const run = await newRun();
    await store.acquireRunLease({ runId: run.id, holder: holder(100), ttlMs: 60_000 });
    await store.releaseRunLease(run.id, '1');
    expect(await store.getRunLease(run.id)).toMatchObject({ token: '1', pid: 100, expiresAt: 0 });
    const next = await store.acquireRunLease({ runId: run.id, holder: holder(200), ttlMs: 60_000 });
    expect(next).toMatchObject({ acquired: true, lease: { token: '2', pid: 200 }, replaced: null });
    // Releasing under the old token changes nothing.
    await store.releaseRunLease(run.id, '1');
    expect(await store.getRunLease(run.id)).toMatchObject({ token: '2', pid: 200 });
    expect((await store.getRunLease(run.id))!.expiresAt).toBeGreaterThan(0);
  });

  it('renew extends a lease it holds; false once the lease was taken over or released', async () => {
    const run = await newRun();
    const first = await store.acquireRunLease({ runId: run.id, holder: holder(100), ttlMs: 1_000 });
    if (!first.acquired) throw new Error('not acquired');
    await sleep(5);
    expect(await store.renewRunLease(run.id, '1', 60_000)).toBe(true);
    const renewed = (await store.getRunLease(run.id))!;
    expect(renewed.expiresAt).toBeGreaterThan(first.lease.expiresAt);
    expect(renewed.acquiredAt).toBe(first.lease.acquiredAt);

    const other = await openSqliteStore(path.join(dir, 'plan.db'));
    try {
      expect(await other.acquireRunLease({ runId: run.id, holder: holder(200), ttlMs: 60_000, replaceToken: '1' })).toMatchObject({ acquired: true });
      expect(await store.renewRunLease(run.id, '1', 60_000)).toBe(false);
      expect(await other.renewRunLease(run.id, '2', 60_000)).toBe(true);
      await other.releaseRunLease(run.id, '2');
      expect(await other.renewRunLease(run.id, '2', 60_000)).toBe(false);
      expect(await store.getRunLease(run.id)).toMatchObject({ token: '2', expiresAt: 0 });
    } finally {
      await other.close();
    }
  });

  it('fences the writes of a store whose lease was taken over: LEASE_LOST, and nothing is stored', async () => {
    const run = await newRun();
    const a = store;
    const lease = await a.acquireRunLease({ runId: run.id, holder: holder(100), ttlMs: 60_000 });
    if (!lease.acquired) throw new Error('not acquired');
    // While it holds the lease, its writes go through.
    const built = await a.startAttempt(run.id, 'T');
    await a.persistAttempt(built, '{"v":1}', [output('a.md', 'one')]);
    expect(await a.recordEdit(run.id, 'T', 'a.md', Buffer.from('one, edited'))).toMatchObject({ version: 2 });
    const attemptId = await a.startAttempt(run.id, 'T');

    const b = await openSqliteStore(path.join(dir, 'plan.db'));
    try {
      const taken = await b.acquireRunLease({ runId: run.id, holder: holder(4242, 'other-host'), ttlMs: 60_000, replaceToken: lease.lease.token });
      expect(taken).toMatchObject({ acquired: true, lease: { token: '2' }, replaced: { token: '1', pid: 100 } });

      const persisted = await a.persistAttempt(attemptId, '{"v":2}', [output('a.md', 'two')]).catch((e: unknown) => e);
      expect(persisted).toBeInstanceOf(StoreError);
      expect((persisted as StoreError).code).toBe('LEASE_LOST');
      expect((persisted as StoreError).message).toBe(
        `the lease of run ${run.id} was taken over by pid 4242 on other-host: this build no longer holds it`,
      );
      expect((await a.listAttempts(run.id)).find((x) => x.id === attemptId)).toMatchObject({ status: 'running', stamp: null, outputs: null });

      const edit = await a.recordEdit(run.id, 'T', 'a.md', Buffer.from('three')).catch((e: unknown) => e);
      expect(edit).toBeInstanceOf(StoreError);
      expect((edit as StoreError).code).toBe('LEASE_LOST');
      expect((await a.listContentVersions(run.id)).map((v) => [v.version, v.source])).toEqual([
        [1, 'task'],
        [2, 'edit'],
      ]);

      // The new holder writes: a refused write settles once its transaction ended, so the write lock is free.
      await b.persistAttempt(attemptId, '{"v":2}', [output('a.md', 'two')]);
      expect((await b.listContentVersions(run.id)).map((v) => v.version)).toEqual([1, 2, 3]);
    } finally {
      await b.close();
    }
  });

  it('a store that holds no lease of a run is not fenced, even while another holds it', async () => {
    const run = await newRun();
    const unleased = await store.createRun({ runDir: '/x/other', pipeline: 'p', params: {} });
    await store.acquireRunLease({ runId: run.id, holder: holder(100), ttlMs: 60_000 });
    // Another run of the leasing store: not fenced.
    const own = await store.startAttempt(unleased.id, 'T');
    await store.persistAttempt(own, '{}', [output('a.md', 'x')]);

    const b = await openSqliteStore(path.join(dir, 'plan.db'));
    try {
      const attemptId = await b.startAttempt(run.id, 'T');
      await b.persistAttempt(attemptId, '{}', [output('a.md', 'by b')]);
      expect(await b.recordEdit(run.id, 'T', 'a.md', Buffer.from('edited by b'))).toMatchObject({ version: 2 });
    } finally {
      await b.close();
    }
    // The holder's own writes still go through: the token is still its own.
    expect(await store.recordEdit(run.id, 'T', 'a.md', Buffer.from('edited by a'))).toMatchObject({ version: 3 });
  });

  it('deleteRun deletes the lease too', async () => {
    const run = await newRun();
    await store.acquireRunLease({ runId: run.id, holder: holder(100), ttlMs: 60_000 });
    await store.deleteRun(run.id);
    expect(await store.getRunLease(run.id)).toBeNull();
    expect(store.integrityCheck()).toBe('ok');
  });
});

describe('exportRun and importRun', () => {
  /** A run with attempts of every status, raw and deflated versions, an edit, calls of several kinds (one a replay), stats and a pin. */
  async function richRun(): Promise<{ runId: string; big: Buffer }> {
    const run = await store.createRun({ runDir: '/x/rich', pipeline: 'plan', params: { prompt: 'a bakery', speed: 'fast' } });
    const big = Buffer.from('The plan so far, said again. '.repeat(200));
    // complete
    const a1 = await store.startAttempt(run.id, 'A');
    await store.persistAttempt(a1, '{"v":1}', [output('a.md', 'small'), output('big.md', big)]);
    await store.completeAttempt(a1, [stat('a.md', sha256(Buffer.from('small')))]);
    // persisted, with an error recorded after it
    const a2 = await store.startAttempt(run.id, 'B');
    await store.persistAttempt(a2, '{"v":2}', [output('b.bin', Buffer.from([0, 1, 2, 255]))]);
    await store.recordAttemptError(a2, 'EACCES: could not write b.bin');
    // failed, after a completed call
    const a3 = await store.startAttempt(run.id, 'C');
    const answered = await store.startInteraction(
      call(run.id, a3, {
        taskId: 'C',
        requestHash: 'hc',
        itemKey: 'first',
        turn: 2,
        responseFormat: 'json_schema',
        requestedModel: 'openai:gpt-4o-mini',
      }),
    );
    await store.finishInteraction(answered, {
      status: 'completed',
      answeredModel: 'gpt-4o-mini-2024',
      responseText: '{"a":1}',
      parsed: { a: 1 },
      httpStatus: 200,
      inputTokens: 100,
      outputTokens: 20,
      tokensEstimated: true,
      durationMs: 1234,
      costUsd: 0.000_123_4,
      price: { inputPerM: 0.15, outputPerM: 0.6 },
      reasoningText: 'thinking it over',
      reasoningTokens: 7,
    });
    const refused = await store.startInteraction(call(run.id, a3, { taskId: 'C', requestHash: 'hx', responseFormat: 'text' }));
    await store.finishInteraction(refused, {
      status: 'failed',
      errorClass: 'server_error',
      errorMessage: 'upstream returned 500',
      httpStatus: 500,
      durationMs: 80,
    });
    await store.endAttempt(a3, 'failed', 'the answer did not parse');
    // cancelled, after replaying the completed call
    const a4 = await store.startAttempt(run.id, 'C');
    const replay = await store.startInteraction(call(run.id, a4, { taskId: 'C', requestHash: 'hc', replayedFrom: answered }));
    await store.finishInteraction(replay, { status: 'replayed', answeredModel: 'gpt-4o-mini-2024', responseText: '{"a":1}', parsed: { a: 1 } });
    await store.endAttempt(a4, 'cancelled', null);
    // abandoned, with its pending call
    const a5 = await store.startAttempt(run.id, 'D');
    await store.startInteraction(call(run.id, a5, { taskId: 'D' }));
    expect(await store.abandonRunningAttempts(run.id)).toBe(1);
    // running, with a pending call
    const a6 = await store.startAttempt(run.id, 'E');
    await store.startInteraction(call(run.id, a6, { taskId: 'E', messages: [{ role: 'user', content: 'ünïcode ✓' }] }));

    await store.recordEdit(run.id, 'A', 'a.md', Buffer.from('small, edited'));
    await store.saveFileStats(run.id, [stat('b.bin', sha256(Buffer.from([0, 1, 2, 255])))]);
    await store.pinFile(run.id, 'a.md', sha256(Buffer.from('small, edited')));
    await store.updateRun(run.id, { status: 'failed', statusReason: 'C failed', cancelRequested: true });
    return { runId: run.id, big };
  }

  /** Fills a store with rows of another run, so that ids it gives an import differ from the exporter's. */
  async function occupied(file: string) {
    const other = await openSqliteStore(file);
    const filler = await other.createRun({ runDir: '/x/filler', pipeline: 'p', params: {} });
    for (let i = 0; i < 3; i++) {
      const attemptId = await other.startAttempt(filler.id, `F${i}`);
      await other.startInteraction(call(filler.id, attemptId, { taskId: `F${i}` }));
      await other.persistAttempt(attemptId, '{}', [output(`f${i}.md`, `filler ${i}`)]);
    }
    return other;
  }

  it('exports every row of a run; imported into another store and exported again, it is the same modulo the new ids', async () => {
    const { runId, big } = await richRun();
    const exported = (await store.exportRun(runId))!;
    expect(new Set(exported.attempts.map((a) => a.status))).toEqual(
      new Set(['complete', 'persisted', 'failed', 'cancelled', 'abandoned', 'running']),
    );
    // Exported after the waiting complete mark was written.
    expect(exported.attempts[0]).toMatchObject({ taskId: 'A', status: 'complete', pid: process.pid, host: expect.any(String) });
    expect(exported.attempts[0]!.persistedAt).toEqual(expect.any(Number));
    expect(new Set(exported.contents.map((c) => c.encoding))).toEqual(new Set(['raw', 'deflate']));
    expect(exported.contents.map((c) => c.source)).toContain('edit');
    expect(exported.interactions.map((i) => i.status)).toEqual(['completed', 'failed', 'replayed', 'abandoned', 'pending']);
    expect(exported.fileStats.map((s) => s.path)).toEqual(['a.md', 'b.bin']);
    expect(exported.pinned).toHaveLength(1);
    expect(exported.run).toMatchObject({ status: 'failed', statusReason: 'C failed', cancelRequestedAt: expect.any(Number) });

    const other = await occupied(path.join(dir, 'other.db'));
    try {
      expect(await other.importRun(exported)).toBe(true);
      const copied = (await other.exportRun(runId))!;
      expect(normalizeExport(copied)).toEqual(normalizeExport(exported));
      // New ids, and the references follow them.
      expect(copied.attempts.map((a) => a.id)).not.toEqual(exported.attempts.map((a) => a.id));
      expect(copied.interactions.map((i) => i.id)).not.toEqual(exported.interactions.map((i) => i.id));
      const replay = copied.interactions.find((i) => i.status === 'replayed')!;
      expect(replay.replayedFrom).toBe(copied.interactions.find((i) => i.status === 'completed')!.id);
      expect(copied.interactions.every((i) => copied.attempts.some((a) => a.id === i.attemptId))).toBe(true);
      expect(copied.contents.filter((c) => c.attemptId !== null).every((c) => copied.attempts.some((a) => a.id === c.attemptId))).toBe(true);

      // Byte for byte, as stored and as read.
      for (const [index, content] of copied.contents.entries()) {
        expect(content.data.equals(exported.contents[index]!.data)).toBe(true);
        expect(content.encoding).toBe(exported.contents[index]!.encoding);
      }
      expect((await other.readContent(runId, 'big.md'))!.equals(big)).toBe(true);
      expect((await other.readContent(runId, 'a.md'))!.toString()).toBe('small, edited');
      // The copy works like the original: the same snapshot, the same replayable call.
      const snapshot = await other.loadRunSnapshot(runId);
      expect([...snapshot.latestContent]).toEqual([...(await store.loadRunSnapshot(runId)).latestContent]);
      expect([...snapshot.pinned.keys()]).toEqual(['a.md']);
      const replayable = await other.findReplayableInteractions(snapshot.replayable.get('C')!, 'hc');
      expect(replayable.map((i) => i.id)).toEqual([copied.interactions[0]!.id]);
      expect(await other.runTotals(runId)).toEqual(await store.runTotals(runId));
      expect(other.integrityCheck()).toBe('ok');
    } finally {
      await other.close();
    }
  });

  it('importing a run the store already holds returns false and writes nothing', async () => {
    const { runId } = await richRun();
    const exported = (await store.exportRun(runId))!;
    const other = await occupied(path.join(dir, 'other.db'));
    try {
      expect(await other.importRun(exported)).toBe(true);
      const first = (await other.exportRun(runId))!;
      expect(await other.importRun(exported)).toBe(false);
      expect(await other.exportRun(runId)).toEqual(first);
      // Into the store it came from, too.
      expect(await store.importRun(exported)).toBe(false);
      expect(await store.exportRun(runId)).toEqual(exported);
    } finally {
      await other.close();
    }
  });

  it('an export whose rows do not hang together is refused whole', async () => {
    const { runId } = await richRun();
    const exported = (await store.exportRun(runId))!;
    const broken: RunExport = { ...exported, interactions: exported.interactions.map((i, n) => (n === 1 ? { ...i, attemptId: 999_999 } : i)) };
    const other = await openSqliteStore(path.join(dir, 'other.db'));
    try {
      await expect(other.importRun(broken)).rejects.toThrow(/model call \d+ belongs to attempt 999999, which the export does not hold/);
      expect(await other.getRun(runId)).toBeNull();
      expect(await other.importRun(exported)).toBe(true);
    } finally {
      await other.close();
    }
  });

  it('exportRun of an unknown run is null', async () => {
    expect(await store.exportRun('no-such-run')).toBeNull();
  });
});
