import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { redact, redactDeep } from '../../src/llm/redact.js';
import {
  parseRetryAfter,
  RateLimitedError,
  AuthError,
  ModelsExhaustedError,
  InvalidJsonError,
  SchemaInvalidError,
  RefusalError,
  RejectedAnswerError,
} from '../../src/llm/errors.js';
import { isRetryable } from '../../src/engine/task.js';
import { extractJson, feedbackMessage, parseJsonAnswer } from '../../src/llm/parse-answer.js';
import { abortableSleep, backoffDelay } from '../../src/llm/backoff.js';
import { CancelledError } from '../../src/llm/errors.js';
import { canonicalJson, requestHash } from '../../src/llm/request-hash.js';

const answer = { text: '', answeredModel: 'm', inputTokens: 1, outputTokens: 1, tokensEstimated: false };

describe('redact', () => {
  it('masks given secrets and any bearer header', () => {
    const key = 'sk-test-1234567890abcdef';
    expect(redact(`bad key ${key} here`, [key])).toBe('bad key [redacted] here');
    expect(redact('Authorization: Bearer abcdefghijklmnop', [])).not.toContain('abcdefghijklmnop');
    expect(redact('{"authorization":"Bearer zzzzzzzzzzzz"}', [])).not.toContain('zzzzzzzzzzzz');
    expect(redact('sent bearer qqqqqqqqqqqqqqq to server', [])).not.toContain('qqqqqqqqqqqqqqq');
    expect(redact('short', ['abc'])).toBe('short');
    expect(redactDeep({ a: [`x ${key}`], b: 1 }, [key])).toEqual({ a: ['x [redacted]'], b: 1 });
  });
});

describe('errors', () => {
  it('parses Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter('0.5')).toBe(500);
    expect(parseRetryAfter(null)).toBeNull();
    expect(parseRetryAfter('soon')).toBeNull();
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:03 GMT', now)).toBe(3000);
    expect(parseRetryAfter('Wed, 01 Jan 2020 00:00:03 GMT', now)).toBe(0);
  });

  it('has stable classes and retryability', () => {
    const rl = new RateLimitedError('x', 1000, { httpStatus: 429 });
    expect([rl.errorClass, rl.retryable, rl.retryAfterMs, rl.httpStatus]).toEqual(['rate_limited', true, 1000, 429]);
    expect([new AuthError('x').errorClass, new AuthError('x').retryable]).toEqual(['auth', false]);
    const all = new ModelsExhaustedError([
      { model: 'openai:a', errorClass: 'server_error', message: 'HTTP 500' },
      { model: 'offline', errorClass: 'schema_invalid', message: 'bad' },
    ]);
    expect(all.retryable).toBe(false);
    expect(all.message).toContain('openai:a: server_error');
    expect(all.message).toContain('offline: schema_invalid');
  });

  it('a rejected answer is retryable, by the LLM layer and by the engine', () => {
    const rejected = new RejectedAnswerError('names no known lever');
    expect([rejected.errorClass, rejected.retryable, rejected.message]).toEqual(['rejected', true, 'names no known lever']);
    expect(isRetryable(rejected)).toBe(true);
  });
});

describe('parseJsonAnswer', () => {
  const schema = z.object({ title: z.string(), n: z.number().int() });

  it('reads plain, fenced and wrapped JSON', () => {
    expect(parseJsonAnswer('{"title":"a","n":1}', schema, answer)).toEqual({ title: 'a', n: 1 });
    expect(parseJsonAnswer('```json\n{"title":"a","n":1}\n```', schema, answer)).toEqual({ title: 'a', n: 1 });
    expect(parseJsonAnswer('Here you go: {"title":"a","n":1} hope it helps', schema, answer)).toEqual({ title: 'a', n: 1 });
    expect(extractJson('```\n[1,2]\n```')).toBe('[1,2]');
  });

  it('classifies invalid JSON, schema mismatches and refusals', () => {
    expect(() => parseJsonAnswer('{"title": "unterminated', schema, answer)).toThrow(InvalidJsonError);
    try {
      parseJsonAnswer('{"title": 3}', schema, answer);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(SchemaInvalidError);
      expect((error as Error).message).toMatch(/title: .*expected string/i);
      expect((error as Error).message).toMatch(/\bn: /);
    }
    expect(() => parseJsonAnswer("I'm sorry, but I can't help with that.", schema, answer)).toThrow(RefusalError);
    expect(() => parseJsonAnswer('I cannot assist with this request.', schema, answer)).toThrow(RefusalError);
  });

  it('writes short feedback for the next try', () => {
    const message = feedbackMessage('x'.repeat(5000));
    expect(message.length).toBeLessThan(1000);
    expect(message).toContain('Answer again');
    expect(message).toContain('JSON');
    expect(feedbackMessage('too long', false)).toBe('Your previous answer was rejected: too long. Answer again.');
  });
});

describe('backoff', () => {
  const policy = { baseDelayMs: 100, maxDelayMs: 1000 };
  it('uses full jitter under an exponential cap and honours Retry-After as a floor', () => {
    expect(backoffDelay(policy, 1, null, () => 0.999)).toBe(99);
    expect(backoffDelay(policy, 3, null, () => 0.5)).toBe(200);
    expect(backoffDelay(policy, 10, null, () => 0.999)).toBe(999);
    expect(backoffDelay(policy, 1, 5000, () => 0.5)).toBe(5000);
    expect(backoffDelay(policy, 1, null, () => 0)).toBe(0);
  });

  it('sleeps abortably', async () => {
    const controller = new AbortController();
    const pending = abortableSleep(10_000, controller.signal);
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(CancelledError);
    await expect(abortableSleep(1, new AbortController().signal)).resolves.toBeUndefined();
  });
});

describe('requestHash', () => {
  const base = {
    kind: 'json' as const,
    messages: [{ role: 'user' as const, content: 'hi' }],
    schemaName: 's',
    jsonSchema: { type: 'object' },
    itemKey: null,
    turn: null,
  };
  it('is stable under key order and changes with the request', () => {
    expect(canonicalJson({ b: 1, a: { d: 2, c: 3 } })).toBe('{"a":{"c":3,"d":2},"b":1}');
    expect(requestHash(base)).toBe(requestHash({ ...base }));
    expect(requestHash(base)).not.toBe(requestHash({ ...base, itemKey: 'x' }));
    expect(requestHash(base)).not.toBe(requestHash({ ...base, turn: 2 }));
    expect(requestHash(base)).not.toBe(requestHash({ ...base, kind: 'text' }));
  });
});
