import { describe, expect, it } from 'vitest';
import { benchInputs, verifyMatmul } from './verify.ts';

function cpuMatmul(n: number, a: Float32Array, b: Float32Array): Float32Array {
  const c = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let p = 0; p < n; p++) for (let j = 0; j < n; j++) c[i * n + j] += a[i * n + p] * b[p * n + j];
  return c;
}

describe('verifyMatmul', () => {
  const n = 64;
  const { a, b } = benchInputs(n);
  const c = cpuMatmul(n, a, b);

  it('accepts a float32 product and gives reproducible positive inputs', () => {
    expect(() => verifyMatmul('cpu', n, a, b, c)).not.toThrow();
    expect(benchInputs(n).a).toEqual(a);
    expect(Math.min(...a)).toBeGreaterThanOrEqual(0.5);
    expect(Math.max(...b)).toBeLessThan(1.5);
  });

  it('rejects a product with a skipped 4×4 block, naming the row', () => {
    const bad = c.slice();
    for (let i = 8; i < 12; i++) for (let j = 20; j < 24; j++) bad[i * n + j] = 0;
    expect(() => verifyMatmul('tiled', n, a, b, bad)).toThrow(/tiled computed a wrong product: the sum of C's row 8 is/);
  });

  it('rejects an unwritten (NaN) element and a summand missing from one element', () => {
    const nan = c.slice();
    nan[5 * n + 63] = NaN;
    expect(() => verifyMatmul('k', n, a, b, nan)).toThrow(/row 5/);
    // Half of the k-sum missing from element (0, 0) of a 64-wide product: ~0.8% of row 0.
    const half = c.slice();
    let partial = 0;
    for (let p = 0; p < n / 2; p++) partial += a[p] * b[p * n];
    half[0] = partial;
    expect(() => verifyMatmul('k', n, a, b, half)).toThrow(/row 0/);
  });

  it('rejects arrays too short for N', () => {
    expect(() => verifyMatmul('k', n, a, b, c.subarray(0, 10))).toThrow(/C has 10 values, an N=64 matrix needs 4096/);
  });
});
