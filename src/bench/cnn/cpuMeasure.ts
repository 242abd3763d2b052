// The CNN benchmarks' CPU measurements, run inside the bench worker (cpuBench.worker.ts), one
// per fresh worker: our CPU conv (CpuConv2d) and onnxruntime-web wasm's Conv on the CNN's
// conv shapes, and CpuModel's training step on the whole CNN, each at the requested threads.

import ortRuntimeModuleUrl from 'onnxruntime-web/ort-wasm-simd-threaded.mjs?url';
import ortRuntimeWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.wasm?url';
import type { ImageDataset } from '../../data/dataset.ts';
import { epochOrder } from '../../data/order.ts';
import { CpuConv2d } from '../../cpu/cpuLayers.ts';
import { CpuModel } from '../../cpu/cpuModel.ts';
import { conv2dShapeOf } from '../../kernels/conv2d.ts';
import { DEFAULT_ADAMW } from '../../kernels/optimizer.ts';
import { initModelParameters, resolveModel, type ModelSpec } from '../../model/layers/spec.ts';
import { batchIndices, timeRepeatedly, type TrainingFigures } from '../cpuBaselines.ts';
import { benchConvs, CNN_BATCH, convInput, convOnnx, convProbes, convTensors } from './model.ts';

export type ConvMeasureRequest =
  | { kind: 'ours-conv'; spec: ModelSpec; conv: number; threads: number; budgetMs: number }
  | { kind: 'ort-conv'; spec: ModelSpec; conv: number; threads: number; budgetMs: number };

export interface CnnTrainRequest {
  kind: 'ours-cnn';
  spec: ModelSpec;
  threads: number;
  batch: number;
  warmupSteps: number;
  minSteps: number;
  budgetMs: number;
  train: ImageDataset;
  seed: number;
}

export interface ConvFigures {
  /** Best ms per forward, and per forward + input gradient + weight gradient (ours only). */
  forward: { bestMs: number; medianMs: number; runs: number };
  forwardBackward: { bestMs: number; medianMs: number; runs: number } | null;
  probe: number[];
  details: Record<string, unknown>;
}

export interface CnnTrainFigures extends TrainingFigures {
  memoryBytes: number;
}

function convOf(r: ConvMeasureRequest) {
  const conv = benchConvs(resolveModel(r.spec))[r.conv];
  if (!conv) throw new Error(`The CNN has no conv layer ${r.conv + 1}`);
  return conv;
}

export async function oursConv(r: Extract<ConvMeasureRequest, { kind: 'ours-conv' }>): Promise<ConvFigures> {
  const conv = convOf(r);
  const op = await CpuConv2d.create(conv2dShapeOf(conv.layer, CNN_BATCH), { threads: r.threads });
  try {
    const { weight, bias } = convTensors(conv);
    op.view('x').set(convInput(conv));
    op.view('weight').set(weight);
    op.view('bias').set(bias);
    op.view('dy').set(convInput(conv).subarray(0, op.view('dy').length).map((v) => v - 0.5));
    const forward = await timeRepeatedly(() => op.forward(), r.budgetMs);
    const probe = convProbes(conv).map((i) => op.view('y')[i]);
    const forwardBackward = await timeRepeatedly(async () => {
      await op.forward();
      await op.backwardInput();
      await op.backwardWeight();
    }, r.budgetMs);
    return {
      forward, forwardBackward, probe,
      details: { threads: r.threads, flopsPerPass: op.flops, timing: 'wall-clock of CpuConv2d passes seen from the worker; forward+backward = forward, dx, dW+db' },
    };
  } finally {
    op.dispose();
  }
}

export async function ortConv(r: Extract<ConvMeasureRequest, { kind: 'ort-conv' }>): Promise<ConvFigures> {
  const conv = convOf(r);
  const ort = await import('onnxruntime-web/wasm');
  ort.env.wasm.numThreads = r.threads;
  ort.env.wasm.wasmPaths = { mjs: ortRuntimeModuleUrl, wasm: ortRuntimeWasmUrl };
  const session = await ort.InferenceSession.create(convOnnx(conv), { executionProviders: ['wasm'] });
  try {
    const x = convInput(conv);
    const dims = [CNN_BATCH, ...conv.model.inputShape];
    let y: Float32Array | null = null;
    const forward = await timeRepeatedly(async () => {
      const out = await session.run({ input: new ort.Tensor('float32', x, dims) });
      y = out.logits.data as Float32Array;
    }, r.budgetMs);
    return {
      forward, forwardBackward: null, probe: convProbes(conv).map((i) => y![i]),
      details: { threads: r.threads, version: ort.env.versions.web, timing: 'wall-clock of session.run() (Conv, then Flatten: a reshape; copying the input in included) seen from the worker' },
    };
  } finally {
    await session.release();
  }
}

export async function oursCnn(r: CnnTrainRequest): Promise<CnnTrainFigures> {
  const model = resolveModel(r.spec);
  const cpu = await CpuModel.create(model, { threads: r.threads });
  try {
    await cpu.setDatasets(r.train, null);
    cpu.setParameters(initModelParameters(model, r.seed));
    const zeros = new Float32Array(model.total);
    cpu.setOptimizerState(zeros, zeros);
    const order = epochOrder(r.seed, 0, r.train.count);
    let step = 0;
    const losses: number[] = [];
    const trainOne = async () => {
      step++;
      losses.push((await cpu.trainStep(batchIndices(order, step, r.batch), DEFAULT_ADAMW, step)).loss);
    };
    for (let i = 0; i < r.warmupSteps; i++) await trainOne();
    const start = performance.now();
    let timed = 0;
    while (timed < r.minSteps || performance.now() - start < r.budgetMs) {
      await trainOne();
      timed++;
    }
    const wallMs = performance.now() - start;
    return {
      examplesPerSecond: (timed * r.batch * 1000) / wallMs,
      steps: timed,
      wallMs,
      firstLoss: losses[0],
      lastLoss: losses[losses.length - 1],
      memoryBytes: cpu.memoryBytes,
      details: { threads: cpu.threads, simd: cpu.simd, optimizer: DEFAULT_ADAMW, warmupSteps: r.warmupSteps, trainExamples: r.train.count },
    };
  } finally {
    cpu.dispose();
  }
}
