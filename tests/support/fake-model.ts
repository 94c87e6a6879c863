import { offlineAnswer } from '../../src/llm/index.js';
import type { FakeBehaviour, FakeRequest } from './fake-openai-server.js';

/**
 * A plausible model behind the fake server: answers any request with the offline model's deterministic,
 * schema-valid content for it (JSON when a schema was asked for, prose otherwise).
 */
export function offlineLikeAnswer(request: FakeRequest, usage = { prompt_tokens: 1000, completion_tokens: 200 }): FakeBehaviour {
  const format = request.body.response_format;
  const schema = format?.json_schema ? { name: format.json_schema.name, schema: format.json_schema.schema as Record<string, unknown> } : null;
  const messages = (request.body.messages ?? []).map((m) => ({ role: m.role as 'system' | 'user' | 'assistant', content: m.content }));
  return { kind: 'text', text: offlineAnswer({ messages, json: schema } as Parameters<typeof offlineAnswer>[0]), usage };
}
