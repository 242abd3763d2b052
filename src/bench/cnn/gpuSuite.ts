// The CNN on WebGPU (issue 11): our conv kernels (Conv2dOp) against onnxruntime-web's WebGPU
// Conv on the CNN's two conv shapes at batch 64, wall-clock until the queue is idle on both
// sides, inputs already on the GPU; then GpuModel's training step on the whole CNN (AdamW,
// real Fashion-MNIST) and the bytes of its buffers. On this machine WebGPU is SwiftShader.

import type * as Ort from 'onnxruntime-web/webgpu';
import ortRuntimeModuleUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.mjs?url';
import ortRuntimeWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import { STORAGE } from '../../gpu/buffers.ts';
import { GpuContext } from '../../gpu/context.ts';
import { ComputeRecorder } from '../../gpu/recorder.ts';
import { repeatTimed, type RepeatPolicy } from '../../gpu/timing.ts';
import { writeArray } from '../../gpu/transfer.ts';
import { autotuneMatmul, representativeShape } from '../../kernels/autotune.ts';
import { floats } from '../../kernels/common.ts';
import { Conv2dOp, conv2dShapeOf } from '../../kernels/conv2d.ts';
import { parseConfigName } from '../../kernels/matmul.ts';
import { DEFAULT_ADAMW } from '../../kernels/optimizer.ts';
import { loadFashionMnistFromUrl } from '../../data/fashionMnist.ts';
import { epochOrder } from '../../data/order.ts';
import { destroyDataset, GpuModel, uploadDataset } from '../../model/gpuModel.ts';
import { initModelParameters, largestLinearShape } from '../../model/layers/spec.ts';
import { batchIndices } from '../cpuBaselines.ts';
import { wasmThreadCount } from '../matmul/onnxruntime.ts';
import type { BenchSettings } from '../settings.ts';
import type { BenchRow, BenchSuite } from '../suite.ts';
import { cnnGpuChecks, probesAgree } from './checks.ts';
import { benchCnn, benchConvs, CNN_BATCH, CNN_GPU_SUITE_ID, CNN_SEED, convInput, convOnnx, convProbes, convTensors, GPU_MEMORY_NAME, ortGpuConvName, oursGpuConvName, OURS_GPU_TRAIN_NAME, type BenchConv } from './model.ts';

const DATASET_URL = '/data/fashion-mnist/';
const TRAIN_EXAMPLES = 20 * CNN_BATCH;
const MIB = 2 ** 20;

/** Wall-clock of one submit of `encode` until the queue is idle: how ORT's side is timed too. */
async function wallOnce(ctx: GpuContext, encode: (rec: ComputeRecorder) => void): Promise<{ ms: number }> {
  const t0 = performance.now();
  const rec = new ComputeRecorder(ctx, { label: 'bench conv' });
  encode(rec);
  await rec.finish();
  await ctx.device.queue.onSubmittedWorkDone();
  return { ms: performance.now() - t0 };
}

async function oursConv(ctx: GpuContext, conv: BenchConv, policy: RepeatPolicy) {
  const op = await Conv2dOp.create(ctx, conv2dShapeOf(conv.layer, CNN_BATCH));
  const made: GPUBuffer[] = [];
  const buffer = (floatsCount: number, label: string, data?: Float32Array) => {
    const b = ctx.device.createBuffer({ label, size: Math.max(16, floatsCount * 4), usage: STORAGE });
    made.push(b);
    if (data) writeArray(ctx, b, data);
    return floats(b, 0, floatsCount);
  };
  try {
    const { weight, bias } = convTensors(conv);
    const x = convInput(conv);
    const outputs = CNN_BATCH * conv.model.classes;
    const b = {
      x: buffer(x.length, 'bench conv x', x), weight: buffer(weight.length, 'bench conv weight', weight), bias: buffer(bias.length, 'bench conv bias', bias),
      y: buffer(outputs, 'bench conv y'), dy: buffer(outputs, 'bench conv dy', Float32Array.from({ length: outputs }, (_, i) => Math.sin(i) / 2)),
      dx: buffer(x.length, 'bench conv dx'), dWeight: buffer(weight.length, 'bench conv dW'), dBias: buffer(bias.length, 'bench conv db'),
    };
    const forward = (rec: ComputeRecorder) => op.encodeForward(rec, b);
    const forwardBackward = (rec: ComputeRecorder) => {
      op.encodeForward(rec, b);
      op.encodeBackwardInput(rec, b);
      op.encodeBackwardWeight(rec, b);
    };
    const fwd = await repeatTimed(() => wallOnce(ctx, forward), policy);
    const fb = await repeatTimed(() => wallOnce(ctx, forwardBackward), policy);
    const rec = new ComputeRecorder(ctx, { label: 'bench conv probe' });
    forward(rec);
    const y = new Float32Array((await rec.finishWithReadback([{ buffer: b.y.buffer }])).data[0]);
    return { fwd, fb, probe: convProbes(conv).map((i) => y[i]), flops: op.flops };
  } finally {
    op.destroy();
    for (const buf of made) buf.destroy();
  }
}

async function ortConv(ort: typeof Ort, conv: BenchConv, policy: RepeatPolicy) {
  const session = await ort.InferenceSession.create(convOnnx(conv), { executionProviders: ['webgpu'], preferredOutputLocation: 'gpu-buffer' });
  const device = await ort.env.webgpu.device;
  const x = convInput(conv);
  const input = device.createBuffer({ label: 'ort bench conv x', size: x.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(input, 0, x as Float32Array<ArrayBuffer>);
  try {
    const feeds = { input: ort.Tensor.fromGpuBuffer(input, { dataType: 'float32', dims: [CNN_BATCH, ...conv.model.inputShape] }) };
    const fwd = await repeatTimed(async () => {
      const t0 = performance.now();
      const out = await session.run(feeds);
      await device.queue.onSubmittedWorkDone();
      const ms = performance.now() - t0;
      out.logits.dispose();
      return { ms };
    }, policy);
    const out = await session.run(feeds);
    const y = (await out.logits.getData(true)) as Float32Array;
    return { fwd, probe: convProbes(conv).map((i) => y[i]) };
  } finally {
    input.destroy();
    await session.release();
  }
}

export function createCnnGpuSuite(settings: Pick<BenchSettings, 'quick' | 'trainWarmupSteps'>): BenchSuite {
  const cnn = benchCnn();
  const convs = benchConvs(cnn.model);
  return {
    id: CNN_GPU_SUITE_ID,
    title: `CNN (issue 11) on WebGPU, batch ${CNN_BATCH}: conv ours vs onnxruntime-web WebGPU; GpuModel training and memory`,
    async run(ctx, emit) {
      const policy: RepeatPolicy = settings.quick ? { warmups: 1, repetitions: 2, signal: ctx.signal } : { warmups: 2, repetitions: 10, budgetMs: 3000, signal: ctx.signal };
      const gpu = await GpuContext.create();
      try {
        const ort: typeof Ort = await import('onnxruntime-web/webgpu');
        // As the matmul suite sets them (read once, when ORT's module starts): the same values whichever runs first.
        ort.env.wasm.numThreads = wasmThreadCount();
        ort.env.wasm.wasmPaths = { mjs: ortRuntimeModuleUrl, wasm: ortRuntimeWasmUrl };
        for (const conv of convs) {
          ctx.signal?.throwIfAborted();
          const ours = await oursConv(gpu, conv, policy);
          const theirs = await ortConv(ort, conv, policy);
          const agree = probesAgree(ours.probe, theirs.probe);
          if (!agree.ok) throw new Error(`${conv.label}: our WebGPU conv and onnxruntime-web's disagree on the same input: ${agree.detail}`);
          ctx.log(`${conv.label}: ours forward ${ours.fwd.best.ms.toFixed(2)} ms, forward+backward ${ours.fb.best.ms.toFixed(2)} ms; onnxruntime-web forward ${theirs.fwd.best.ms.toFixed(2)} ms`);
          const timing = 'wall-clock from encoding (ours) or session.run (theirs) until the GPU queue is idle; inputs on the GPU, output left there; the fastest run counts';
          const row = (name: string, t: { best: { ms: number }; samples: { ms: number }[] }, details: Record<string, unknown>): BenchRow => ({
            suite: CNN_GPU_SUITE_ID, name, value: t.best.ms, unit: 'ms', ms: t.best.ms,
            details: { batch: CNN_BATCH, layer: conv.label, samplesMs: t.samples.map((s) => s.ms), timing, adapter: gpu.report, ...details },
          });
          emit(row(oursGpuConvName(conv, 'forward'), ours.fwd, { flops: ours.flops, probe: ours.probe }));
          emit(row(oursGpuConvName(conv, 'forward+backward'), ours.fb, { flops: 3 * ours.flops, passes: 'forward, dx, dW+db (partials and their ordered sum)' }));
          emit(row(ortGpuConvName(conv), theirs.fwd, { probe: theirs.probe, version: ort.env.versions.web, graph: 'Conv then Flatten (a reshape)' }));
        }

        ctx.log('GpuModel CNN training: autotuning the matmul as the WebGPU backend does…');
        const largest = largestLinearShape(cnn.model);
        const tuning = await autotuneMatmul(gpu, { shape: representativeShape([largest.k, largest.n], CNN_BATCH) });
        const config = parseConfigName(tuning.best);
        const model = new GpuModel(gpu, cnn.model, () => config, { maxSubmitMs: 100, flopsPerMs: tuning.flopsPerMs });
        const train = (await loadFashionMnistFromUrl(DATASET_URL)).train;
        const data = uploadDataset(gpu, { ...train, count: Math.min(TRAIN_EXAMPLES, train.count) }, 'bench train');
        try {
          model.setParameters(initModelParameters(cnn.model, CNN_SEED));
          const zeros = new Float32Array(cnn.model.total);
          model.setOptimizerState(zeros, zeros);
          const order = epochOrder(CNN_SEED, 0, data.count);
          let step = 0;
          const losses: number[] = [];
          const trainOne = async () => {
            step++;
            losses.push((await model.trainStep(data, batchIndices(order, step, CNN_BATCH), DEFAULT_ADAMW, step)).loss);
          };
          for (let i = 0; i < Math.min(2, settings.trainWarmupSteps); i++) await trainOne();
          const minSteps = settings.quick ? 2 : 5;
          const budgetMs = settings.quick ? 500 : 5000;
          const start = performance.now();
          let timed = 0;
          while (timed < minSteps || performance.now() - start < budgetMs) {
            ctx.signal?.throwIfAborted();
            await trainOne();
            timed++;
          }
          const wallMs = performance.now() - start;
          const imagesPerSecond = (timed * CNN_BATCH * 1000) / wallMs;
          ctx.log(`GpuModel CNN: ${imagesPerSecond.toFixed(0)} images/s over ${timed} steps (${gpu.report.isFallbackAdapter ? 'software adapter' : 'hardware adapter'}), loss ${losses[0].toFixed(3)} → ${losses[losses.length - 1].toFixed(3)}`);
          if (!(losses[losses.length - 1] < losses[0])) throw new Error(`GpuModel did not train the CNN: loss ${losses[0]} → ${losses[losses.length - 1]}`);
          emit({
            suite: CNN_GPU_SUITE_ID, name: OURS_GPU_TRAIN_NAME, value: imagesPerSecond, unit: 'images/s', ms: wallMs / timed,
            details: {
              batch: CNN_BATCH, steps: timed, model: cnn.spec, modelSource: cnn.source, kernel: tuning.best, optimizer: DEFAULT_ADAMW, adapter: gpu.report,
              softwareAdapter: gpu.report.isFallbackAdapter, loss: [losses[0], losses[losses.length - 1]],
              timing: 'wall-clock of consecutive GpuModel.trainStep calls on the page (one submit and one loss readback each); ms is per step',
            },
          });
          const modelBytes = await model.memoryBytes();
          const datasetBytes = data.images.size + data.labels.size;
          const fullDatasetBytes = 4 * Math.ceil((60_000 * 784) / 4) + 4 * Math.ceil(60_000 / 4) + 4 * Math.ceil((10_000 * 784) / 4) + 4 * Math.ceil(10_000 / 4);
          emit({
            suite: CNN_GPU_SUITE_ID, name: GPU_MEMORY_NAME, value: (modelBytes + fullDatasetBytes) / MIB, unit: 'MiB',
            details: {
              bytes: modelBytes + fullDatasetBytes, modelBytes, fullDatasetBytes, benchDatasetBytes: datasetBytes,
              what: `GpuModel.memoryBytes() after training at batch ${CNN_BATCH} (parameters, gradients, AdamW state, the plan's activations) ` +
                'plus all of Fashion-MNIST resident as the backend uploads it (u8 packed in words, train and test); ops\' uniforms and conv weight-gradient partials not counted',
            },
          });
        } finally {
          destroyDataset(data);
          model.destroy();
        }
      } finally {
        gpu.destroy();
      }
    },
    checks: cnnGpuChecks,
  };
}
