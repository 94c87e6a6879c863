import { afterEach, describe, expect, it } from 'vitest';
import { startFakeOpenAiServer, type FakeOpenAiServer, type FakeScript } from '../support/fake-openai-server.js';
import { OpenAiCompatibleProvider } from '../../src/llm/providers/openai-compatible.js';
import { parseModelSpec } from '../../src/llm/model-spec.js';
import { LlmError } from '../../src/llm/errors.js';
import type { ProviderRequest } from '../../src/llm/providers/provider.js';

const KEY = 'sk-provider-test-0123456789abcdef';
const schema = { type: 'object', properties: { title: { type: 'string' } }, required: ['title'] };
let server: FakeOpenAiServer | null = null;

afterEach(async () => {
  await server?.close();
  server = null;
});

async function provider(script: FakeScript, options: { key?: string | null; timeoutMs?: number } = {}) {
  server = await startFakeOpenAiServer(script);
  const env = options.key === null ? {} : { OPENAI_COMPATIBLE_API_KEY: options.key ?? KEY };
  return new OpenAiCompatibleProvider(parseModelSpec(`openai-compatible:fake-model@${server.url}`), { env, timeoutMs: options.timeoutMs ?? 5000 });
}

function request(overrides: Partial<ProviderRequest> = {}): ProviderRequest {
  return {
    messages: [{ role: 'user', content: 'Give me a title.' }],
    json: { name: 'title answer!', schema },
    signal: new AbortController().signal,
    ...overrides,
  };
}

async function failure(p: Promise<unknown>): Promise<LlmError> {
  try {
    await p;
  } catch (error) {
    if (error instanceof LlmError) return error;
    throw error;
  }
  throw new Error('expected a failure');
}

describe('OpenAiCompatibleProvider over HTTP', () => {
  it('posts chat completions with json_schema, bearer auth and reads usage and the answering model', async () => {
    const p = await provider({ answer: () => ({ title: 'Hello' }), model: 'fake-model-2025-01-01' });
    const response = await p.complete(request({ maxOutputTokens: 300 }));
    expect(response).toEqual({
      text: '{"title":"Hello"}',
      answeredModel: 'fake-model-2025-01-01',
      usage: { inputTokens: 100, outputTokens: 50, estimated: false },
      httpStatus: 200,
    });
    const sent = server!.requests[0]!;
    expect(sent.path).toBe('/v1/chat/completions');
    expect(sent.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(sent.body.model).toBe('fake-model');
    expect(sent.body.max_tokens).toBe(300);
    expect(sent.body.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'title_answer_', schema, strict: false } });
  });

  it('sends no Authorization header without a key', async () => {
    const p = await provider({}, { key: null });
    await p.complete(request());
    expect(server!.requests[0]!.headers.authorization).toBeUndefined();
  });

  it('sends no response_format for text calls', async () => {
    const p = await provider({ queue: [{ kind: 'text', text: 'Just prose.' }] });
    const response = await p.complete(request({ json: null }));
    expect(response.text).toBe('Just prose.');
    expect(server!.requests[0]!.body.response_format).toBeUndefined();
  });

  it('in json_object mode also sends the schema, which llama.cpp-style servers enforce', async () => {
    const p = await provider({ answer: () => ({ title: 'ok' }) });
    expect((await p.complete(request({ format: 'json_object' }))).text).toBe('{"title":"ok"}');
    expect(server!.requests[0]!.body.response_format).toEqual({ type: 'json_object', schema });
  });

  it('in prompt mode sends no response_format: the schema is in the messages the caller sends', async () => {
    const p = await provider({ answer: () => ({ title: 'ok' }) });
    await p.complete(request({ format: 'prompt' }));
    expect(server!.requests[0]!.body.response_format).toBeUndefined();
  });

  it('hands a plain 400 or a 422 to a json_schema request back as bad_request, without asking again itself', async () => {
    for (const status of [400, 422]) {
      const p = await provider({ handler: () => ({ kind: 'refuse-format', formats: ['json_schema'], status }) });
      const error = await failure(p.complete(request()));
      expect([error.errorClass, error.httpStatus, error.message]).toEqual(['bad_request', status, expect.stringContaining('Bad Request')]);
      expect(server!.requestCount).toBe(1);
      await server!.close();
      server = null;
    }
  });

  it('accepts content given as an array of text parts', async () => {
    const content = [
      { type: 'text', text: '{"title":' },
      { type: 'text', text: '"Hi"}' },
    ];
    const p = await provider({ queue: [{ kind: 'message', message: { role: 'assistant', content } }] });
    expect((await p.complete(request())).text).toBe('{"title":"Hi"}');
  });

  it.each([
    ['<think>', { content: '<think>Maybe {"title": "draft"}? No.</think>\n{"title":"Hi"}' }],
    ['<thinking>', { content: '<thinking>Maybe {"title": "draft"}? No.</thinking>{"title":"Hi"}' }],
    ['<reasoning>', { content: '<reasoning>Maybe {"title": "draft"}? No.</reasoning> {"title":"Hi"}' }],
    ['a closing </think> only (the template opened it)', { content: 'Maybe {"title": "draft"}? No.</think>{"title":"Hi"}' }],
    ['reasoning_content', { content: '{"title":"Hi"}', reasoning_content: 'Maybe {"title": "draft"}? No.' }],
    ['reasoning', { content: '{"title":"Hi"}', reasoning: 'Maybe {"title": "draft"}? No.' }],
    [
      'a thinking part',
      {
        content: [
          { type: 'thinking', thinking: 'Maybe {"title": "draft"}? No.' },
          { type: 'text', text: '{"title":"Hi"}' },
        ],
      },
    ],
  ])('keeps the reasoning of a reasoning model (%s) apart from the answer, with its token count', async (_name, message) => {
    const usage = { prompt_tokens: 10, completion_tokens: 40, completion_tokens_details: { reasoning_tokens: 30 } };
    const p = await provider({ queue: [{ kind: 'message', message: { role: 'assistant', ...message }, usage }] });
    const response = await p.complete(request());
    expect(response.text).toBe('{"title":"Hi"}');
    expect(response.reasoning).toEqual({ text: 'Maybe {"title": "draft"}? No.', tokens: 30 });
    expect(response.usage).toEqual({ inputTokens: 10, outputTokens: 40, estimated: false });
  });

  it('an answer that is all reasoning is empty, and keeps the reasoning', async () => {
    const p = await provider({ queue: [{ kind: 'text', text: '<think>I ran out of tokens while thinking' }] });
    const error = await failure(p.complete(request()));
    expect(error.errorClass).toBe('empty_content');
    expect(error.answer?.reasoning?.text).toBe('I ran out of tokens while thinking');
  });

  it.each([
    ['error.message first', '{"error":{"message":"model not loaded"},"message":"other"}', 'model not loaded'],
    [
      'message over a bare error string',
      '{"error":"SyntaxError","message":"Unexpected token } in JSON at position 12"}',
      'Unexpected token } in JSON at position 12',
    ],
    ['a string error when that is all', '{"error":"context too long"}', 'context too long'],
    [
      'the body itself otherwise',
      '{"detail":[{"loc":["body","messages"],"msg":"field required"}]}',
      '{"detail":[{"loc":["body","messages"],"msg":"field required"}]}',
    ],
  ])('error detail: %s', async (_name, body, detail) => {
    const p = await provider({ queue: [{ kind: 'status', status: 400, body }] });
    expect((await failure(p.complete(request({ json: null })))).message).toBe(`HTTP 400 from ${new URL(server!.url).host}: ${detail}`);
  });

  it('a 401 or 403 names the variable the key was read from, or says no key was sent, never the key', async () => {
    const p = await provider({ queue: [{ kind: 'status', status: 401, body: '{"error":{"message":"Unauthorized"}}' }] });
    const withKey = await failure(p.complete(request()));
    expect(withKey.message).toMatch(/^HTTP 401 from .*: Unauthorized \(key from OPENAI_COMPATIBLE_API_KEY\)$/);
    expect(withKey.message).not.toContain(KEY);
    await server!.close();
    const keyless = await provider({ queue: [{ kind: 'status', status: 403, body: 'Forbidden' }] }, { key: null });
    const without = await failure(keyless.complete(request()));
    expect(without.message).toMatch(/^HTTP 403 from .*: Forbidden \(no key sent: OPENAI_COMPATIBLE_API_KEY is not set\)$/);
  });

  it('estimates tokens when usage is absent', async () => {
    const p = await provider({ queue: [{ kind: 'json', value: { title: 'abcd' }, usage: null }] });
    const response = await p.complete(request());
    expect(response.usage).toEqual({
      inputTokens: Math.ceil('Give me a title.'.length / 4),
      outputTokens: Math.ceil('{"title":"abcd"}'.length / 4),
      estimated: true,
    });
  });

  it.each([
    [{ kind: 'rate-limit', retryAfter: '3' } as const, 'rate_limited', 429, true],
    [{ kind: 'server-error' } as const, 'server_error', 500, true],
    [{ kind: 'server-error', status: 503 } as const, 'server_error', 503, true],
    [{ kind: 'status', status: 401, body: '{"error":{"message":"bad key"}}' } as const, 'auth', 401, false],
    [{ kind: 'status', status: 403, body: 'forbidden' } as const, 'auth', 403, false],
    [{ kind: 'status', status: 400, body: '{"error":{"message":"messages is required"}}' } as const, 'bad_request', 400, false],
    [{ kind: 'status', status: 200, body: '<html>proxy</html>' } as const, 'server_error', 200, true],
    [{ kind: 'empty' } as const, 'empty_content', 200, true],
    [{ kind: 'refusal', style: 'field' } as const, 'refusal', 200, false],
    [{ kind: 'refusal', style: 'filter' } as const, 'refusal', 200, false],
    [{ kind: 'drop' } as const, 'connection', null, true],
  ])('classifies %o as %s', async (behaviour, errorClass, httpStatus, retryable) => {
    const p = await provider({ queue: [behaviour] });
    const error = await failure(p.complete(request()));
    expect(error.errorClass).toBe(errorClass);
    expect(error.httpStatus).toBe(httpStatus);
    expect(error.retryable).toBe(retryable);
    if (errorClass === 'rate_limited') expect((error as LlmError & { retryAfterMs: number }).retryAfterMs).toBe(3000);
  });

  it('reports a refused connection', async () => {
    const p = await provider({});
    const url = server!.url;
    await server!.close();
    server = null;
    const closed = new OpenAiCompatibleProvider(parseModelSpec(`openai-compatible:m@${url}`), { env: {}, timeoutMs: 2000 });
    expect((await failure(closed.complete(request()))).errorClass).toBe('connection');
    expect(p).toBeDefined();
  });

  it('times out a server that never answers, and cancels on the caller signal', async () => {
    const p = await provider({ handler: () => ({ kind: 'hang' }) }, { timeoutMs: 150 });
    const started = Date.now();
    expect((await failure(p.complete(request()))).errorClass).toBe('timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);
    expect((await failure(p.complete(request({ signal: controller.signal })))).errorClass).toBe('cancelled');
  });

  it('never puts the key in an error message, even when the server echoes it', async () => {
    const p = await provider({
      handler: (req) => ({ kind: 'status', status: 401, body: JSON.stringify({ error: { message: `invalid key ${req.headers.authorization}` } }) }),
    });
    const error = await failure(p.complete(request()));
    expect(error.message).toContain('invalid key');
    expect(error.message).not.toContain(KEY);
    expect(error.message).not.toContain(KEY.slice(3));
  });

  it('fails fast without a request when an OpenAI key is missing', async () => {
    const openai = new OpenAiCompatibleProvider(parseModelSpec('openai:gpt-4o-mini'), { env: {}, timeoutMs: 1000 });
    const error = await failure(openai.complete(request()));
    expect(error.errorClass).toBe('auth');
    expect(error.message).toContain('OPENAI_API_KEY');
  });
});
