// The bar on the cost of one micro-batch, judged on the rows of one session.

import type { BenchCheck, BenchRow } from '../suite.ts';
import { MLP_BATCH, MLP_SUITE_ID, READBACKS_NAME, SUBMITS_NAME } from './names.ts';

export const MAX_SUBMITS = 2;
export const MAX_READBACKS = 1;

export function mlpChecks(rows: BenchRow[]): BenchCheck[] {
  const bar = `one micro-batch of ${MLP_BATCH} examples through forward+backward costs at most ${MAX_SUBMITS} GPU submits and ${MAX_READBACKS} readback`;
  const find = (name: string) => rows.find((r) => r.suite === MLP_SUITE_ID && r.name === name && !r.skipped && Number.isFinite(r.value));
  const submits = find(SUBMITS_NAME);
  const readbacks = find(READBACKS_NAME);
  if (!submits || !readbacks) {
    return [{ bar, pass: false, detail: `not measured: no ${!submits ? 'submit' : 'readback'} count from computeGradient` }];
  }
  return [
    {
      bar,
      pass: submits.value <= MAX_SUBMITS && readbacks.value <= MAX_READBACKS,
      detail: `computeGradient of ${MLP_BATCH} examples: ${submits.value} submit${submits.value === 1 ? '' : 's'}, ${readbacks.value} readback${readbacks.value === 1 ? '' : 's'}`,
    },
  ];
}
