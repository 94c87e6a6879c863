import type { ZodType } from 'zod';
import { InvalidJsonError, RefusalError, SchemaInvalidError, type FailedAnswer } from './errors.js';

/**
 * Turns a model's text into a validated value. Models often wrap JSON in ```json fences or add a sentence
 * around it; we take the JSON out rather than fail a call that answered well. The error messages are written
 * for the model: they are fed back to it on the next try.
 */

const MAX_ISSUES = 8;
const MAX_FEEDBACK_CHARS = 800;

/** Typical openings of a refusal; only consulted when JSON was required and none came. */
const REFUSAL = new RegExp(
  '^\\s*(' +
    [
      "i'?m sorry|i am sorry|sorry,? (but )?i",
      "i can(no|')?t (help|assist|comply|provide|do that)",
      "i'?m (not able|unable) to|i am (not able|unable) to",
      "i won'?t (be able to )?(help|assist|provide)",
    ].join('|') +
    ')',
  'i',
);

export function parseJsonAnswer<T>(text: string, schema: ZodType<T>, answer: FailedAnswer): T {
  const json = extractJson(text);
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (error) {
    if (REFUSAL.test(text)) throw new RefusalError(`the model refused: ${oneLine(text).slice(0, 200)}`, { answer });
    const reason = error instanceof Error ? error.message : String(error);
    throw new InvalidJsonError(`the answer is not valid JSON (${reason})`, { answer });
  }
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const where = (path: readonly PropertyKey[]): string => (path.length > 0 ? path.map(String).join('.') : '(root)');
  const issues = result.error.issues.slice(0, MAX_ISSUES).map((i) => `${where(i.path)}: ${i.message}`);
  const more = result.error.issues.length > MAX_ISSUES ? `; and ${result.error.issues.length - MAX_ISSUES} more` : '';
  throw new SchemaInvalidError(shorten(`the answer does not match the schema: ${issues.join('; ')}${more}`), { answer });
}

/** The JSON inside a fenced block, or from the first `{`/`[` to the last `}`/`]`, or the text as it is. */
export function extractJson(text: string): string {
  const fenced = /```(?:json|JSON)?\s*\n?([\s\S]*?)```/.exec(text);
  if (fenced?.[1] !== undefined) return fenced[1].trim();
  const trimmed = text.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) return trimmed;
  const start = trimmed.search(/[{[]/);
  const end = Math.max(trimmed.lastIndexOf('}'), trimmed.lastIndexOf(']'));
  return start >= 0 && end > start ? trimmed.slice(start, end + 1) : trimmed;
}

/** What the next try is told after a bad answer: the problem, briefly, and what to do instead. */
export function feedbackMessage(errorMessage: string, json = true): string {
  const instead = json ? 'Answer again with only the corrected JSON.' : 'Answer again.';
  return `Your previous answer was rejected: ${shorten(errorMessage)}. ${instead}`;
}

function shorten(text: string): string {
  const line = oneLine(text);
  return line.length > MAX_FEEDBACK_CHARS ? `${line.slice(0, MAX_FEEDBACK_CHARS)}…` : line;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
