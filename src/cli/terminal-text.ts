/**
 * Text from prompts, model answers and file names, made safe to print in a terminal line or table: control
 * characters (ESC above all, which can recolour, move the cursor or retitle the window) and other C0/C1 codes
 * become visible escapes such as `\x1b`; a newline or tab becomes `\n` / `\t`, so one cell stays one line.
 */
export function terminalText(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (char) => ESCAPES[char] ?? `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

const ESCAPES: Record<string, string> = { '\n': '\\n', '\t': '\\t', '\r': '\\r' };
