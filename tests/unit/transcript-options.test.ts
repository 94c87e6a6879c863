import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Completion, CompletionRequest, LlmClient, TextRequest } from '../../src/llm/types.js';
import { RejectedAnswerError } from '../../src/llm/errors.js';
import { converse } from '../../src/tasks/support/conversation.js';
import { lazySchema } from '../../src/tasks/support/lazy-schema.js';
import { Transcript } from '../../src/tasks/support/transcript.js';

/** Records what reaches the LLM client: the helpers must hand a task's per-call options over untouched. */
class RecordingLlm implements LlmClient {
  readonly offline = false;
  readonly requests: (CompletionRequest<unknown> | TextRequest)[] = [];

  async complete<T>(request: CompletionRequest<T>): Promise<Completion<T>> {
    this.requests.push(request as CompletionRequest<unknown>);
    const value = request.schema.parse({ answer: `answer ${this.requests.length}` });
    return { value, text: JSON.stringify(value), model: 'recorded', interactionId: this.requests.length, replayed: false };
  }

  async completeText(request: TextRequest): Promise<Completion<string>> {
    this.requests.push(request);
    return { value: 'text', text: 'text', model: 'recorded', interactionId: this.requests.length, replayed: false };
  }

  async reject(_completion: Completion<unknown>, reason: string): Promise<RejectedAnswerError> {
    return new RejectedAnswerError(reason);
  }
}

const Answer = lazySchema((z) => z.object({ answer: z.string() }));
const check = (value: { answer: string }): string | null => (value.answer.length > 0 ? null : 'empty');

describe('per-call options through the task helpers', () => {
  it('Transcript.ask hands model, temperature, check and maxOutputTokens to the client', async () => {
    const llm = new RecordingLlm();
    const transcript = new Transcript(llm);
    await transcript.ask({
      system: 's',
      user: 'u',
      schema: Answer,
      name: 'answer',
      model: 'openai:gpt-4o',
      temperature: 0.2,
      check,
      maxOutputTokens: 300,
    });
    await transcript.ask({ system: 's', user: 'u', schema: z.object({ answer: z.string() }), name: 'plain' });
    const [first, second] = llm.requests as CompletionRequest<unknown>[];
    expect(first).toMatchObject({ schemaName: 'answer', model: 'openai:gpt-4o', temperature: 0.2, maxOutputTokens: 300 });
    expect(first!.check).toBe(check);
    expect(second).not.toHaveProperty('model');
    expect(second).not.toHaveProperty('temperature');
    expect(second).not.toHaveProperty('check');
    // The transcript (the raw file) records prompts and answers, not the options.
    expect(transcript.calls[0]).toEqual({
      schema: 'answer',
      model: 'recorded',
      offline: false,
      messages: [
        { role: 'system', content: 's' },
        { role: 'user', content: 'u' },
      ],
      answer: { answer: 'answer 1' },
    });
  });

  it('askText and every turn of a conversation carry the options too', async () => {
    const llm = new RecordingLlm();
    const transcript = new Transcript(llm, 'item-1');
    await transcript.askText('s', 'u', 2, { model: ['ollama:llama3', 'offline'], temperature: 0 });
    expect(llm.requests[0]).toMatchObject({ model: ['ollama:llama3', 'offline'], temperature: 0, itemKey: 'item-1', turn: 2 });

    const answers = await converse(transcript, { system: 's', turns: ['q1', 'q2', 'q3'], schema: Answer, name: 'turns', check, temperature: 0.7 });
    expect(answers).toHaveLength(3);
    const turns = llm.requests.slice(1) as CompletionRequest<unknown>[];
    expect(turns.map((r) => [r.turn, r.temperature, r.check === check])).toEqual([
      [1, 0.7, true],
      [2, 0.7, true],
      [3, 0.7, true],
    ]);
    // The conversation grows: turn 3 sees both earlier questions and answers.
    expect(turns[2]!.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user', 'assistant', 'user']);
  });
});
