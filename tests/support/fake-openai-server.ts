import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';

/**
 * Our own OpenAI-compatible server for tests, on 127.0.0.1 with a free port. Each request gets a behaviour:
 * from `script.handler` (a function of the request and its ordinal), else the next of `script.queue`, else the
 * default answer (JSON built by `script.answer`, or `{}`). Every request is recorded with headers and body.
 */

export interface FakeUsage {
  prompt_tokens: number;
  completion_tokens: number;
  completion_tokens_details?: { reasoning_tokens?: number };
}

export type FakeBehaviour =
  /** 200 with this value as JSON content; `usage: null` omits usage. */
  | { kind: 'json'; value: unknown; usage?: FakeUsage | null; model?: string }
  /** 200 with this raw text as content (e.g. invalid JSON, fenced JSON, prose). */
  | { kind: 'text'; text: string; usage?: FakeUsage | null; model?: string }
  /** Waits, then behaves like `next` (default: the default answer). A field named `then` would make it a thenable. */
  | { kind: 'delay'; ms: number; next?: FakeBehaviour }
  | { kind: 'rate-limit'; retryAfter?: string }
  | { kind: 'server-error'; status?: number }
  | { kind: 'status'; status: number; body: string }
  /** Headers and the start of a body, then the socket is destroyed. */
  | { kind: 'drop' }
  | { kind: 'invalid-json' }
  /** Valid JSON that the test's schema rejects. */
  | { kind: 'schema-invalid'; value?: unknown }
  | { kind: 'empty' }
  | { kind: 'refusal'; style?: 'field' | 'filter' | 'text' }
  /** Never answers; the socket is closed when the server closes. */
  | { kind: 'hang' }
  /** 400 when the request asks for `json_schema`; otherwise `next` (default: the default answer). */
  | { kind: 'reject-json-schema'; next?: FakeBehaviour }
  /**
   * `status` (default 400) with `body` (default the bare "Bad Request" some servers send) when the request's
   * response_format type is one of `formats` ('none': no response_format at all); otherwise `next`.
   */
  | { kind: 'refuse-format'; formats: readonly ('json_schema' | 'json_object' | 'none')[]; status?: number; body?: string; next?: FakeBehaviour }
  /** 200 with this assistant message as it is: `content` null, a string or an array of parts, extra fields such as `reasoning_content`. */
  | { kind: 'message'; message: Record<string, unknown>; usage?: FakeUsage | null }
  | { kind: 'default' };

export interface FakeRequest {
  ordinal: number;
  /** Date.now() when the body had arrived, to measure waits between tries. */
  receivedAt: number;
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  rawBody: string;
  body: ChatBody;
}

export interface ChatBody {
  model?: string;
  messages?: { role: string; content: string }[];
  response_format?: { type: string; json_schema?: { name: string; schema: unknown; strict?: boolean }; schema?: unknown };
  [key: string]: unknown;
}

export interface FakeScript {
  handler?: (request: FakeRequest) => FakeBehaviour | undefined;
  queue?: FakeBehaviour[];
  /** Builds the default answer's JSON from the request. */
  answer?: (request: FakeRequest) => unknown;
  /** The `model` field of answers (default: the requested model). */
  model?: string;
  usage?: FakeUsage;
}

export interface FakeOpenAiServer {
  url: string;
  requests: FakeRequest[];
  readonly requestCount: number;
  close(): Promise<void>;
}

export async function startFakeOpenAiServer(script: FakeScript = {}): Promise<FakeOpenAiServer> {
  const requests: FakeRequest[] = [];
  const sockets = new Set<Socket>();
  const queue = [...(script.queue ?? [])];

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      let body: ChatBody = {};
      try {
        body = JSON.parse(rawBody) as ChatBody;
      } catch {
        // recorded as raw text only
      }
      const request: FakeRequest = {
        ordinal: requests.length + 1,
        receivedAt: Date.now(),
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        rawBody,
        body,
      };
      requests.push(request);
      const behaviour = script.handler?.(request) ?? queue.shift() ?? { kind: 'default' };
      void respond(behaviour, request, res, script);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    get requestCount() {
      return requests.length;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

async function respond(behaviour: FakeBehaviour, request: FakeRequest, res: http.ServerResponse, script: FakeScript): Promise<void> {
  const model = script.model ?? request.body.model ?? 'fake-model';
  const usage = script.usage ?? { prompt_tokens: 100, completion_tokens: 50 };
  switch (behaviour.kind) {
    case 'default':
      return sendCompletion(res, { content: JSON.stringify(script.answer?.(request) ?? {}), model, usage });
    case 'json':
      return sendCompletion(res, { content: JSON.stringify(behaviour.value), model: behaviour.model ?? model, usage: pick(behaviour.usage, usage) });
    case 'text':
      return sendCompletion(res, { content: behaviour.text, model: behaviour.model ?? model, usage: pick(behaviour.usage, usage) });
    case 'delay':
      await new Promise((r) => setTimeout(r, behaviour.ms));
      if (res.destroyed) return;
      return respond(behaviour.next ?? { kind: 'default' }, request, res, script);
    case 'rate-limit':
      return sendJson(
        res,
        429,
        { error: { message: 'Rate limit reached', type: 'rate_limit' } },
        behaviour.retryAfter === undefined ? {} : { 'retry-after': behaviour.retryAfter },
      );
    case 'server-error':
      return sendJson(res, behaviour.status ?? 500, { error: { message: 'The server had an error', type: 'server_error' } });
    case 'status':
      res.writeHead(behaviour.status, { 'content-type': 'application/json' });
      res.end(behaviour.body);
      return;
    case 'drop': {
      const full = completionBody({ content: '{"partial": "answer that never ends', model, usage });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(full)) });
      res.write(full.slice(0, Math.floor(full.length / 2)));
      setTimeout(() => res.socket?.destroy(), 20);
      return;
    }
    case 'invalid-json':
      return sendCompletion(res, { content: '{"title": "unterminated', model, usage });
    case 'schema-invalid':
      return sendCompletion(res, { content: JSON.stringify(behaviour.value ?? { unexpected: true }), model, usage });
    case 'empty':
      return sendCompletion(res, { content: '', model, usage });
    case 'refusal':
      if (behaviour.style === 'filter') return sendCompletion(res, { content: '', model, usage, finishReason: 'content_filter' });
      if (behaviour.style === 'text') return sendCompletion(res, { content: "I'm sorry, but I can't help with that.", model, usage });
      return sendCompletion(res, { content: null, refusal: "I'm sorry, I can't help with that request.", model, usage });
    case 'hang':
      return;
    case 'reject-json-schema':
      if (request.body.response_format?.type === 'json_schema') {
        return sendJson(res, 400, {
          error: {
            message: "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.",
            type: 'invalid_request_error',
          },
        });
      }
      return respond(behaviour.next ?? { kind: 'default' }, request, res, script);
    case 'refuse-format':
      if (behaviour.formats.includes((request.body.response_format?.type ?? 'none') as 'none')) {
        res.writeHead(behaviour.status ?? 400, { 'content-type': 'text/plain' });
        res.end(behaviour.body ?? 'Bad Request');
        return;
      }
      return respond(behaviour.next ?? { kind: 'default' }, request, res, script);
    case 'message':
      return sendCompletion(res, { content: null, message: behaviour.message, model, usage: pick(behaviour.usage, usage) });
  }
}

function pick(given: FakeUsage | null | undefined, fallback: FakeUsage): FakeUsage | null {
  return given === undefined ? fallback : given;
}

interface CompletionParts {
  content: string | null;
  model: string;
  usage: FakeUsage | null;
  refusal?: string;
  finishReason?: string;
  /** The whole assistant message, instead of one made of `content` and `refusal`. */
  message?: Record<string, unknown>;
}

function completionBody(parts: CompletionParts): string {
  return JSON.stringify({
    id: 'chatcmpl-fake',
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: parts.model,
    choices: [
      {
        index: 0,
        message: parts.message ?? { role: 'assistant', content: parts.content, ...(parts.refusal ? { refusal: parts.refusal } : {}) },
        finish_reason: parts.finishReason ?? 'stop',
      },
    ],
    ...(parts.usage ? { usage: { ...parts.usage, total_tokens: parts.usage.prompt_tokens + parts.usage.completion_tokens } } : {}),
  });
}

function sendCompletion(res: http.ServerResponse, parts: CompletionParts): void {
  const body = completionBody(parts);
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(body);
}

function sendJson(res: http.ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(value));
}
