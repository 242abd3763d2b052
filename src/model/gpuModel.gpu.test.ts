// GpuModel (the WebGPU layer table) against the f64 layer table (src/model/layers/reference.ts)
// on small models built from the spec: an MLP, a CNN and a model with layernorm, gelu, residual
// blocks and dropout, at batch 1, 7 and 33, 1, 3 and 5 channels and sizes that are not tile
// multiples: loss, correct count, every gradient, evaluation and logits. Then the properties
// the backends rely on: bit-identical repeats, the dropout mask of the reference bit for bit,
// a training step as gradient + optimizer, torch's goldens, and GpuMlp's bits for the MLPs
// the jobs train today (what makes the swap safe).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomDataset, type ImageDataset } from '../data/dataset.ts';
import { GpuContext } from '../gpu/context.ts';
import { ComputeRecorder } from '../gpu/recorder.ts';
import { emptyBuffer, readFloats, upload } from '../gpu/transfer.ts';
import { floats } from '../kernels/common.ts';
import { DropoutOp, dropoutWords } from '../kernels/dropout.ts';
import { ActivationForwardOp } from '../kernels/elementwise.ts';
import { MATMUL_CONFIGS } from '../kernels/matmul.ts';
import type { AdamWHyper, SgdHyper } from '../kernels/optimizer.ts';
import { assertAllClose } from '../testing/allclose.ts';
import { assertBitIdentical } from '../testing/layerCases.ts';
import { Random } from '../util/random.ts';
import { fuseActivations } from './gpuLayers.ts';
import { GpuMlp, gradientFlops as mlpGradientFlops, uploadDataset, type ResidentDataset } from './gpuMlp.ts';
import { GpuModel, gradientFlops } from './gpuModel.ts';
import { dropoutKeeps, dropoutThreshold } from './layers/dropout.ts';
import { evaluate as evaluateRef, forward as forwardRef, forwardBackward } from './layers/reference.ts';
import { initModelParameters, parseModelSpec, resolveModel, type LayerModelSpec, type ModelSpec, type ResolvedModel } from './layers/spec.ts';
import { mlpLayout, type MlpSpec } from './mlp.ts';
import cnnGolden from '../../test/fixtures/torch-goldens/cnn.json';
import mlpGolden from '../../test/fixtures/torch-goldens/mlp.json';
import { adamwStepRef, gelu } from './reference.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await GpuContext.create();
});
afterAll(() => ctx?.destroy());

const CONFIG = MATMUL_CONFIGS[1];

function inputsOf(ds: ImageDataset, indices: Uint32Array): Float32Array {
  const x = new Float32Array(indices.length * ds.features);
  indices.forEach((e, r) => {
    for (let f = 0; f < ds.features; f++) x[r * ds.features + f] = ds.images[e * ds.features + f] / 255;
  });
  return x;
}

const labelsOf = (ds: ImageDataset, indices: Uint32Array) => Array.from(indices, (e) => ds.labels[e]);
const pick = (rng: Random, n: number, count: number) => Uint32Array.from({ length: n }, () => rng.int(count));

function setup(spec: ModelSpec, examples: number, seed: number) {
  const rng = new Random(seed);
  const model = resolveModel(spec);
  const params = initModelParameters(model, seed);
  // Non-trivial layernorm gains and shifts, so their gradients and the backward's γ are tested.
  for (const t of model.tensors) if (t.init.kind === 'constant') params.set(rng.uniformArray(t.length, -1, 1), t.offset);
  const ds = randomDataset(rng, examples, model.inputSize, model.classes);
  const gpu = new GpuModel(ctx, model, () => CONFIG);
  gpu.setParameters(params);
  const resident: ResidentDataset = uploadDataset(ctx, ds);
  return { rng, model, params, ds, gpu, resident };
}

/** One position per example and a seed, as a lease gives them. */
const dropoutFor = (rng: Random, batch: number) => ({ seed: rng.int(2 ** 31) * 2 + 1, positions: pick(rng, batch, 60_000) });

// ---------------------------------------------------------------------------------------
// The models

const MLP: LayerModelSpec = {
  input: [13],
  layers: [
    { kind: 'linear', outFeatures: 9 }, { kind: 'relu' },
    { kind: 'linear', outFeatures: 7 }, { kind: 'gelu' },
    { kind: 'linear', outFeatures: 5 }, { kind: 'softmax-cross-entropy' },
  ],
};

/** conv2d → relu → maxpool2d → conv2d → relu → avgpool2d → flatten → linear, on C channels of H×W. */
const cnn = (c: number, h: number, w: number, classes = 5): LayerModelSpec => ({
  input: [c, h, w],
  layers: [
    { kind: 'conv2d', outChannels: 6, kernel: 3, padding: 1 }, { kind: 'relu' },
    { kind: 'maxpool2d', kernel: 2 },
    { kind: 'conv2d', outChannels: 7, kernel: [3, 2], stride: [1, 2] }, { kind: 'relu' },
    { kind: 'avgpool2d', kernel: 2, stride: 1 },
    { kind: 'flatten' },
    { kind: 'linear', outFeatures: classes }, { kind: 'softmax-cross-entropy' },
  ],
});

/** layernorm, gelu, residual blocks (one first, so nothing before it needs dx) and two dropouts. */
const NORMED: LayerModelSpec = {
  input: [3, 5, 6],
  layers: [
    { kind: 'residual', layers: [{ kind: 'conv2d', outChannels: 3, kernel: 3, padding: 1 }, { kind: 'gelu' }] },
    { kind: 'layernorm' }, { kind: 'relu' },
    { kind: 'flatten' },
    { kind: 'linear', outFeatures: 19 }, { kind: 'layernorm', eps: 1e-3 }, { kind: 'gelu' },
    { kind: 'residual', layers: [{ kind: 'linear', outFeatures: 19 }, { kind: 'gelu' }, { kind: 'dropout', p: 0.3 }, { kind: 'linear', outFeatures: 19 }] },
    { kind: 'dropout', p: 0.2 },
    { kind: 'linear', outFeatures: 6 }, { kind: 'softmax-cross-entropy' },
  ],
};

/**
 * The walk's corners: a layer before any parameter (no backward), a branch ending in a view
 * (dropout p = 0 in training: its gradient is copied), a branch of views only, nested
 * residuals, pooling with odd strides, a fused linear inside a branch at the very start.
 */
const CORNERS: LayerModelSpec = {
  input: [2, 7, 8],
  layers: [
    { kind: 'relu' },
    { kind: 'maxpool2d', kernel: [3, 2], stride: [2, 3] },
    { kind: 'flatten' },
    { kind: 'residual', layers: [{ kind: 'linear', outFeatures: 18 }, { kind: 'relu' }, { kind: 'dropout', p: 0 }] },
    { kind: 'residual', layers: [{ kind: 'flatten' }] },
    { kind: 'residual', layers: [{ kind: 'residual', layers: [{ kind: 'linear', outFeatures: 18 }, { kind: 'gelu' }] }, { kind: 'layernorm' }] },
    { kind: 'dropout', p: 0 },
    { kind: 'linear', outFeatures: 4 }, { kind: 'softmax-cross-entropy' },
  ],
};

interface Case { name: string; spec: ModelSpec; atol: number; rtol: number; batches?: number[] }

const CASES: Case[] = [
  { name: 'MLP 13-9-7-5 relu/gelu', spec: MLP, atol: 2e-6, rtol: 2e-4 },
  { name: 'CNN 1×11×9', spec: cnn(1, 11, 9), atol: 1e-5, rtol: 1e-3 },
  { name: 'CNN 3×10×10', spec: cnn(3, 10, 10), atol: 1e-5, rtol: 1e-3 },
  { name: 'CNN 5×11×13', spec: cnn(5, 11, 13), atol: 1e-5, rtol: 1e-3 },
  { name: 'layernorm + gelu + residual + dropout', spec: NORMED, atol: 1e-5, rtol: 1e-3 },
  { name: 'corners of the walk', spec: CORNERS, atol: 1e-5, rtol: 1e-3 },
  // The size a Fashion-MNIST job would train: longer sums (5×5×8 taps, 64·14·14 rows).
  {
    name: 'CNN 1×28×28, 5×5 kernels',
    spec: {
      input: [1, 28, 28],
      layers: [
        { kind: 'conv2d', outChannels: 8, kernel: 5, padding: 2 }, { kind: 'relu' }, { kind: 'maxpool2d', kernel: 2 },
        { kind: 'conv2d', outChannels: 16, kernel: 5, padding: 2 }, { kind: 'relu' }, { kind: 'maxpool2d', kernel: 2 },
        { kind: 'flatten' }, { kind: 'linear', outFeatures: 10 }, { kind: 'softmax-cross-entropy' },
      ],
    },
    atol: 2e-5, rtol: 1e-3, batches: [64],
  },
];

describe('GpuModel against the f64 layer table', () => {
  for (const c of CASES) {
    const batches = c.batches ?? [1, 7, 33];
    it(`${c.name}: gradient, evaluate and logits at batch ${batches.join(', ')}`, async () => {
      const { rng, model, params, ds, gpu, resident } = setup(c.spec, 120, 7);
      const dropout = model.layers.some((l) => l.kind === 'residual' || l.kind === 'dropout');
      for (const batch of batches) {
        const indices = pick(rng, batch, ds.count);
        const x = inputsOf(ds, indices);
        const labels = labelsOf(ds, indices);
        const d = dropout ? dropoutFor(rng, batch) : undefined;
        const got = await gpu.gradient(resident, indices, d);
        const ref = forwardBackward(model, params, x, labels, d ? { dropout: d } : {});
        expect(Math.abs(got.loss - ref.loss)).toBeLessThan(1e-5 + 1e-5 * ref.loss);
        expect(got.correct).toBe(ref.correct);
        for (const t of model.tensors) {
          expect(ref.gradient.subarray(t.offset, t.offset + t.length).some((g) => g !== 0), `${t.name} has a gradient`).toBe(true);
          assertAllClose(got.gradient.subarray(t.offset, t.offset + t.length), ref.gradient.subarray(t.offset, t.offset + t.length), c.atol, c.rtol, `${t.name}, batch ${batch}`);
        }
        // Padding between tensors stays zero.
        let padding = 0;
        const real = new Uint8Array(model.total);
        for (const t of model.tensors) real.fill(1, t.offset, t.offset + t.length);
        got.gradient.forEach((g, i) => (padding += real[i] ? 0 : Math.abs(g)));
        expect(padding).toBe(0);

        const evaluation = await gpu.evaluate(resident, indices);
        const evalRef = evaluateRef(model, params, x, labels);
        expect(evaluation.count).toBe(batch);
        expect(Math.abs(evaluation.lossSum / batch - evalRef.loss)).toBeLessThan(1e-5 + 1e-5 * evalRef.loss);
        expect(evaluation.correct).toBe(evalRef.correct);

        const raw = rng.uniformArray(batch * model.inputSize, 0, 1);
        assertAllClose(await gpu.logits(raw, batch), forwardRef(model, params, raw, batch), c.atol, c.rtol, `logits, batch ${batch}`);
      }
      expect(ctx.takeUncapturedErrors()).toEqual([]);
      gpu.destroy();
    });
  }
});

describe('fusion is a rule over the list', () => {
  it('folds a linear followed by relu/gelu into one unit, nothing else', () => {
    const units = (spec: LayerModelSpec) => fuseActivations(resolveModel(spec).layers).map((u) => `${u.layer.kind}${u.fused ? '+' + u.fused : ''}`);
    expect(units(MLP)).toEqual(['linear+relu', 'linear+gelu', 'linear', 'softmax-cross-entropy']);
    expect(units(cnn(1, 8, 8))).toEqual(['conv2d', 'relu', 'maxpool2d', 'conv2d', 'relu', 'avgpool2d', 'flatten', 'linear', 'softmax-cross-entropy']);
    expect(units(NORMED).slice(4, 7)).toEqual(['linear', 'layernorm', 'gelu']);
  });
});

describe('the activation forward kernel (an activation no matmul epilogue absorbs)', () => {
  for (const act of ['relu', 'gelu'] as const) {
    it(`${act} on counts that are not multiples of 4, large |x| included`, async () => {
      const rng = new Random(act.length);
      for (const count of [1, 7, 33, 1001]) {
        const x = rng.uniformArray(count, act === 'gelu' ? -60 : -3, act === 'gelu' ? 60 : 3);
        const op = await ActivationForwardOp.create(ctx, act, count);
        const X = upload(ctx, x), Y = emptyBuffer(ctx, count);
        const rec = new ComputeRecorder(ctx);
        op.encode(rec, { x: floats(X, 0, count), y: floats(Y, 0, count) });
        await rec.finish();
        const expected = Array.from(x, (v) => (act === 'relu' ? Math.max(v, 0) : gelu(v)));
        assertAllClose(await readFloats(ctx, Y, count), expected, 1e-6, 1e-5, `${act} forward, ${count}`);
        op.destroy();
      }
      expect(ctx.takeUncapturedErrors()).toEqual([]);
    });
  }
});

describe('determinism and dropout', () => {
  it('the same micro-batch twice gives bit-identical loss and gradient (CNN, and layernorm/residual/dropout)', async () => {
    for (const spec of [cnn(3, 10, 10), NORMED]) {
      const { rng, ds, gpu, resident } = setup(spec, 200, 5);
      const indices = pick(rng, 33, ds.count);
      const d = dropoutFor(rng, 33);
      const first = await gpu.gradient(resident, indices, d);
      await gpu.gradient(resident, pick(rng, 7, ds.count), dropoutFor(rng, 7)); // other work in between
      const second = await gpu.gradient(resident, indices, d);
      expect(second.loss).toBe(first.loss);
      assertBitIdentical(second.gradient, first.gradient, 'gradient repeat');
      gpu.destroy();
    }
  });

  it('cut into one submit per dispatch by a tiny budget, and with overlapping calls, the bits stay the same', async () => {
    const { rng, model, params, ds, gpu, resident } = setup(NORMED, 100, 23);
    const sliced = new GpuModel(ctx, model, () => CONFIG, { maxSubmitMs: 1e-6, flopsPerMs: 1 });
    sliced.setParameters(params);
    const [i1, i2] = [pick(rng, 9, ds.count), pick(rng, 9, ds.count)];
    const [d1, d2] = [dropoutFor(rng, 9), dropoutFor(rng, 9)];
    const whole = await gpu.gradient(resident, i1, d1);
    const cut = await sliced.gradient(resident, i1, d1);
    expect(cut.submits).toBeGreaterThan(20);
    assertBitIdentical(cut.gradient, whole.gradient, 'gradient over many submits');
    // Two calls in flight on one plan (a contributor's two leases): each gets its own inputs.
    const alone2 = await gpu.gradient(resident, i2, d2);
    const [a, b] = await Promise.all([gpu.gradient(resident, i1, d1), gpu.gradient(resident, i2, d2)]);
    assertBitIdentical(a.gradient, whole.gradient, 'first of two overlapping calls');
    assertBitIdentical(b.gradient, alone2.gradient, 'second of two overlapping calls');
    gpu.destroy();
    sliced.destroy();
  });

  it('a plan evicted from the cache (more than 6 batch sizes) is rebuilt and gives the same bits', async () => {
    const { rng, ds, gpu, resident } = setup(cnn(1, 11, 9), 100, 31);
    const indices = pick(rng, 5, ds.count);
    const first = await gpu.gradient(resident, indices);
    for (const batch of [1, 2, 3, 4, 6, 7, 8]) await gpu.gradient(resident, pick(rng, batch, ds.count));
    const again = await gpu.gradient(resident, indices);
    assertBitIdentical(again.gradient, first.gradient, 'gradient after the plan was evicted');
    expect(ctx.takeUncapturedErrors()).toEqual([]);
    gpu.destroy();
  });

  it('the dropout kernel keeps exactly the units the reference keeps (its backward is the same kernel on dy)', async () => {
    for (const [rows, features, p, ordinal] of [[1, 5, 0.5, 0], [7, 33, 0.3, 4], [33, 100, 0.9, 11], [3, 64, 0.5, 2 ** 32 - 1]] as const) {
      const rng = new Random(rows * 100 + features);
      // The u32 range's ends too: the additions and multiplies wrap as Math.imul's do.
      const seed = rows === 1 ? 2 ** 32 - 1 : rng.int(2 ** 31) * 2 + 1;
      const positions = rows === 1 ? Uint32Array.of(2 ** 32 - 1) : pick(rng, rows, 2 ** 31).map((v, i) => (i === 0 ? 0 : v * 2 + 1));
      const op = await DropoutOp.create(ctx, { rows, features, ordinal, p });
      const count = rows * features;
      const x = rng.uniformArray(count, 0.5, 2);
      const X = upload(ctx, x), R = upload(ctx, dropoutWords(seed, positions)), Y = emptyBuffer(ctx, count);
      const rec = new ComputeRecorder(ctx);
      op.encode(rec, { x: floats(X, 0, count), randomness: floats(R, 0, 1 + rows), y: floats(Y, 0, count) });
      await rec.finish();
      const y = await readFloats(ctx, Y, count);
      const threshold = dropoutThreshold(p);
      const scale = Math.fround(1 / (1 - p));
      let kept = 0;
      for (let n = 0; n < rows; n++) {
        for (let u = 0; u < features; u++) {
          const i = n * features + u;
          const keep = dropoutKeeps(seed, positions[n], ordinal, u, threshold);
          expect(y[i], `unit ${u} of row ${n}`).toBe(keep ? Math.fround(x[i] * scale) : 0);
          kept += keep ? 1 : 0;
        }
      }
      // The mask is random, not all or nothing.
      if (count > 100) expect(Math.abs(kept / count - (1 - p))).toBeLessThan(0.1);
      op.destroy();
    }
    expect(ctx.takeUncapturedErrors()).toEqual([]);
  });

  it('another seed or other positions draw another mask; evaluation ignores dropout', async () => {
    const { rng, ds, gpu, resident, model, params } = setup(NORMED, 100, 21);
    const indices = pick(rng, 7, ds.count);
    const d = dropoutFor(rng, 7);
    const base = await gpu.gradient(resident, indices, d);
    const reseeded = await gpu.gradient(resident, indices, { seed: d.seed + 2, positions: d.positions });
    const moved = await gpu.gradient(resident, indices, { seed: d.seed, positions: d.positions.map((p) => p + 1) });
    expect(reseeded.loss).not.toBe(base.loss);
    expect(moved.loss).not.toBe(base.loss);
    const evaluation = await gpu.evaluate(resident, indices);
    const ref = evaluateRef(model, params, inputsOf(ds, indices), labelsOf(ds, indices));
    expect(Math.abs(evaluation.lossSum / 7 - ref.loss)).toBeLessThan(1e-5);
    gpu.destroy();
  });
});

describe('training step', () => {
  it('trainStep is gradient + optimizerStep bit for bit, and AdamW as the reference applies it', async () => {
    const spec = cnn(3, 10, 10);
    const a = setup(spec, 150, 13);
    const b = setup(spec, 150, 13);
    const hyper: AdamWHyper = { kind: 'adamw', lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1 };
    const { model } = a;
    const m = new Float32Array(model.total), v = new Float32Array(model.total);
    const expected = a.params.slice();
    for (let t = 1; t <= 3; t++) {
      const indices = pick(a.rng, 32, a.ds.count);
      b.rng.int(1); // keep nothing shared but the seed
      const ref = forwardBackward(model, expected, inputsOf(a.ds, indices), labelsOf(a.ds, indices));
      const step = await a.gpu.trainStep(a.resident, indices, hyper, t);
      expect(Math.abs(step.loss - ref.loss)).toBeLessThan(1e-5 + 1e-5 * ref.loss);
      const g = await b.gpu.gradient(b.resident, indices);
      expect(g.loss).toBe(step.loss);
      expect(g.correct).toBe(step.correct);
      await b.gpu.optimizerStep(hyper, t);
      adamwStepRef(expected, ref.gradient, m, v, t, hyper, model.decayEnd);
    }
    const [sa, sb] = [await a.gpu.readState(), await b.gpu.readState()];
    assertBitIdentical(sa.params, sb.params, 'trainStep vs gradient + optimizerStep: parameters');
    assertBitIdentical(sa.state1, sb.state1, 'trainStep vs gradient + optimizerStep: first moment');
    assertBitIdentical(sa.state2, sb.state2, 'trainStep vs gradient + optimizerStep: second moment');
    assertAllClose(sa.params, expected, 1e-5, 1e-4, 'parameters after three AdamW steps');
    expect(Array.from(sa.params)).not.toEqual(Array.from(a.params));
    a.gpu.destroy();
    b.gpu.destroy();
  });

  it('a dropout model trains with its dropout context (SGD), the step matching gradient + optimizerStep', async () => {
    const a = setup(NORMED, 100, 17);
    const b = setup(NORMED, 100, 17);
    const hyper: SgdHyper = { kind: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 1e-3, maxGradNorm: 0 };
    for (let t = 1; t <= 2; t++) {
      const indices = pick(a.rng, 16, a.ds.count);
      const d = dropoutFor(a.rng, 16);
      const step = await a.gpu.trainStep(a.resident, indices, hyper, t, d);
      const g = await b.gpu.gradient(b.resident, indices, d);
      expect(g.loss).toBe(step.loss);
      await b.gpu.optimizerStep(hyper, t);
    }
    assertBitIdentical((await a.gpu.readState()).params, (await b.gpu.readState()).params, 'SGD parameters');
    a.gpu.destroy();
    b.gpu.destroy();
  });
});

describe('PyTorch goldens (test/fixtures/torch-goldens)', () => {
  interface Golden {
    model: unknown; batch: number; inputs: number[]; labels: number[];
    dropout: { seed: number; positions: number[] }; params: number[]; logits: number[]; loss: number; gradient: number[];
  }
  // Imported as JSON modules: this file runs in the browser, without node:fs.
  for (const [name, golden] of [['cnn', cnnGolden], ['mlp', mlpGolden]] as [string, Golden][]) {
    it(`${name}: torch's loss and every gradient, from the f32 parameters`, async () => {
      const model = resolveModel(parseModelSpec(golden.model));
      const gpu = new GpuModel(ctx, model, () => CONFIG);
      gpu.setParameters(Float32Array.from(golden.params));
      const dropout = { seed: golden.dropout.seed, positions: Uint32Array.from(golden.dropout.positions) };
      const got = await gpu.gradientOf(Float32Array.from(golden.inputs), golden.labels, dropout);
      // f32 against torch's f64: the inputs and parameters are rounded to f32 once, then f32 sums.
      expect(Math.abs(got.loss - golden.loss)).toBeLessThan(1e-5 * (1 + golden.loss));
      for (const t of model.tensors) {
        assertAllClose(got.gradient.subarray(t.offset, t.offset + t.length), golden.gradient.slice(t.offset, t.offset + t.length), 2e-5, 1e-3, `${name} ${t.name}`);
      }
      const logits = await gpu.logits(Float32Array.from(golden.inputs), golden.batch);
      const expected = name === 'mlp' ? golden.logits : Array.from(forwardRef(model, Float64Array.from(golden.params), golden.inputs, golden.batch));
      assertAllClose(logits, expected, 2e-5, 1e-4, `${name} logits`);
      gpu.destroy();
    });
  }
});

describe('bit-identical to GpuMlp', () => {
  // Each with another matmul configuration: the bits follow the chooser, whichever it picks.
  const specs: [MlpSpec, number][] = [
    [{ widths: [784, 256, 128, 10], activation: 'relu' }, 1],
    [{ widths: [784, 256, 128, 10], activation: 'gelu' }, 3],
  ];
  for (const [spec, configIndex] of specs) {
    it(`${spec.widths.join('-')} ${spec.activation}: gradient, trainStep and evaluate give GpuMlp's bits`, async () => {
      const config = MATMUL_CONFIGS[configIndex];
      const rng = new Random(29);
      const model = resolveModel(spec);
      const layout = mlpLayout(spec);
      expect(model.total).toBe(layout.total);
      expect(model.decayEnd).toBe(layout.decayEnd);
      const params = initModelParameters(model, 29);
      const ds = randomDataset(rng, 300, 784, 10);
      const resident = uploadDataset(ctx, ds);
      const gpu = new GpuModel(ctx, model, () => config);
      const mlp = new GpuMlp(ctx, layout, () => config);
      gpu.setParameters(params);
      mlp.setParameters(params);
      for (const batch of [33, 64]) {
        const indices = pick(rng, batch, ds.count);
        const [ours, theirs] = [await gpu.gradient(resident, indices), await mlp.gradient(resident, indices)];
        expect(ours.loss).toBe(theirs.loss);
        expect(ours.correct).toBe(theirs.correct);
        assertBitIdentical(ours.gradient, theirs.gradient, `gradient, batch ${batch}`);
        const [e1, e2] = [await gpu.evaluate(resident, indices), await mlp.evaluate(resident, indices)];
        expect(e1).toEqual(e2);
      }
      const hyper: AdamWHyper = { kind: 'adamw', lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-4, maxGradNorm: 1 };
      for (let t = 1; t <= 2; t++) {
        const indices = pick(rng, 32, ds.count);
        const [s1, s2] = [await gpu.trainStep(resident, indices, hyper, t), await mlp.trainStep(resident, indices, hyper, t)];
        expect(s1.loss).toBe(s2.loss);
        expect(s1.correct).toBe(s2.correct);
      }
      const [a, b] = [await gpu.readState(), await mlp.readState()];
      assertBitIdentical(a.params, b.params, 'parameters after trainStep');
      assertBitIdentical(a.state2, b.state2, 'AdamW second moment after trainStep');
      const x = rng.uniformArray(5 * 784, 0, 1);
      assertBitIdentical(await gpu.logits(x, 5), await mlp.logits(x, 5), 'logits');
      expect(gradientFlops(model, 64)).toBe(mlpGradientFlops(layout, 64));
      expect(ctx.takeUncapturedErrors()).toEqual([]);
      gpu.destroy();
      mlp.destroy();
    });
  }
});

describe('bad input', () => {
  it('a dropout model without a dropout context, a batch of 0, a wrong length: clear errors', async () => {
    const { rng, ds, gpu, resident } = setup(NORMED, 20, 3);
    const indices = pick(rng, 4, ds.count);
    const hyper: SgdHyper = { kind: 'sgd', lr: 0.1, momentum: 0, weightDecay: 0, maxGradNorm: 0 };
    await expect(gpu.gradient(resident, indices)).rejects.toThrow(/gradient: dropout at layer 7\.2 \(p = 0\.3\) needs a dropout context \{ seed, positions \}/);
    await expect(gpu.trainStep(resident, indices, hyper, 1)).rejects.toThrow(/trainStep: dropout at layer 7\.2/);
    await expect(gpu.gradient(resident, indices, { seed: 1, positions: new Uint32Array(3) })).rejects.toThrow(/dropout\.positions has 3 entries, one per example \(4\) expected/);
    await expect(gpu.gradient(resident, indices, { seed: -1, positions: new Uint32Array(4) })).rejects.toThrow(/seed must be an integer in \[0, 2\^32\)/);
    await expect(gpu.gradient(resident, new Uint32Array(0), { seed: 1, positions: new Uint32Array(0) })).rejects.toThrow(/Batch size must be a positive integer, got 0/);
    await expect(gpu.evaluate(resident, new Uint32Array(0))).rejects.toThrow(/Batch size must be a positive integer, got 0/);
    await expect(gpu.logits(new Float32Array(0), 0)).rejects.toThrow(/Batch size must be a positive integer, got 0/);
    await expect(gpu.gradientOf(new Float32Array(90), [6], { seed: 1, positions: new Uint32Array(1) })).rejects.toThrow(/gradientOf: labels\[0\] = 6 is not a class index in \[0, 6\)/);
    await expect(gpu.gradientOf(new Float32Array(89), [0], { seed: 1, positions: new Uint32Array(1) })).rejects.toThrow(/gradientOf: x has 89 values, expected batch·inputSize = 1·90/);
    await expect(gpu.gradientOf(new Float32Array(0), [])).rejects.toThrow(/gradientOf: dropout at layer 7\.2/);
    expect(() => gpu.setParameters(new Float32Array(3))).toThrow(/setParameters: params has 3 floats, the model's layout has/);
    // Evaluation needs no dropout context.
    await expect(gpu.evaluate(resident, indices)).resolves.toMatchObject({ count: 4 });
    const other = uploadDataset(ctx, randomDataset(rng, 10, 7, 6));
    await expect(gpu.evaluate(other, indices)).rejects.toThrow(/dataset has 7 features per example, the model's input \[3,5,6\] takes 90/);
    gpu.destroy();
  });

  it('a batch whose activations exceed the largest storage binding is refused with the layer named', async () => {
    const model = resolveModel({ input: [1000], layers: [{ kind: 'linear', outFeatures: 1000 }, { kind: 'relu' }, { kind: 'linear', outFeatures: 3 }, { kind: 'softmax-cross-entropy' }] });
    const gpu = new GpuModel(ctx, model, () => CONFIG);
    const batch = Math.floor(ctx.device.limits.maxStorageBufferBindingSize / 4000) + 1;
    await expect(gpu.logits(new Float32Array(0), batch)).rejects.toThrow(new RegExp(`The input buffer at batch ${batch} takes \\d+ bytes, over this GPU's largest storage binding .*; use a smaller micro-batch`));
    expect(ctx.takeUncapturedErrors()).toEqual([]);
    gpu.destroy();
  });

  it('gradientFlops counts the input gradient only where the gradient flows on', () => {
    const model: ResolvedModel = resolveModel(cnn(3, 10, 10));
    const [conv1, , , conv2, , , , fc] = model.layers;
    const mm = (l: (typeof model.layers)[number]) => l.forwardFlops - l.outShape.reduce((a, b) => a * b, 1);
    expect(gradientFlops(model, 2)).toBe(2 * (2 * mm(conv1) + 3 * mm(conv2) + 3 * mm(fc)));
  });
});
