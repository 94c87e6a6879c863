import type { AnswerCheck, CallOptions, ChatMessage, Completion, LlmClient } from '../../llm/types.js';
import { resolveSchema, type SchemaLike } from './lazy-schema.js';

/** One model call as kept in a `*_raw.json`: the prompts that produced the answer, and who answered. */
export interface RecordedCall {
  schema: string | null;
  itemKey?: string;
  turn?: number;
  model: string;
  offline: boolean;
  messages: ChatMessage[];
  answer: unknown;
}

/** What a task may set on each call it makes through a Transcript (see CallOptions and AnswerCheck). */
export interface AskOptions<T> extends CallOptions {
  /** The task's own test of the answer: null accepts it; a reason refuses it and the model is asked again. */
  check?: AnswerCheck<T>;
  maxOutputTokens?: number;
}

export interface AskRequest<T> extends AskOptions<T> {
  system: string;
  user: string;
  /** A zod schema, or a lazy one (built here, on first use). */
  schema: SchemaLike<T>;
  /** The schema's name sent to the model (letters, digits, underscores). */
  name: string;
  itemKey?: string;
}

/**
 * The calls a task (or one item of a per-item task) makes, in order. It is how every `*_raw.json` is
 * written: the structured response plus the prompts that produced it.
 */
export class Transcript {
  readonly calls: RecordedCall[] = [];

  constructor(
    private readonly llm: LlmClient,
    private readonly itemKey?: string,
  ) {}

  /** One structured call: a system prompt, a user message, a schema. */
  async ask<T>(request: AskRequest<T>): Promise<T> {
    const messages: ChatMessage[] = [
      { role: 'system', content: request.system },
      { role: 'user', content: request.user },
    ];
    const { system: _system, user: _user, schema, name, itemKey: ownKey, ...options } = request;
    const itemKey = ownKey ?? this.itemKey;
    return (await this.complete(messages, schema, name, itemKey === undefined ? {} : { itemKey }, options)).value;
  }

  /**
   * One structured call over a whole message list (used by conversations). Only the messages from
   * `recordFrom` on are kept in the transcript: a conversation's later turns record just their new question
   * (the earlier ones and their answers are already there), so the raw file does not repeat the context.
   */
  async complete<T>(
    messages: readonly ChatMessage[],
    schema: SchemaLike<T>,
    name: string,
    tags: { itemKey?: string; turn?: number; recordFrom?: number } = {},
    options: AskOptions<T> = {},
  ): Promise<Completion<T>> {
    const itemKey = tags.itemKey ?? this.itemKey;
    const sent = [...messages];
    const request = { ...options, messages: sent, schema: await resolveSchema(schema), schemaName: name, ...withKeys(itemKey, tags.turn) };
    const completion = await this.llm.complete(request);
    this.record(name, request.messages.slice(tags.recordFrom ?? 0), completion, itemKey, tags.turn);
    return completion;
  }

  /** One plain-text call. */
  async askText(system: string, user: string, turn?: number, options: AskOptions<string> = {}): Promise<string> {
    const messages: ChatMessage[] = [
      { role: 'system', content: system },
      { role: 'user', content: user },
    ];
    const completion = await this.llm.completeText({ ...options, messages, ...withKeys(this.itemKey, turn) });
    this.record(null, messages, completion, this.itemKey, turn);
    return completion.value;
  }

  /** The `*_raw.json` text: the response the task kept, and every call that led to it. */
  toJson(response: unknown): string {
    return rawJson(response, this.calls);
  }

  private record(
    schema: string | null,
    messages: ChatMessage[],
    completion: Completion<unknown>,
    itemKey: string | undefined,
    turn: number | undefined,
  ): void {
    this.calls.push({
      schema,
      ...withKeys(itemKey, turn),
      model: completion.model,
      offline: this.llm.offline,
      messages,
      answer: completion.value,
    });
  }
}

/** Raw JSON for a response made of several transcripts (e.g. the items of a per-item task, in item order). */
export function rawJson(response: unknown, calls: readonly RecordedCall[]): string {
  return `${JSON.stringify({ response, calls }, null, 2)}\n`;
}

function withKeys(itemKey: string | undefined, turn: number | undefined): { itemKey?: string; turn?: number } {
  return { ...(itemKey === undefined ? {} : { itemKey }), ...(turn === undefined ? {} : { turn }) };
}
