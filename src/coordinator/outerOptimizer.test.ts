import { describe, expect, it } from 'vitest';
import { assertAllClose } from '../testing/allclose.ts';
import { seededRandom } from '../testing/cheats.ts';
import { OptimizerDivergedError } from './optimizerHost.ts';
import { OuterNesterov, type OuterState } from './outerOptimizer.ts';

const DILOCO = { lr: 0.7, momentum: 0.9 };
/** f32 storage after each step, compared with f64 numbers: a few ulps per step. */
const ATOL = 1e-6;
const RTOL = 1e-6;

function randomVector(rng: () => number, n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => (rng() * 2 - 1) * scale);
}

/** The raw bits, so equality means bit-identical (and -0 ≠ 0, NaN = NaN). */
const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

/** A checkpoint-like round trip: a JSON header and the f32 bytes, as checkpoint.ts stores arrays. */
function throughBytes(state: OuterState): OuterState {
  const header = new TextEncoder().encode(JSON.stringify({ steps: state.steps, length: state.momentum.length }));
  const bytes = new Uint8Array(4 + header.length + state.momentum.byteLength);
  new DataView(bytes.buffer).setUint32(0, header.length, true);
  bytes.set(header, 4);
  bytes.set(new Uint8Array(state.momentum.buffer, state.momentum.byteOffset, state.momentum.byteLength), 4 + header.length);
  const headerLength = new DataView(bytes.buffer).getUint32(0, true);
  const { steps, length } = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + headerLength)));
  const momentum = new Float32Array(bytes.slice(4 + headerLength, 4 + headerLength + 4 * length).buffer);
  return { momentum, steps };
}

describe('OuterNesterov', () => {
  it('matches a hand-computed 3-step Nesterov sequence (lr 0.7, momentum 0.9)', () => {
    // Expected values from v ← μ·v + Δ; θ ← θ − η·(Δ + μ·v), computed in f64 (python3 floats, no torch on
    // the machine). Step 1 by hand: v = 0.1, θ₀ = 1 − 0.7·(0.1 + 0.9·0.1) = 0.867.
    const params = Float32Array.from([1, -2, 0.5, 0]);
    const deltas = [
      [0.1, -0.2, 0.05, 0],
      [0.3, 0.1, -0.05, 1e-3],
      [-0.2, 0, 0.25, -1e-3],
    ];
    const expected = [
      { v: [0.1, -0.2, 0.05, 0], theta: [0.867, -1.734, 0.4335, 0] },
      { v: [0.39, -0.08, -0.005, 0.001], theta: [0.4113, -1.7536, 0.47165, -0.00133] },
      { v: [0.151, -0.072, 0.2455, -1e-4], theta: [0.45617, -1.70824, 0.141985, -0.000567] },
    ];
    const outer = new OuterNesterov(4, DILOCO);
    deltas.forEach((d, k) => {
      outer.step(params, Float32Array.from(d));
      assertAllClose(params, expected[k].theta, ATOL, RTOL, `params after step ${k + 1}`);
      assertAllClose(outer.state().momentum, expected[k].v, ATOL, RTOL, `momentum after step ${k + 1}`);
      expect(outer.stepCount).toBe(k + 1);
    });
  });

  it('with momentum 0 is plain SGD on the pseudo-gradient: θ ← θ − η·Δ', () => {
    const rng = seededRandom(7);
    const n = 257;
    const params = randomVector(rng, n);
    const plain = params.slice();
    const outer = new OuterNesterov(n, { lr: 0.7, momentum: 0 });
    for (let k = 0; k < 5; k++) {
      const delta = randomVector(rng, n, 0.01);
      outer.step(params, delta);
      for (let i = 0; i < n; i++) plain[i] = plain[i] - 0.7 * delta[i];
      expect(bits(params)).toEqual(bits(plain));
    }
  });

  it('continues bit-identically after its state goes through a checkpoint', () => {
    const rng = seededRandom(42);
    const n = 1000;
    const start = randomVector(rng, n);
    const deltas = Array.from({ length: 8 }, () => randomVector(rng, n, 0.05));

    const uninterrupted = start.slice();
    const a = new OuterNesterov(n, DILOCO);
    for (const d of deltas) a.step(uninterrupted, d);

    const resumed = start.slice();
    const before = new OuterNesterov(n, DILOCO);
    for (const d of deltas.slice(0, 3)) before.step(resumed, d);
    const saved = throughBytes(before.state());
    const viaConstructor = new OuterNesterov(n, DILOCO, saved);
    const viaRestore = new OuterNesterov(n, DILOCO);
    viaRestore.restore(saved);
    const resumedToo = resumed.slice();
    for (const d of deltas.slice(3)) {
      viaConstructor.step(resumed, d);
      viaRestore.step(resumedToo, d);
    }

    expect(bits(resumed)).toEqual(bits(uninterrupted));
    expect(bits(resumedToo)).toEqual(bits(uninterrupted));
    expect(bits(viaConstructor.state().momentum)).toEqual(bits(a.state().momentum));
    expect(viaConstructor.stepCount).toBe(8);
    expect(viaRestore.stepCount).toBe(8);
  });

  it('hands out and takes in copies, so a caller cannot change its momentum', () => {
    const outer = new OuterNesterov(2, DILOCO);
    outer.step(new Float32Array(2), Float32Array.from([1, 2]));
    outer.state().momentum.fill(99);
    expect(Array.from(outer.state().momentum)).toEqual([1, 2]);
    const given: OuterState = { momentum: Float32Array.from([3, 4]), steps: 5 };
    outer.restore(given);
    given.momentum.fill(99);
    expect(Array.from(outer.state().momentum)).toEqual([3, 4]);
  });

  describe('rejections change nothing', () => {
    /** An optimizer two steps in, its params, and a snapshot of both. */
    function twoStepsIn() {
      const rng = seededRandom(3);
      const n = 16;
      const outer = new OuterNesterov(n, DILOCO);
      const params = randomVector(rng, n);
      outer.step(params, randomVector(rng, n, 0.1));
      outer.step(params, randomVector(rng, n, 0.1));
      return { outer, params, n, paramsBefore: bits(params), stateBefore: bits(outer.state().momentum) };
    }
    function expectUntouched(t: ReturnType<typeof twoStepsIn>) {
      expect(bits(t.params)).toEqual(t.paramsBefore);
      expect(bits(t.outer.state().momentum)).toEqual(t.stateBefore);
      expect(t.outer.stepCount).toBe(2);
    }

    it('a pseudo-gradient of the wrong length', () => {
      const t = twoStepsIn();
      expect(() => t.outer.step(t.params, new Float32Array(t.n - 1))).toThrow(/pseudo-gradient has 15 floats, expected 16/);
      expectUntouched(t);
    });

    it('params of the wrong length', () => {
      const t = twoStepsIn();
      expect(() => t.outer.step(new Float32Array(t.n + 1), new Float32Array(t.n))).toThrow(/params has 17 floats, expected 16/);
      expectUntouched(t);
    });

    it.each([
      ['NaN', Number.NaN, /pseudo-gradient entry 5 is NaN/],
      ['+Infinity', Number.POSITIVE_INFINITY, /pseudo-gradient entry 5 is Infinity/],
      ['-Infinity', Number.NEGATIVE_INFINITY, /pseudo-gradient entry 5 is -Infinity/],
    ])('a pseudo-gradient holding %s (the first bad index is named)', (_what, value, pattern) => {
      const t = twoStepsIn();
      const delta = new Float32Array(t.n).fill(0.01);
      delta[5] = value;
      delta[9] = Number.NaN;
      expect(() => t.outer.step(t.params, delta)).toThrow(pattern);
      expectUntouched(t);
    });

    it('a step whose result overflows f32', () => {
      const t = twoStepsIn();
      const delta = new Float32Array(t.n);
      delta[7] = 3e38;
      expect(() => t.outer.step(t.params, delta)).toThrow(OptimizerDivergedError);
      expect(() => t.outer.step(t.params, delta)).toThrow(/would make parameter 7 -Infinity.*left at step 2/);
      expectUntouched(t);
    });

    it.each([
      ['a momentum buffer of the wrong length', { momentum: new Float32Array(15), steps: 2 }, /Float32Array of 16 floats .* got 15/],
      ['a momentum buffer that is not f32', { momentum: new Float64Array(16) as unknown as Float32Array, steps: 2 }, /Float32Array of 16 floats/],
      ['a fractional step count', { momentum: new Float32Array(16), steps: 1.5 }, /steps must be an integer ≥ 0, got 1.5/],
      ['a non-finite momentum', { momentum: Float32Array.from({ length: 16 }, (_, i) => (i === 4 ? Number.NaN : 0)), steps: 2 }, /momentum entry 4 is NaN/],
    ])('restoring %s', (_what, state, pattern) => {
      const t = twoStepsIn();
      expect(() => t.outer.restore(state)).toThrow(pattern);
      expect(() => new OuterNesterov(t.n, DILOCO, state)).toThrow(pattern);
      expectUntouched(t);
    });
  });

  it.each([
    [{ lr: 0, momentum: 0.9 }, /lr must be a finite number > 0, got 0/],
    [{ lr: Number.NaN, momentum: 0.9 }, /lr must be/],
    [{ lr: 0.7, momentum: 1 }, /momentum must be in \[0, 1\), got 1/],
    [{ lr: 0.7, momentum: -0.1 }, /momentum must be in/],
  ])('refuses hyperparameters %j', (hyper, pattern) => {
    expect(() => new OuterNesterov(4, hyper)).toThrow(pattern);
  });
});
