// The training worker on the CPU backend, end to end in Chromium: a real Worker, comlink,
// WebAssembly threads on shared memory (the test page is cross-origin isolated). Bad input
// is refused and changes nothing; killed threads are recovered from with the same answer;
// a local run on real Fashion-MNIST reaches the same accuracy bar as the WebGPU backend.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomDataset } from '../data/dataset.ts';
import { DEFAULT_ADAMW } from '../kernels/optimizer.ts';
import { DEFAULT_MLP, mlpLayout } from '../model/mlp.ts';
import { Random } from '../util/random.ts';
import { startTrainerWorker, type TrainerWorker } from './client.ts';
import { runLocalTraining } from './localTraining.ts';

let worker: TrainerWorker;
const layout = mlpLayout(DEFAULT_MLP);

beforeAll(() => {
  worker = startTrainerWorker();
});
afterAll(() => worker?.terminate());

describe('worker API on the CPU backend', () => {
  it('initialises: threads, SIMD level, self-test, the visitor’s choice', async () => {
    const report = await worker.api.init({ spec: DEFAULT_MLP, backend: 'cpu', cpuThreads: 2 });
    expect(report.backend).toBe('cpu');
    expect(report.selfTest).toBe('passed');
    expect(report.cpu).toEqual({ threads: 2, simd: 'relaxed', crossOriginIsolated: true });
    expect(report.kernel).toBe('wasm relaxed-SIMD (FMA) 4x8, 2 threads');
    expect(report.flopsPerMs).toBeGreaterThan(0);
    expect(report.selection).toEqual({ requested: 'cpu', chosen: 'cpu', reason: 'CPU, chosen by the visitor', candidates: [] });
  });

  it('computes a gradient with loss, example count, FLOPs, one job and one copy out; deterministic', async () => {
    await worker.api.loadDataset({ kind: 'arrays', train: randomDataset(new Random(1), 300, 784, 10) });
    await worker.api.initParameters(1);
    const indices = Uint32Array.from({ length: 128 }, (_, i) => (i * 7) % 300);
    const r = await worker.api.computeGradient({ version: 0, indices });
    expect(r.version).toBe(0);
    expect(r.exampleCount).toBe(128);
    expect(r.loss).toBeGreaterThan(0);
    expect(r.gradient.length).toBe(layout.total);
    expect(r.flops).toBe(2 * 128 * (784 * 256 + 256 * 128 + 128 * 10) * 3 - 2 * 128 * 784 * 256);
    expect(r.submits).toBe(1);
    expect(r.readbacks).toBe(1);
    expect(r.gpuTimeMs).toBeNull();
    const again = await worker.api.computeGradient({ version: 0, indices });
    expect(new Uint32Array(again.gradient.buffer)).toEqual(new Uint32Array(r.gradient.buffer));
  });

  it('refuses bad input with a clear error and loses nothing', async () => {
    const indices = Uint32Array.from([0, 1, 2]);
    const before = await worker.api.computeGradient({ version: 0, indices });
    const nan = new Float32Array(layout.total);
    nan[5] = Number.NaN;
    await expect(worker.api.loadParameters(1, nan)).rejects.toThrow(/Parameter 5 is NaN/);
    await expect(worker.api.computeGradient({ version: 0, indices: Uint32Array.from([299, 300]) })).rejects.toThrow(/Example index 300 .*out of range/);
    await expect(worker.api.optimizerStep(DEFAULT_ADAMW, new Float32Array(3))).rejects.toThrow(/gradient has 3 values/);
    await expect(worker.api.init({ spec: DEFAULT_MLP, backend: 'tpu' as 'cpu' })).rejects.toThrow(/backend must be 'webgpu', 'cpu' or 'auto', got "tpu"/);
    await expect(worker.api.init({ spec: DEFAULT_MLP, cpuThreads: 0 })).rejects.toThrow(/cpuThreads must be an integer from 1 to 16, got 0/);
    await expect(worker.api.init({ spec: DEFAULT_MLP, selectionBudgetMs: -1 })).rejects.toThrow(/selectionBudgetMs/);
    const after = await worker.api.computeGradient({ version: 0, indices });
    expect(new Uint32Array(after.gradient.buffer)).toEqual(new Uint32Array(before.gradient.buffer));
  });

  it('recovers from killed threads: rebuilds the backend, reloads, retries, same answer', async () => {
    const indices = Uint32Array.from({ length: 64 }, (_, i) => i * 3);
    const before = await worker.api.computeGradient({ version: 0, indices });
    await worker.api.simulateDeviceLoss();
    const after = await worker.api.computeGradient({ version: 0, indices });
    expect(after.recoveries).toBe(1);
    expect(new Uint32Array(after.gradient.buffer)).toEqual(new Uint32Array(before.gradient.buffer));
    const step = await worker.api.trainStep({ version: 0, indices }, DEFAULT_ADAMW);
    expect(step.version).toBe(1);
  });
});

describe('local training on the CPU backend', () => {
  it('reaches ≥ 82% test accuracy on real Fashion-MNIST (20k examples, 2 epochs)', async () => {
    await worker.api.init({ spec: DEFAULT_MLP, backend: 'cpu' });
    const counts = await worker.api.loadDataset({ kind: 'url', baseUrl: '/data/fashion-mnist/' });
    expect(counts).toEqual({ train: 60000, test: 10000 });
    const summary = await runLocalTraining(worker.api, {
      trainExamples: 20000,
      epochs: 2,
      batch: 128,
      hyper: { ...DEFAULT_ADAMW, lr: 2e-3 },
      seed: 1,
      evalEvery: 1000,
      evalExamples: 2000,
    });
    console.log(`local training on the CPU backend: ${JSON.stringify(summary)}`);
    expect(summary.steps).toBe(314);
    expect(summary.testAccuracy).toBeGreaterThanOrEqual(0.82);
  });
});
