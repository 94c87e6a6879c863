export { toAttempt, toContentVersion, toInteraction, toRun, type Row } from '../rows.js';

/** Model text is stored as UTF-8 bytes (it may hold U+0000, which PostgreSQL's TEXT refuses). */
export function textBytes(text: string | null | undefined): Buffer | null {
  return text === null || text === undefined ? null : Buffer.from(text, 'utf8');
}

/** Text for a TEXT column (error messages): U+0000, which PostgreSQL refuses, is written as the escape `\u0000`. */
export function plainText(text: string | null | undefined): string | null {
  return text === null || text === undefined ? null : text.replaceAll('\u0000', '\\u0000');
}
