import type pg from 'pg';

/** The channel the schema's triggers notify (migration 2), with the payload `<schema> <run id>`. */
const CHANNEL = 'plan_changes';
const RECONNECT_MS = 1_000;

/**
 * Changes to runs, pushed by PostgreSQL (LISTEN/NOTIFY) instead of polled: one connection of the pool kept
 * listening while anyone watches. A connection that is cut (a server restart) is replaced after a second; what
 * changed meanwhile is not told again — watchers poll now and then for that (see Store.watchChanges).
 */
export class ChangeFeed {
  private readonly listeners = new Set<(runId: string) => void>();
  private client: pg.PoolClient | null = null;
  private connecting: Promise<void> | null = null;
  private retry: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly schema: string,
  ) {}

  async watch(listener: (runId: string) => void): Promise<() => Promise<void>> {
    this.listeners.add(listener);
    await this.connect();
    return async () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) await this.disconnect();
    };
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.listeners.clear();
    await this.disconnect();
  }

  private connect(): Promise<void> {
    if (this.client !== null || this.stopped) return Promise.resolve();
    this.connecting ??= (async () => {
      const client = await this.pool.connect();
      const lost = (): void => {
        if (this.client !== client) return;
        this.client = null;
        client.release(true);
        if (!this.stopped && this.listeners.size > 0)
          this.retry = setTimeout(() => void this.connect().catch(() => this.scheduleRetry()), RECONNECT_MS);
      };
      client.on('notification', (message) => {
        if (message.channel !== CHANNEL || message.payload === undefined) return;
        const space = message.payload.indexOf(' ');
        if (message.payload.slice(0, space) !== this.schema) return;
        const runId = message.payload.slice(space + 1);
        for (const listener of this.listeners) listener(runId);
      });
      client.on('error', lost);
      client.on('end', lost);
      await client.query(`LISTEN ${CHANNEL}`);
      this.client = client;
    })().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private scheduleRetry(): void {
    if (this.stopped || this.listeners.size === 0) return;
    this.retry = setTimeout(() => void this.connect().catch(() => this.scheduleRetry()), RECONNECT_MS);
  }

  private async disconnect(): Promise<void> {
    if (this.retry !== null) clearTimeout(this.retry);
    this.retry = null;
    const client = this.client;
    this.client = null;
    if (client === null) return;
    await client.query(`UNLISTEN ${CHANNEL}`).catch(() => undefined);
    client.release();
  }
}
