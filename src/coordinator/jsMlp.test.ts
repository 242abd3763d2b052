import { beforeAll, describe, expect, it } from 'vitest';
import type { ImageDataset } from '../data/dataset.ts';
import { labelsOf, toFloatBatch } from '../data/dataset.ts';
import { loadFashionMnistFromDir } from '../data/fashionMnistNode.ts';
import { DEFAULT_MLP, initParameters, mlpLayout, type MlpSpec } from '../model/mlp.ts';
import { mlpForwardRef, mlpLossAndGradientRef, softmaxCrossEntropyRef } from '../model/reference.ts';
import { assertAllClose } from '../testing/allclose.ts';
import { Random } from '../util/random.ts';
import { JsMlp } from './jsMlp.ts';
import { TestEvaluator } from './evaluator.ts';

let fixture: { train: ImageDataset; test: ImageDataset };
beforeAll(async () => {
  fixture = await loadFashionMnistFromDir('test/fixtures/fashion-mnist-small');
});

/** A small random dataset with a given number of features and classes; some pixels are 0 on purpose. */
function syntheticDataset(count: number, features: number, classes: number, seed: number): ImageDataset {
  const rng = new Random(seed);
  const images = Uint8Array.from({ length: count * features }, () => (rng.next() < 0.4 ? 0 : rng.int(256)));
  const labels = Uint8Array.from({ length: count }, () => rng.int(classes));
  return { images, labels, count, features, classes };
}

/** Parameters with non-zero biases, so bias paths are exercised. */
function randomParams(spec: MlpSpec, seed: number): Float32Array {
  const layout = mlpLayout(spec);
  const p = initParameters(layout, seed);
  const rng = new Random(seed + 1);
  for (const b of layout.biases) for (let i = 0; i < b.length; i++) p[b.offset + i] = rng.uniform(-0.2, 0.2);
  return p;
}

describe('JsMlp against the f64 reference', () => {
  it('computes the logits of the Fashion-MNIST MLP (across a block boundary)', () => {
    const layout = mlpLayout(DEFAULT_MLP);
    const params = randomParams(DEFAULT_MLP, 3);
    const mlp = new JsMlp(layout, 32);
    const rows = 20;
    const start = 25;
    const indices = Array.from({ length: rows }, (_, i) => start + i);
    const ref = mlpForwardRef(layout, params, toFloatBatch(fixture.test, indices), rows);
    // Two calls on either side of nothing shared: the buffers must not leak between calls.
    mlp.logits(params, fixture.test, 0, 32);
    assertAllClose(mlp.logits(params, fixture.test, start, rows), ref.logits, 1e-4, 1e-4, 'logits');
  });

  it.each([
    ['relu', { widths: [12, 9, 7, 4], activation: 'relu' }],
    ['gelu', { widths: [12, 9, 7, 4], activation: 'gelu' }],
  ] as const)('matches loss, accuracy and gradient of a %s MLP, blocks of 8 over 21 scattered examples', (_name, spec) => {
    const layout = mlpLayout({ ...spec, widths: [...spec.widths] });
    const ds = syntheticDataset(50, 12, 4, 9);
    const params = randomParams({ ...spec, widths: [...spec.widths] }, 5);
    const indices = Uint32Array.from({ length: 21 }, (_, i) => (i * 7) % 50);
    const ref = mlpLossAndGradientRef(layout, params, toFloatBatch(ds, indices), labelsOf(ds, indices), indices.length);
    const gradient = new Float32Array(layout.total).fill(123); // stale contents must be overwritten
    const out = new JsMlp(layout, 8).lossAndGradient(params, ds, indices, gradient);
    expect(out.count).toBe(21);
    expect(out.correct).toBe(ref.correct);
    expect(out.loss).toBeCloseTo(ref.loss, 5);
    assertAllClose(gradient, ref.gradient, 1e-6, 1e-4, 'gradient');
  });

  it('matches the reference gradient of the Fashion-MNIST MLP on real examples', () => {
    const layout = mlpLayout(DEFAULT_MLP);
    const params = randomParams(DEFAULT_MLP, 11);
    const indices = Uint32Array.from({ length: 10 }, (_, i) => 3 + i * 97);
    const ref = mlpLossAndGradientRef(layout, params, toFloatBatch(fixture.train, indices), labelsOf(fixture.train, indices), indices.length);
    const gradient = new Float32Array(layout.total);
    const out = new JsMlp(layout, 4).lossAndGradient(params, fixture.train, indices, gradient);
    expect(out.loss).toBeCloseTo(ref.loss, 5);
    assertAllClose(gradient, ref.gradient, 1e-6, 1e-3, 'gradient');
  });

  it('evaluates loss and accuracy over a dataset prefix like the reference', () => {
    const spec: MlpSpec = { widths: [784, 16, 10], activation: 'relu' };
    const layout = mlpLayout(spec);
    const params = randomParams(spec, 21);
    const limit = 150;
    const indices = Array.from({ length: limit }, (_, i) => i);
    const ref = mlpForwardRef(layout, params, toFloatBatch(fixture.test, indices), limit);
    const ce = softmaxCrossEntropyRef(ref.logits, labelsOf(fixture.test, indices), limit, 10);
    const out = new TestEvaluator(layout, fixture.test, limit).evaluate(params);
    expect(out.count).toBe(limit);
    expect(out.accuracy).toBe(ce.correct / limit);
    expect(out.loss).toBeCloseTo(ce.loss, 5);
  });
});

describe('JsMlp input checks', () => {
  const layout = mlpLayout({ widths: [12, 5, 4], activation: 'relu' });
  const ds = syntheticDataset(10, 12, 4, 1);
  const params = initParameters(layout, 1);
  const mlp = new JsMlp(layout, 4);
  const gradient = new Float32Array(layout.total);

  it('names what is wrong', () => {
    expect(() => new JsMlp(layout, 0)).toThrow(/blockRows must be a positive integer/);
    expect(() => mlp.evaluate(new Float32Array(3), ds)).toThrow(/parameters must be a Float32Array of \d+ floats/);
    expect(() => mlp.evaluate(params, syntheticDataset(4, 13, 4, 1))).toThrow(/13 features per example, the model's input width is 12/);
    expect(() => mlp.evaluate(params, syntheticDataset(4, 12, 5, 1))).toThrow(/5 classes, the model has 4 outputs/);
    expect(() => mlp.evaluate(params, ds, 11)).toThrow(/limit must be an integer in \[1, 10\]/);
    expect(() => mlp.lossAndGradient(params, ds, [], gradient)).toThrow(/at least one example/);
    expect(() => mlp.lossAndGradient(params, ds, [0, 10], gradient)).toThrow(/example index 10 \(position 1\)/);
    expect(() => mlp.lossAndGradient(params, ds, [0], new Float32Array(5))).toThrow(/gradient has 5 floats/);
    expect(() => mlp.logits(params, ds, 8, 4)).toThrow(/rows \[8, 12\)/);
    expect(() => new TestEvaluator(layout, ds, 11)).toThrow(/asks for 11 test examples, the test set has 10/);
  });
});
