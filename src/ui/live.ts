import type http from 'node:http';
import type { Store } from '../store/store.js';
import { securityHeaders } from './security.js';

/**
 * Live updates by Server-Sent Events. The dashboard owns no state and never reaches into a build: it learns of
 * changes from the store — only for what an open page watches, only while one does — and tells the page
 * something changed; the page fetches what it shows again. Every event has an id; a page that reconnects gets
 * a `hello` and fetches again, so nothing is missed.
 *
 * A store that pushes its changes (`Store.watchChanges`: PostgreSQL's LISTEN/NOTIFY) is told of one and looks
 * at a watched run only when a change of that run arrives, and at the list of runs on any change — plus a
 * slow safety look (every 5 s) in case a notification was lost (a cut connection). The others (SQLite) are
 * polled cheaply: a watched run every 200 ms, the list every second.
 */

export interface LiveOptions {
  /** How often a watched run is looked at when the store cannot push its changes (ms). */
  runIntervalMs?: number;
  /** How often the list of runs is looked at when the store cannot push its changes (ms). */
  listIntervalMs?: number;
  /** When it can: how often a watched topic is still looked at, in case a notification was lost (ms). */
  safetyIntervalMs?: number;
  /** When it can: notifications of one topic closer together than this are looked at once (ms; the list: 5×). */
  notifyGapMs?: number;
  /** A comment line this often keeps proxies and the browser from closing a quiet stream (ms). */
  heartbeatMs?: number;
}

interface Watcher {
  clients: Set<http.ServerResponse>;
  timer: NodeJS.Timeout | null;
  fingerprint: string | null;
  busy: boolean;
  /** A look asked for by a notification, waiting for its turn (see `nudge`). */
  nudged: NodeJS.Timeout | null;
  /** A notification came during a look: look once more after it. */
  again: boolean;
  lastLookAt: number;
}

/** `null`: the list of runs; otherwise a run id. */
type Topic = string | null;

type WatchChanges = NonNullable<Store['watchChanges']>;

/** The store pushes its changes (PostgreSQL); the others are polled. */
function pushesChanges(store: Store): store is Store & { watchChanges: WatchChanges } {
  return 'watchChanges' in store && typeof store.watchChanges === 'function';
}

export class LiveFeed {
  private lastId = 0;
  private readonly watchers = new Map<Topic, Watcher>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly runIntervalMs: number;
  private readonly listIntervalMs: number;
  private readonly safetyIntervalMs: number;
  private readonly notifyGapMs: number;
  /** `poll` until the store's change feed is up (or for good, when it has none or it failed). */
  private mode: 'poll' | 'connecting' | 'notified' = 'poll';
  private unwatch: Promise<(() => Promise<void>) | null> | null = null;
  private closed = false;
  /** Looks taken at the store, for tests and the curious: how cheap is it? */
  polls = 0;
  /** Changes the store pushed (with a store that can). */
  notifications = 0;

  constructor(
    private readonly store: Store,
    options: LiveOptions = {},
  ) {
    this.runIntervalMs = options.runIntervalMs ?? 200;
    this.listIntervalMs = options.listIntervalMs ?? 1_000;
    this.safetyIntervalMs = options.safetyIntervalMs ?? 5_000;
    this.notifyGapMs = options.notifyGapMs ?? 50;
    this.heartbeat = setInterval(() => {
      for (const watcher of this.watchers.values()) for (const res of watcher.clients) res.write(': ping\n\n');
    }, options.heartbeatMs ?? 15_000);
    this.heartbeat.unref();
  }

  /** How this feed learns of changes now: told by the store, or polling it. */
  get source(): 'notified' | 'polling' {
    return this.mode === 'notified' ? 'notified' : 'polling';
  }

  /** Opens an event stream on `res` about one topic, until the client goes away. */
  subscribe(req: http.IncomingMessage, res: http.ServerResponse, topic: Topic): void {
    res.writeHead(200, {
      ...securityHeaders(),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 1000\n\n');
    const watcher = this.watcherFor(topic);
    watcher.clients.add(res);
    const resumed = req.headers['last-event-id'];
    this.send(res, 'hello', { topic, resumedFrom: typeof resumed === 'string' ? resumed : null, source: this.source });
    const leave = (): void => {
      watcher.clients.delete(res);
      if (watcher.clients.size === 0 && this.watchers.get(topic) === watcher) {
        if (watcher.timer !== null) clearInterval(watcher.timer);
        if (watcher.nudged !== null) clearTimeout(watcher.nudged);
        this.watchers.delete(topic);
      }
    };
    req.on('close', leave);
    res.on('close', leave);
  }

  /** Tells every page watching `topic` that it changed (also used after the dashboard's own action). */
  notify(topic: Topic, data: Record<string, unknown>): void {
    const watcher = this.watchers.get(topic);
    if (watcher === undefined) return;
    for (const res of watcher.clients) this.send(res, 'change', data);
  }

  /** Sends an event of its own type (e.g. `rebuild`: a line of a rebuild's output) to every page watching `topic`. */
  publish(topic: Topic, event: string, data: Record<string, unknown>): void {
    const watcher = this.watchers.get(topic);
    if (watcher === undefined) return;
    for (const res of watcher.clients) this.send(res, event, data);
  }

  /** Ends every stream and stops watching the store. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.heartbeat);
    for (const watcher of this.watchers.values()) {
      if (watcher.timer !== null) clearInterval(watcher.timer);
      if (watcher.nudged !== null) clearTimeout(watcher.nudged);
      for (const res of watcher.clients) res.end();
    }
    this.watchers.clear();
    const stop = await this.unwatch?.catch(() => null);
    await stop?.().catch(() => undefined);
  }

  private send(res: http.ServerResponse, event: string, data: unknown): void {
    res.write(`id: ${++this.lastId}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private watcherFor(topic: Topic): Watcher {
    const existing = this.watchers.get(topic);
    if (existing !== undefined) return existing;
    const watcher: Watcher = { clients: new Set(), fingerprint: null, busy: false, nudged: null, again: false, lastLookAt: 0, timer: null };
    this.arm(topic, watcher);
    this.watchers.set(topic, watcher);
    this.startWatchingStore();
    void this.look(topic, watcher);
    return watcher;
  }

  /** The watcher's timer: polling, or the slow safety look once the store tells of its changes. */
  private arm(topic: Topic, watcher: Watcher): void {
    if (watcher.timer !== null) clearInterval(watcher.timer);
    const every = this.mode === 'notified' ? this.safetyIntervalMs : topic === null ? this.listIntervalMs : this.runIntervalMs;
    watcher.timer = setInterval(() => void this.look(topic, watcher), every);
    watcher.timer.unref();
  }

  /** The first time anyone watches, with a store that pushes its changes: listen to them (for as long as the feed lives). */
  private startWatchingStore(): void {
    if (this.unwatch !== null || !pushesChanges(this.store)) return;
    this.mode = 'connecting';
    this.unwatch = this.store
      .watchChanges((runId) => this.onChange(runId))
      .then(
        async (stop) => {
          if (this.closed) {
            await stop().catch(() => undefined);
            return null;
          }
          this.mode = 'notified';
          // From now on a watcher is told; a look at each catches what changed while the feed was coming up.
          for (const [topic, watcher] of this.watchers) {
            this.arm(topic, watcher);
            this.nudge(topic);
          }
          return stop;
        },
        () => {
          // No feed (the store could not listen): poll, as for a store that cannot push.
          this.mode = 'poll';
          return null;
        },
      );
  }

  private onChange(runId: string): void {
    this.notifications++;
    this.nudge(runId);
    this.nudge(null);
  }

  /**
   * A look soon, asked for by a notification: at once, or — when the topic was looked at less than the gap ago
   * (a build commits many times a second) — at the end of the gap; one at a time, and one more when a
   * notification came during a look.
   */
  private nudge(topic: Topic): void {
    const watcher = this.watchers.get(topic);
    if (watcher === undefined || watcher.nudged !== null) return;
    const gap = topic === null ? this.notifyGapMs * 5 : this.notifyGapMs;
    const wait = Math.max(0, watcher.lastLookAt + gap - Date.now());
    watcher.nudged = setTimeout(() => {
      watcher.nudged = null;
      if (watcher.busy) watcher.again = true;
      else void this.look(topic, watcher);
    }, wait);
  }

  private async look(topic: Topic, watcher: Watcher): Promise<void> {
    if (watcher.busy) return;
    watcher.busy = true;
    watcher.lastLookAt = Date.now();
    try {
      this.polls++;
      const fingerprint = topic === null ? await this.listFingerprint() : await this.runFingerprint(topic);
      const before = watcher.fingerprint;
      watcher.fingerprint = fingerprint;
      if (before !== null && before !== fingerprint) this.notify(topic, topic === null ? { topic: 'runs' } : { topic: 'run', runId: topic });
    } catch {
      // A store that fails for a moment (a PostgreSQL restart) is looked at again on the next tick.
    } finally {
      watcher.busy = false;
      if (watcher.again) {
        watcher.again = false;
        this.nudge(topic);
      }
    }
  }

  /** What changes when anything on a run's page would: the run row, each attempt's status, the model calls. */
  private async runFingerprint(runId: string): Promise<string> {
    const [run, attempts, calls] = await Promise.all([
      this.store.getRun(runId),
      this.store.listAttempts(runId),
      this.store.listInteractionSummaries(runId),
    ]);
    if (run === null) return 'gone';
    const pending = calls.filter((c) => c.status === 'pending').length;
    return [
      run.updatedAt,
      run.status,
      run.cancelRequestedAt ?? '-',
      attempts.map((a) => `${a.id}${a.status[0]}`).join(','),
      `${calls.length}/${pending}/${calls.at(-1)?.status ?? '-'}`,
    ].join('|');
  }

  /** The runs, and for those being built their progress (attempts and calls). */
  private async listFingerprint(): Promise<string> {
    const runs = await this.store.listRuns();
    const parts: string[] = [];
    for (const run of runs) {
      let progress = '';
      if (run.status === 'running') {
        const totals = await this.store.runTotals(run.id);
        progress = `:${totals.attempts}:${totals.tasksBuilt}:${totals.calls}`;
      }
      parts.push(`${run.id}:${run.updatedAt}:${run.status}${progress}`);
    }
    return parts.join(',');
  }
}
