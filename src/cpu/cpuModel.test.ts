// The CPU layer-table model in Node: one thread on the caller's thread (as the coordinator
// runs it for spot checks and evaluation), the same tests as in Chromium; and the dropout
// kernel's mask against src/model/layers/dropout.ts unit for unit.
import { describe, expect, it } from 'vitest';
import { dropoutKeeps, dropoutThreshold } from '../model/layers/dropout.ts';
import { Random } from '../util/random.ts';
import { defineCpuModelTests } from './cpuModel.testSuite.ts';
import { defineCpuGptTests } from './cpuGpt.testSuite.ts';
import { instantiateKernels, loadKernelModule } from './kernels.ts';
import { JOB_SLOTS } from './control.ts';
import { CpuModel } from './cpuModel.ts';
import { decodeJob, encodeJob, type CpuJob } from './jobs.ts';
import { resolveModel } from '../model/layers/spec.ts';
import { runCpuModelSelfTest } from './cpuModelSelfTest.ts';
import { cpuModelMemoryBytes } from './cpuModelPlan.ts';
import { cnnSpec, normResidualSpec } from './cpuModel.testSuite.ts';

defineCpuModelTests(1);
defineCpuGptTests(1);

describe('CPU dropout kernel', () => {
  it('keeps exactly the units dropout.ts keeps, scaled by 1/(1 − p), on every SIMD build this engine runs', async () => {
    const builds = await Promise.all((['plain', 'relaxed'] as const).map((simd) => loadKernelModule({ shared: false, simd }).catch(() => null)));
    expect(builds[0]).not.toBeNull(); // plain SIMD128 runs everywhere we support, Node included
    for (const build of builds) {
      if (!build) continue;
      const mem = new WebAssembly.Memory({ initial: 32, maximum: 16384 });
      const k = await instantiateKernels(build.module, mem);
      const rng = new Random(7);
      const [rows, features] = [9, 301];
      const [src, dst, positions] = [65536, 65536 + rows * features * 4, 65536 + 2 * rows * features * 4];
      for (const p of [0.1, 0.5, 0.9]) {
        const seed = rng.int(2 ** 32);
        const layer = rng.int(40);
        const threshold = dropoutThreshold(p);
        const view = () => new DataView(mem.buffer);
        const pos = Array.from({ length: rows }, (_, r) => (r === 0 ? 2 ** 32 - 1 : rng.int(2 ** 32)));
        for (let r = 0; r < rows; r++) view().setUint32(positions + r * 4, pos[r], true);
        const x = rng.uniformArray(rows * features, 0.5, 1.5);
        new Float32Array(mem.buffer, src, x.length).set(x);
        const scale = 1 / (1 - p);
        k.dropoutApply(src, dst, positions, seed, layer, threshold, scale, features, 0, rows);
        const y = new Float32Array(mem.buffer, dst, x.length);
        let kept = 0;
        for (let r = 0; r < rows; r++) {
          for (let u = 0; u < features; u++) {
            const keep = dropoutKeeps(seed, pos[r], layer, u, threshold);
            kept += keep ? 1 : 0;
            expect(y[r * features + u]).toBe(keep ? Math.fround(x[r * features + u] * Math.fround(scale)) : 0);
          }
        }
        expect(Math.abs(kept / (rows * features) - (1 - p))).toBeLessThan(0.05);
      }
    }
  });
});

describe('CpuModel jobs and memory', () => {
  it('encodes every model job and decodes it back', () => {
    const optimizer = { kind: 'adamw' as const, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, bc1: 0.1, bc2: 0.001, maxGradNorm: 1 };
    const jobs: CpuJob[] = [
      { kind: 'model-configure', inputs: { specBytes: 321, trainCount: 60000, testCount: 10000, batchCapacity: 256, threads: 3 } },
      { kind: 'model-gradient', batch: 33, repack: true, optimizer: null, dropoutSeed: null, source: 'train', phase: 'all' },
      { kind: 'model-gradient', batch: 7, repack: false, optimizer, dropoutSeed: 2 ** 32 - 1, source: 'raw', phase: 'backward' },
      { kind: 'model-forward', batch: 1, repack: true, source: 'test' },
      { kind: 'model-optimizer', optimizer: { ...optimizer, kind: 'sgd' } },
    ];
    const slots = new Float64Array(JOB_SLOTS);
    for (const job of jobs) {
      encodeJob(job, slots);
      expect(decodeJob(slots)).toEqual(job);
    }
  });

  it('grows its batch buffers in steps of 128 rows, the model and the datasets staying put', async () => {
    const model = resolveModel({ input: [1, 12, 12], layers: [{ kind: 'conv2d', outChannels: 4, kernel: 3 }, { kind: 'relu' }, { kind: 'flatten' }, { kind: 'linear', outFeatures: 3 }, { kind: 'softmax-cross-entropy' }] });
    const cpu = await CpuModel.create(model, { threads: 1 });
    const params = new Float32Array(model.total).fill(0.01);
    cpu.setParameters(params);
    const small = cpu.memoryBytes;
    // The estimate for plans: the same plan from address 0 (the module's static data and header are a few KiB).
    expect(Math.abs(cpuModelMemoryBytes(model, { trainCount: 0, testCount: 0, batchCapacity: 128 }) - small)).toBeLessThan(65536);
    await cpu.logits(new Float32Array(128 * 144), 128);
    expect(cpu.memoryBytes).toBe(small);
    await cpu.logits(new Float32Array(129 * 144), 129);
    expect(cpu.memoryBytes).toBeGreaterThan(small);
    expect(cpu.readState().params).toEqual(params);
    cpu.dispose();
    // 64 channels of 10×10 in five buffers: about 130 KB a row, so 20,000 rows cannot fit.
    const wide = resolveModel({ input: [1, 12, 12], layers: [{ kind: 'conv2d', outChannels: 64, kernel: 3 }, { kind: 'relu' }, { kind: 'flatten' }, { kind: 'linear', outFeatures: 3 }, { kind: 'softmax-cross-entropy' }] });
    const big = await CpuModel.create(wide, { threads: 1 });
    await expect(big.logits(new Float32Array(20000 * 144), 20000)).rejects.toThrow(/needs \d+ MiB, more than its 1024 MiB maximum: use a smaller dataset or micro-batch/);
    big.dispose();
  });
});

describe('CpuModel.inline', () => {
  it('gives the bits of the asynchronous calls, synchronously, growing its buffers as they do', async () => {
    const model = resolveModel(cnnSpec(3, 9, 8));
    const rng = new Random(5);
    const data = { images: Uint8Array.from({ length: 300 * model.inputSize }, () => rng.int(256)), labels: Uint8Array.from({ length: 300 }, () => rng.int(model.classes)), count: 300, features: model.inputSize, classes: model.classes };
    const params = Float32Array.from({ length: model.total }, () => rng.uniform(-0.3, 0.3));
    const hyper = { kind: 'adamw' as const, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1 };
    const indices = Uint32Array.from({ length: 200 }, (_, i) => (i * 7) % 300);
    const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

    const asyncModel = await CpuModel.create(model, { threads: 1 });
    await asyncModel.setDatasets(data, data);
    asyncModel.setParameters(params);
    const g = await asyncModel.gradient(indices);
    asyncModel.setOptimizerState(new Float32Array(model.total), new Float32Array(model.total));
    await asyncModel.trainStep(indices, hyper, 1);
    const e = await asyncModel.evaluate('test', indices);

    const inline = (await CpuModel.create(model, { threads: 1 })).inline;
    inline.setDatasets(data, data);
    inline.setParameters(params);
    const gi = inline.gradient(indices);
    inline.setOptimizerState(new Float32Array(model.total), new Float32Array(model.total));
    inline.trainStep(indices, hyper, 1);
    expect(bits(gi.gradient)).toEqual(bits(g.gradient));
    expect(gi.loss).toBe(g.loss);
    expect(bits(inline.readState().params)).toEqual(bits(asyncModel.readState().params));
    expect(inline.evaluate('test', indices)).toEqual(e);
    expect(() => inline.gradient(Uint32Array.from([300]))).toThrow(/out of range/);
    asyncModel.dispose();
  });
});

describe('CpuModel self-test', () => {
  it('passes on a CNN and a dropout model, and reports a FLOP rate', async () => {
    for (const spec of [cnnSpec(3, 9, 11), normResidualSpec]) {
      const cpu = await CpuModel.create(resolveModel(spec), { threads: 1 });
      const { flopsPerMs } = await runCpuModelSelfTest(cpu);
      expect(flopsPerMs).toBeGreaterThan(0);
      cpu.dispose();
    }
  });
});
