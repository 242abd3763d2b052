// Measures the CPU layer-table model in Node on one thread (not a test):
//   - images/s of one training step (gradient + AdamW) of the issue-11 CNN at batch 64, and
//     where its time goes (each conv pass timed alone on the same shapes, CpuConv2d);
//   - the MLP's trainStep through CpuModel against CpuMlp (interleaved, medians).
// Usage: nice -n 19 node --import tsx src/cpu/cpuModelBench.ts [--quick]
// Measured 2026-12-02, Node 20 (plain SIMD128: no relaxed SIMD), 1 thread, on the 2-core
// development machine while other engineers' tests ran (load 4–7, so ±20% or worse):
//   CNN trainStep at batch 64: 88–91 ms, 700–730 images/s (12 GFLOP/s). Per pass, alone:
//   conv2 forward 19 ms, dx 26 ms, dW+db 26 ms; conv1 forward 3.8 ms, dW+db 4.3 ms, and its
//   dx 29 ms (1.3 GFLOP/s: the few-channel dx of issue 11), which the step never computes
//   (a layer with no parameters before it needs no dx).
//   MLP 784-256-128-10 relu trainStep, CpuModel / CpuMlp: 0.93–1.01 at batch 32, 0.98–1.06
//   at batch 128 over five runs (the same kernel calls in the same order: noise).

import { randomDataset } from '../data/dataset.ts';
import type { AdamWHyper } from '../kernels/optimizer.ts';
import { initParameters, mlpLayout, type MlpSpec } from '../model/mlp.ts';
import { initModelParameters, resolveModel, type LayerModelSpec } from '../model/layers/spec.ts';
import { Random } from '../util/random.ts';
import { CpuConv2d } from './cpuLayers.ts';
import { CpuMlp } from './cpuMlp.ts';
import { CpuModel } from './cpuModel.ts';

const quick = process.argv.includes('--quick');
const hyper: AdamWHyper = { kind: 'adamw', lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-4, maxGradNorm: 1 };
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timeIt(runs: number, fn: () => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return times;
}

export const BENCH_CNN: LayerModelSpec = {
  input: [1, 28, 28],
  layers: [
    { kind: 'conv2d', outChannels: 16, kernel: 5, padding: 2 },
    { kind: 'relu' },
    { kind: 'maxpool2d', kernel: 2 },
    { kind: 'conv2d', outChannels: 32, kernel: 5, padding: 2 },
    { kind: 'relu' },
    { kind: 'maxpool2d', kernel: 2 },
    { kind: 'flatten' },
    { kind: 'linear', outFeatures: 10 },
    { kind: 'softmax-cross-entropy' },
  ],
};

async function cnn(): Promise<void> {
  const batch = 64;
  const rng = new Random(1);
  const model = resolveModel(BENCH_CNN);
  const cpu = await CpuModel.create(model, { threads: 1 });
  cpu.setParameters(initModelParameters(model, 1));
  const ds = randomDataset(rng, 2048, 784, 10);
  await cpu.setDatasets(ds, null);
  const steps = quick ? 5 : 15;
  let t = 1;
  const indices = () => Uint32Array.from({ length: batch }, () => rng.int(ds.count));
  await timeIt(2, () => cpu.trainStep(indices(), hyper, t++));
  const times = await timeIt(steps, () => cpu.trainStep(indices(), hyper, t++));
  const ms = median(times);
  const flops = 3 * model.forwardFlops * batch;
  console.log(`CNN trainStep, batch ${batch}, 1 thread, ${cpu.simd} SIMD: median ${ms.toFixed(1)} ms = ${((batch / ms) * 1000).toFixed(0)} images/s ` +
    `(${(flops / ms / 1e6).toFixed(2)} GFLOP/s at 3× forward FLOPs; ${(cpu.memoryBytes / 2 ** 20).toFixed(0)} MiB of memory)`);
  cpu.dispose();

  // The conv passes alone, same shapes.
  const convs = [
    { name: 'conv1 1→16 28×28', shape: { batch, inChannels: 1, height: 28, width: 28, outChannels: 16, kernel: [5, 5], stride: [1, 1], padding: [2, 2] } },
    { name: 'conv2 16→32 14×14', shape: { batch, inChannels: 16, height: 14, width: 14, outChannels: 32, kernel: [5, 5], stride: [1, 1], padding: [2, 2] } },
  ] as const;
  for (const { name, shape } of convs) {
    const op = await CpuConv2d.create({ ...shape, kernel: [...shape.kernel], stride: [...shape.stride], padding: [...shape.padding] }, { threads: 1 });
    op.view('x').set(rng.uniformArray(op.view('x').length));
    op.view('weight').set(rng.uniformArray(op.view('weight').length));
    op.view('dy').set(rng.uniformArray(op.view('dy').length));
    const runs = quick ? 3 : 9;
    const f = median(await timeIt(runs, () => op.forward()));
    const dx = median(await timeIt(runs, () => op.backwardInput()));
    const dw = median(await timeIt(runs, () => op.backwardWeight()));
    const g = (ms: number) => (op.flops / ms / 1e6).toFixed(2);
    console.log(`  ${name}: forward ${f.toFixed(1)} ms (${g(f)} GFLOP/s), dx ${dx.toFixed(1)} ms (${g(dx)}), dW+db ${dw.toFixed(1)} ms (${g(dw)})`);
    op.dispose();
  }
}

async function mlp(): Promise<void> {
  const spec: MlpSpec = { widths: [784, 256, 128, 10], activation: 'relu' };
  const rng = new Random(2);
  const ds = randomDataset(rng, 4096, 784, 10);
  const params = initParameters(mlpLayout(spec), 2);
  const old = await CpuMlp.create(mlpLayout(spec), { threads: 1 });
  const table = await CpuModel.create(resolveModel(spec), { threads: 1 });
  for (const b of [old, table]) {
    b.setParameters(params);
    await b.setDatasets(ds, null);
  }
  for (const batch of [32, 128]) {
    const rounds = quick ? 5 : 15;
    const times: Record<'CpuMlp' | 'CpuModel', number[]> = { CpuMlp: [], CpuModel: [] };
    let t = 1;
    for (let r = 0; r < rounds + 2; r++) {
      const indices = Uint32Array.from({ length: batch }, () => rng.int(ds.count));
      // Interleaved, so that a busy machine slows both alike.
      const a = await timeIt(1, () => old.trainStep(indices, hyper, t));
      const b = await timeIt(1, () => table.trainStep(indices, hyper, t));
      t++;
      if (r >= 2) {
        times.CpuMlp.push(a[0]);
        times.CpuModel.push(b[0]);
      }
    }
    const [ma, mb] = [median(times.CpuMlp), median(times.CpuModel)];
    console.log(`MLP 784-256-128-10 relu trainStep, batch ${batch}, 1 thread: CpuMlp ${ma.toFixed(2)} ms (${((batch / ma) * 1000).toFixed(0)}/s), ` +
      `CpuModel ${mb.toFixed(2)} ms (${((batch / mb) * 1000).toFixed(0)}/s), ratio ${(mb / ma).toFixed(3)}`);
  }
  old.dispose();
  table.dispose();
}

await cnn();
await mlp();
