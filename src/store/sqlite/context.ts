import type Database from 'better-sqlite3';
import type { GroupCommit } from '../group-commit.js';
import { StoreError } from '../store-error.js';

/** What every table module of the SQLite store shares: the connection, its prepared statements, the grouped write. */
export class SqliteContext {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(
    readonly db: Database.Database,
    readonly location: string,
    private readonly group: GroupCommit,
  ) {}

  /** Prepared once, reused: the per-task path runs a handful of these. */
  sql(text: string): Database.Statement {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.db.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
  }

  /** Every write goes through the group commit: it settles once its transaction has committed. */
  async write<T>(work: () => T, options: { oneStatement?: boolean } = {}): Promise<T> {
    try {
      return await this.group.write(work, options);
    } catch (error) {
      throw StoreError.from(error, `cannot write to database ${this.location}`);
    }
  }
}
