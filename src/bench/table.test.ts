import { describe, expect, it } from 'vitest';
import type { BenchRow } from './suite.ts';
import { buildSuiteTables, formatValue, textChecks, textReport, textTable } from './table.ts';

const suites = [
  { id: 'matmul', title: 'Matmul', sizeLabel: 'N' },
  { id: 'mlp', title: 'MLP' },
];
const rows: BenchRow[] = [
  { suite: 'matmul', name: 'ours a', size: 256, value: 2.5, unit: 'GFLOP/s', ms: 13.4 },
  { suite: 'matmul', name: 'reference', size: 256, value: 0.0629, unit: 'GFLOP/s', ms: 533 },
  { suite: 'matmul', name: 'ours a', size: 2048, value: 3.91, unit: 'GFLOP/s', ms: 4400 },
  { suite: 'matmul', name: 'reference', size: 2048, value: NaN, unit: 'GFLOP/s', skipped: 'skipped: over the cap' },
  { suite: 'mlp', name: 'training', value: 1312.4, unit: 'examples/s', ms: 97.5 },
  { suite: 'mlp', name: 'submits', value: 1, unit: 'submits' },
];

describe('buildSuiteTables', () => {
  it('pivots sized rows into size columns, with skipped cells pointing at a note', () => {
    const [matmul, mlp] = buildSuiteTables(suites, rows);
    expect(matmul.columns).toEqual(['N=256', 'N=2048']);
    expect(matmul.lines.map((l) => [l.name, ...l.cells.map((c) => c.text)])).toEqual([
      ['ours a', '2.50', '3.91'],
      ['reference', '0.0629', '— [1]'],
    ]);
    expect(matmul.lines[1].cells[1]).toMatchObject({ value: null, note: 1 });
    expect(matmul.notes).toEqual(['reference at N=2048: skipped: over the cap']);
    expect(mlp.sized).toBe(false);
    expect(mlp.columns).toEqual(['value', 'ms']);
    expect(mlp.lines.map((l) => l.cells.map((c) => c.text))).toEqual([['1312', '97.5'], ['1', '']]);
  });

  it('leaves out suites without rows, and keeps rows of unregistered suites last', () => {
    const tables = buildSuiteTables(suites, [{ suite: 'later', name: 'x', value: 1, unit: 'u' }, rows[4]]);
    expect(tables.map((t) => t.suite)).toEqual(['mlp', 'later']);
  });
});

describe('text output', () => {
  it('aligns names left and numbers right, notes below', () => {
    const [matmul] = buildSuiteTables(suites, rows);
    expect(textTable(matmul).split('\n')).toEqual([
      'Matmul',
      '           unit      N=256  N=2048',
      'ours a     GFLOP/s    2.50    3.91',
      'reference  GFLOP/s  0.0629   — [1]',
      '  [1] reference at N=2048: skipped: over the cap',
    ]);
  });

  it('lists checks with PASS or FAIL and joins tables and checks', () => {
    const checks = [
      { bar: 'fast', pass: true, detail: '8×' },
      { bar: 'few submits', pass: false, detail: '3 submits' },
    ];
    expect(textChecks(checks)).toBe('Checks\nPASS  fast\n      8×\nFAIL  few submits\n      3 submits');
    expect(textReport(suites, rows, checks)).toMatch(/^Matmul\n[\s\S]*\n\nMLP\n[\s\S]*\n\nChecks\n/);
  });

  it('formats values to about three significant digits', () => {
    expect([1312.4, 97.54, 3.914, 0.06291, 2, NaN].map(formatValue)).toEqual(['1312', '97.5', '3.91', '0.0629', '2', '—']);
  });
});
