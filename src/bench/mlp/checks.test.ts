import { describe, expect, it } from 'vitest';
import type { BenchRow } from '../suite.ts';
import { mlpChecks } from './checks.ts';
import { READBACKS_NAME, SUBMITS_NAME } from './names.ts';

const count = (name: string, value: number): BenchRow => ({ suite: 'mlp', name, value, unit: 'count' });

describe('mlpChecks', () => {
  it('passes at most 2 submits and 1 readback, and fails above', () => {
    expect(mlpChecks([count(SUBMITS_NAME, 2), count(READBACKS_NAME, 1)])[0]).toMatchObject({ pass: true, detail: 'computeGradient of 128 examples: 2 submits, 1 readback' });
    expect(mlpChecks([count(SUBMITS_NAME, 3), count(READBACKS_NAME, 1)])[0].pass).toBe(false);
    expect(mlpChecks([count(SUBMITS_NAME, 1), count(READBACKS_NAME, 2)])[0].pass).toBe(false);
  });

  it('fails when a count was not measured', () => {
    expect(mlpChecks([count(SUBMITS_NAME, 1)])[0]).toMatchObject({ pass: false, detail: 'not measured: no readback count from computeGradient' });
  });
});
