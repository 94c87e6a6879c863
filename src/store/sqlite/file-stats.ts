import type { FileStat } from '../store.js';
import type { SqliteContext } from './context.js';

/** Hash-cache entries written in one batch once this many wait. */
const STAT_BATCH = 4096;

/**
 * Hash-cache entries (run → path → stat) waiting to be written in one batch, sorted by key: one upsert per
 * task would dirty a random page of file_stats in every commit. They are a cache: one lost in a crash only
 * costs the next build a re-hash of that file.
 */
export class FileStatBatch {
  private pending = new Map<string, Map<string, FileStat>>();
  private count = 0;
  /** Set by markDue: write every pending stat in the next commit. */
  private due = false;

  constructor(private readonly context: SqliteContext) {}

  get isEmpty(): boolean {
    return this.count === 0;
  }

  /** A newer entry for a path replaces one still waiting, so an older one never overwrites it. */
  queue(runId: string, stats: readonly FileStat[]): void {
    let byPath = this.pending.get(runId);
    if (byPath === undefined) {
      byPath = new Map();
      this.pending.set(runId, byPath);
    }
    for (const stat of stats) {
      if (!byPath.has(stat.path)) this.count++;
      byPath.set(stat.path, stat);
    }
  }

  markDue(): void {
    this.due = true;
  }

  /** Inside a commit's transaction: writes the batch once it is due or full. */
  writeIfDue(): void {
    if (this.due || this.count >= STAT_BATCH) this.write();
  }

  private write(): void {
    this.due = false;
    if (this.count === 0) return;
    const upsert = this.context.sql(
      `INSERT INTO file_stats (run_id, path, size, mtime_ns, ctime_ns, ino, sha256, stat_at_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (run_id, path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, ctime_ns = excluded.ctime_ns,
         ino = excluded.ino, sha256 = excluded.sha256, stat_at_ns = excluded.stat_at_ns`,
    );
    for (const [runId, byPath] of this.pending) {
      for (const filePath of [...byPath.keys()].sort()) {
        const s = byPath.get(filePath)!;
        upsert.run(runId, s.path, s.size, s.mtimeNs.toString(), s.ctimeNs.toString(), s.ino.toString(), s.sha256, s.statAtNs.toString());
      }
    }
    this.pending.clear();
    this.count = 0;
  }
}
