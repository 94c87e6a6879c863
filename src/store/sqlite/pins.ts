import type { SqliteContext } from './context.js';

/** `pinned_files`: files a person fixed in place with `plan pin`, each at the content it had then. */
export class Pins {
  constructor(private readonly context: SqliteContext) {}

  async pinFile(runId: string, path: string, sha256: string): Promise<void> {
    await this.context.write(
      () =>
        this.context
          .sql(
            `INSERT INTO pinned_files (run_id, path, sha256, pinned_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (run_id, path) DO UPDATE SET sha256 = excluded.sha256, pinned_at = excluded.pinned_at`,
          )
          .run(runId, path, sha256, Date.now()),
      { oneStatement: true },
    );
  }

  async unpinFile(runId: string, path: string): Promise<boolean> {
    const changes = await this.context.write(
      () => this.context.sql('DELETE FROM pinned_files WHERE run_id = ? AND path = ?').run(runId, path).changes,
      {
        oneStatement: true,
      },
    );
    return changes > 0;
  }

  async listPinned(runId: string): Promise<{ path: string; sha256: string; pinnedAt: number }[]> {
    const rows = this.context.sql('SELECT path, sha256, pinned_at FROM pinned_files WHERE run_id = ? ORDER BY path').raw().all(runId) as [
      string,
      string,
      number,
    ][];
    return rows.map(([path, sha256, pinnedAt]) => ({ path, sha256, pinnedAt }));
  }
}
