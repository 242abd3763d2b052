// Checks a benchmarked product before its speed counts: a kernel that is fast because it
// skips work must fail. Every row and column sum of C is checked in O(N²) against float64
// sums, since rowsum(A·B)_i = Σ_p A_ip·rowsum(B)_p and colsum(A·B)_j = Σ_p colsum(A)_p·B_pj.
// The inputs are positive (benchInputs), so a skipped part of a sum cannot hide by cancelling.

import { Random } from '../../util/random.ts';

/**
 * Relative to Σ|terms|: float32 accumulation over k = 4096 is bounded by k·2⁻²⁴ ≈ 2.4e-4,
 * while a row missing one 4×4 block of a 2048-wide product is off by 2e-3.
 */
const RELATIVE_TOLERANCE = 1e-3;

/** Reproducible positive N×N inputs in [0.5, 1.5). */
export function benchInputs(n: number, seed = n): { a: Float32Array; b: Float32Array } {
  const rng = new Random(seed);
  const fill = (m: Float32Array) => {
    for (let i = 0; i < m.length; i++) m[i] = 0.5 + rng.next();
    return m;
  };
  return { a: fill(new Float32Array(n * n)), b: fill(new Float32Array(n * n)) };
}

/** Throws, naming the first wrong row or column, unless C = A·B for square N×N matrices. */
export function verifyMatmul(name: string, n: number, a: Float32Array, b: Float32Array, c: Float32Array): void {
  for (const [what, m] of [['A', a], ['B', b], ['C', c]] as const) {
    if (m.length < n * n) throw new Error(`${name}: ${what} has ${m.length} values, an N=${n} matrix needs ${n * n}`);
  }
  // Sums of B's rows and A's columns, plain and absolute (the scale of each check).
  const bRow = new Float64Array(n);
  const bRowAbs = new Float64Array(n);
  const aCol = new Float64Array(n);
  const aColAbs = new Float64Array(n);
  for (let p = 0; p < n; p++) {
    for (let j = 0; j < n; j++) {
      bRow[p] += b[p * n + j];
      bRowAbs[p] += Math.abs(b[p * n + j]);
    }
  }
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < n; p++) {
      aCol[p] += a[i * n + p];
      aColAbs[p] += Math.abs(a[i * n + p]);
    }
  }
  const cCol = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let expected = 0;
    let scale = 0;
    for (let p = 0; p < n; p++) {
      expected += a[i * n + p] * bRow[p];
      scale += Math.abs(a[i * n + p]) * bRowAbs[p];
    }
    let actual = 0;
    for (let j = 0; j < n; j++) {
      actual += c[i * n + j];
      cCol[j] += c[i * n + j];
    }
    assertClose(name, `row ${i}`, actual, expected, scale);
  }
  for (let j = 0; j < n; j++) {
    let expected = 0;
    let scale = 0;
    for (let p = 0; p < n; p++) {
      expected += aCol[p] * b[p * n + j];
      scale += aColAbs[p] * Math.abs(b[p * n + j]);
    }
    assertClose(name, `column ${j}`, cCol[j], expected, scale);
  }
}

function assertClose(name: string, where: string, actual: number, expected: number, scale: number): void {
  // `!(x <= tol)` also rejects NaN, which is what an unwritten output buffer holds here.
  if (!(Math.abs(actual - expected) <= RELATIVE_TOLERANCE * scale + 1e-6)) {
    throw new Error(
      `${name} computed a wrong product: the sum of C's ${where} is ${actual}, expected ${expected}. ` +
        'Its timing was discarded; run the kernel tests (npm run test:gpu) to find the fault.',
    );
  }
}
