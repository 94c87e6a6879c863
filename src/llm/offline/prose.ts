import type { SeededRandom } from './seeded-random.js';

/**
 * Text for the offline model: short sentences made of the request's own words, so the output looks related to
 * the prompt, and always marked so nobody mistakes it for a model's answer.
 */

export const OFFLINE_MARK = '[offline]';

const FALLBACK_WORDS = ['plan', 'task', 'step', 'goal', 'risk', 'team', 'budget', 'review', 'scope', 'result'];
const CONNECTORS = ['and', 'for', 'with', 'of', 'to', 'in'];
const STOP_WORDS = new Set(['the', 'and', 'for', 'with', 'that', 'this', 'from', 'are', 'was', 'you', 'your', 'json', 'schema', 'answer']);

/** Distinct plain words of the prompt, in order of first appearance (order matters for determinism). */
export function promptWords(text: string): string[] {
  const seen = new Set<string>();
  for (const raw of text.toLowerCase().match(/[\p{L}][\p{L}\p{N}'-]*/gu) ?? []) {
    const word = raw.replace(/['-]+$/, '');
    if (word.length >= 3 && word.length <= 24 && !STOP_WORDS.has(word)) seen.add(word);
    if (seen.size >= 400) break;
  }
  return seen.size >= 3 ? [...seen] : [...seen, ...FALLBACK_WORDS];
}

export function sentence(random: SeededRandom, words: readonly string[], minWords = 4, maxWords = 10): string {
  const count = Math.min(random.int(minWords, maxWords), Math.max(3, words.length));
  const chosen: string[] = [];
  for (let i = 0; i < count; i++) {
    // No word twice in a sentence when the prompt offers enough of them: "library library" reads as a bug.
    let word = random.pick(words);
    for (let retry = 0; retry < 8 && chosen.includes(word) && words.length >= count; retry++) word = random.pick(words);
    chosen.push(word);
    if (i < count - 1 && random.next() < 0.15) chosen.push(random.pick(CONNECTORS));
  }
  const text = chosen.join(' ');
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
}

/** A marked string whose length respects the schema's bounds (the mark itself is dropped if it cannot fit). */
export function offlineString(random: SeededRandom, words: readonly string[], minLength = 0, maxLength = Infinity): string {
  let text = `${OFFLINE_MARK} ${sentence(random, words)}`;
  while (text.length < minLength) text = `${text} ${sentence(random, words)}`;
  if (text.length > maxLength) text = text.slice(0, maxLength).trimEnd();
  while (text.length < minLength) text += 'x';
  return text;
}

/** A few paragraphs of prose for plain-text calls. */
export function offlineProse(random: SeededRandom, words: readonly string[]): string {
  const paragraphs: string[] = [];
  const count = random.int(2, 3);
  for (let p = 0; p < count; p++) {
    const sentences: string[] = [];
    for (let s = random.int(2, 4); s > 0; s--) sentences.push(sentence(random, words, 6, 14));
    paragraphs.push(sentences.join(' '));
  }
  return `${OFFLINE_MARK} ${paragraphs.join('\n\n')}`;
}
