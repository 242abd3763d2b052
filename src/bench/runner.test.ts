import { describe, expect, it } from 'vitest';
import { runBench } from './runner.ts';
import type { BenchRow, BenchSuite } from './suite.ts';

const suite = (id: string, run: BenchSuite['run'], checks?: BenchSuite['checks']): BenchSuite => ({ id, title: `Suite ${id}`, run, checks });
const row = (s: string, value: number): BenchRow => ({ suite: s, name: 'x', value, unit: 'u' });

describe('runBench', () => {
  it('runs suites in order and judges every bar on the rows of all suites', async () => {
    const seen: string[] = [];
    const a = suite('a', async (ctx, emit) => {
      ctx.log('measuring a');
      emit(row('a', 1));
    }, (rows) => [{ bar: 'a and b measured', pass: rows.length === 2, detail: `${rows.length} rows` }]);
    const b = suite('b', async (_ctx, emit) => emit(row('b', 2)));
    const out = await runBench([a, b], { log: (m) => seen.push(m), row: (r) => seen.push(`row ${r.suite}`) });
    expect(out.rows.map((r) => r.suite)).toEqual(['a', 'b']);
    expect(out.checks).toEqual([{ bar: 'a and b measured', pass: true, detail: '2 rows' }]);
    expect(seen).toEqual(['── Suite a', 'measuring a', 'row a', '── Suite b', 'row b']);
  });

  it('turns a failing suite into a failed check and runs the next one, keeping the rows so far', async () => {
    const broken = suite('a', async (_ctx, emit) => {
      emit(row('a', 1));
      throw new Error('no adapter');
    });
    const fine = suite('b', async (_ctx, emit) => emit(row('b', 2)));
    const out = await runBench([broken, fine], { log: () => {}, row: () => {} });
    expect(out.rows).toHaveLength(2);
    expect(out.checks).toEqual([{ bar: 'Suite a: the suite runs to completion', pass: false, detail: 'no adapter' }]);
  });

  it('reports a check function that throws as a failed check', async () => {
    const s = suite('a', async () => {}, () => {
      throw new Error('bad rows');
    });
    const out = await runBench([s], { log: () => {}, row: () => {} });
    expect(out.checks).toEqual([{ bar: 'Suite a: its checks can be judged', pass: false, detail: 'bad rows' }]);
  });

  it('rejects rows for another suite and duplicate suite ids', async () => {
    const liar = suite('a', async (_ctx, emit) => emit(row('b', 1)));
    const out = await runBench([liar], { log: () => {}, row: () => {} });
    expect(out.checks[0].detail).toBe('Suite "a" emitted a row for suite "b"');
    await expect(runBench([liar, liar], { log: () => {}, row: () => {} })).rejects.toThrow(/share the id "a"/);
  });

  it('stops when aborted, with the abort reason', async () => {
    const abort = new AbortController();
    const s = suite('a', async (ctx) => {
      abort.abort(new Error('stopped from the page'));
      ctx.signal?.throwIfAborted();
    });
    const never = suite('b', async () => {
      throw new Error('must not run');
    });
    await expect(runBench([s, never], { log: () => {}, row: () => {} }, abort.signal)).rejects.toThrow('stopped from the page');
  });
});
