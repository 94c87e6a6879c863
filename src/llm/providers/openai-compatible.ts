import type { ChatMessage } from '../types.js';
import type { ModelSpec } from '../model-spec.js';
import type { JsonSchema } from '../json-schema.js';
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

/**
 * The provider for every server that speaks OpenAI's chat-completions API (OpenAI, OpenRouter, Ollama,
 * LM Studio, vLLM, llama.cpp server). Plain fetch: one POST per try, no SDK.
 */

export interface OpenAiCompatibleOptions {
  /** Where the key is read from, at request time only. */
  env: Readonly<Record<string, string | undefined>>;
  timeoutMs: number;
  fetch?: typeof fetch;
}

type FormatMode = 'json_schema' | 'json_object' | 'text';

/** Enough of a server's error body to act on; the rest is usually a stack trace or an HTML page. */
const MAX_ERROR_DETAIL = 300;

export class OpenAiCompatibleProvider implements Provider {
  /** Set once a server rejected `json_schema`: later calls go straight to `json_object`. */
  private jsonSchemaRejected = false;

  constructor(
    readonly spec: ModelSpec,
    private readonly options: OpenAiCompatibleOptions,
  ) {}

  async complete(request: ProviderRequest): Promise<ProviderResponse> {
    const mode: FormatMode = request.json === null ? 'text' : this.jsonSchemaRejected ? 'json_object' : 'json_schema';
    try {
      return await this.post(request, mode);
    } catch (error) {
      // Older servers (and some models) do not know structured outputs; JSON mode plus the schema in the
      // prompt is the next best thing, and the answer is validated either way.
      const unsupported = error instanceof BadRequestError && /response_format|json_schema/i.test(error.message);
      if (mode === 'json_schema' && unsupported) {
        this.jsonSchemaRejected = true;
        return await this.post(request, 'json_object');
      }
      throw error;
    }
  }

  private apiKey(): string | null {
    const name = this.spec.apiKeyEnv;
    const key = name === null ? undefined : this.options.env[name];
    return key === undefined || key.trim() === '' ? null : key.trim();
  }

  private async post(request: ProviderRequest, mode: FormatMode): Promise<ProviderResponse> {
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
    const messages = mode === 'json_object' && request.json ? withSchemaInstruction(request.messages, request.json.schema) : request.messages;
    const body = JSON.stringify({
      model: this.spec.model,
      messages,
      ...responseFormat(request, mode),
      ...maxTokens(this.spec, request),
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
    if (status === 401 || status === 403) return new AuthError(message, options);
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
    const content = typeof choice?.message?.content === 'string' ? choice.message.content : '';
    const refusal = typeof choice?.message?.refusal === 'string' ? choice.message.refusal : '';
    const answeredModel = typeof json.model === 'string' && json.model !== '' ? json.model : this.spec.model;
    const usage = readUsage(json, messages, content || refusal);
    const answer: FailedAnswer = {
      text: content || refusal,
      answeredModel,
      inputTokens: usage.inputTokens,
      outputTokens: usage.outputTokens,
      tokensEstimated: usage.estimated,
    };
    const failed = { httpStatus: status, answer };
    if (refusal !== '') throw new RefusalError(redact(`the model refused: ${refusal.slice(0, 200)}`, [key]), failed);
    if (choice?.finish_reason === 'content_filter') {
      throw new RefusalError('the answer was withheld by a content filter', failed);
    }
    if (content.trim() === '') throw new EmptyContentError(`empty answer from ${answeredModel}`, failed);
    return { text: content, answeredModel, usage, httpStatus: status };
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
  choices?: { message?: { content?: unknown; refusal?: unknown }; finish_reason?: unknown }[];
  usage?: { prompt_tokens?: unknown; completion_tokens?: unknown };
}

function readUsage(json: ChatCompletion, messages: readonly ChatMessage[], answer: string): Usage {
  const input = json.usage?.prompt_tokens;
  const output = json.usage?.completion_tokens;
  if (typeof input === 'number' && typeof output === 'number') {
    return { inputTokens: input, outputTokens: output, estimated: false };
  }
  return { inputTokens: estimateTokens(messagesChars(messages)), outputTokens: estimateTokens(answer), estimated: true };
}

function responseFormat(request: ProviderRequest, mode: FormatMode): Record<string, unknown> {
  if (mode === 'text' || request.json === null) return {};
  if (mode === 'json_object') return { response_format: { type: 'json_object' } };
  // strict:false because strict mode demands every property be required and no additionalProperties, which
  // most zod schemas (optional fields, records) do not satisfy; the answer is validated by zod anyway.
  const { name, schema } = request.json;
  return { response_format: { type: 'json_schema', json_schema: { name: schemaName(name), schema, strict: false } } };
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

function withSchemaInstruction(messages: readonly ChatMessage[], schema: JsonSchema): ChatMessage[] {
  const instruction = `Answer with one JSON object only (no prose, no code fences) that matches this JSON schema:\n${JSON.stringify(schema)}`;
  const [first, ...rest] = messages;
  if (first?.role === 'system') return [{ role: 'system', content: `${first.content}\n\n${instruction}` }, ...rest];
  return [{ role: 'system', content: instruction }, ...messages];
}

function errorDetail(body: string): string {
  let detail = body;
  try {
    const json = JSON.parse(body) as { error?: { message?: unknown } | string; message?: unknown };
    const message = typeof json.error === 'string' ? json.error : (json.error?.message ?? json.message);
    if (typeof message === 'string') detail = message;
  } catch {
    // not JSON: keep the raw text
  }
  const oneLine = detail.replace(/\s+/g, ' ').trim();
  if (oneLine === '') return '(no body)';
  return oneLine.length > MAX_ERROR_DETAIL ? `${oneLine.slice(0, MAX_ERROR_DETAIL)}…` : oneLine;
}
