/**
 * Group commit: the writes asked for in one turn of the event loop share one transaction. Tasks that run
 * together (every `-j` slot, every model call answered at once) pay one commit — and, with durability `full`,
 * one fsync — instead of one each. On a 10k-task build that halves the database's cost: a commit writes every
 * page it touched to the WAL, and tasks that run together touch the same pages.
 *
 * A write runs at once, in a savepoint of the turn's open transaction (the first write of a turn opens it,
 * `setImmediate` commits it): one that throws is undone and rejected alone, the others go on. Its promise
 * settles only after COMMIT, so a caller that awaited it knows its rows are durable before it goes on (the
 * DB-first rule: no file is written before its content is committed). The write lock is held from a turn's
 * first write to the end of that turn.
 */
export interface TransactionControl {
  /** BEGIN IMMEDIATE (waits for another process's write lock up to the busy timeout, then throws). */
  begin(): void;
  /** Runs just before COMMIT, inside the transaction (e.g. writes that were deferred until a commit). */
  beforeCommit(): void;
  commit(): void;
  rollback(): void;
  /** Whether the connection is still inside the transaction: SQLite ends it by itself on some errors. */
  inTransaction(): boolean;
  /** Runs `work` inside the open transaction, undoing only its own changes if it throws. */
  savepoint<T>(work: () => T): T;
}

export class GroupCommit {
  private open = false;
  private waiting: Waiter[] = [];

  constructor(private readonly control: TransactionControl) {}

  /**
   * Runs `work` now; the promise settles once the transaction holding it has committed. `oneStatement`: the
   * work is a single SQL statement, atomic by itself, so it needs no savepoint of its own.
   */
  write<T>(work: () => T, options: { oneStatement?: boolean } = {}): Promise<T> {
    let value: T;
    try {
      value = this.execute(work, options.oneStatement === true);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.committed().then(() => value);
  }

  /** Commits the open transaction now, without waiting for the next turn (closing the store). */
  commit(): void {
    if (!this.open) return;
    const group = this.close();
    try {
      this.control.beforeCommit();
      this.control.commit();
    } catch (error) {
      // Nothing of the group is stored.
      if (this.control.inTransaction()) this.control.rollback();
      for (const waiter of group) waiter.reject(error);
      return;
    }
    for (const waiter of group) waiter.resolve();
  }

  private execute<T>(work: () => T, oneStatement = false): T {
    if (!this.open) {
      this.control.begin();
      this.open = true;
      // setImmediate, not a microtask: the other tasks' continuations run first and join this transaction.
      setImmediate(() => this.commit());
    }
    try {
      return oneStatement ? work() : this.control.savepoint(work);
    } catch (error) {
      // Some errors (a full disk, an I/O error) make SQLite roll the whole transaction back by itself.
      if (!this.control.inTransaction()) for (const waiter of this.close()) waiter.reject(error);
      throw error;
    }
  }

  /** Ends the turn's transaction on our side; returns the writes that were waiting for it. */
  private close(): Waiter[] {
    const group = this.waiting;
    this.open = false;
    this.waiting = [];
    return group;
  }

  private committed(): Promise<void> {
    return new Promise<void>((resolve, reject) => this.waiting.push({ resolve, reject }));
  }
}

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
}
