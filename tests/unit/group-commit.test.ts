import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GroupCommit } from '../../src/store/group-commit.js';
import { tempDir } from '../support/cli.js';

// A real database, no mocks. The default (rollback) journal mode is kept on purpose: there a reader's SHARED
// lock blocks another connection's COMMIT, which lets a test make COMMIT itself fail for real.

let dir: string;
let file: string;
let db: Database.Database;
/** A second connection: sees only what the first one has committed. */
let other: Database.Database;
let group: GroupCommit;
/** How many transactions the group began, and how many COMMITs succeeded. */
let begun: number;
let commits: number;

beforeEach(() => {
  dir = tempDir('plan-group-commit-');
  file = path.join(dir, 'test.db');
  // timeout 0: a held lock fails at once with SQLITE_BUSY instead of waiting.
  db = new Database(file, { timeout: 0 });
  db.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT NOT NULL UNIQUE)');
  // The same wiring as SqliteStore: better-sqlite3 makes a transaction function called inside a transaction a savepoint.
  const tx = db.transaction((work: () => unknown) => work());
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const rollback = db.prepare('ROLLBACK');
  begun = 0;
  commits = 0;
  group = new GroupCommit({
    begin: () => {
      begin.run();
      begun += 1;
    },
    beforeCommit: () => {},
    commit: () => {
      commit.run();
      commits += 1;
    },
    rollback: () => rollback.run(),
    inTransaction: () => db.inTransaction,
    savepoint: (work) => tx(work) as ReturnType<typeof work>,
  });
  other = new Database(file, { timeout: 0 });
});

afterEach(async () => {
  // Let a commit still scheduled by the test run before its connection closes.
  await nextTurn();
  if (other.inTransaction) other.exec('ROLLBACK');
  other.close();
  if (db.inTransaction) db.exec('ROLLBACK');
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const insert = (label: string): number => db.prepare('INSERT INTO items (label) VALUES (?)').run(label).lastInsertRowid as number;
/** The rows another connection sees: only committed ones. */
const committed = (): { id: number; label: string }[] =>
  other.prepare('SELECT id, label FROM items ORDER BY id').all() as { id: number; label: string }[];
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('GroupCommit', () => {
  it('runs the writes asked for in the same turn in one transaction', async () => {
    const transactionOfEach: number[] = [];
    const writes = ['a', 'b', 'c', 'd', 'e'].map((label) =>
      group.write(() => {
        transactionOfEach.push(begun);
        return insert(label);
      }),
    );
    const ids = await Promise.all(writes);
    expect([begun, commits]).toEqual([1, 1]);
    expect(transactionOfEach).toEqual([1, 1, 1, 1, 1]);
    expect(committed().map((r) => r.id)).toEqual(ids);
  });

  it('runs writes asked for in separate turns in one transaction each', async () => {
    const transactionOfEach: number[] = [];
    for (const label of ['a', 'b', 'c']) {
      await group.write(() => {
        transactionOfEach.push(begun);
        return insert(label);
      });
    }
    expect([begun, commits]).toEqual([3, 3]);
    expect(transactionOfEach).toEqual([1, 2, 3]);
    expect(committed().map((r) => r.label)).toEqual(['a', 'b', 'c']);
  });

  it('settles a write only after its rows are committed and visible to another connection', async () => {
    let settled = false;
    const seenInThen = group
      .write(() => insert('durable'))
      .then((id) => {
        settled = true;
        return { id, rows: committed() };
      });
    // The row is written but not committed: the other connection does not see it, and nothing has settled.
    expect(db.prepare('SELECT COUNT(*) AS n FROM items').get()).toEqual({ n: 1 });
    expect(committed()).toEqual([]);
    await Promise.resolve();
    await Promise.resolve();
    expect(settled).toBe(false);
    expect(commits).toBe(0);

    const { id, rows } = await seenInThen;
    expect(commits).toBe(1);
    expect(rows).toEqual([{ id, label: 'durable' }]);
  });

  it('rejects a write that throws alone and undoes its changes, while the others of its group commit and resolve', async () => {
    const failure = new Error('task failed after inserting');
    const first = group.write(() => insert('first'));
    const failing = group.write(() => {
      insert('undone');
      throw failure;
    });
    const last = group.write(() => insert('last'));
    const [a, b, c] = await Promise.allSettled([first, failing, last]);

    expect([begun, commits]).toEqual([1, 1]);
    expect(b).toEqual({ status: 'rejected', reason: failure });
    expect(a.status).toBe('fulfilled');
    expect(c.status).toBe('fulfilled');
    const firstId = (a as PromiseFulfilledResult<number>).value;
    const lastId = (c as PromiseFulfilledResult<number>).value;
    expect(committed()).toEqual([
      { id: firstId, label: 'first' },
      { id: lastId, label: 'last' },
    ]);
  });

  it('rejects every write and stores nothing when the transaction cannot begin (another connection holds the write lock)', async () => {
    other.exec('BEGIN IMMEDIATE');
    other.prepare('INSERT INTO items (label) VALUES (?)').run('other connection');
    let ran = 0;
    const writes = ['a', 'b', 'c'].map((label) =>
      group.write(() => {
        ran += 1;
        return insert(label);
      }),
    );
    const outcomes = await Promise.allSettled(writes);
    other.exec('COMMIT');

    expect(ran).toBe(0);
    expect(begun).toBe(0);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
    for (const outcome of outcomes) expect((outcome as PromiseRejectedResult).reason).toMatchObject({ code: 'SQLITE_BUSY' });
    expect(committed().map((r) => r.label)).toEqual(['other connection']);

    // The lock released, the next write commits normally.
    const id = await group.write(() => insert('after'));
    expect(committed()).toEqual([
      { id: 1, label: 'other connection' },
      { id, label: 'after' },
    ]);
  });

  it('rejects every write of the group and stores nothing when COMMIT fails, even writes whose work succeeded', async () => {
    // A reader's SHARED lock (rollback journal) lets BEGIN IMMEDIATE and the inserts through, but not COMMIT.
    other.exec('BEGIN');
    expect(other.prepare('SELECT COUNT(*) AS n FROM items').get()).toEqual({ n: 0 });
    const ran: string[] = [];
    const writes = ['a', 'b', 'c'].map((label) =>
      group.write(() => {
        ran.push(label);
        return insert(label);
      }),
    );
    const outcomes = await Promise.allSettled(writes);
    other.exec('COMMIT');

    expect(ran).toEqual(['a', 'b', 'c']);
    expect([begun, commits]).toEqual([1, 0]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
    for (const outcome of outcomes) expect((outcome as PromiseRejectedResult).reason).toMatchObject({ code: 'SQLITE_BUSY' });
    expect(db.inTransaction).toBe(false);
    expect(committed()).toEqual([]);
    expect(db.prepare('SELECT COUNT(*) AS n FROM items').get()).toEqual({ n: 0 });
  });

  it('rejects every write of the group when SQLite rolls the whole transaction back by itself', async () => {
    await group.write(() => insert('taken'));
    const before = group.write(() => insert('before'));
    const early = group.write(() => insert('early'), { oneStatement: true });
    // OR ROLLBACK: a conflict ends the whole transaction, not just this write's savepoint.
    const conflict = group.write(() => db.prepare('INSERT OR ROLLBACK INTO items (label) VALUES (?)').run('taken'));
    const after = group.write(() => insert('after'));
    const [b, e, c, a] = await Promise.allSettled([before, early, conflict, after]);

    expect([b.status, e.status, c.status]).toEqual(['rejected', 'rejected', 'rejected']);
    expect((c as PromiseRejectedResult).reason).toMatchObject({ code: 'SQLITE_CONSTRAINT_UNIQUE' });
    // A write asked for after the rollback starts a new transaction and commits.
    expect(a.status).toBe('fulfilled');
    expect(committed().map((r) => r.label)).toEqual(['taken', 'after']);
  });

  it('commit() commits what is waiting at once, without waiting for the next turn', async () => {
    const writes = [group.write(() => insert('x')), group.write(() => insert('y'))];
    expect(committed()).toEqual([]);
    group.commit();
    // Still the same synchronous turn: nothing awaited yet.
    expect([begun, commits]).toEqual([1, 1]);
    expect(db.inTransaction).toBe(false);
    expect(committed().map((r) => r.label)).toEqual(['x', 'y']);

    const ids = await Promise.all(writes);
    expect(committed().map((r) => r.id)).toEqual(ids);
    // The turn that was scheduled finds nothing left to commit: no second transaction.
    await nextTurn();
    expect([begun, commits]).toEqual([1, 1]);
  });

  it('runs the writes in the order they were asked for', async () => {
    const labels = Array.from({ length: 12 }, (_, i) => `w${i}`);
    const order: string[] = [];
    const writes = labels.map((label) =>
      group.write(() => {
        order.push(label);
        return insert(label);
      }),
    );
    const ids = await Promise.all(writes);
    expect([begun, commits]).toEqual([1, 1]);
    expect(order).toEqual(labels);
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(new Set(ids).size).toBe(labels.length);
    expect(committed()).toEqual(labels.map((label, i) => ({ id: ids[i], label })));
  });

  it('a one-statement write runs without a savepoint: if it fails, only that statement is undone', async () => {
    const savepoints: number[] = [];
    const counting = new GroupCommit({
      begin: () => db.prepare('BEGIN IMMEDIATE').run(),
      beforeCommit: () => {},
      commit: () => db.prepare('COMMIT').run(),
      rollback: () => db.prepare('ROLLBACK').run(),
      inTransaction: () => db.inTransaction,
      savepoint: (work) => {
        savepoints.push(1);
        return db.transaction(work)();
      },
    });
    const first = counting.write(() => insert('one'), { oneStatement: true });
    // The same label again: UNIQUE fails, SQLite undoes that statement alone and the transaction goes on.
    const again = counting.write(() => insert('one'), { oneStatement: true });
    const last = counting.write(() => insert('two'));
    await expect(again).rejects.toThrow(/UNIQUE/);
    await Promise.all([first, last]);
    expect(savepoints).toHaveLength(1);
    expect(committed().map((r) => r.label)).toEqual(['one', 'two']);
  });
});
