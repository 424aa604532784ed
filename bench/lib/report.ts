/** The results table, the per-run details, and BENCHMARKS.md. */
import type { LoadResult } from './load.js';

export interface Goal {
  op: '>=' | '<=';
  value: number;
}

export interface Row {
  benchmark: string;
  measured: string;
  baseline: string;
  /** measured / baseline (for a latency, the slower over the faster as the goal states it). */
  ratio?: number;
  /** No goal: a figure reported for context (a ceiling, an extra line). */
  goal?: Goal;
}

/** One measured run, for the details table. */
export interface RunRecord {
  benchmark: string;
  label: string;
  result: LoadResult;
}

export function verdict(row: Row): 'pass' | 'FAIL' | '' {
  if (row.goal === undefined || row.ratio === undefined) return '';
  const ok = row.goal.op === '>=' ? row.ratio >= row.goal.value : row.ratio <= row.goal.value;
  return ok ? 'pass' : 'FAIL';
}

export function perSecond(value: number): string {
  return `${Math.round(value).toLocaleString('en-US')}/s`;
}

export function ms(us: number): string {
  const v = us / 1000;
  return `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)} ms`;
}

/** "1,234/s, p50 5.10 ms, p99 12.3 ms" */
export function throughput(result: LoadResult): string {
  return `${perSecond(result.perSecond)} (p50 ${ms(result.latency.quantileUs(0.5))}, p99 ${ms(result.latency.quantileUs(0.99))})`;
}

function goalText(goal: Goal | undefined): string {
  return goal === undefined ? '' : `${goal.op === '>=' ? '≥' : '≤'} ${goal.value}`;
}

function markdownTable(header: string[], rows: string[][]): string {
  const escapeCell = (cell: string) => cell.replace(/\|/g, '\\|');
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(escapeCell).join(' | ')} |`),
  ].join('\n');
}

const RESULT_HEADER = ['benchmark', 'measured', 'baseline', 'ratio', 'goal', 'result'];

function resultCells(r: Row): string[] {
  return [
    r.benchmark,
    r.measured,
    r.baseline,
    r.ratio === undefined ? '' : r.ratio.toFixed(2),
    goalText(r.goal),
    verdict(r),
  ];
}

export function resultsTable(rows: readonly Row[]): string {
  return markdownTable(RESULT_HEADER, rows.map(resultCells));
}

export function runsTable(runs: readonly RunRecord[]): string {
  const pct = (v: number) => `${Math.round(v)} %`;
  return markdownTable(
    [
      'bench',
      'run',
      'clients',
      'done/s',
      'p50',
      'p99',
      'errors',
      'CPU generator',
      'CPU server',
      'CPU PostgreSQL',
      'CPU others',
    ],
    runs.map(({ benchmark, label, result: r }) => [
      benchmark,
      label,
      String(r.concurrency),
      perSecond(r.perSecond),
      ms(r.latency.quantileUs(0.5)),
      ms(r.latency.quantileUs(0.99)),
      String(r.errors),
      pct(r.cpu.generator),
      pct(r.cpu.server),
      pct(r.cpu.postgres),
      pct(r.cpu.others),
    ]),
  );
}

/** A console rendering of the results table, aligned in columns. */
export function consoleTable(rows: readonly Row[]): string {
  const cells = [RESULT_HEADER, ...rows.map(resultCells)];
  const widths = cells[0]?.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  return cells
    .map((row) => row.map((cell, i) => cell.padEnd(widths?.[i] ?? 0)).join('  '))
    .join('\n');
}
