// The results as tables, one per suite: a row per measured thing and a column per size where
// rows have sizes. The page renders this model as HTML; `npm run bench` prints textTable(),
// so the terminal and the page show the same table.

import type { BenchCheck, BenchRow, BenchSuite } from './suite.ts';

export interface TableCell {
  /** null when not measured (then `note` says why). */
  value: number | null;
  text: string;
  ms?: number;
  /** 1-based index into the table's notes. */
  note?: number;
}

export interface TableLine {
  name: string;
  unit: string;
  cells: TableCell[];
}

export interface SuiteTable {
  suite: string;
  title: string;
  /** Size columns ("N=256") when the suite's rows have sizes, else one "value" column and "ms". */
  columns: string[];
  sized: boolean;
  sizes: number[];
  lines: TableLine[];
  notes: string[];
}

type SuiteInfo = Pick<BenchSuite, 'id' | 'title' | 'sizeLabel'>;

export function formatValue(x: number): string {
  if (!Number.isFinite(x)) return '—';
  if (Number.isInteger(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toPrecision(3);
}

function cellFor(row: BenchRow | undefined, notes: string[], where: string): TableCell {
  if (!row) return { value: null, text: '' };
  if (row.skipped || !Number.isFinite(row.value)) {
    notes.push(`${where}: ${row.skipped ?? 'no value'}`);
    return { value: null, text: `— [${notes.length}]`, note: notes.length };
  }
  return { value: row.value, text: formatValue(row.value), ms: row.ms };
}

/** One table per suite that has rows, in the suites' order; rows of unknown suites last. */
export function buildSuiteTables(suites: SuiteInfo[], rows: BenchRow[]): SuiteTable[] {
  const known = new Set(suites.map((s) => s.id));
  const extra = [...new Set(rows.map((r) => r.suite).filter((id) => !known.has(id)))].map((id) => ({ id, title: id }));
  return [...suites, ...extra].flatMap((suite): SuiteTable[] => {
    const own = rows.filter((r) => r.suite === suite.id);
    if (own.length === 0) return [];
    const names = [...new Set(own.map((r) => r.name))];
    const sizes = [...new Set(own.flatMap((r) => (r.size === undefined ? [] : [r.size])))].sort((a, b) => a - b);
    const notes: string[] = [];
    const sized = sizes.length > 0;
    const label = ('sizeLabel' in suite && suite.sizeLabel) || 'size';
    const lines = names.map((name): TableLine => {
      const mine = own.filter((r) => r.name === name);
      const unit = mine.find((r) => !r.skipped)?.unit ?? mine[0].unit;
      if (!sized) {
        const row = mine[mine.length - 1];
        const cell = cellFor(row, notes, name);
        return { name, unit, cells: [cell, { value: row.ms ?? null, text: row.ms === undefined || cell.value === null ? '' : formatValue(row.ms) }] };
      }
      // A row without a size in a sized suite (a provider that failed to start) spans all sizes.
      const unsized = mine.find((r) => r.size === undefined);
      if (unsized) {
        const cell = cellFor(unsized, notes, name);
        return { name, unit, cells: sizes.map((_, i) => (i === 0 ? cell : { value: null, text: '—' })) };
      }
      return { name, unit, cells: sizes.map((s) => cellFor(mine.find((r) => r.size === s), notes, `${name} at ${label}=${s}`)) };
    });
    return [
      {
        suite: suite.id,
        title: suite.title,
        columns: sized ? sizes.map((s) => `${label}=${s}`) : ['value', 'ms'],
        sized,
        sizes,
        lines,
        notes,
      },
    ];
  });
}

/** Aligned plain text: names left, numbers right, notes under each table. */
export function textTable(table: SuiteTable): string {
  const header = ['', 'unit', ...table.columns];
  const body = table.lines.map((l) => [l.name, l.unit, ...l.cells.map((c) => c.text)]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : i === 1 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  return [
    table.title,
    line(header),
    ...body.map(line),
    ...table.notes.map((n, i) => `  [${i + 1}] ${n}`),
  ].join('\n');
}

export function textChecks(checks: BenchCheck[]): string {
  if (checks.length === 0) return 'Checks: none';
  return ['Checks', ...checks.map((c) => `${c.pass ? 'PASS' : 'FAIL'}  ${c.bar}\n      ${c.detail}`)].join('\n');
}

export function textReport(suites: SuiteInfo[], rows: BenchRow[], checks: BenchCheck[]): string {
  return [...buildSuiteTables(suites, rows).map(textTable), textChecks(checks)].join('\n\n');
}
