import { beforeAll, describe, expect, it } from 'vitest';
import { labelsOf, toFloatBatch, type ImageDataset } from '../data/dataset.ts';
import { loadFashionMnistFromDir } from '../data/fashionMnistNode.ts';
import { DEFAULT_ADAMW, type AdamWHyper, type SgdHyper } from '../kernels/optimizer.ts';
import { DEFAULT_MLP, initParameters, mlpLayout, type MlpSpec, type ParamLayout } from '../model/mlp.ts';
import { adamwStepRef, mlpLossAndGradientRef, sgdMomentumStepRef } from '../model/reference.ts';
import { Random } from '../util/random.ts';
import { resolveModel } from '../model/layers/spec.ts';
import { CpuKinkModel } from './kinkModel.ts';

const kinkModelOf = (layout: ParamLayout) => CpuKinkModel.create(resolveModel(layout.spec));
import { localStepsReference, resolveLocalStepsKinks } from './localStepsReference.ts';
import { relativeDistance } from './verification.ts';

const SMALL: MlpSpec = { widths: [12, 9, 7, 4], activation: 'relu' };
const HYPER: AdamWHyper = { ...DEFAULT_ADAMW, lr: 2e-3, weightDecay: 0.01 };
const SGD: SgdHyper = { kind: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 0.01, maxGradNorm: 1 };

/** A small random dataset; some pixels are 0 on purpose (their weight rows get no gradient). */
function syntheticDataset(count: number, features: number, classes: number, seed: number): ImageDataset {
  const rng = new Random(seed);
  const images = Uint8Array.from({ length: count * features }, () => (rng.next() < 0.4 ? 0 : rng.int(256)));
  const labels = Uint8Array.from({ length: count }, () => rng.int(classes));
  return { images, labels, count, features, classes };
}

const bits = (x: Float32Array) => new Uint32Array(x.buffer, x.byteOffset, x.length);

describe('localStepsReference', () => {
  const layout = mlpLayout(SMALL);
  const ds = syntheticDataset(60, 12, 4, 3);
  const start = initParameters(layout, 4);
  const indices = Uint32Array.from({ length: 23 }, (_, i) => (i * 7) % 60);

  it('with one inner batch is a single AdamW step from zero moments', async () => {
    const mlp = await kinkModelOf(layout);
    const batch = indices.subarray(0, 16);
    const gradient = new Float32Array(layout.total);
    const g = mlp.lossAndGradient(start, ds, batch, gradient);
    const after = start.slice();
    adamwStepRef(after, gradient, new Float32Array(layout.total), new Float32Array(layout.total), 1, HYPER, layout.decayEnd);
    const expected = start.map((p, i) => p - after[i]);

    const r = localStepsReference(mlp, ds, start, { indices: batch, innerBatch: 16, hyper: HYPER });
    expect(r.steps).toBe(1);
    expect(bits(r.delta)).toEqual(bits(expected));
    expect(r.loss).toBe(g.loss);
    expect(r.correct).toBe(g.correct);
  });

  it('matches a hand-composed loop on the f64 gradient: batches of 5, the last one of 3, moments carried, loss per example', async () => {
    const innerBatch = 5;
    const params = start.slice();
    const m = new Float32Array(layout.total);
    const v = new Float32Array(layout.total);
    let loss = 0;
    let correct = 0;
    for (let s = 0, at = 0; at < indices.length; s++, at += innerBatch) {
      const batch = indices.subarray(at, at + innerBatch);
      const ref = mlpLossAndGradientRef(layout, params, toFloatBatch(ds, batch), labelsOf(ds, batch), batch.length);
      loss += ref.loss * batch.length;
      correct += ref.correct;
      adamwStepRef(params, ref.gradient, m, v, s + 1, HYPER, layout.decayEnd);
    }
    const expected = start.map((p, i) => p - params[i]);

    const r = localStepsReference(await kinkModelOf(layout), ds, start, { indices, innerBatch, hyper: HYPER });
    expect(r.steps).toBe(5);
    // The CPU layer table's f32 gradient against the f64 one, through 5 steps.
    expect(relativeDistance(r.delta, expected)).toBeLessThan(1e-5);
    expect(r.loss).toBeCloseTo(loss / indices.length, 5);
    expect(r.correct).toBe(correct);
  });

  it('runs SGD with momentum the same way: the buffer from zero, carried across the lease\'s steps', async () => {
    const innerBatch = 8;
    const mlp = await kinkModelOf(layout);
    const params = start.slice();
    const buf = new Float32Array(layout.total);
    const gradient = new Float32Array(layout.total);
    for (let at = 0; at < indices.length; at += innerBatch) {
      mlp.lossAndGradient(params, ds, indices.subarray(at, at + innerBatch), gradient);
      sgdMomentumStepRef(params, gradient, buf, SGD, layout.decayEnd);
    }
    const r = localStepsReference(mlp, ds, start, { indices, innerBatch, hyper: SGD });
    expect(r.steps).toBe(3);
    expect(bits(r.delta)).toEqual(bits(start.map((p, i) => p - params[i])));
  });

  it('is deterministic and leaves the start parameters alone', async () => {
    const before = start.slice();
    const mlp = await kinkModelOf(layout);
    const a = localStepsReference(mlp, ds, start, { indices, innerBatch: 4, hyper: HYPER });
    const b = localStepsReference(mlp, ds, start, { indices, innerBatch: 4, hyper: HYPER });
    expect(bits(a.delta)).toEqual(bits(b.delta));
    expect(a.loss).toBe(b.loss);
    expect(bits(start)).toEqual(bits(before));
    // Δ moves, and other hyper-parameters move it elsewhere.
    const other = localStepsReference(mlp, ds, start, { indices, innerBatch: 4, hyper: { ...HYPER, lr: 1e-3 } });
    expect(relativeDistance(other.delta, a.delta)).toBeGreaterThan(0.1);
  });

  it('names what is wrong', async () => {
    const mlp = await kinkModelOf(layout);
    const work = { indices, innerBatch: 4, hyper: HYPER };
    expect(() => localStepsReference(mlp, ds, new Float32Array(3), work)).toThrow(/start parameters must be a Float32Array of \d+ floats/);
    expect(() => localStepsReference(mlp, ds, start, { ...work, indices: new Uint32Array(0) })).toThrow(/at least one example/);
    expect(() => localStepsReference(mlp, ds, start, { ...work, indices: [1, 2] as unknown as Uint32Array })).toThrow(/at least one example/);
    expect(() => localStepsReference(mlp, ds, start, { ...work, innerBatch: 0 })).toThrow(/innerBatch must be a positive integer, got 0/);
    expect(() => localStepsReference(mlp, ds, start, { ...work, hyper: { kind: 'adam' } as unknown as AdamWHyper })).toThrow(/run AdamW or SGD; got optimizer "adam"/);
    expect(() => localStepsReference(mlp, ds, start, { ...work, hyper: { ...HYPER, lr: Number.NaN } })).toThrow(/lr must be a number/);
    expect(() => localStepsReference(mlp, ds, start, { ...work, hyper: { ...SGD, momentum: 2 } })).toThrow(/momentum must be a number in \[0, 1\]/);
    expect(() => localStepsReference(mlp, ds, start, { ...work, indices: Uint32Array.of(0, 60) })).toThrow(/Example index 60 \(position 1\) is out of range: the train set has 60 examples/);
  });
});

describe('resolveLocalStepsKinks', () => {
  // A 3-2-2 ReLU net whose first hidden unit gets a pre-activation of exactly 0 on example 0 at
  // the first inner step: w = (1, −1, 0) on pixels (128, 128, 0). A claim that put that unit on
  // the other side there is honest, and every later step of it differs from the reference.
  const layout = mlpLayout({ widths: [3, 2, 2], activation: 'relu' });
  const params = new Float32Array(layout.total);
  const [w0, w1] = layout.weights;
  params.set([1, 0.5, -1, 0.25, 0, 0.75], w0.offset);
  params.set([0.5, -0.25, -0.75, 1], w1.offset);
  const train: ImageDataset = { images: Uint8Array.of(128, 128, 0, 10, 200, 30), labels: Uint8Array.of(1, 0), count: 2, features: 3, classes: 2 };
  const hyper: AdamWHyper = { ...DEFAULT_ADAMW, lr: 0.05 };
  const work = { indices: Uint32Array.of(0, 1, 1, 0, 0, 1), innerBatch: 2, hyper };
  let mlp: CpuKinkModel;
  beforeAll(async () => {
    mlp = await kinkModelOf(layout);
  });

  /** The lease by hand, with the kink unit forced active at the first step. */
  function otherSide(): Float32Array {
    const p = params.slice();
    const m = new Float32Array(layout.total);
    const v = new Float32Array(layout.total);
    const g = new Float32Array(layout.total);
    for (let s = 0; s < 3; s++) {
      const forced = s === 0 ? new Map([[mlp.kinkKey(0, 0, 0), true]]) : undefined;
      mlp.lossAndGradient(p, train, work.indices.subarray(2 * s, 2 * s + 2), g, forced);
      adamwStepRef(p, g, m, v, s + 1, hyper, layout.decayEnd);
    }
    return params.map((x, i) => x - p[i]);
  }

  it('finds the unit that took the other side at an inner step and replays the lease from there', () => {
    const claimed = otherSide();
    const reference = localStepsReference(mlp, train, params, work).delta;
    expect(relativeDistance(claimed, reference)).toBeGreaterThan(0.01);
    const r = resolveLocalStepsKinks(mlp, train, params, work, claimed);
    expect(r.distance).toBe(0);
    expect(r.kinks).toBeGreaterThanOrEqual(1);
    // Each replay goes through the claim's rounding before it is compared.
    const double = (x: Float32Array) => x.map((y) => 2 * y);
    expect(resolveLocalStepsKinks(mlp, train, params, work, double(claimed), { round: double }).distance).toBe(0);
    // With a tolerance it stops at the first replay within it.
    expect(resolveLocalStepsKinks(mlp, train, params, work, claimed, { tolerance: 1e-3 }).distance).toBeLessThanOrEqual(1e-3);
  });

  it('does not excuse a cheat', () => {
    const honest = localStepsReference(mlp, train, params, work).delta;
    for (const cheat of [honest.map((x) => 2 * x), honest.map((x) => -x), new Float32Array(layout.total).fill(0.01)]) {
      expect(resolveLocalStepsKinks(mlp, train, params, work, cheat).distance).toBeGreaterThan(0.1);
    }
  });
});

describe('localStepsReference on the Fashion-MNIST MLP', () => {
  let train: ImageDataset;
  beforeAll(async () => {
    ({ train } = await loadFashionMnistFromDir('test/fixtures/fashion-mnist-small'));
  });

  it('lowers the loss of the lease\'s own examples over 8 inner steps', async () => {
    const layout = mlpLayout(DEFAULT_MLP);
    const mlp = await kinkModelOf(layout);
    const start = initParameters(layout, 1);
    const indices = Uint32Array.from({ length: 8 * 32 }, (_, i) => i % train.count);
    const r = localStepsReference(mlp, train, start, { indices, innerBatch: 32, hyper: HYPER });
    expect(r.steps).toBe(8);
    const after = start.map((p, i) => p - r.delta[i]);
    const lossOf = (params: Float32Array) => mlp.lossAndGradient(params, train, indices, new Float32Array(layout.total)).loss;
    expect(lossOf(after)).toBeLessThan(lossOf(start) - 0.1);
  });
});
