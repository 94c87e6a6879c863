import type { ModelSpec } from '../model-spec.js';
import { parseModelSpec } from '../model-spec.js';
import { CancelledError } from '../errors.js';
import { canonicalJson } from '../request-hash.js';
import { SeededRandom } from '../offline/seeded-random.js';
import { offlineProse, promptWords } from '../offline/prose.js';
import { sampleJson } from '../offline/schema-sampler.js';
import { abortableSleep } from '../backoff.js';
import { estimateTokens, messagesChars } from './provider.js';
import type { Provider, ProviderRequest, ProviderResponse } from './provider.js';

/**
 * The model that needs no key and no network: every command works on a fresh machine. Its answer is a pure
 * function of the request (seeded by the messages' sha256), valid for the requested schema, and marked
 * `[offline]` so nobody mistakes it for a real model's work.
 */

export interface OfflineProviderOptions {
  /** Simulated thinking time, to exercise concurrency and progress views; 0 by default. */
  latencyMs?: number;
}

export class OfflineProvider implements Provider {
  readonly spec: ModelSpec = parseModelSpec('offline');

  constructor(private readonly options: OfflineProviderOptions = {}) {}

  async complete(request: ProviderRequest): Promise<ProviderResponse> {
    if (request.signal.aborted) throw new CancelledError('model call cancelled');
    if ((this.options.latencyMs ?? 0) > 0) await abortableSleep(this.options.latencyMs ?? 0, request.signal);
    const text = offlineAnswer(request);
    const inputTokens = estimateTokens(messagesChars(request.messages));
    const usage = { inputTokens, outputTokens: estimateTokens(text), estimated: true };
    return { text, answeredModel: 'offline', usage, httpStatus: null };
  }
}

/** The offline answer text for a request: JSON for the requested schema, or a few paragraphs of prose. */
export function offlineAnswer(request: Pick<ProviderRequest, 'messages' | 'json'>): string {
  const random = new SeededRandom(canonicalJson(request.messages));
  // The user's words make the text look like it belongs to the prompt; fall back to everything said.
  const userText = request.messages
    .filter((m) => m.role === 'user')
    .map((m) => m.content)
    .join('\n');
  const words = promptWords(userText.trim() === '' ? messagesChars(request.messages) : userText);
  if (request.json === null) return offlineProse(random, words);
  return JSON.stringify(sampleJson(request.json.schema, random, words), null, 2);
}
