// The CPU MLP's tests, shared by Node (one thread, `unit`) and Chromium (worker threads,
// `gpu` project): gradients against the f64 reference for several widths, batches and
// activations; bit-identical determinism; finite differences of the backend's own loss;
// AdamW and SGD steps against the reference; logits of raw inputs; bad input refused.

import { describe, expect, it } from 'vitest';
import { randomDataset, type ImageDataset } from '../data/dataset.ts';
import type { AdamWHyper, SgdHyper } from '../kernels/optimizer.ts';
import { initParameters, mlpLayout, type MlpSpec } from '../model/mlp.ts';
import { adamwStepRef, mlpForwardRef, mlpLossAndGradientRef, sgdMomentumStepRef } from '../model/reference.ts';
import { assertAllClose } from '../testing/allclose.ts';
import { Random } from '../util/random.ts';
import { CpuMlp } from './cpuMlp.ts';
import type { SimdLevel } from './kernels.ts';

export function inputsOf(ds: ImageDataset, indices: Uint32Array): Float32Array {
  const x = new Float32Array(indices.length * ds.features);
  indices.forEach((e, r) => {
    for (let f = 0; f < ds.features; f++) x[r * ds.features + f] = ds.images[e * ds.features + f] / 255;
  });
  return x;
}

export const pick = (rng: Random, n: number, count: number) => Uint32Array.from({ length: n }, () => rng.int(count));

export async function setupCpuMlp(spec: MlpSpec, examples: number, seed: number, threads: number, simd?: SimdLevel) {
  const rng = new Random(seed);
  const layout = mlpLayout(spec);
  const params = initParameters(layout, seed);
  const ds = randomDataset(rng, examples, spec.widths[0], spec.widths[spec.widths.length - 1]);
  const mlp = await CpuMlp.create(layout, { threads, simd });
  mlp.setParameters(params);
  await mlp.setDatasets(ds, ds);
  return { rng, layout, params, ds, mlp };
}

export function defineCpuMlpTests(threads: number) {
  describe(`CPU MLP gradient against the CPU reference (${threads} thread${threads > 1 ? 's' : ''})`, () => {
    const cases: [MlpSpec, number[]][] = [
      [{ widths: [5, 7, 4, 3], activation: 'relu' }, [1, 7, 33]],
      [{ widths: [5, 7, 4, 3], activation: 'gelu' }, [1, 7, 33]],
      [{ widths: [33, 100, 10], activation: 'gelu' }, [100]],
      [{ widths: [784, 256, 128, 10], activation: 'relu' }, [1, 128, 257]],
    ];
    for (const [spec, batches] of cases) {
      it(`${spec.widths.join('-')} ${spec.activation}, batches ${batches.join(', ')}`, async () => {
        const { rng, layout, params, ds, mlp } = await setupCpuMlp(spec, 300, 3, threads);
        for (const batch of batches) {
          const indices = pick(rng, batch, ds.count);
          const got = await mlp.gradient(indices);
          const ref = mlpLossAndGradientRef(layout, params, inputsOf(ds, indices), Array.from(indices, (e) => ds.labels[e]), batch);
          expect(got.loss).toBeCloseTo(ref.loss, 5);
          expect(got.correct).toBe(ref.correct);
          assertAllClose(got.gradient, ref.gradient, 2e-6, 2e-4, `gradient, batch ${batch}`);
        }
        mlp.dispose();
      });
    }

    it('the same micro-batch twice gives bit-identical loss and gradient', async () => {
      const { rng, ds, mlp } = await setupCpuMlp({ widths: [784, 256, 128, 10], activation: 'gelu' }, 500, 5, threads);
      const indices = pick(rng, 128, ds.count);
      const first = await mlp.gradient(indices);
      await mlp.gradient(pick(rng, 64, ds.count)); // other work in between
      const second = await mlp.gradient(indices);
      expect(second.loss).toBe(first.loss);
      expect(new Uint32Array(second.gradient.buffer)).toEqual(new Uint32Array(first.gradient.buffer));
      mlp.dispose();
    });

    it('finite differences of its own loss agree with its gradient on a tiny net', async () => {
      const spec: MlpSpec = { widths: [6, 5, 4], activation: 'gelu' };
      const { rng, layout, params, ds, mlp } = await setupCpuMlp(spec, 40, 9, threads);
      const indices = pick(rng, 16, ds.count);
      const { gradient } = await mlp.gradient(indices);
      const lossAt = async (p: Float32Array) => {
        mlp.setParameters(p);
        const r = await mlp.evaluate('train', indices);
        return r.lossSum / r.count;
      };
      // f32 forward: a larger step keeps rounding noise (~1e-7·loss/h) well below the signal.
      const h = 1e-2;
      const fd: number[] = [];
      const analytic: number[] = [];
      for (const s of layout.segments) {
        for (let i = 0; i < s.length; i++) {
          const j = s.offset + i;
          const plus = params.slice();
          plus[j] += h;
          const minus = params.slice();
          minus[j] -= h;
          fd.push(((await lossAt(plus)) - (await lossAt(minus))) / (2 * h));
          analytic.push(gradient[j]);
        }
      }
      assertAllClose(analytic, fd, 2e-4, 2e-2, 'CPU gradient vs finite differences');
      mlp.dispose();
    });

    it('trainStep applies AdamW with clipping exactly as the reference does', async () => {
      const spec: MlpSpec = { widths: [33, 20, 10], activation: 'relu' };
      const { rng, layout, params, ds, mlp } = await setupCpuMlp(spec, 200, 13, threads);
      const hyper: AdamWHyper = { kind: 'adamw', lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1 };
      const m = new Float32Array(layout.total), v = new Float32Array(layout.total);
      const expected = params.slice();
      for (let t = 1; t <= 3; t++) {
        const indices = pick(rng, 32, ds.count);
        const ref = mlpLossAndGradientRef(layout, expected, inputsOf(ds, indices), Array.from(indices, (e) => ds.labels[e]), 32);
        const step = await mlp.trainStep(indices, hyper, t);
        expect(step.loss).toBeCloseTo(ref.loss, 5);
        adamwStepRef(expected, ref.gradient, m, v, t, hyper, layout.decayEnd);
      }
      const state = mlp.readState();
      assertAllClose(state.params, expected, 1e-5, 1e-4, 'parameters after three AdamW steps');
      assertAllClose(state.state1, m, 1e-7, 1e-4, 'first moments');
      mlp.dispose();
    });

    it('optimizerStep applies SGD with momentum to a given gradient as the reference does', async () => {
      const spec: MlpSpec = { widths: [33, 20, 10], activation: 'gelu' };
      const { rng, layout, params, mlp } = await setupCpuMlp(spec, 50, 21, threads);
      const hyper: SgdHyper = { kind: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 0.001, maxGradNorm: 0.5 };
      const buf = new Float32Array(layout.total);
      const expected = params.slice();
      for (let t = 1; t <= 3; t++) {
        const gradient = new Float32Array(layout.total);
        for (const s of layout.segments) for (let i = 0; i < s.length; i++) gradient[s.offset + i] = rng.uniform(-1, 1);
        await mlp.optimizerStep(hyper, t, gradient);
        sgdMomentumStepRef(expected, gradient, buf, hyper, layout.decayEnd);
      }
      assertAllClose(mlp.readState().params, expected, 1e-6, 1e-5, 'parameters after three SGD steps');
      mlp.dispose();
    });

    it('logits of raw inputs match the reference forward', async () => {
      const spec: MlpSpec = { widths: [784, 256, 128, 10], activation: 'gelu' };
      const { rng, layout, params, mlp } = await setupCpuMlp(spec, 10, 17, threads);
      for (const batch of [1, 7, 300]) {
        const x = rng.uniformArray(batch * 784, 0, 1);
        const logits = await mlp.logits(x, batch);
        assertAllClose(logits, mlpForwardRef(layout, params, x, batch).logits, 1e-5, 1e-4, `logits, batch ${batch}`);
      }
      mlp.dispose();
    });

    it('refuses bad input with a clear error and loses nothing', async () => {
      const spec: MlpSpec = { widths: [5, 7, 3], activation: 'relu' };
      const { rng, ds, mlp, layout } = await setupCpuMlp(spec, 20, 23, threads);
      const indices = pick(rng, 8, ds.count);
      const before = await mlp.gradient(indices);
      await expect(mlp.gradient(Uint32Array.from([0, 20]))).rejects.toThrow(/Example index 20 \(position 1\) is out of range: the train set has 20 examples/);
      await expect(mlp.gradient(new Uint32Array(0))).rejects.toThrow(/non-empty Uint32Array/);
      expect(() => mlp.setParameters(new Float32Array(3))).toThrow(/Parameters must be a Float32Array of \d+ values/);
      const badLabels = { ...randomDataset(rng, 4, 5, 3), labels: Uint8Array.from([0, 1, 7, 2]) };
      await expect(mlp.setDatasets(badLabels, null)).rejects.toThrow(/train set's label 2 is 7; the model has 3 classes/);
      await expect(mlp.setDatasets({ ...badLabels, features: 4 }, null)).rejects.toThrow(/4 features per example; the model's input is 5/);
      await expect(mlp.logits(new Float32Array(7), 2)).rejects.toThrow(/batch·5 inputs/);
      const after = await mlp.gradient(indices);
      expect(after.loss).toBe(before.loss);
      expect(new Uint32Array(after.gradient.buffer)).toEqual(new Uint32Array(before.gradient.buffer));
      expect(after.gradient.length).toBe(layout.total);
      mlp.dispose();
    });
  });
}
