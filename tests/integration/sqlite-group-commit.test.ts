import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { StoreError } from '../../src/store/store-error.js';
import type { OutputContent } from '../../src/store/store.js';
import { tempDir } from '../support/cli.js';

let dir: string;
let file: string;
let store: SqliteStore;
/** Stores opened by a test besides `store`: closed after it too. */
const others: SqliteStore[] = [];

beforeEach(async () => {
  dir = tempDir('plan-group-commit-');
  file = path.join(dir, 'plan.db');
  store = await openSqliteStore(file);
});
afterEach(async () => {
  for (const other of others.splice(0)) await other.close();
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** One output as a task hands it over: the store checks that the sha256 is that of the bytes. */
const output = (filePath: string, text: string): OutputContent => {
  const bytes = Buffer.from(text);
  return { path: filePath, sha256: createHash('sha256').update(bytes).digest('hex'), bytes };
};

async function openOther(): Promise<SqliteStore> {
  const other = await openSqliteStore(file);
  others.push(other);
  return other;
}

describe('SqliteStore group commit', () => {
  it('gives attempts started in the same turn distinct ids in one commit, each durable once its promise resolves', async () => {
    const run = await store.createRun({ runDir: '/x/run', pipeline: 'p', params: {} });
    const reader = await openOther();
    const tasks = ['A', 'B', 'C', 'D', 'E', 'F'];
    const started = tasks.map((task) => store.startAttempt(run.id, task));
    // Asked for, not yet committed: the other connection sees none of them.
    expect(await reader.listAttempts(run.id)).toEqual([]);
    const ids = await Promise.all(started);
    expect(new Set(ids).size).toBe(tasks.length);
    const seen = await reader.listAttempts(run.id);
    expect(seen.map((a) => [a.id, a.taskId, a.status])).toEqual(tasks.map((task, i) => [ids[i], task, 'running']));
  });

  it('rejects persisting an attempt that is not running with a StoreError, while another attempt persisted in the same turn commits', async () => {
    const run = await store.createRun({ runDir: '/x/run', pipeline: 'p', params: {} });
    const done = await store.startAttempt(run.id, 'A');
    await store.persistAttempt(done, '{"v":"first"}', [output('a.md', 'first a')]);
    const running = await store.startAttempt(run.id, 'B');

    const [again, fresh] = await Promise.allSettled([
      store.persistAttempt(done, '{"v":"again"}', [output('a.md', 'second a')]),
      store.persistAttempt(running, '{"v":"b"}', [output('b.md', 'content of b')]),
    ]);

    expect(again.status).toBe('rejected');
    const error = (again as PromiseRejectedResult).reason as unknown;
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).message).toBe(`attempt ${done} is persisted, not running`);
    expect(fresh).toEqual({ status: 'fulfilled', value: undefined });

    expect(await store.readContent(run.id, 'b.md')).toEqual(Buffer.from('content of b'));
    // The rejected write changed nothing: the first attempt keeps its stamp and a.md its only version.
    expect(await store.readContent(run.id, 'a.md')).toEqual(Buffer.from('first a'));
    expect((await store.listContentVersions(run.id, 'a.md')).map((v) => v.version)).toEqual([1]);

    const reader = await openOther();
    const attempts = await reader.listAttempts(run.id);
    expect(attempts.map((a) => [a.id, a.status, a.stamp])).toEqual([
      [done, 'persisted', '{"v":"first"}'],
      [running, 'persisted', '{"v":"b"}'],
    ]);
    expect(await reader.readContent(run.id, 'b.md')).toEqual(Buffer.from('content of b'));
  });

  it('close() commits writes that were asked for but not yet awaited', async () => {
    const run = await store.createRun({ runDir: '/x/run', pipeline: 'p', params: {} });
    const started = store.startAttempt(run.id, 'T');
    const edited = store.recordEdit(run.id, 'T', 'notes.md', Buffer.from('edited by hand'));
    await store.close();

    const attemptId = await started;
    await edited;
    const reopened = await openOther();
    expect((await reopened.listAttempts(run.id)).map((a) => [a.id, a.taskId, a.status])).toEqual([[attemptId, 'T', 'running']]);
    expect(await reopened.readContent(run.id, 'notes.md')).toEqual(Buffer.from('edited by hand'));
  });

  it('a write that makes SQLite roll back the whole transaction fails its turn only; what earlier turns committed stays', async () => {
    const run = await store.createRun({ runDir: '/x/run', pipeline: 'p', params: {} });
    // A real failure inside SQLite: this trigger rolls back the whole transaction it runs in.
    const admin = new Database(file);
    admin.exec(`CREATE TRIGGER boom BEFORE INSERT ON plan_content WHEN NEW.path = 'boom.md' BEGIN SELECT RAISE(ROLLBACK, 'injected failure'); END`);
    admin.close();

    const attemptId = await store.startAttempt(run.id, 'A');
    const edit = store.recordEdit(run.id, 'B', 'notes.md', Buffer.from('same turn'));
    const persist = store.persistAttempt(attemptId, '{}', [output('boom.md', 'a')]);
    await expect(persist).rejects.toThrow(/injected failure/);
    await expect(edit).rejects.toThrow(/injected failure/);

    const reader = await openOther();
    expect((await reader.listAttempts(run.id)).map((a) => [a.id, a.status])).toEqual([[attemptId, 'running']]);
    expect(await reader.readContent(run.id, 'notes.md')).toBe(null);
    // The attempt is still running: a later persist of it succeeds.
    await store.persistAttempt(attemptId, '{"v":"a"}', [output('a.md', 'a')]);
    expect((await reader.listAttempts(run.id)).map((a) => [a.id, a.status])).toEqual([[attemptId, 'persisted']]);
  });
});
