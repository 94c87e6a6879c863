import { estimateTokens } from './provider.js';

/**
 * Reasoning models think before they answer, and servers hand the thinking back in one of several ways: a
 * `<think>…</think>` block (or `<thinking>`, `<reasoning>`) at the start of the content, a `reasoning_content`
 * or `reasoning` field beside it, or a `thinking` part of an array content. Left in, the thinking breaks JSON
 * extraction (its braces come first); it is taken out, and kept apart from the answer.
 */
export interface Reasoning {
  text: string | null;
  /** As the server counted them (`completion_tokens_details.reasoning_tokens`), else estimated from the text. */
  tokens: number | null;
}

const TAGS = 'think|thinking|reasoning';
/** A block at the start; one cut short (the answer ran out of tokens while thinking) runs to the end. */
const LEADING_BLOCK = new RegExp(`^\\s*<(${TAGS})>([\\s\\S]*?)(?:</\\1>|$)`, 'i');
/** Some chat templates open the block in the prompt: the content then holds only its end. */
const UNOPENED_BLOCK = new RegExp(`^([\\s\\S]*?)</(${TAGS})>`, 'i');
const OPENING_TAG = new RegExp(`<(${TAGS})>`, 'i');

/** The answer without its leading reasoning blocks, and what they said. */
export function splitReasoning(content: string): { answer: string; thoughts: string[] } {
  const thoughts: string[] = [];
  let rest = content;
  const unopened = UNOPENED_BLOCK.exec(rest);
  if (unopened && !OPENING_TAG.test(unopened[1]!)) {
    thoughts.push(unopened[1]!);
    rest = rest.slice(unopened[0].length);
  }
  for (let block = LEADING_BLOCK.exec(rest); block !== null; block = LEADING_BLOCK.exec(rest)) {
    thoughts.push(block[2]!);
    rest = rest.slice(block[0].length);
  }
  return thoughts.length === 0 ? { answer: content, thoughts } : { answer: rest.trim(), thoughts };
}

/** The assistant message's text and thinking, from a string content or an array of parts. */
export function readMessage(message: { content?: unknown; reasoning_content?: unknown; reasoning?: unknown } | undefined): {
  content: string;
  thoughts: string[];
} {
  const thoughts: string[] = [];
  for (const field of [message?.reasoning_content, message?.reasoning]) {
    if (typeof field === 'string' && field.trim() !== '') thoughts.push(field);
  }
  const content = message?.content;
  if (typeof content === 'string') return { content, thoughts };
  if (!Array.isArray(content)) return { content: '', thoughts };
  const texts: string[] = [];
  for (const part of content as unknown[]) {
    if (typeof part === 'string') texts.push(part);
    if (typeof part !== 'object' || part === null) continue;
    const { type, text, thinking, reasoning } = part as Record<string, unknown>;
    if (type === 'thinking' || type === 'reasoning') thoughts.push(partText(thinking ?? reasoning ?? text));
    else if (typeof text === 'string') texts.push(text);
  }
  return { content: texts.join(''), thoughts };
}

/** The reasoning of an answer, or undefined when the model did not reason (or said nothing about it). */
export function reasoningOf(thoughts: readonly string[], reportedTokens: unknown): Reasoning | undefined {
  const joined = thoughts
    .map((t) => t.trim())
    .filter((t) => t !== '')
    .join('\n\n');
  const text = joined === '' ? null : joined;
  const reported = typeof reportedTokens === 'number' && reportedTokens > 0 ? reportedTokens : null;
  if (text === null && reported === null) return undefined;
  return { text, tokens: reported ?? (text === null ? null : estimateTokens(text)) };
}

/** A thinking part's text: a string, or (Mistral) a list of text chunks. */
function partText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (!Array.isArray(value)) return '';
  return value.map((chunk) => (typeof chunk === 'object' && chunk !== null && typeof chunk.text === 'string' ? chunk.text : '')).join('');
}
