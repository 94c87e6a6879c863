import type { ChatMessage } from '../../llm/types.js';
import type { SchemaLike } from './lazy-schema.js';
import type { AskOptions, Transcript } from './transcript.js';

export interface Conversation<T> extends AskOptions<T> {
  system: string;
  /** The user messages, one per turn, in order. Each turn sees every earlier question and answer. */
  turns: readonly string[];
  /** A zod schema, or a lazy one. */
  schema: SchemaLike<T>;
  name: string;
}

/** Runs one growing conversation, a turn at a time (numbered from 1), and returns the answers in order. */
export async function converse<T>(transcript: Transcript, conversation: Conversation<T>): Promise<T[]> {
  const { system, turns: _turns, schema: _schema, name: _name, ...options } = conversation;
  const messages: ChatMessage[] = [{ role: 'system', content: system }];
  const answers: T[] = [];
  for (const [index, user] of conversation.turns.entries()) {
    const recordFrom = index === 0 ? 0 : messages.length;
    messages.push({ role: 'user', content: user });
    // The check (and model, temperature) apply to every turn.
    const completion = await transcript.complete(messages, conversation.schema, conversation.name, { turn: index + 1, recordFrom }, options);
    messages.push({ role: 'assistant', content: completion.text });
    answers.push(completion.value);
  }
  return answers;
}
