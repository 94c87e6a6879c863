import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Store } from '../store/store.js';
import { cancelRun } from './api/cancel.js';
import { callDetail } from './api/calls.js';
import { costs, parseGrouping, parseSinceFilter } from './api/costs.js';
import { fileDiff, fileVersion, rawFile } from './api/files.js';
import { runDetail } from './api/run.js';
import { listRuns } from './api/runs.js';
import { taskDetail } from './api/task.js';
import { loadAssets, shellPage, type Asset } from './assets.js';
import type { UiContext } from './context.js';
import type { UiEngine } from './engine-callbacks.js';
import { decode, HttpError, send, sendError, sendJson, wholeNumber } from './http.js';
import { LiveFeed, type LiveOptions } from './live.js';
import { parseScope, Rebuilds } from './rebuild.js';
import { scrubText } from './scrub.js';
import { allowedHosts, CSRF_HEADER, hostAllowed, newCsrfToken, SANDBOX_POLICY, sameOrigin, tokenMatches } from './security.js';

/**
 * The dashboard's HTTP server (node:http, no framework): a JSON API over the store, the event stream, the one
 * page and its files. It reads only through the Store interface and the engine's callbacks.
 */

export interface UiServerOptions {
  store: Store;
  engine: UiEngine;
  /** The database as pages show it (without a password). */
  location: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  live?: LiveOptions;
  /** Where the page's files are (default: dist/ui/client beside this module). */
  assetsDir?: string;
}

export interface UiServer {
  /** `http://host:port/` */
  url: string;
  host: string;
  port: number;
  csrfToken: string;
  live: LiveFeed;
  close(): Promise<void>;
}

/** Paths that are pages of the dashboard: each gets the same HTML, and the page's script draws what the path names. */
const PAGE = /^\/(?:costs\/?|runs\/[^/]+(?:\/tasks\/[^/]+|\/calls\/\d+|\/file)?\/?)?$/;

export async function startUiServer(options: UiServerOptions): Promise<UiServer> {
  const host = options.host ?? '127.0.0.1';
  const csrfToken = newCsrfToken();
  const assets = loadAssets(options.assetsDir);
  const live = new LiveFeed(options.store, options.live);
  const ctx: UiContext = { store: options.store, engine: options.engine, location: options.location };
  const rebuilds = new Rebuilds(ctx, live);
  let allowed: Set<string> | null = null;

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof HttpError) sendError(res, error.status, error.message);
      else sendError(res, 500, scrubText(error instanceof Error ? error.message : String(error)));
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    // A page of another site whose name was made to point here (DNS rebinding) names its own host: refused.
    if (!hostAllowed(req, allowed)) throw new HttpError(403, 'this dashboard answers only requests addressed to it (Host)');
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const method = req.method ?? 'GET';
    const parts = url.pathname.split('/').filter(Boolean);

    if (method === 'POST') return handlePost(req, res, parts, url.searchParams);
    if (method !== 'GET' && method !== 'HEAD') {
      sendError(res, 405, `${method} is not supported`);
      return;
    }
    if (parts[0] === 'api') return handleApi(req, res, parts.slice(1), url.searchParams);
    if (parts[0] === 'static' && parts.length >= 2) return sendAsset(req, res, assets.get(parts.slice(1).join('/')));
    if (url.pathname === '/favicon.ico') {
      send(res, 204, '', 'text/plain');
      return;
    }
    if (PAGE.test(url.pathname)) {
      send(res, 200, shellPage(csrfToken, assets), 'text/html; charset=utf-8');
      return;
    }
    throw new HttpError(404, `no page ${url.pathname}`);
  }

  async function handleApi(req: http.IncomingMessage, res: http.ServerResponse, parts: string[], query: URLSearchParams): Promise<void> {
    const [what, id, sub, subId] = parts.map(decode);
    if (what === 'events' && parts.length === 1) {
      const run = query.get('run');
      live.subscribe(req, res, run === null || run === '' ? null : run);
      return;
    }
    if (what === 'costs' && parts.length === 1) {
      return sendJson(res, 200, await costs(ctx, parseGrouping(query.get('by')), parseSinceFilter(query.get('since'))));
    }
    if (what !== 'runs') throw new HttpError(404, `no API /api/${parts.join('/')}`);
    if (id === undefined) {
      const statuses = query
        .getAll('status')
        .flatMap((s) => s.split(','))
        .filter(Boolean);
      return sendJson(res, 200, await listRuns(ctx, { statuses, text: query.get('q') ?? '' }));
    }
    if (sub === undefined) return sendJson(res, 200, await runDetail(ctx, id, { collapse: query.getAll('collapse') }));
    if (sub === 'tasks' && subId !== undefined && parts.length === 4) return sendJson(res, 200, await taskDetail(ctx, id, subId));
    if (sub === 'rebuild' && parts.length === 3) return sendJson(res, 200, await rebuilds.current(id));
    if (sub === 'calls' && subId !== undefined && parts.length === 4) {
      return sendJson(res, 200, await callDetail(ctx, id, wholeNumber(subId, 'a call id') ?? 0));
    }
    if (sub === 'file' && parts.length === 3) {
      return sendJson(res, 200, await fileVersion(ctx, id, query.get('path') ?? '', wholeNumber(query.get('version'), 'version')));
    }
    if (sub === 'diff' && parts.length === 3) {
      const version = (name: string) => wholeNumber(query.get(name), name);
      return sendJson(res, 200, await fileDiff(ctx, id, query.get('path') ?? '', version('from'), version('to')));
    }
    if (sub === 'raw' && parts.length === 3) {
      const { bytes, contentType } = await rawFile(ctx, id, query.get('path') ?? '', wholeNumber(query.get('version'), 'version'));
      // Shown only inside the page's sandboxed frame, under a policy of its own: no script, nothing fetched.
      send(res, 200, bytes, contentType, {}, SANDBOX_POLICY);
      return;
    }
    throw new HttpError(404, `no API /api/${parts.join('/')}`);
  }

  async function handlePost(req: http.IncomingMessage, res: http.ServerResponse, parts: string[], query: URLSearchParams): Promise<void> {
    req.resume();
    if (!sameOrigin(req)) throw new HttpError(403, 'refused: the request does not come from this dashboard (Origin)');
    if (!tokenMatches(csrfToken, req.headers[CSRF_HEADER])) throw new HttpError(403, `refused: no valid ${CSRF_HEADER} token`);
    const [api, what, id, action] = parts.map(decode);
    if (api === 'api' && what === 'runs' && id !== undefined && action === 'cancel' && parts.length === 4) {
      const result = await cancelRun(ctx, id);
      live.notify(id, { topic: 'run', runId: id, cancelRequested: result.outcome === 'requested' });
      return sendJson(res, result.outcome === 'requested' ? 202 : 409, result);
    }
    // POST /api/runs/<id>/tasks/<task>/rebuild-preview?scope=… (the dry run) and …/rebuild?scope=… (the build).
    const [, , , , task, step] = parts.map(decode);
    if (api === 'api' && what === 'runs' && id !== undefined && action === 'tasks' && task !== undefined && parts.length === 6) {
      const scope = parseScope(query.get('scope'));
      if (step === 'rebuild-preview') return sendJson(res, 200, await rebuilds.preview(id, task, scope));
      if (step === 'rebuild') return sendJson(res, 202, { job: await rebuilds.start(id, task, scope) });
    }
    throw new HttpError(404, `no action /${parts.join('/')}`);
  }

  function sendAsset(req: http.IncomingMessage, res: http.ServerResponse, asset: Asset | undefined): void {
    if (asset === undefined) throw new HttpError(404, 'no such file');
    if (req.headers['if-none-match'] === asset.etag) {
      send(res, 304, '', asset.contentType, { etag: asset.etag, 'cache-control': 'no-cache' });
      return;
    }
    send(res, 200, asset.bytes, asset.contentType, { etag: asset.etag, 'cache-control': 'no-cache' });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 4700, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  allowed = allowedHosts(host, port);
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}/`,
    host,
    port,
    csrfToken,
    live,
    close: async () => {
      // Rebuilds started from here are asked to stop first (each cancels its running tasks and exits 130).
      await rebuilds.close();
      const closing = live.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await closing;
    },
  };
}
