// The CPU layer kernels in Chromium, cross-origin isolated, on real worker threads: conv2d,
// both poolings and layernorm give the same bits on 1, 2, 3 and 5 threads (the jobs cross
// the control block's f64 slots and each thread runs its share), in both SIMD builds; and
// the relaxed build (fused multiply-add, what browsers run) against the f64 layer table.

import { describe, expect, it } from 'vitest';
import { assertAllClose } from '../testing/allclose.ts';
import { randomParams, referenceLayer, singleLayer } from '../testing/layerCases.ts';
import { Random } from '../util/random.ts';
import { CpuConv2d, CpuLayerNorm, CpuPool2d } from './cpuLayers.ts';
import type { SimdLevel } from './kernels.ts';

type Op = CpuConv2d | CpuPool2d | CpuLayerNorm;

/** Fills `inputs` with the same random values for every thread count, runs every pass, returns every output's bits. */
async function bits(op: Op, inputs: string[], outputs: string[], passes: (() => Promise<void>)[]): Promise<Uint32Array> {
  const rng = new Random(17);
  const view = (name: string) => (op.view as (n: string) => Float32Array)(name);
  for (const name of inputs) view(name).set(rng.uniformArray(view(name).length));
  for (const name of outputs) view(name).fill(NaN);
  for (const pass of passes) await pass();
  const all = outputs.flatMap((name) => Array.from(new Uint32Array(view(name).slice().buffer)));
  op.dispose();
  return Uint32Array.from(all);
}

const conv = async (threads: number, simd: SimdLevel) => {
  const op = await CpuConv2d.create({ batch: 7, inChannels: 5, height: 13, width: 11, outChannels: 9, kernel: [3, 3], stride: [2, 1], padding: [1, 2] }, { threads, simd });
  return bits(op, ['x', 'weight', 'bias', 'dy'], ['y', 'dx', 'dWeight', 'dBias'], [() => op.forward(), () => op.backwardInput(), () => op.backwardWeight()]);
};
const pool = async (threads: number, simd: SimdLevel, kind: 'maxpool2d' | 'avgpool2d') => {
  const op = await CpuPool2d.create(kind, { batch: 5, channels: 3, height: 9, width: 8, kernel: [3, 3], stride: [2, 1] }, { threads, simd });
  return bits(op, ['x', 'dy'], kind === 'maxpool2d' ? ['y', 'argmax', 'dx'] : ['y', 'dx'], [() => op.forward(), () => op.backward()]);
};
const norm = async (threads: number, simd: SimdLevel) => {
  const op = await CpuLayerNorm.create({ rows: 33, features: 147, eps: 1e-5 }, { threads, simd });
  return bits(op, ['x', 'gain', 'shift', 'dy'], ['y', 'stats', 'dx', 'dGain', 'dShift'], [() => op.forward(), () => op.backwardInput(), () => op.paramGrad()]);
};

describe('CPU layer kernels on worker threads', () => {
  for (const simd of ['plain', 'relaxed'] as const) {
    it(`give the 1-thread bits on 2, 3 and 5 threads (${simd} SIMD)`, async () => {
      const cases = [(t: number) => conv(t, simd), (t: number) => pool(t, simd, 'maxpool2d'), (t: number) => pool(t, simd, 'avgpool2d'), (t: number) => norm(t, simd)];
      for (const run of cases) {
        const one = await run(1);
        for (const threads of [2, 3, 5]) expect(await run(threads)).toEqual(one);
      }
    });
  }
});

describe('CPU conv2d, relaxed SIMD, 3 threads', () => {
  it('matches the f64 layer table (batch 7, 3×9×11 → 5 ch, k 3 s 2 p 1)', async () => {
    const rng = new Random(5);
    const { model, layer } = singleLayer([3, 9, 11], { kind: 'conv2d', outChannels: 5, kernel: 3, stride: 2, padding: 1 });
    const params = randomParams(model, rng);
    const x = rng.uniformArray(7 * 3 * 9 * 11);
    const dy = rng.uniformArray(7 * layer.outShape.reduce((a, b) => a * b));
    const ref = referenceLayer(model, layer, params, x, dy, 7);
    const op = await CpuConv2d.create({ batch: 7, inChannels: 3, height: 9, width: 11, outChannels: 5, kernel: layer.kernel, stride: layer.stride, padding: layer.padding }, { threads: 3, simd: 'relaxed' });
    expect(op.simd).toBe('relaxed');
    op.view('x').set(x);
    op.view('dy').set(dy);
    op.view('weight').set(params.subarray(layer.weight.offset, layer.weight.offset + layer.weight.length));
    op.view('bias').set(params.subarray(layer.bias.offset, layer.bias.offset + layer.bias.length));
    await op.forward();
    await op.backwardInput();
    await op.backwardWeight();
    const g = ref.gradient;
    assertAllClose(op.view('y'), ref.y, 2e-5 * Math.sqrt(27), 1e-5, 'forward');
    assertAllClose(op.view('dx'), ref.dx, 2e-5 * Math.sqrt(45), 1e-5, 'dx');
    assertAllClose(op.view('dWeight'), g.subarray(layer.weight.offset, layer.weight.offset + layer.weight.length), 2e-5 * Math.sqrt(7 * 5 * 6), 1e-5, 'dW');
    assertAllClose(op.view('dBias'), g.subarray(layer.bias.offset, layer.bias.offset + layer.bias.length), 2e-5 * Math.sqrt(7 * 5 * 6), 1e-5, 'db');
    op.dispose();
  });
});
