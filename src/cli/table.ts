import { terminalText } from './terminal-text.js';
import type { Style } from './output.js';

export interface Column {
  header: string;
  /** Numbers read best right-aligned. */
  align?: 'left' | 'right';
}

/**
 * Plain aligned columns, two spaces apart, header first. Cells are padded before they are styled, so colour
 * never throws the alignment off; the last left-aligned column is not padded (no trailing blanks).
 */
export function renderTable(columns: readonly Column[], givenRows: readonly (readonly string[])[], style?: Style): string {
  const rows = givenRows.map((row) => row.map(terminalText));
  const widths = columns.map((column, i) => Math.max(column.header.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    columns
      .map((column, i) => {
        const cell = cells[i] ?? '';
        if (column.align === 'right') return cell.padStart(widths[i]!);
        return i === columns.length - 1 ? cell : cell.padEnd(widths[i]!);
      })
      .join('  ');
  const header = line(columns.map((c) => c.header));
  return `${[style ? style.bold(header) : header, ...rows.map(line)].join('\n')}\n`;
}
