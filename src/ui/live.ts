import type http from 'node:http';
import type { Store } from '../store/store.js';
import { securityHeaders } from './security.js';

/**
 * Live updates by Server-Sent Events. The dashboard owns no state and never reaches into a build: it learns of
 * changes by polling the store cheaply — only for what an open page watches, only while one does — and tells
 * the page something changed; the page fetches what it shows again. Every event has an id; a page that
 * reconnects gets a `hello` and fetches again, so nothing is missed.
 */

export interface LiveOptions {
  /** How often a watched run is looked at (ms). */
  runIntervalMs?: number;
  /** How often the list of runs is looked at (ms). */
  listIntervalMs?: number;
  /** A comment line this often keeps proxies and the browser from closing a quiet stream (ms). */
  heartbeatMs?: number;
}

interface Watcher {
  clients: Set<http.ServerResponse>;
  timer: NodeJS.Timeout;
  fingerprint: string | null;
  busy: boolean;
}

/** `null`: the list of runs; otherwise a run id. */
type Topic = string | null;

export class LiveFeed {
  private lastId = 0;
  private readonly watchers = new Map<Topic, Watcher>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly runIntervalMs: number;
  private readonly listIntervalMs: number;
  /** Looks taken at the store, for tests and the curious: how cheap is it? */
  polls = 0;

  constructor(
    private readonly store: Store,
    options: LiveOptions = {},
  ) {
    this.runIntervalMs = options.runIntervalMs ?? 200;
    this.listIntervalMs = options.listIntervalMs ?? 1_000;
    this.heartbeat = setInterval(() => {
      for (const watcher of this.watchers.values()) for (const res of watcher.clients) res.write(': ping\n\n');
    }, options.heartbeatMs ?? 15_000);
    this.heartbeat.unref();
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
    this.send(res, 'hello', { topic, resumedFrom: typeof resumed === 'string' ? resumed : null });
    const leave = (): void => {
      watcher.clients.delete(res);
      if (watcher.clients.size === 0) {
        clearInterval(watcher.timer);
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

  close(): void {
    clearInterval(this.heartbeat);
    for (const watcher of this.watchers.values()) {
      clearInterval(watcher.timer);
      for (const res of watcher.clients) res.end();
    }
    this.watchers.clear();
  }

  private send(res: http.ServerResponse, event: string, data: unknown): void {
    res.write(`id: ${++this.lastId}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private watcherFor(topic: Topic): Watcher {
    const existing = this.watchers.get(topic);
    if (existing !== undefined) return existing;
    const watcher: Watcher = {
      clients: new Set(),
      fingerprint: null,
      busy: false,
      timer: setInterval(() => void this.look(topic, watcher), topic === null ? this.listIntervalMs : this.runIntervalMs),
    };
    watcher.timer.unref();
    this.watchers.set(topic, watcher);
    void this.look(topic, watcher);
    return watcher;
  }

  private async look(topic: Topic, watcher: Watcher): Promise<void> {
    if (watcher.busy) return;
    watcher.busy = true;
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
