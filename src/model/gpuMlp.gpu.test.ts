// The whole MLP on the GPU against the f64 CPU reference: gradients for several widths,
// batch sizes and activations; bit-identical determinism; a finite-difference check of the
// GPU's own loss; a training step; raw-input logits.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomDataset, type ImageDataset } from '../data/dataset.ts';
import { GpuContext } from '../gpu/context.ts';
import { MATMUL_CONFIGS } from '../kernels/matmul.ts';
import type { AdamWHyper } from '../kernels/optimizer.ts';
import { assertAllClose } from '../testing/allclose.ts';
import { Random } from '../util/random.ts';
import { GpuMlp, uploadDataset, type ResidentDataset } from './gpuMlp.ts';
import { initParameters, mlpLayout, type MlpSpec } from './mlp.ts';
import { adamwStepRef, mlpForwardRef, mlpLossAndGradientRef } from './reference.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await GpuContext.create();
});
afterAll(() => ctx?.destroy());

function inputsOf(ds: ImageDataset, indices: Uint32Array): Float32Array {
  const x = new Float32Array(indices.length * ds.features);
  indices.forEach((e, r) => {
    for (let f = 0; f < ds.features; f++) x[r * ds.features + f] = ds.images[e * ds.features + f] / 255;
  });
  return x;
}

function setup(spec: MlpSpec, examples: number, seed: number, config = MATMUL_CONFIGS[1]) {
  const rng = new Random(seed);
  const layout = mlpLayout(spec);
  const params = initParameters(layout, seed);
  const ds = randomDataset(rng, examples, spec.widths[0], spec.widths[spec.widths.length - 1]);
  const mlp = new GpuMlp(ctx, layout, () => config);
  mlp.setParameters(params);
  const resident: ResidentDataset = uploadDataset(ctx, ds);
  return { rng, layout, params, ds, mlp, resident };
}

const pick = (rng: Random, n: number, count: number) => Uint32Array.from({ length: n }, () => rng.int(count));

describe('GPU MLP gradient against the CPU reference', () => {
  const cases: [MlpSpec, number[]][] = [
    [{ widths: [5, 7, 4, 3], activation: 'relu' }, [1, 7, 33]],
    [{ widths: [5, 7, 4, 3], activation: 'gelu' }, [1, 7, 33]],
    [{ widths: [33, 100, 10], activation: 'gelu' }, [100]],
    [{ widths: [784, 256, 128, 10], activation: 'relu' }, [1, 128, 257]],
  ];
  for (const [spec, batches] of cases) {
    it(`${spec.widths.join('-')} ${spec.activation}, batches ${batches.join(', ')}`, async () => {
      const { rng, layout, params, ds, mlp, resident } = setup(spec, 300, 3);
      for (const batch of batches) {
        const indices = pick(rng, batch, ds.count);
        const got = await mlp.gradient(resident, indices);
        const ref = mlpLossAndGradientRef(layout, params, inputsOf(ds, indices), Array.from(indices, (e) => ds.labels[e]), batch);
        expect(got.loss).toBeCloseTo(ref.loss, 4);
        expect(got.correct).toBe(ref.correct);
        assertAllClose(got.gradient, ref.gradient, 2e-6, 2e-4, `gradient, batch ${batch}`);
      }
      expect(ctx.takeUncapturedErrors()).toEqual([]);
      mlp.destroy();
    });
  }
});

describe('determinism', () => {
  it('the same micro-batch twice gives bit-identical loss and gradient', async () => {
    const { rng, ds, mlp, resident } = setup({ widths: [784, 256, 128, 10], activation: 'gelu' }, 500, 5);
    const indices = pick(rng, 128, ds.count);
    const first = await mlp.gradient(resident, indices);
    await mlp.gradient(resident, pick(rng, 64, ds.count)); // other work in between
    const second = await mlp.gradient(resident, indices);
    expect(second.loss).toBe(first.loss);
    expect(new Uint32Array(second.gradient.buffer)).toEqual(new Uint32Array(first.gradient.buffer));
    mlp.destroy();
  });
});

describe('finite differences of the GPU loss', () => {
  it('agree with the GPU gradient on a tiny net', async () => {
    const spec: MlpSpec = { widths: [6, 5, 4], activation: 'gelu' };
    const { rng, layout, params, ds, mlp, resident } = setup(spec, 40, 9);
    const indices = pick(rng, 16, ds.count);
    const { gradient } = await mlp.gradient(resident, indices);
    const lossAt = async (p: Float32Array) => {
      mlp.setParameters(p);
      const r = await mlp.evaluate(resident, indices);
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
    assertAllClose(analytic, fd, 2e-4, 2e-2, 'GPU gradient vs finite differences');
    mlp.destroy();
  });
});

describe('training step and inference', () => {
  it('trainStep applies AdamW exactly as the reference does', async () => {
    const spec: MlpSpec = { widths: [33, 20, 10], activation: 'relu' };
    const { rng, layout, params, ds, mlp, resident } = setup(spec, 200, 13);
    const hyper: AdamWHyper = { kind: 'adamw', lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1 };
    const m = new Float32Array(layout.total), v = new Float32Array(layout.total);
    const expected = params.slice();
    for (let t = 1; t <= 3; t++) {
      const indices = pick(rng, 32, ds.count);
      const ref = mlpLossAndGradientRef(layout, expected, inputsOf(ds, indices), Array.from(indices, (e) => ds.labels[e]), 32);
      const step = await mlp.trainStep(resident, indices, hyper, t);
      expect(step.loss).toBeCloseTo(ref.loss, 4);
      adamwStepRef(expected, ref.gradient, m, v, t, hyper, layout.decayEnd);
    }
    const state = await mlp.readState();
    assertAllClose(state.params, expected, 1e-5, 1e-4, 'parameters after three AdamW steps');
    mlp.destroy();
  });

  it('logits of raw inputs match the reference forward', async () => {
    const spec: MlpSpec = { widths: [784, 256, 128, 10], activation: 'gelu' };
    const { rng, layout, params, mlp } = setup(spec, 10, 17);
    for (const batch of [1, 7, 100]) {
      const x = rng.uniformArray(batch * 784, 0, 1);
      const logits = await mlp.logits(x, batch);
      assertAllClose(logits, mlpForwardRef(layout, params, x, batch).logits, 1e-5, 1e-4, `logits, batch ${batch}`);
    }
    mlp.destroy();
  });
});
