/**
 * What eipctl prints: aligned tables for people, JSON for scripts (`--output json`). Tables go to
 * stdout with one header line; missing values show as `-`.
 */
import type { Writable } from 'node:stream';

export type OutputFormat = 'table' | 'json';

export interface Column<T> {
  header: string;
  value: (row: T) => string | number | boolean | null | undefined;
}

export function renderTable<T>(columns: readonly Column<T>[], rows: readonly T[]): string {
  const cells = rows.map((row) => columns.map((c) => cellText(c.value(row))));
  const widths = columns.map((c, i) =>
    Math.max(c.header.length, ...cells.map((r) => (r[i] ?? '').length)),
  );
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[line(columns.map((c) => c.header)), ...cells.map(line)].join('\n')}\n`;
}

/** One row of a table whose columns have fixed widths, for output that streams (events --follow). */
export function fixedRow(values: readonly string[], widths: readonly number[]): string {
  return `${values
    .map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i] ?? 0)))
    .join('  ')
    .trimEnd()}\n`;
}

export function cellText(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined || value === '') return '-';
  return String(value);
}

export function writeJson(out: Writable, value: unknown): void {
  out.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function print<T>(
  out: Writable,
  format: OutputFormat,
  columns: readonly Column<T>[],
  rows: readonly T[],
  json: unknown = rows,
): void {
  if (format === 'json') writeJson(out, json);
  else out.write(renderTable(columns, rows));
}
