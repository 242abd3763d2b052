// The training worker end to end in Chromium: a real Worker, comlink, WebGPU. Bad input is
// refused with a clear error and changes nothing; a lost device is recovered from with the
// same answer; a local run on real Fashion-MNIST reaches its stated accuracy.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomDataset } from '../data/dataset.ts';
import { DEFAULT_ADAMW } from '../kernels/optimizer.ts';
import { DEFAULT_MLP, mlpLayout } from '../model/mlp.ts';
import { Random } from '../util/random.ts';
import { startTrainerWorker, type TrainerWorker } from './client.ts';
import { runLocalTraining } from './localTraining.ts';

let worker: TrainerWorker;
const layout = mlpLayout(DEFAULT_MLP);
const CONFIG = '4x8_wg8x8_direct';

beforeAll(async () => {
  worker = startTrainerWorker();
});
afterAll(() => worker?.terminate());

describe('worker API', () => {
  it('initialises: adapter report, autotuned or forced config, self-test', async () => {
    const report = await worker.api.init({ spec: DEFAULT_MLP, backend: 'webgpu', matmulConfig: CONFIG });
    expect(report.backend).toBe('webgpu');
    expect(report.selfTest).toBe('passed');
    expect(report.kernel).toBe(CONFIG);
    expect(typeof report.adapter!.isFallbackAdapter).toBe('boolean');
    expect(report.adapter!.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
  });

  it('computes a gradient with loss, example count, GPU time, FLOPs, ≤ 2 submits and 1 readback', async () => {
    await worker.api.loadDataset({ kind: 'arrays', train: randomDataset(new Random(1), 300, 784, 10) });
    await worker.api.initParameters(1);
    const indices = Uint32Array.from({ length: 128 }, (_, i) => (i * 7) % 300);
    const r = await worker.api.computeGradient({ version: 0, indices });
    expect(r.version).toBe(0);
    expect(r.exampleCount).toBe(128);
    expect(r.loss).toBeGreaterThan(0);
    expect(r.gradient).toBeInstanceOf(Float32Array);
    expect(r.gradient.length).toBe(layout.total);
    expect(r.flops).toBe(2 * 128 * (784 * 256 + 256 * 128 + 128 * 10) * 3 - 2 * 128 * 784 * 256);
    expect(r.submits).toBeLessThanOrEqual(2);
    expect(r.readbacks).toBe(1);
    expect(r.gpuTimeMs === null || r.gpuTimeMs > 0).toBe(true);
    // Deterministic through the worker too.
    const again = await worker.api.computeGradient({ version: 0, indices });
    expect(new Uint32Array(again.gradient.buffer)).toEqual(new Uint32Array(r.gradient.buffer));
  });

  it('refuses bad input with a clear error and loses nothing', async () => {
    const indices = Uint32Array.from([0, 1, 2]);
    const before = await worker.api.computeGradient({ version: 0, indices });
    const nan = new Float32Array(layout.total);
    nan[5] = Number.NaN;
    await expect(worker.api.loadParameters(1, nan)).rejects.toThrow(/Parameter 5 is NaN/);
    await expect(worker.api.loadParameters(1, new Float32Array(10))).rejects.toThrow(/Parameters have 10 values.*needs 235/);
    await expect(worker.api.computeGradient({ version: 3, indices })).rejects.toThrow(/Stale parameter version.*version 3.*holds version 0/);
    await expect(worker.api.computeGradient({ version: 0, indices: Uint32Array.from([299, 300]) })).rejects.toThrow(/Example index 300 .*out of range.*300 examples/);
    await expect(worker.api.computeGradient({ version: 0, indices: new Uint32Array(0) })).rejects.toThrow(/at least one example/);
    await expect(worker.api.computeGradient({ version: 0, indices: [1, 2] as unknown as Uint32Array })).rejects.toThrow(/must be a Uint32Array/);
    await expect(worker.api.optimizerStep(DEFAULT_ADAMW, new Float32Array(3))).rejects.toThrow(/gradient has 3 values/);
    await expect(worker.api.optimizerStep({ ...DEFAULT_ADAMW, lr: Number.NaN })).rejects.toThrow(/lr must be a finite/);
    await expect(
      worker.api.loadDataset({ kind: 'arrays', train: { ...randomDataset(new Random(2), 5, 784, 10), features: 100, images: new Uint8Array(500) } }),
    ).rejects.toThrow(/100 features per example; the model's input is 784/);
    // Nothing changed: same version, same parameters, same gradient bits.
    const after = await worker.api.computeGradient({ version: 0, indices });
    expect(new Uint32Array(after.gradient.buffer)).toEqual(new Uint32Array(before.gradient.buffer));
  });

  it('recovers from a lost device: recreates it, re-uploads, retries, same answer', async () => {
    const indices = Uint32Array.from({ length: 64 }, (_, i) => i * 3);
    const before = await worker.api.computeGradient({ version: 0, indices });
    await worker.api.simulateDeviceLoss();
    const after = await worker.api.computeGradient({ version: 0, indices });
    expect(after.recoveries).toBe(1);
    expect(new Uint32Array(after.gradient.buffer)).toEqual(new Uint32Array(before.gradient.buffer));
    // Training continues on the new device.
    const step = await worker.api.trainStep({ version: 0, indices }, DEFAULT_ADAMW);
    expect(step.version).toBe(1);
  });
});

describe('local training in the browser', () => {
  it('reaches ≥ 82% test accuracy on real Fashion-MNIST (20k examples, 2 epochs)', async () => {
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
    console.log(`local training: ${JSON.stringify(summary)}`);
    expect(summary.steps).toBe(314);
    // Measured 83.25% on SwiftShader; the bar leaves room for other adapters' rounding.
    expect(summary.testAccuracy).toBeGreaterThanOrEqual(0.82);
  });
});
