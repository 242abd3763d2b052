// The CPU layer-table model's tests, shared by Node (one thread, `unit`) and Chromium (worker
// threads, `gpu` project): loss, correct count, every gradient, evaluate and logits against
// the f64 reference table on small models built from the spec (an MLP, a CNN, layernorm +
// gelu + residual + dropout) at batches 1, 7, 33 and channels 1, 3, 5; bit-identical
// repeats; bit-identical to CpuMlp on the MLPs it replaces; the torch goldens; AdamW and SGD
// against the reference; bad input refused with a clear error.

import { describe, expect, it } from 'vitest';
import { randomDataset, type ImageDataset } from '../data/dataset.ts';
import type { AdamWHyper, SgdHyper } from '../kernels/optimizer.ts';
import { initParameters, mlpLayout, type MlpSpec } from '../model/mlp.ts';
import { adamwStepRef, sgdMomentumStepRef } from '../model/reference.ts';
import { evaluate, forward, forwardBackward } from '../model/layers/reference.ts';
import { initModelParameters, parseModelSpec, resolveModel, type ModelSpec, type ResolvedModel } from '../model/layers/spec.ts';
import { assertAllClose } from '../testing/allclose.ts';
import { assertBitIdentical } from '../testing/layerCases.ts';
import { Random } from '../util/random.ts';
import { CpuMlp } from './cpuMlp.ts';
import { CpuModel, type CpuDropout } from './cpuModel.ts';
import cnnGolden from '../../test/fixtures/torch-goldens/cnn.json';
import mlpGolden from '../../test/fixtures/torch-goldens/mlp.json';

export function inputsOf(ds: ImageDataset, indices: Uint32Array): Float32Array {
  const x = new Float32Array(indices.length * ds.features);
  indices.forEach((e, r) => {
    for (let f = 0; f < ds.features; f++) x[r * ds.features + f] = ds.images[e * ds.features + f] / 255;
  });
  return x;
}

export const pick = (rng: Random, n: number, count: number) => Uint32Array.from({ length: n }, () => rng.int(count));

/** Initial parameters with every bias, gain and shift moved off its constant, so that their gradients are tested too. */
export function testParameters(model: ResolvedModel, seed: number): Float32Array {
  const params = initModelParameters(model, seed);
  const rng = new Random(seed + 1);
  for (const t of model.tensors) {
    if (t.init.kind !== 'constant') continue;
    for (let i = 0; i < t.length; i++) params[t.offset + i] += rng.uniform(-0.3, 0.3);
  }
  return params;
}

export async function setupCpuModel(spec: ModelSpec, examples: number, seed: number, threads: number) {
  const rng = new Random(seed);
  const model = resolveModel(parseModelSpec(spec));
  const params = testParameters(model, seed);
  const ds = randomDataset(rng, examples, model.inputSize, model.classes);
  const cpu = await CpuModel.create(model, { threads });
  cpu.setParameters(params);
  await cpu.setDatasets(ds, ds);
  return { rng, model, params, ds, cpu };
}

const dropoutFor = (rng: Random, batch: number): CpuDropout => ({ seed: rng.int(2 ** 32), positions: Uint32Array.from({ length: batch }, () => rng.int(2 ** 32)) });

/** A CNN of the shape on `channels` input channels of a size that is no tile multiple. */
export const cnnSpec = (channels: number, h: number, w: number): ModelSpec => ({
  input: [channels, h, w],
  layers: [
    { kind: 'conv2d', outChannels: 5, kernel: 3, padding: 1 },
    { kind: 'relu' },
    { kind: 'maxpool2d', kernel: 2 },
    { kind: 'conv2d', outChannels: 6, kernel: [3, 2], stride: [1, 2], padding: [1, 1] },
    { kind: 'relu' },
    { kind: 'avgpool2d', kernel: 2, stride: 1 },
    { kind: 'flatten' },
    { kind: 'linear', outFeatures: 7 },
    { kind: 'softmax-cross-entropy' },
  ],
});

/** LayerNorm, GELU (fused and alone), a residual block holding dropout, and dropout before the logits. */
export const normResidualSpec: ModelSpec = {
  input: [13],
  layers: [
    { kind: 'linear', outFeatures: 11 },
    { kind: 'gelu' },
    { kind: 'residual', layers: [{ kind: 'layernorm' }, { kind: 'linear', outFeatures: 9 }, { kind: 'relu' }, { kind: 'dropout', p: 0.3 }, { kind: 'linear', outFeatures: 11 }] },
    { kind: 'layernorm', eps: 1e-3 },
    { kind: 'gelu' },
    { kind: 'dropout', p: 0.2 },
    { kind: 'linear', outFeatures: 5 },
    { kind: 'softmax-cross-entropy' },
  ],
};

/** Layers with no gradient to pass back first: dropout on the input, a residual whose branch starts with a fused linear, p = 0 dropout. */
export const edgeSpec: ModelSpec = {
  input: [2, 3, 4],
  layers: [
    { kind: 'dropout', p: 0.5 },
    { kind: 'flatten' },
    { kind: 'residual', layers: [{ kind: 'linear', outFeatures: 10 }, { kind: 'gelu' }, { kind: 'linear', outFeatures: 24 }] },
    { kind: 'relu' },
    { kind: 'dropout', p: 0 },
    { kind: 'linear', outFeatures: 6 },
    { kind: 'relu' },
    { kind: 'residual', layers: [{ kind: 'linear', outFeatures: 6 }] },
    { kind: 'linear', outFeatures: 3 },
    { kind: 'softmax-cross-entropy' },
  ],
};

const CASES: [string, ModelSpec, number[]][] = [
  ['MLP 5-7-4-3 relu', { widths: [5, 7, 4, 3], activation: 'relu' }, [1, 7, 33]],
  ['MLP 33-100-10 gelu (layer form)', { input: [33], layers: [{ kind: 'linear', outFeatures: 100 }, { kind: 'gelu' }, { kind: 'linear', outFeatures: 10 }, { kind: 'softmax-cross-entropy' }] }, [7]],
  ['CNN on 1×10×9', cnnSpec(1, 10, 9), [1, 7, 33]],
  ['CNN on 3×9×11', cnnSpec(3, 9, 11), [7]],
  ['CNN on 5×8×7', cnnSpec(5, 8, 7), [1, 33]],
  ['layernorm + gelu + residual + dropout', normResidualSpec, [1, 7, 33]],
  ['dropout first, residual of fused linears, p = 0 dropout', edgeSpec, [1, 7, 33]],
  ['pooling before the first conv (which then needs no dx)', {
    input: [3, 10, 11],
    layers: [{ kind: 'avgpool2d', kernel: 2 }, { kind: 'conv2d', outChannels: 4, kernel: 3, padding: 1 }, { kind: 'gelu' }, { kind: 'flatten' }, { kind: 'linear', outFeatures: 3 }, { kind: 'softmax-cross-entropy' }],
  }, [7]],
];

export function defineCpuModelTests(threads: number) {
  const plural = `${threads} thread${threads > 1 ? 's' : ''}`;
  describe(`CPU layer-table model against the f64 reference (${plural})`, () => {
    for (const [name, spec, batches] of CASES) {
      it(`${name}: loss, correct, every gradient, evaluate and logits at batches ${batches.join(', ')}`, async () => {
        const { rng, model, params, ds, cpu } = await setupCpuModel(spec, 200, 3, threads);
        for (const batch of batches) {
          const indices = pick(rng, batch, ds.count);
          const x = inputsOf(ds, indices);
          const labels = Array.from(indices, (e) => ds.labels[e]);
          const dropout = dropoutFor(rng, batch);
          const got = await cpu.gradient(indices, dropout);
          const ref = forwardBackward(model, params, x, labels, { dropout });
          expect(got.loss).toBeCloseTo(ref.loss, 5);
          expect(got.correct).toBe(ref.correct);
          assertAllClose(got.gradient, ref.gradient, 1e-5, 1e-3, `${name}: gradient, batch ${batch}`);

          const evaluation = await cpu.evaluate('test', indices);
          const refEval = evaluate(model, params, x, labels);
          expect(evaluation.count).toBe(batch);
          expect(evaluation.lossSum / batch).toBeCloseTo(refEval.loss, 5);
          expect(evaluation.correct).toBe(refEval.correct);
          assertAllClose(await cpu.logits(x, batch), forward(model, params, x, batch), 1e-5, 1e-4, `${name}: logits, batch ${batch}`);
        }
        cpu.dispose();
      });
    }

    it('the same micro-batch twice gives bit-identical loss and gradient (CNN, and dropout model)', async () => {
      for (const spec of [cnnSpec(3, 9, 11), normResidualSpec]) {
        const { rng, ds, cpu } = await setupCpuModel(spec, 100, 5, threads);
        const indices = pick(rng, 37, ds.count);
        const dropout = dropoutFor(rng, 37);
        const first = await cpu.gradient(indices, dropout);
        await cpu.gradient(pick(rng, 150, ds.count), dropoutFor(rng, 150)); // other work in between, and a larger plan
        const second = await cpu.gradient(indices, dropout);
        expect(second.loss).toBe(first.loss);
        assertBitIdentical(second.gradient, first.gradient, 'gradient of the repeat');
        cpu.dispose();
      }
    });

    it('trainStep applies AdamW with clipping as the reference does (CNN)', async () => {
      const { rng, model, params, ds, cpu } = await setupCpuModel(cnnSpec(1, 10, 9), 100, 13, threads);
      const hyper: AdamWHyper = { kind: 'adamw', lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1 };
      const m = new Float32Array(model.total), v = new Float32Array(model.total);
      const expected = params.slice();
      for (let t = 1; t <= 3; t++) {
        const indices = pick(rng, 16, ds.count);
        const ref = forwardBackward(model, expected, inputsOf(ds, indices), Array.from(indices, (e) => ds.labels[e]));
        const step = await cpu.trainStep(indices, hyper, t);
        expect(step.loss).toBeCloseTo(ref.loss, 5);
        adamwStepRef(expected, ref.gradient, m, v, t, hyper, model.decayEnd);
      }
      const state = cpu.readState();
      assertAllClose(state.params, expected, 1e-5, 1e-4, 'parameters after three AdamW steps');
      assertAllClose(state.state1, m, 1e-7, 1e-3, 'first moments');
      cpu.dispose();
    });

    it('optimizerStep applies SGD with momentum to a given gradient as the reference does', async () => {
      const { rng, model, params, cpu } = await setupCpuModel(normResidualSpec, 20, 21, threads);
      const hyper: SgdHyper = { kind: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 0.001, maxGradNorm: 0.5 };
      const buf = new Float32Array(model.total);
      const expected = params.slice();
      for (let t = 1; t <= 3; t++) {
        const gradient = new Float32Array(model.total);
        for (const s of model.tensors) for (let i = 0; i < s.length; i++) gradient[s.offset + i] = rng.uniform(-1, 1);
        await cpu.optimizerStep(hyper, t, gradient);
        sgdMomentumStepRef(expected, gradient, buf, hyper, model.decayEnd);
      }
      assertAllClose(cpu.readState().params, expected, 1e-6, 1e-5, 'parameters after three SGD steps');
      cpu.dispose();
    });

    it('gives the torch goldens\' logits, loss and every gradient (raw inputs, hashed dropout)', async () => {
      for (const [name, golden] of [['cnn', cnnGolden], ['mlp', mlpGolden]] as const) {
        const model = resolveModel(parseModelSpec(golden.model));
        const cpu = await CpuModel.create(model, { threads });
        cpu.setParameters(Float32Array.from(golden.params));
        const dropout = { seed: golden.dropout.seed, positions: Uint32Array.from(golden.dropout.positions) };
        const got = await cpu.gradientOf(Float32Array.from(golden.inputs), golden.labels, dropout);
        expect(got.loss).toBeCloseTo(golden.loss, 5);
        assertAllClose(got.gradient, golden.gradient, 1e-5, 1e-3, `${name} golden: gradient`);
        if (name === 'mlp') assertAllClose(await cpu.logits(Float32Array.from(golden.inputs), golden.batch), golden.logits, 1e-5, 1e-4, 'mlp golden: logits');
        cpu.dispose();
      }
    });

    it('refuses bad input with a clear error and loses nothing', async () => {
      const { rng, ds, cpu, model } = await setupCpuModel(normResidualSpec, 20, 23, threads);
      const indices = pick(rng, 8, ds.count);
      const dropout = dropoutFor(rng, 8);
      const before = await cpu.gradient(indices, dropout);
      await expect(cpu.gradient(indices)).rejects.toThrow(/gradient: dropout at layer 2\.3 \(p = 0\.3\) needs dropout = \{ seed, positions \} in training/);
      await expect(cpu.trainStep(indices, { kind: 'sgd', lr: 0.1, momentum: 0, weightDecay: 0, maxGradNorm: 0 }, 1)).rejects.toThrow(/trainStep: dropout at layer/);
      await expect(cpu.gradient(indices, { seed: 1, positions: new Uint32Array(3) })).rejects.toThrow(/one dataset position per example \(8\), got 3/);
      await expect(cpu.gradient(indices, { seed: -1, positions: new Uint32Array(8) })).rejects.toThrow(/dropout seed must be an integer in \[0, 2\^32\)/);
      await expect(cpu.gradient(Uint32Array.from([0, 20]), dropout)).rejects.toThrow(/Example index 20 \(position 1\) is out of range: the train set has 20 examples/);
      await expect(cpu.gradient(new Uint32Array(0))).rejects.toThrow(/non-empty Uint32Array/);
      expect(() => cpu.setParameters(new Float32Array(3))).toThrow(/Parameters must be a Float32Array of \d+ values/);
      const badLabels = { ...randomDataset(rng, 4, 13, 5), labels: Uint8Array.from([0, 1, 7, 2]) };
      await expect(cpu.setDatasets(badLabels, null)).rejects.toThrow(/train set's label 2 is 7; the model has 5 classes/);
      await expect(cpu.setDatasets({ ...badLabels, features: 4 }, null)).rejects.toThrow(/4 features per example; the model's input is 13/);
      await expect(cpu.logits(new Float32Array(7), 2)).rejects.toThrow(/batch·13 inputs/);
      await expect(cpu.gradientOf(new Float32Array(13), [5], dropout)).rejects.toThrow(/labels\[0\] = 5 is not a class index in \[0, 5\)/);
      const after = await cpu.gradient(indices, dropout);
      expect(after.loss).toBe(before.loss);
      assertBitIdentical(after.gradient, before.gradient, 'gradient after refused calls');
      expect(after.gradient.length).toBe(model.total);
      cpu.dispose();
    });
  });

  describe(`CPU layer-table model is bit-identical to CpuMlp (${plural})`, () => {
    const specs: MlpSpec[] = [{ widths: [784, 256, 128, 10], activation: 'relu' }, { widths: [784, 256, 128, 10], activation: 'gelu' }];
    for (const spec of specs) {
      it(`${spec.widths.join('-')} ${spec.activation}: gradient, trainStep, evaluate, logits`, async () => {
        const rng = new Random(41);
        const params = initParameters(mlpLayout(spec), 41);
        const ds = randomDataset(rng, 400, 784, 10);
        const mlp = await CpuMlp.create(mlpLayout(spec), { threads });
        const cpu = await CpuModel.create(resolveModel(spec), { threads });
        for (const backend of [mlp, cpu]) {
          backend.setParameters(params);
          await backend.setDatasets(ds, ds);
        }
        const hyper: AdamWHyper = { kind: 'adamw', lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1 };
        for (const batch of [1, 33, 130]) {
          const indices = pick(rng, batch, ds.count);
          const [a, b] = [await mlp.gradient(indices), await cpu.gradient(indices)];
          expect(b.loss).toBe(a.loss);
          expect(b.correct).toBe(a.correct);
          assertBitIdentical(b.gradient, a.gradient, `gradient, batch ${batch}`);
          const [sa, sb] = [await mlp.trainStep(indices, hyper, 1), await cpu.trainStep(indices, hyper, 1)];
          expect(sb).toEqual(sa);
          const [ea, eb] = [await mlp.evaluate('test', indices), await cpu.evaluate('test', indices)];
          expect(eb).toEqual(ea);
          const x = inputsOf(ds, indices);
          assertBitIdentical(await cpu.logits(x, batch), await mlp.logits(x, batch), `logits, batch ${batch}`);
        }
        const [ra, rb] = [mlp.readState(), cpu.readState()];
        assertBitIdentical(rb.params, ra.params, 'parameters after the steps');
        assertBitIdentical(rb.state2, ra.state2, 'second moments after the steps');
        mlp.dispose();
        cpu.dispose();
      });
    }
  });
}
