// The CPU layer kernels (src/cpu/assembly/conv2d.ts, pool.ts, layernorm.ts) in Node on the
// plain SIMD128 build, against the f64 layer table on odd shapes: batch 1, 2, 7, 33; channels
// 1, 3, 5 and counts that are not multiples of the 4×8 tiles; stride 1 and 2; padding 0, 1, 2;
// rectangular kernels and windows; ties for max pooling. Each pass runs twice (same bits),
// and every job is rerun as 2, 3, 5 and 16 thread shares on the same memory, one share after
// another (Node has no cross-origin isolated workers): the split must not change a bit.

import { beforeAll, describe, expect, it } from 'vitest';
import type { Conv2dSpec, PoolSpec } from '../model/layers/spec.ts';
import { assertAllClose } from '../testing/allclose.ts';
import { assertBitIdentical, randomParams, referenceLayer, singleLayer } from '../testing/layerCases.ts';
import { Random } from '../util/random.ts';
import { CpuConv2d, CpuLayerNorm, CpuPool2d } from './cpuLayers.ts';
import { attentionScratchBytes } from './cpuModelLayers.ts';
import { ACT, instantiateKernels, loadKernelModule, type CpuKernelExports } from './kernels.ts';
import { decodeJob, encodeJob } from './jobs.ts';
import { CONV_WEIGHT_CHUNK, runLayerShare, scratchBytes, type LayerJob } from './layerJobs.ts';
import { JOB_SLOTS } from './control.ts';

const SPLITS = [2, 3, 5, 16];
const options = { threads: 1, simd: 'plain' as const };

let module: WebAssembly.Module;
beforeAll(async () => {
  module = (await loadKernelModule({ shared: false, simd: 'plain' })).module;
});

/** Every share of every pass's jobs, run one after another as `count` threads would (a job boundary is a barrier). */
async function runSplit(memory: WebAssembly.Memory, passes: LayerJob[][], count: number): Promise<void> {
  const k = await instantiateKernels(module, memory);
  for (const jobs of passes) for (const job of jobs) for (let i = 0; i < count; i++) runLayerShare(k, job, i, count);
}

/** Snapshots of named views, as bits. */
function snapshot(views: Record<string, Float32Array | Uint32Array>): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const [name, v] of Object.entries(views)) out[name] = new Float32Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
  return out;
}

function clear(views: Record<string, Float32Array | Uint32Array>): void {
  for (const v of Object.values(views)) {
    if (v instanceof Float32Array) v.fill(NaN);
    else v.fill(0x7fc00000);
  }
}

/** The runs must hold the same bits, key by key. */
function expectSameBits(a: Record<string, Float32Array>, b: Record<string, Float32Array>, what: string): void {
  for (const key of Object.keys(a)) assertBitIdentical(a[key], b[key], `${key}, ${what}`);
}

interface ConvCase { batch: number; input: [number, number, number]; conv: Omit<Conv2dSpec, 'kind'> }

const CONV_CASES: ConvCase[] = [
  { batch: 1, input: [1, 5, 5], conv: { outChannels: 3, kernel: 3 } },
  { batch: 7, input: [3, 9, 11], conv: { outChannels: 5, kernel: 3, stride: 2, padding: 1 } },
  { batch: 2, input: [5, 8, 7], conv: { outChannels: 7, kernel: [3, 2], stride: [2, 1], padding: [2, 1] } },
  { batch: 33, input: [1, 12, 12], conv: { outChannels: 8, kernel: 3, padding: 1 } },
  { batch: 3, input: [3, 6, 6], conv: { outChannels: 4, kernel: 1 } },
  { batch: 2, input: [2, 10, 9], conv: { outChannels: 6, kernel: 5, padding: 2 } },
  { batch: 1, input: [3, 19, 21], conv: { outChannels: 9, kernel: 3, stride: 2, padding: 2 } },
  { batch: 4, input: [8, 14, 14], conv: { outChannels: 16, kernel: 3, padding: 1 } },
];

const convName = (c: ConvCase) => {
  const { outChannels, kernel, stride = 1, padding = 0 } = c.conv;
  return `batch ${c.batch}, ${c.input.join('×')} → ${outChannels} ch, k ${kernel} s ${stride} p ${padding}`;
};

describe('CPU conv2d against the f64 layer table', () => {
  it('scratch sizes and activation codes agree with the module, and the chunk with assembly/conv2d.ts', async () => {
    const k: CpuKernelExports = await instantiateKernels(module, new WebAssembly.Memory({ initial: 16, maximum: 16384 }));
    expect((k as unknown as { CONV_WEIGHT_CHUNK: WebAssembly.Global }).CONV_WEIGHT_CHUNK.value).toBe(CONV_WEIGHT_CHUNK);
    for (const [c, co, kh, kw] of [[1, 8, 3, 3], [8, 16, 3, 3], [5, 7, 3, 2], [3, 1, 1, 1]]) {
      const shape = { batch: 1, inChannels: c, height: 9, width: 9, outChannels: co, kernel: [kh, kw] as [number, number], stride: [1, 1] as [number, number], padding: [0, 0] as [number, number] };
      expect(scratchBytes('conv2d-forward', shape)).toBe(k.conv2dForwardScratch(c, co, kh, kw));
      expect(scratchBytes('conv2d-backward-input', shape)).toBe(k.conv2dBackwardInputScratch(c, co, kh, kw));
      expect(scratchBytes('conv2d-weight-partials', shape)).toBe(k.conv2dWeightScratch(c, co, kh, kw));
    }
    const globals = k as unknown as Record<string, WebAssembly.Global>;
    expect([globals.ACT_NONE.value, globals.ACT_RELU.value, globals.ACT_GELU.value, globals.ACT_GELU_SAVED.value]).toEqual([ACT.none, ACT.relu, ACT.gelu, ACT.geluSaved]);
    // And the attention core's, which the GPT suite (cpuGpt.testSuite.ts) runs.
    for (const [t, d] of [[1, 4], [7, 5], [7, 3], [33, 3], [64, 32], [256, 64], [3, 40]]) expect(attentionScratchBytes(t, d)).toBe(k.attentionScratch(t, d));
  });

  for (const c of CONV_CASES) {
    it(convName(c), async () => {
      const what = convName(c);
      const rng = new Random(c.batch * 1000 + c.input[0] * 10 + c.conv.outChannels);
      const { model, layer } = singleLayer(c.input, { kind: 'conv2d', ...c.conv });
      const params = randomParams(model, rng);
      const x = rng.uniformArray(c.batch * c.input.reduce((a, b) => a * b));
      const dy = rng.uniformArray(c.batch * layer.outShape.reduce((a, b) => a * b));
      const ref = referenceLayer(model, layer, params, x, dy, c.batch);

      const op = await CpuConv2d.create(
        { batch: c.batch, inChannels: c.input[0], height: c.input[1], width: c.input[2], outChannels: layer.outChannels, kernel: layer.kernel, stride: layer.stride, padding: layer.padding },
        options,
      );
      op.view('x').set(x);
      op.view('dy').set(dy);
      op.view('weight').set(params.subarray(layer.weight.offset, layer.weight.offset + layer.weight.length));
      op.view('bias').set(params.subarray(layer.bias.offset, layer.bias.offset + layer.bias.length));
      const outputs = () => ({ y: op.view('y'), dx: op.view('dx'), dWeight: op.view('dWeight'), dBias: op.view('dBias') });
      const runs = [];
      for (let run = 0; run < 2; run++) {
        clear(outputs());
        await op.forward();
        await op.backwardInput();
        await op.backwardWeight();
        runs.push(snapshot(outputs()));
      }
      const [got, again] = runs;
      const depth = c.input[0] * layer.kernel[0] * layer.kernel[1];
      const positions = c.batch * layer.outShape[1] * layer.outShape[2];
      // f32 sums of inC·kh·kw (forward), outC·kh·kw (dx) or batch·outH·outW (dW, db) terms of size ≤ 1.
      assertAllClose(got.y, ref.y, 2e-5 * Math.sqrt(depth), 1e-5, `forward, ${what}`);
      assertAllClose(got.dx, ref.dx, 2e-5 * Math.sqrt((layer.outChannels * depth) / c.input[0]), 1e-5, `dx, ${what}`);
      assertAllClose(got.dWeight, ref.gradient.subarray(layer.weight.offset, layer.weight.offset + layer.weight.length), 2e-5 * Math.sqrt(positions), 1e-5, `dW, ${what}`);
      assertAllClose(got.dBias, ref.gradient.subarray(layer.bias.offset, layer.bias.offset + layer.bias.length), 2e-5 * Math.sqrt(positions), 1e-5, `db, ${what}`);
      expectSameBits(got, again, `repeat, ${what}`);
      for (const count of SPLITS) {
        clear(outputs());
        await runSplit(op.memory, [op.passes.forward, op.passes.backwardInput, op.passes.backwardWeight], count);
        expectSameBits(got, snapshot(outputs()), `${count} thread shares vs 1, ${what}`);
      }
      op.dispose();
    });
  }
});

interface PoolCase { batch: number; input: [number, number, number]; pool: Omit<PoolSpec, 'kind'>; ties?: boolean }

const POOL_CASES: PoolCase[] = [
  { batch: 1, input: [1, 4, 4], pool: { kernel: 2 } },
  { batch: 7, input: [3, 7, 9], pool: { kernel: 2 } },
  { batch: 2, input: [5, 8, 7], pool: { kernel: 3, stride: 2 } },
  { batch: 3, input: [2, 6, 5], pool: { kernel: [3, 2], stride: [1, 2] } },
  { batch: 33, input: [1, 6, 6], pool: { kernel: 2 } },
  { batch: 4, input: [3, 9, 8], pool: { kernel: 3, stride: 1 }, ties: true },
  { batch: 2, input: [3, 11, 13], pool: { kernel: [5, 4], stride: [2, 3] }, ties: true },
];

const poolName = (kind: string, c: PoolCase) =>
  `${kind} batch ${c.batch}, ${c.input.join('×')}, k ${c.pool.kernel} s ${c.pool.stride ?? c.pool.kernel}${c.ties ? ', ties' : ''}`;

describe('CPU pooling against the f64 layer table', () => {
  for (const kind of ['maxpool2d', 'avgpool2d'] as const) {
    for (const c of POOL_CASES) {
      it(poolName(kind, c), async () => {
        const what = poolName(kind, c);
        const rng = new Random(c.batch * 100 + c.input[0]);
        const { model, layer } = singleLayer(c.input, { kind, ...c.pool });
        const x = c.ties ? rng.uniformArray(c.batch * c.input.reduce((a, b) => a * b), 0, 3).map(Math.floor) : rng.uniformArray(c.batch * c.input.reduce((a, b) => a * b));
        const dy = rng.uniformArray(c.batch * layer.outShape.reduce((a, b) => a * b));
        const ref = referenceLayer(model, layer, new Float32Array(model.total), x, dy, c.batch);

        const op = await CpuPool2d.create(kind, { batch: c.batch, channels: c.input[0], height: c.input[1], width: c.input[2], kernel: layer.kernel, stride: layer.stride }, options);
        op.view('x').set(x);
        op.view('dy').set(dy);
        const outputs = () => ({ y: op.view('y'), dx: op.view('dx'), ...(kind === 'maxpool2d' ? { argmax: op.argmax() } : {}) });
        const runs = [];
        for (let run = 0; run < 2; run++) {
          clear(outputs());
          await op.forward();
          await op.backward();
          runs.push(snapshot(outputs()));
        }
        const [got, again] = runs;
        assertAllClose(got.y, ref.y, 1e-6, 1e-6, `forward, ${what}`);
        assertAllClose(got.dx, ref.dx, 1e-6, 1e-5, `dx, ${what}`);
        if (kind === 'maxpool2d') {
          expect(Array.from(new Uint32Array(got.argmax.buffer))).toEqual(Array.from((ref.saved as { argmax: Int32Array }).argmax));
        }
        expectSameBits(got, again, `repeat, ${what}`);
        for (const count of SPLITS) {
          clear(outputs());
          await runSplit(op.memory, [op.passes.forward, op.passes.backward], count);
          expectSameBits(got, snapshot(outputs()), `${count} thread shares vs 1, ${what}`);
        }
        op.dispose();
      });
    }
  }
});

interface NormCase { rows: number; input: number[]; eps?: number; offset?: number }

const NORM_CASES: NormCase[] = [
  { rows: 1, input: [2] },
  { rows: 7, input: [5] },
  { rows: 33, input: [64] },
  { rows: 7, input: [3, 7, 7] },
  { rows: 3, input: [300], offset: 100 },
  { rows: 33, input: [5, 2, 3], eps: 1e-3 },
  { rows: 32, input: [16, 7, 7] },
];

const normName = (c: NormCase) => `${c.rows} rows of ${c.input.join('×')}${c.offset ? `, offset ${c.offset}` : ''}${c.eps ? `, eps ${c.eps}` : ''}`;

describe('CPU layernorm against the f64 layer table', () => {
  for (const c of NORM_CASES) {
    it(normName(c), async () => {
      const what = normName(c);
      const rng = new Random(c.rows * 1000 + c.input.length);
      const { model, layer } = singleLayer(c.input, { kind: 'layernorm', eps: c.eps });
      const f = layer.features;
      const params = randomParams(model, rng);
      const x = rng.uniformArray(c.rows * f, -2, 2).map((v) => v + (c.offset ?? 0));
      const dy = rng.uniformArray(c.rows * f);
      const ref = referenceLayer(model, layer, params, x, dy, c.rows);
      const saved = ref.saved as { invStd: Float64Array };

      const op = await CpuLayerNorm.create({ rows: c.rows, features: f, eps: layer.eps }, options);
      op.view('x').set(x);
      op.view('dy').set(dy);
      op.view('gain').set(params.subarray(layer.weight.offset, layer.weight.offset + f));
      op.view('shift').set(params.subarray(layer.bias.offset, layer.bias.offset + f));
      const outputs = () => ({ y: op.view('y'), stats: op.view('stats'), dx: op.view('dx'), dGain: op.view('dGain'), dShift: op.view('dShift') });
      const runs = [];
      for (let run = 0; run < 2; run++) {
        clear(outputs());
        await op.forward();
        await op.backwardInput();
        await op.paramGrad();
        runs.push(snapshot(outputs()));
      }
      const [got, again] = runs;
      const refStats = new Float64Array(2 * c.rows);
      for (let n = 0; n < c.rows; n++) {
        refStats[2 * n] = x.subarray(n * f, (n + 1) * f).reduce((a, b) => a + b, 0) / f;
        refStats[2 * n + 1] = saved.invStd[n];
      }
      const g = ref.gradient;
      assertAllClose(got.y, ref.y, 1e-5, 1e-4, `forward, ${what}`);
      assertAllClose(got.stats, refStats, 1e-5, 1e-4, `stats, ${what}`);
      assertAllClose(got.dx, ref.dx, 1e-5, 1e-4, `dx, ${what}`);
      assertAllClose(got.dGain, g.subarray(layer.weight.offset, layer.weight.offset + f), 1e-5 * Math.sqrt(c.rows), 1e-4, `dGain, ${what}`);
      assertAllClose(got.dShift, g.subarray(layer.bias.offset, layer.bias.offset + f), 1e-5 * Math.sqrt(c.rows), 1e-4, `dShift, ${what}`);
      expectSameBits(got, again, `repeat, ${what}`);
      for (const count of SPLITS) {
        clear(outputs());
        await runSplit(op.memory, [op.passes.forward, op.passes.backwardInput, op.passes.paramGrad], count);
        expectSameBits(got, snapshot(outputs()), `${count} thread shares vs 1, ${what}`);
      }
      op.dispose();
    });
  }
});

describe('CPU layer jobs', () => {
  it('round-trip through the f64 job slots, every op', async () => {
    const conv = await CpuConv2d.create({ batch: 2, inChannels: 3, height: 9, width: 7, outChannels: 5, kernel: [3, 2], stride: [2, 1], padding: [1, 0] }, options);
    const max = await CpuPool2d.create('maxpool2d', { batch: 3, channels: 2, height: 7, width: 6, kernel: [3, 2], stride: [2, 1] }, options);
    const avg = await CpuPool2d.create('avgpool2d', { batch: 1, channels: 4, height: 5, width: 5, kernel: [2, 2], stride: [2, 2] }, options);
    const norm = await CpuLayerNorm.create({ rows: 7, features: 33, eps: 1e-3 }, options);
    const jobs = [conv, max, avg, norm].flatMap((op) => Object.values(op.passes).flat());
    expect(new Set(jobs.map((j) => j.op)).size).toBe(11);
    const slots = new Float64Array(JOB_SLOTS);
    for (const layer of jobs) {
      encodeJob({ kind: 'layer', layer }, slots);
      expect(decodeJob(slots)).toEqual({ kind: 'layer', layer });
    }
    for (const op of [conv, max, avg, norm]) op.dispose();
  });
});
