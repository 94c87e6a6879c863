import { randomBytes, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';

/**
 * The dashboard's defences. Every page is built with DOM APIs from JSON (no inline script or style, so the
 * policy needs no `unsafe-inline`); a stored file shown as HTML is served under a sandbox policy of its own,
 * into a sandboxed frame; the one action (cancel) needs a per-server token and a same-origin request; and a
 * request naming another host (DNS rebinding) is refused before anything is read.
 */

export const PAGE_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** For a stored file served as it is (an HTML report in a sandboxed frame): no script, nothing fetched, framed only by the dashboard. */
export const SANDBOX_POLICY = "sandbox; default-src 'none'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'";

export const CSRF_HEADER = 'x-plan-csrf';

export function securityHeaders(policy: string = PAGE_POLICY): Record<string, string> {
  return {
    'content-security-policy': policy,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
  };
}

/** A random token made once per server start; the page carries it in a `<meta>` and sends it as a header. */
export function newCsrfToken(): string {
  return randomBytes(32).toString('base64url');
}

export function tokenMatches(expected: string, given: string | string[] | undefined): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * The Host headers a request may carry: the address bound, and on loopback its other names. Null when bound
 * to a non-loopback address: then any name of the machine may be used (the person was warned at start).
 */
export function allowedHosts(host: string, port: number): Set<string> | null {
  if (!isLoopbackHost(host)) return null;
  const names = new Set([`${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`]);
  for (const name of ['127.0.0.1', 'localhost', '[::1]']) names.add(`${name}:${port}`);
  return names;
}

export function hostAllowed(req: http.IncomingMessage, allowed: Set<string> | null): boolean {
  const host = req.headers.host;
  if (host === undefined) return false;
  return allowed === null || allowed.has(host.toLowerCase());
}

/** A state-changing request must come from a page of this server: its Origin names the host it was sent to. */
export function sameOrigin(req: http.IncomingMessage): boolean {
  const origin = req.headers.origin;
  const host = req.headers.host;
  if (typeof origin !== 'string' || host === undefined) return false;
  return origin.toLowerCase() === `http://${host.toLowerCase()}`;
}
