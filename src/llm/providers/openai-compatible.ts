import type { ChatMessage } from '../types.js';
import type { ModelSpec } from '../model-spec.js';
import { redact } from '../redact.js';
import {
  AuthError,
  BadRequestError,
  CancelledError,
  ConnectionError,
  EmptyContentError,
  type FailedAnswer,
  type LlmError,
  RateLimitedError,
  RefusalError,
  ServerError,
  TimeoutError,
  parseRetryAfter,
} from '../errors.js';
import { estimateTokens, messagesChars } from './provider.js';
import type { Provider, ProviderRequest, ProviderResponse, Usage } from './provider.js';
import { readMessage, reasoningOf, splitReasoning, type Reasoning } from './reasoning.js';
import type { ResponseFormat } from './response-format.js';

/**
 * The provider for every server that speaks OpenAI's chat-completions API (OpenAI, OpenRouter, Ollama,
 * LM Studio, vLLM, llama.cpp server). Plain fetch: one POST per call, no SDK. Which response_format to ask for
 * is the caller's choice (model-tries.ts moves down the modes when a server refuses one, so that every request
 * is a recorded try).
 */

export interface OpenAiCompatibleOptions {
  /** Where the key is read from, at request time only. */
  env: Readonly<Record<string, string | undefined>>;
  timeoutMs: number;
  fetch?: typeof fetch;
}

/** Enough of a server's error body to act on; the rest is usually a stack trace or an HTML page. */
const MAX_ERROR_DETAIL = 300;

export class OpenAiCompatibleProvider implements Provider {
  constructor(
    readonly spec: ModelSpec,
    private readonly options: OpenAiCompatibleOptions,
  ) {}

  complete(request: ProviderRequest): Promise<ProviderResponse> {
    return this.post(request, request.format ?? (request.json === null ? 'text' : 'json_schema'));
  }

  private apiKey(): string | null {
    const name = this.spec.apiKeyEnv;
    const key = name === null ? undefined : this.options.env[name];
    return key === undefined || key.trim() === '' ? null : key.trim();
  }

  private async post(request: ProviderRequest, mode: ResponseFormat): Promise<ProviderResponse> {
    const key = this.apiKey();
    if (key === null && (this.spec.provider === 'openai' || this.spec.provider === 'openrouter')) {
      // Asking without a key only earns a 401; say which variable to set instead.
      throw new AuthError(`${this.spec.apiKeyEnv ?? 'the API key variable'} is not set; ${this.spec.provider} needs a key`);
    }
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (key !== null) headers.authorization = `Bearer ${key}`;
    if (this.spec.provider === 'openrouter') headers['x-title'] = 'plan';

    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    const signal = AbortSignal.any([request.signal, timeout]);
    const doFetch = this.options.fetch ?? fetch;
    const { messages } = request;
    const body = JSON.stringify({
      model: this.spec.model,
      messages,
      ...this.responseFormat(request, mode),
      ...maxTokens(this.spec, request),
      ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
    });
    const url = `${this.spec.baseUrl}/chat/completions`;

    let status: number;
    let text: string;
    let retryAfter: string | null;
    try {
      const response = await doFetch(url, { method: 'POST', headers, body, signal });
      status = response.status;
      retryAfter = response.headers.get('retry-after');
      text = await response.text();
    } catch (error) {
      throw this.transportError(error, request.signal, timeout, key);
    }
    if (status < 200 || status >= 300) throw this.httpError(status, text, retryAfter, key);
    return this.readAnswer(status, text, messages, key);
  }

  /** Which of the three ways a fetch can fail: we were cancelled, we gave up waiting, or the wire broke. */
  private transportError(error: unknown, caller: AbortSignal, timeout: AbortSignal, key: string | null): LlmError {
    if (caller.aborted) return new CancelledError('model call cancelled');
    if (timeout.aborted) return new TimeoutError(`no answer from ${this.where()} within ${this.options.timeoutMs} ms`);
    const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
    const message = error instanceof Error ? `${error.message}${cause}` : String(error);
    return new ConnectionError(redact(`connection to ${this.where()} failed: ${message}`, [key]));
  }

  private httpError(status: number, body: string, retryAfter: string | null, key: string | null): LlmError {
    const message = redact(`HTTP ${status} from ${this.where()}: ${errorDetail(body)}`, [key]);
    const options = { httpStatus: status };
    if (status === 429) return new RateLimitedError(message, parseRetryAfter(retryAfter), options);
    if (status === 401 || status === 403) return new AuthError(`${message} ${this.keySource(key)}`, options);
    if (status === 408) return new TimeoutError(message, options);
    if (status >= 500 || status === 409) return new ServerError(message, options);
    return new BadRequestError(message, options);
  }

  private readAnswer(status: number, body: string, messages: readonly ChatMessage[], key: string | null): ProviderResponse {
    let json: ChatCompletion;
    try {
      json = JSON.parse(body) as ChatCompletion;
    } catch {
      // The server (or a proxy in front of it) broke the protocol; not the model's fault, so worth a retry.
      const message = `${this.where()} answered with a body that is not JSON: ${errorDetail(body)}`;
      throw new ServerError(redact(message, [key]), { httpStatus: status });
    }
    const choice = json.choices?.[0];
    const message = readMessage(choice?.message);
    const { answer: content, thoughts } = splitReasoning(message.content);
    const reasoning = reasoningOf([...message.thoughts, ...thoughts], json.usage?.completion_tokens_details?.reasoning_tokens);
    const refusal = typeof choice?.message?.refusal === 'string' ? choice.message.refusal : '';
    const answeredModel = typeof json.model === 'string' && json.model !== '' ? json.model : this.spec.model;
    const usage = readUsage(json, messages, content || refusal, reasoning);
    const answer: FailedAnswer = {
      text: content || refusal,
      answeredModel,
      inputTokens: usage.inputTokens,
      outputTokens: usage.outputTokens,
      tokensEstimated: usage.estimated,
      ...(reasoning ? { reasoning } : {}),
    };
    const failed = { httpStatus: status, answer };
    if (refusal !== '') throw new RefusalError(redact(`the model refused: ${refusal.slice(0, 200)}`, [key]), failed);
    if (choice?.finish_reason === 'content_filter') {
      throw new RefusalError('the answer was withheld by a content filter', failed);
    }
    if (content.trim() === '') throw new EmptyContentError(`empty answer from ${answeredModel}`, failed);
    return { text: content, answeredModel, usage, httpStatus: status, ...(reasoning ? { reasoning } : {}) };
  }

  private responseFormat(request: ProviderRequest, mode: ResponseFormat): Record<string, unknown> {
    if (request.json === null || mode === 'text' || mode === 'prompt') return {};
    const { name, schema } = request.json;
    if (mode === 'json_object') {
      // llama.cpp's server constrains sampling to `response_format.schema` in JSON mode, and so do Together
      // and Fireworks; vLLM, LM Studio and Ollama ignore it. OpenAI is sent the bare JSON mode it documents.
      return { response_format: this.spec.provider === 'openai' ? { type: 'json_object' } : { type: 'json_object', schema } };
    }
    // strict:false because strict mode demands every property be required and no additionalProperties, which
    // most zod schemas (optional fields, records) do not satisfy; the answer is validated by zod anyway.
    return { response_format: { type: 'json_schema', json_schema: { name: schemaName(name), schema, strict: false } } };
  }

  /** For a refused key: where it came from (the variable's name, never its value), or that none was sent. */
  private keySource(key: string | null): string {
    const name = this.spec.apiKeyEnv;
    if (key !== null) return `(key from ${name})`;
    return name === null ? '(no key sent)' : `(no key sent: ${name} is not set)`;
  }

  /** Host only: a base URL could carry a path segment someone considers private; the host is enough to act on. */
  private where(): string {
    try {
      return new URL(this.spec.baseUrl ?? '').host;
    } catch {
      return this.spec.provider;
    }
  }
}

interface ChatCompletion {
  model?: unknown;
  choices?: { message?: { content?: unknown; refusal?: unknown; reasoning_content?: unknown; reasoning?: unknown }; finish_reason?: unknown }[];
  usage?: { prompt_tokens?: unknown; completion_tokens?: unknown; completion_tokens_details?: { reasoning_tokens?: unknown } };
}

function readUsage(json: ChatCompletion, messages: readonly ChatMessage[], answer: string, reasoning: Reasoning | undefined): Usage {
  const input = json.usage?.prompt_tokens;
  const output = json.usage?.completion_tokens;
  if (typeof input === 'number' && typeof output === 'number') {
    return { inputTokens: input, outputTokens: output, estimated: false };
  }
  // Thinking is paid for as output, whether or not the server counted it.
  const written = answer + (reasoning?.text ?? '');
  return { inputTokens: estimateTokens(messagesChars(messages)), outputTokens: estimateTokens(written), estimated: true };
}

/** OpenAI accepts `^[a-zA-Z0-9_-]{1,64}$` as a schema name. */
function schemaName(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64) || 'answer';
}

function maxTokens(spec: ModelSpec, request: ProviderRequest): Record<string, number> {
  if (request.maxOutputTokens === undefined) return {};
  // OpenAI's newer models reject `max_tokens`; other servers mostly only know `max_tokens`.
  const limit = request.maxOutputTokens;
  return spec.provider === 'openai' ? { max_completion_tokens: limit } : { max_tokens: limit };
}

/** The most telling part of an error body: `error.message`, else `message`, else a string `error`, else the body's start. */
function errorDetail(body: string): string {
  let detail = body;
  try {
    const json = JSON.parse(body) as unknown;
    if (typeof json === 'object' && json !== null) {
      const { error, message } = json as { error?: unknown; message?: unknown };
      const nested = typeof error === 'object' && error !== null ? (error as { message?: unknown }).message : undefined;
      // A bare string `error` is often just a class name ("SyntaxError"): the message beside it says more.
      const found = [nested, message, error].find((c): c is string => typeof c === 'string' && c.trim() !== '');
      if (found !== undefined) detail = found;
    }
  } catch {
    // not JSON: keep the raw text
  }
  const oneLine = detail.replace(/\s+/g, ' ').trim();
  if (oneLine === '') return '(no body)';
  return oneLine.length > MAX_ERROR_DETAIL ? `${oneLine.slice(0, MAX_ERROR_DETAIL)}…` : oneLine;
}
