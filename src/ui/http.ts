import type http from 'node:http';
import { securityHeaders } from './security.js';

/** Small response helpers: every response goes out with the security headers. */

/** A request the dashboard answers with an error status and a one-line message. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function notFound(what: string): HttpError {
  return new HttpError(404, what);
}

export function send(
  res: http.ServerResponse,
  status: number,
  body: string | Buffer,
  contentType: string,
  extra: Record<string, string> = {},
  policy?: string,
): void {
  res.writeHead(status, {
    ...securityHeaders(policy),
    'content-type': contentType,
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-store',
    ...extra,
  });
  res.end(body);
}

export function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  send(res, status, JSON.stringify(value), 'application/json; charset=utf-8');
}

export function sendError(res: http.ServerResponse, status: number, message: string): void {
  sendJson(res, status, { error: message });
}

/** A path segment or query value as given, or a 400 when it is not valid percent-encoding. */
export function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new HttpError(400, `bad escape in '${text}'`);
  }
}

/** An optional positive whole number from the query (a version, an id). */
export function wholeNumber(text: string | null, name: string): number | undefined {
  if (text === null || text === '') return undefined;
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new HttpError(400, `${name} must be a whole number ≥ 1 (got '${text}')`);
  return Number(text);
}
