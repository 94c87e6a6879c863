/** Small builders for the markdown documents later prompts read. Model text goes in as it came. */

/** Text on one line (for headings, table cells, list items). */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

export function heading(level: number, text: string): string {
  return `${'#'.repeat(Math.min(6, Math.max(1, level)))} ${oneLine(text)}`;
}

export function bullets(items: readonly string[]): string {
  return items.length === 0 ? '- (none)' : items.map((item) => `- ${oneLine(item)}`).join('\n');
}

export function numbered(items: readonly string[]): string {
  return items.length === 0 ? '1. (none)' : items.map((item, i) => `${i + 1}. ${oneLine(item)}`).join('\n');
}

/** `**Label:** value` */
export function field(label: string, value: string | number | boolean): string {
  return `**${label}:** ${typeof value === 'string' ? value.trim() : String(value)}`;
}

export function table(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cell = (value: string | number): string => oneLine(String(value)).replace(/\|/g, '\\|');
  const line = (cells: readonly (string | number)[]): string => `| ${cells.map(cell).join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

/** A heading and its body blocks. */
export function section(level: number, title: string, ...blocks: Block[]): string {
  return doc(heading(level, title), ...blocks).trimEnd();
}

export type Block = string | false | null | undefined;

/** Joins the non-empty blocks with blank lines, ending with one newline. */
export function doc(...blocks: Block[]): string {
  return `${blocks.filter((b): b is string => typeof b === 'string' && b.trim() !== '').join('\n\n')}\n`;
}
