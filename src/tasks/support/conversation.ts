import type { ChatMessage, LlmClient } from '../../llm/types.js';
import type { SchemaLike } from './lazy-schema.js';
import { Transcript, type AskOptions, type RecordedCall } from './transcript.js';

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

/** One fixed question of a parallel conversation. */
export interface Question {
  /** Names its call (recorded as the interaction's item key), e.g. `question-3`. */
  key: string;
  /** The user message: the documents this question needs, then the question. */
  user: string;
}

export interface ParallelConversation<T> extends AskOptions<T> {
  /** The same on every call: the role and the base documents. */
  system: string;
  questions: readonly Question[];
  /** A zod schema, or a lazy one. */
  schema: SchemaLike<T>;
  name: string;
}

/**
 * Asks the questions of a conversation as separate calls on the same system prompt, all at once: the model-call
 * limiter bounds how many are in flight, and the LLM layer records each answer as it arrives. A call's request
 * holds its own question and no other answer, so it is the same on every attempt: the answers an interrupted
 * attempt already had are replayed by request hash, and only the missing questions are asked again. Every call
 * settles before a failure is passed on, so none is left in flight when the attempt ends. Answers and calls
 * come back in question order; the system prompt is recorded once, with the first question.
 */
export async function askEach<T>(llm: LlmClient, conversation: ParallelConversation<T>): Promise<{ answers: T[]; calls: RecordedCall[] }> {
  const { system, questions, schema, name, ...options } = conversation;
  const transcripts = questions.map((question) => new Transcript(llm, question.key));
  const settled = await Promise.allSettled(
    questions.map((question, index) =>
      transcripts[index]!.complete(
        [
          { role: 'system', content: system },
          { role: 'user', content: question.user },
        ],
        schema,
        name,
        { recordFrom: index === 0 ? 0 : 1 },
        options,
      ),
    ),
  );
  const answers: T[] = [];
  for (const result of settled) {
    if (result.status === 'rejected') throw result.reason;
    answers.push(result.value.value);
  }
  return { answers, calls: transcripts.flatMap((transcript) => transcript.calls) };
}
