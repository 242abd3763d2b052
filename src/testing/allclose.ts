// Tolerance comparison shared by the kernel tests: |actual − expected| ≤ atol + rtol·|expected|
// elementwise, reporting the worst element so a failure says where and by how much.

export interface CloseReport {
  ok: boolean;
  worstIndex: number;
  worstError: number;
  worstAllowed: number;
  mismatches: number;
}

export function compareClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number): CloseReport {
  if (actual.length !== expected.length) {
    throw new Error(`length mismatch: actual ${actual.length}, expected ${expected.length}`);
  }
  let worstIndex = -1;
  let worstRatio = -1;
  let mismatches = 0;
  for (let i = 0; i < expected.length; i++) {
    const allowed = atol + rtol * Math.abs(expected[i]);
    const error = Math.abs(actual[i] - expected[i]);
    // NaN compares false everywhere: count it as a mismatch explicitly.
    const bad = !(error <= allowed);
    if (bad) mismatches++;
    const ratio = Number.isNaN(error) ? Infinity : error / allowed;
    if (ratio > worstRatio) {
      worstRatio = ratio;
      worstIndex = i;
    }
  }
  const i = Math.max(worstIndex, 0);
  return {
    ok: mismatches === 0,
    worstIndex,
    worstError: Math.abs(actual[i] - expected[i]),
    worstAllowed: atol + rtol * Math.abs(expected[i]),
    mismatches,
  };
}

/** Throws with the worst element's position and values unless all are close. */
export function assertAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number, what = 'values'): void {
  const r = compareClose(actual, expected, atol, rtol);
  if (!r.ok) {
    const i = r.worstIndex;
    throw new Error(
      `${what}: ${r.mismatches}/${expected.length} elements differ beyond atol ${atol} + rtol ${rtol}·|ref|; ` +
        `worst at [${i}]: got ${actual[i]}, expected ${expected[i]} (error ${r.worstError.toExponential(3)}, allowed ${r.worstAllowed.toExponential(3)})`,
    );
  }
}
