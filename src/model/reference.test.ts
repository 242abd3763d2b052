// Checks of the CPU reference against independent formulations: naive loops written another
// way, direct formulas, hand-computed optimizer steps and central finite differences.

import { describe, expect, it } from 'vitest';
import { Random } from '../util/random.ts';
import { mlpLayout, type Activation, type ParamLayout } from './mlp.ts';
import {
  activationBackwardRef,
  activationRef,
  adamwStepRef,
  addBiasRef,
  columnSumRef,
  gelu,
  geluGrad,
  globalNormRef,
  matmulRef,
  mlpForwardRef,
  mlpLossAndGradientRef,
  sgdMomentumStepRef,
  softmaxCrossEntropyRef,
  type AdamWHyper,
  type MatmulLayout,
} from './reference.ts';

/** |actual − expected| ≤ atol + rtol·|expected| elementwise, naming the worst index on failure. */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const allowed = atol + rtol * Math.abs(expected[i]);
    if (!(Math.abs(actual[i] - expected[i]) <= allowed)) {
      expect.fail(`[${i}]: got ${actual[i]}, expected ${expected[i]} (allowed ±${allowed.toExponential(2)})`);
    }
  }
}

/** Row-major rows × cols array → its transpose, as nested arrays. */
function toRows(flat: ArrayLike<number>, rows: number, cols: number): number[][] {
  return Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => flat[i * cols + j]));
}
function transpose(a: number[][]): number[][] {
  return a[0].map((_, j) => a.map((row) => row[j]));
}

describe('matmulRef', () => {
  // Independent: materialise op(A), op(B) as nested arrays, then accumulate row by row (i, p, j order).
  function naiveMatmul(a: Float32Array, b: Float32Array, m: number, n: number, k: number, layout: MatmulLayout): number[] {
    const A = layout === 'tn' ? transpose(toRows(a, k, m)) : toRows(a, m, k);
    const B = layout === 'nt' ? transpose(toRows(b, n, k)) : toRows(b, k, n);
    const C = Array.from({ length: m }, () => new Array<number>(n).fill(0));
    for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) C[i][j] += A[i][p] * B[p][j];
    return C.flat();
  }

  const sizes = [1, 7, 33];
  for (const layout of ['nn', 'nt', 'tn'] as const) {
    it(`matches a transposing triple loop in layout '${layout}' on every shape from {1, 7, 33}³`, () => {
      const rng = new Random(11);
      for (const m of sizes) for (const n of sizes) for (const k of sizes) {
        const a = rng.uniformArray(m * k);
        const b = rng.uniformArray(k * n);
        expectClose(matmulRef(a, b, m, n, k, layout), naiveMatmul(a, b, m, n, k, layout), 1e-12, 1e-12);
      }
    });
  }

  it('distinguishes layouts on a hand-computed 2×2 case', () => {
    const a = [1, 2, 3, 4];
    const b = [5, 6, 7, 8];
    expect(Array.from(matmulRef(a, b, 2, 2, 2, 'nn'))).toEqual([19, 22, 43, 50]);
    expect(Array.from(matmulRef(a, b, 2, 2, 2, 'nt'))).toEqual([17, 23, 39, 53]);
    expect(Array.from(matmulRef(a, b, 2, 2, 2, 'tn'))).toEqual([26, 30, 38, 44]);
  });

  it('accumulates in f64 (1 + 2⁻³⁰ is not representable in f32)', () => {
    const c = matmulRef(new Float32Array([1, 2 ** -30]), new Float32Array([1, 1]), 1, 1, 2, 'nn');
    expect(c[0]).toBe(1 + 2 ** -30);
  });
});

describe('addBiasRef and columnSumRef', () => {
  it('adds the bias to every row, and sums columns', () => {
    const z = [1, 2, 3, 4, 5, 6];
    expect(Array.from(addBiasRef(z, [10, 20, 30], 2, 3))).toEqual([11, 22, 33, 14, 25, 36]);
    expect(Array.from(columnSumRef(z, 2, 3))).toEqual([5, 7, 9]);
    expect(Array.from(columnSumRef(z, 3, 2))).toEqual([9, 12]);
  });
});

describe('activations', () => {
  // Abramowitz & Stegun 7.1.26, |error| < 1.5e-7: enough to compare GELU's tanh form with the exact one.
  function erf(x: number): number {
    const s = Math.sign(x);
    const ax = Math.abs(x);
    const t = 1 / (1 + 0.3275911 * ax);
    const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    return s * (1 - poly * Math.exp(-ax * ax));
  }

  it('gelu is the tanh approximation: pinned values, and within 5e-4 of the exact erf GELU', () => {
    expect(gelu(0)).toBe(0);
    expect(gelu(1)).toBeCloseTo(0.8411919906082768, 14);
    expect(gelu(-1)).toBeCloseTo(-0.15880800939172324, 14);
    for (let x = -8; x <= 8; x += 0.01) {
      expect(Math.abs(gelu(x) - 0.5 * x * (1 + erf(x / Math.SQRT2)))).toBeLessThan(5e-4);
    }
  });

  it('geluGrad matches central finite differences of gelu', () => {
    const h = 1e-5;
    for (let x = -7; x <= 7; x += 0.037) {
      const fd = (gelu(x + h) - gelu(x - h)) / (2 * h);
      expect(Math.abs(geluGrad(x) - fd)).toBeLessThan(1e-9 * (1 + Math.abs(fd)));
    }
  });

  it('gelu and geluGrad stay finite for huge |x|', () => {
    expect(gelu(1e200)).toBe(1e200);
    expect(Math.abs(gelu(-1e200))).toBe(0);
    expect(geluGrad(1e200)).toBe(1);
    expect(geluGrad(-1e200)).toBe(0);
    expect(geluGrad(-50)).toBe(0);
  });

  it('activationRef applies none, relu and gelu elementwise', () => {
    const z = new Float32Array([-2, -0.5, 0, 0.5, 3]);
    expect(Array.from(activationRef(z, 'none'))).toEqual([-2, -0.5, 0, 0.5, 3]);
    expect(Array.from(activationRef(z, 'relu'))).toEqual([0, 0, 0, 0.5, 3]);
    expect(Array.from(activationRef(z, 'gelu'))).toEqual(Array.from(z, gelu));
  });

  it('activationBackwardRef matches finite differences of Σ dh·act(z), away from ReLU\'s kink', () => {
    const rng = new Random(3);
    // Keep |z| ≥ 0.05 so a ±1e-5 step never crosses ReLU's kink at 0.
    const z = Float64Array.from({ length: 40 }, () => (rng.next() < 0.5 ? -1 : 1) * rng.uniform(0.05, 4));
    const dh = Float64Array.from({ length: 40 }, () => rng.uniform(-1, 1));
    const h = 1e-5;
    for (const act of ['none', 'relu', 'gelu'] as const) {
      const dz = activationBackwardRef(dh, z, act);
      for (let i = 0; i < z.length; i++) {
        const plus = activationRef([z[i] + h], act)[0];
        const minus = activationRef([z[i] - h], act)[0];
        expect(Math.abs(dz[i] - (dh[i] * (plus - minus)) / (2 * h))).toBeLessThan(1e-9);
      }
    }
  });

  it("takes ReLU's derivative as 0 at exactly z = 0", () => {
    expect(Array.from(activationBackwardRef([5, 5, 5], [-1, 0, 1], 'relu'))).toEqual([0, 0, 5]);
  });
});

describe('softmaxCrossEntropyRef', () => {
  it('matches −log(e^z_y / Σ e^z) row by row, and the mean', () => {
    const rng = new Random(5);
    const rows = 6;
    const classes = 4;
    const logits = rng.uniformArray(rows * classes, -3, 3);
    const labels = Int32Array.from({ length: rows }, () => rng.int(classes));
    const r = softmaxCrossEntropyRef(logits, labels, rows, classes);
    let mean = 0;
    for (let i = 0; i < rows; i++) {
      let denominator = 0;
      for (let c = 0; c < classes; c++) denominator += Math.exp(logits[i * classes + c]);
      const direct = -Math.log(Math.exp(logits[i * classes + labels[i]]) / denominator);
      expect(r.rowLoss[i]).toBeCloseTo(direct, 13);
      mean += direct / rows;
    }
    expect(r.loss).toBeCloseTo(mean, 13);
  });

  it('dlogits matches central finite differences of the mean loss', () => {
    const rng = new Random(6);
    const rows = 3;
    const classes = 5;
    const logits = Float64Array.from(rng.uniformArray(rows * classes, -2, 2));
    const labels = [4, 0, 2];
    const { dlogits } = softmaxCrossEntropyRef(logits, labels, rows, classes);
    const h = 1e-5;
    for (let i = 0; i < logits.length; i++) {
      const plus = logits.slice();
      const minus = logits.slice();
      plus[i] += h;
      minus[i] -= h;
      const fd = (softmaxCrossEntropyRef(plus, labels, rows, classes).loss - softmaxCrossEntropyRef(minus, labels, rows, classes).loss) / (2 * h);
      expect(Math.abs(dlogits[i] - fd)).toBeLessThan(1e-9);
    }
  });

  it('is stable for huge logits (±1e4) and shift invariant', () => {
    const logits = new Float32Array([1e4, 1e4 - 1, -1e4, -1e4, -1e4 + 2, -1e4 + 1]);
    const r = softmaxCrossEntropyRef(logits, [0, 2], 2, 3);
    // Row 0: log(1 + e^-1 + e^-20000); row 1: log(e^-2 + 1 + e^-1) − (−1).
    expect(r.rowLoss[0]).toBeCloseTo(Math.log(1 + Math.exp(-1)), 12);
    expect(r.rowLoss[1]).toBeCloseTo(Math.log(Math.exp(-2) + 1 + Math.exp(-1)) + 1, 12);
    for (const d of r.dlogits) expect(Number.isFinite(d)).toBe(true);
    const shifted = softmaxCrossEntropyRef([0, -1, -2e4, 0, 2, 1], [0, 2], 2, 3);
    expectClose(r.dlogits, shifted.dlogits, 1e-15, 1e-12);
    // Each row of softmax − onehot sums to zero.
    expect(Math.abs(r.dlogits[0] + r.dlogits[1] + r.dlogits[2])).toBeLessThan(1e-15);
  });

  it('counts correct rows by the first maximum on ties', () => {
    const logits = [1, 3, 3, /**/ 1, 3, 3, /**/ 2, 2, 2, /**/ 0, -1, 5];
    expect(softmaxCrossEntropyRef(logits, [1, 2, 0, 2], 4, 3).correct).toBe(3);
    expect(softmaxCrossEntropyRef(logits, [2, 1, 1, 0], 4, 3).correct).toBe(1);
  });
});

describe('optimizers', () => {
  it('globalNormRef is √(Σ g²)', () => {
    expect(globalNormRef([3, 4, 0])).toBe(5);
    expect(globalNormRef(new Float32Array([1, 1, 1, 1]))).toBe(2);
  });

  // Expected values computed by hand from the documented update (Python, f64).
  it('adamwStepRef: one step at t = 3, weight decay only below decayEnd', () => {
    const params = new Float32Array([0.5, -1.5, 2]);
    const m = new Float32Array([0.125, -0.25, 0.0625]);
    const v = new Float32Array([0.015625, 0.03125, 0.0078125]);
    const h: AdamWHyper = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, maxGradNorm: 0 };
    adamwStepRef(params, [0.25, -0.125, 0.5], m, v, 3, h, 2);
    expectClose(m, [0.1375, -0.2375, 0.10625], 0, 1e-7);
    expectClose(v, [0.015671875, 0.031234375, 0.0080546875], 0, 1e-7);
    expectClose(params, [0.4972812091317885, -1.495785303046221, 1.9976084539855838], 0, 1e-7);
    // The same step with decayEnd = 3 also decays index 2, by lr·wd·p = 0.01·0.1·2 more; indices 0 and 1 are unchanged.
    const decayedAll = new Float32Array([0.5, -1.5, 2]);
    adamwStepRef(decayedAll, [0.25, -0.125, 0.5], new Float32Array([0.125, -0.25, 0.0625]), new Float32Array([0.015625, 0.03125, 0.0078125]), 3, h, 3);
    expectClose(decayedAll, [params[0], params[1], 1.9976084539855838 - 0.002], 0, 1e-7);
  });

  it('adamwStepRef: clips the gradient to maxGradNorm first (‖[3, 4, 0]‖ = 5 → scale 1/5)', () => {
    const params = new Float32Array([1, -1, 0.5]);
    const m = new Float32Array([0.25, 0.25, 0.25]);
    const v = new Float32Array([0.0625, 0.0625, 0.0625]);
    const h: AdamWHyper = { lr: 0.001, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1 };
    adamwStepRef(params, [3, 4, 0], m, v, 2, h, 2);
    // m = 0.9·0.25 + 0.1·[0.6, 0.8, 0]
    expectClose(m, [0.285, 0.305, 0.225], 0, 1e-7);
    expectClose(v, [0.065475, 0.068275, 0.061875], 0, 1e-7);
    expectClose(params, [0.9991630484961554, -1.0008566463651287, 0.49932841985651927], 0, 1e-7);
  });

  it('adamwStepRef: no clipping when the norm is within maxGradNorm', () => {
    const run = (maxGradNorm: number) => {
      const m = new Float32Array(2);
      adamwStepRef(new Float32Array(2), [0.3, 0.4], m, new Float32Array(2), 1,
        { lr: 0.1, beta1: 0.5, beta2: 0.5, eps: 0, weightDecay: 0, maxGradNorm }, 0);
      return Array.from(m);
    };
    expectClose(run(0.5), [0.15, 0.2], 0, 1e-7); // ‖g‖ = 0.5, not above the limit
    expectClose(run(0.25), [0.075, 0.1], 0, 1e-7);
  });

  it('sgdMomentumStepRef: two steps by hand, weight decay only below decayEnd', () => {
    const params = new Float32Array([1, -2, 0.5]);
    const buf = new Float32Array(3);
    const h = { lr: 0.1, momentum: 0.9, weightDecay: 0.01, maxGradNorm: 0 };
    sgdMomentumStepRef(params, [0.5, 0.25, -1], buf, h, 2);
    // g' = [0.5 + 0.01·1, 0.25 + 0.01·(−2), −1]
    expectClose(buf, [0.51, 0.23, -1], 0, 1e-7);
    expectClose(params, [0.949, -2.023, 0.6], 0, 1e-7);
    sgdMomentumStepRef(params, [-0.25, 0.5, 0.5], buf, h, 2);
    // g' = [−0.25 + 0.00949, 0.5 − 0.02023, 0.5];  buf = 0.9·buf + g'
    expectClose(buf, [0.21849, 0.68677, -0.4], 0, 1e-6);
    expectClose(params, [0.927151, -2.091677, 0.64], 0, 1e-6);
  });

  it('sgdMomentumStepRef: clips before adding weight decay', () => {
    const params = new Float32Array([0, 0, 1]);
    sgdMomentumStepRef(params, [3, 4, 0], new Float32Array(3), { lr: 1, momentum: 0, weightDecay: 0.5, maxGradNorm: 2.5 }, 3);
    expectClose(params, [-1.5, -2, 0.5], 0, 1e-7);
  });
});

describe('MLP forward and gradient', () => {
  /** Random f64 parameters with non-zero biases; padding stays zero. */
  function randomParams(layout: ParamLayout, rng: Random): Float64Array {
    const params = new Float64Array(layout.total);
    for (const s of layout.segments) {
      const scale = s.kind === 'weight' ? 1 / Math.sqrt(s.rows) : 0.3;
      for (let i = 0; i < s.length; i++) params[s.offset + i] = scale * rng.normal();
    }
    return params;
  }

  function setup(activation: Activation, batch: number, seed: number) {
    const layout = mlpLayout({ widths: [5, 7, 4, 3], activation });
    const rng = new Random(seed);
    const params = randomParams(layout, rng);
    const x = Float64Array.from({ length: batch * 5 }, () => rng.normal());
    const labels = Int32Array.from({ length: batch }, () => rng.int(3));
    return { layout, params, x, labels };
  }

  it('forward matches a per-example loop over the flat layout', () => {
    for (const activation of ['relu', 'gelu'] as const) {
      const { layout, params, x } = setup(activation, 4, 21);
      const trace = mlpForwardRef(layout, params, x, 4);
      expect(trace.acts.length).toBe(4);
      expect(trace.preacts.length).toBe(3);
      expect(trace.logits).toBe(trace.acts[3]);
      const widths = layout.spec.widths;
      for (let b = 0; b < 4; b++) {
        let h = Array.from(x.subarray(b * 5, b * 5 + 5));
        for (let l = 0; l < 3; l++) {
          const W = layout.weights[l];
          const bias = layout.biases[l];
          const z = Array.from({ length: widths[l + 1] }, (_, j) =>
            h.reduce((s, hi, i) => s + hi * params[W.offset + i * W.cols + j], params[bias.offset + j]));
          h = l === 2 ? z : z.map((v) => (activation === 'relu' ? Math.max(v, 0) : gelu(v)));
        }
        expectClose(trace.logits.subarray(b * 3, b * 3 + 3), h, 1e-13, 1e-13);
      }
    }
  });

  // Central differences on every real parameter, all maths in f64.
  for (const activation of ['relu', 'gelu'] as const) {
    it(`gradient matches finite differences on every parameter (${activation})`, () => {
      const batch = 4;
      const { layout, params, x, labels } = setup(activation, batch, 31);
      // Put one first-layer preactivation 3e-6 from ReLU's kink, so the kink guard below is exercised.
      const z00 = mlpForwardRef(layout, params, x, batch).preacts[0][0];
      params[layout.biases[0].offset] += 3e-6 - z00;
      const { gradient } = mlpLossAndGradientRef(layout, params, x, labels, batch);
      const hidden = (p: Float64Array) => mlpForwardRef(layout, p, x, batch).preacts.slice(0, -1);
      const signs = (zs: Float64Array[]) => zs.map((z) => Array.from(z, (v) => v > 0).join()).join('|');
      const baseSigns = signs(hidden(params));
      const lossAt = (p: Float64Array) => softmaxCrossEntropyRef(mlpForwardRef(layout, p, x, batch).logits, labels, batch, 3).loss;
      const h = 1e-5;
      let checked = 0;
      let skipped = 0;
      let worst = 0;
      for (const s of layout.segments) {
        for (let i = s.offset; i < s.offset + s.length; i++) {
          const plus = params.slice();
          const minus = params.slice();
          plus[i] += h;
          minus[i] -= h;
          // A step that flips a ReLU preactivation's sign crosses a kink: the difference quotient is meaningless there.
          if (activation === 'relu' && (signs(hidden(plus)) !== baseSigns || signs(hidden(minus)) !== baseSigns)) {
            skipped++;
            continue;
          }
          const fd = (lossAt(plus) - lossAt(minus)) / (2 * h);
          // Relative error, with a floor so that gradients that are ~0 (dead ReLU units) compare absolutely.
          const rel = Math.abs(fd - gradient[i]) / Math.max(Math.abs(fd), Math.abs(gradient[i]), 1e-4);
          worst = Math.max(worst, rel);
          expect(rel, `${s.name}[${i - s.offset}]: analytic ${gradient[i]}, finite difference ${fd}`).toBeLessThan(1e-6);
          checked++;
        }
      }
      expect(checked + skipped).toBe(5 * 7 + 7 * 4 + 4 * 3 + 7 + 4 + 3);
      // Only the bias and weights feeding that one preactivation may cross the kink (bias, ≤ 5 weights).
      if (activation === 'relu') expect(skipped).toBeGreaterThanOrEqual(1);
      expect(skipped).toBeLessThanOrEqual(6);
      expect(worst).toBeLessThan(1e-6);
    });
  }

  it('leaves padding zero and takes the mean over the batch (= the average of per-example gradients)', () => {
    const batch = 4;
    const { layout, params, x, labels } = setup('gelu', batch, 41);
    const whole = mlpLossAndGradientRef(layout, params, x, labels, batch);
    const mean = new Float64Array(layout.total);
    let meanLoss = 0;
    let correct = 0;
    for (let b = 0; b < batch; b++) {
      const one = mlpLossAndGradientRef(layout, params, x.subarray(b * 5, b * 5 + 5), [labels[b]], 1);
      for (let i = 0; i < mean.length; i++) mean[i] += one.gradient[i] / batch;
      meanLoss += one.loss / batch;
      correct += one.correct;
    }
    expectClose(whole.gradient, mean, 1e-15, 1e-12);
    expect(whole.loss).toBeCloseTo(meanLoss, 13);
    expect(whole.correct).toBe(correct);
    const real = new Set<number>();
    for (const s of layout.segments) for (let i = 0; i < s.length; i++) real.add(s.offset + i);
    for (let i = 0; i < layout.total; i++) if (!real.has(i)) expect(whole.gradient[i]).toBe(0);
  });

  it('accepts Float32Array parameters and inputs', () => {
    const { layout, params, x, labels } = setup('relu', 2, 51);
    const r = mlpLossAndGradientRef(layout, Float32Array.from(params), Float32Array.from(x), Uint32Array.from(labels), 2);
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(r.gradient.length).toBe(layout.total);
  });
});

describe('bad inputs fail with a clear message', () => {
  const layout = mlpLayout({ widths: [5, 7, 4, 3], activation: 'relu' });
  const adamw: AdamWHyper = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, maxGradNorm: 0 };

  it('names the argument, the expected and the actual size', () => {
    expect(() => matmulRef(new Float32Array(5), new Float32Array(6), 2, 3, 2, 'nn')).toThrow(/matmulRef: a has 5 elements, expected m·k = 2·2 = 4/);
    expect(() => matmulRef(new Float32Array(4), new Float32Array(5), 2, 3, 2, 'nt')).toThrow(/matmulRef: b has 5 elements, expected n·k = 3·2 = 6/);
    expect(() => addBiasRef([1, 2, 3, 4], [1], 2, 2)).toThrow(/addBiasRef: bias has 1 elements, expected cols = 2/);
    expect(() => columnSumRef([1, 2, 3], 2, 2)).toThrow(/columnSumRef: dz has 3 elements/);
    expect(() => activationBackwardRef([1, 2], [1, 2, 3], 'relu')).toThrow(/dh has 2 elements, expected z.length = 3/);
    expect(() => softmaxCrossEntropyRef([1, 2, 3], [0], 1, 2)).toThrow(/logits has 3 elements, expected rows·classes = 1·2 = 2/);
    expect(() => softmaxCrossEntropyRef([1, 2], [0, 1], 1, 2)).toThrow(/labels has 2 elements, expected rows = 1/);
    expect(() => mlpForwardRef(layout, new Float32Array(layout.total - 1), new Float32Array(5), 1)).toThrow(
      new RegExp(`params has ${layout.total - 1} elements, expected layout.total = ${layout.total}`),
    );
    expect(() => mlpForwardRef(layout, new Float32Array(layout.total), new Float32Array(9), 2)).toThrow(/x has 9 elements, expected batch·widths\[0\] = 2·5 = 10/);
    expect(() => mlpLossAndGradientRef(layout, new Float32Array(layout.total), new Float32Array(5), [0, 1], 1)).toThrow(/labels has 2 elements/);
    expect(() => adamwStepRef(new Float32Array(3), [1, 2], new Float32Array(3), new Float32Array(3), 1, adamw, 0)).toThrow(/grads has 2 elements, expected params.length = 3/);
    expect(() => sgdMomentumStepRef(new Float32Array(3), [1, 2, 3], new Float32Array(2), { lr: 1, momentum: 0, weightDecay: 0, maxGradNorm: 0 }, 0)).toThrow(/buf has 2 elements/);
  });

  it('rejects bad dimensions, layouts, activations, labels, steps and hyperparameters', () => {
    expect(() => matmulRef([], [], 0, 1, 1, 'nn')).toThrow(/m must be a positive integer, got 0/);
    expect(() => matmulRef([1], [1], 1, 1.5, 1, 'nn')).toThrow(/n must be a positive integer/);
    expect(() => matmulRef([1], [1], 1, 1, 1, 'tt' as MatmulLayout)).toThrow(/layout must be 'nn', 'nt' or 'tn', got "tt"/);
    expect(() => activationRef([], 'tanh' as 'relu')).toThrow(/act must be 'none', 'relu' or 'gelu', got "tanh"/);
    expect(() => softmaxCrossEntropyRef([1, 2], [2], 1, 2)).toThrow(/labels\[0\] = 2 is not a class index in \[0, 2\)/);
    expect(() => softmaxCrossEntropyRef([1, 2], [0.5], 1, 2)).toThrow(/labels\[0\] = 0.5/);
    const p = () => new Float32Array(3);
    expect(() => adamwStepRef(p(), [0, 0, 0], p(), p(), 0, adamw, 0)).toThrow(/step t is 1-based/);
    expect(() => adamwStepRef(p(), [0, 0, 0], p(), p(), 1, adamw, 4)).toThrow(/decayEnd must be an integer in \[0, 3\]/);
    expect(() => adamwStepRef(p(), [0, 0, 0], p(), p(), 1, { ...adamw, beta2: 1 }, 0)).toThrow(/beta2 must be a number in/);
    expect(() => sgdMomentumStepRef(p(), [0, 0, 0], p(), { lr: Number.NaN, momentum: 0, weightDecay: 0, maxGradNorm: 0 }, 0)).toThrow(/lr must be a number/);
  });
});
