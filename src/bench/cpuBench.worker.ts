// The bench worker: one measurement per worker (see cpuBaselines.ts). Ours: the CPU
// backend's matmul and training step, and the CNN's conv passes and CpuModel training step
// (cnn/cpuMeasure.ts, against onnxruntime-web's wasm Conv). Theirs: onnxruntime-web's WASM MatMul and the same
// MLP trained with tfjs-backend-wasm (same widths, batch, initialisation scheme, AdamW with
// decoupled weight decay written out in tfjs ops), each with the requested thread count.

// ORT's WASM runtime as files of its own: its thread workers load the runtime's module, and
// inside vite's bundle that module would be a chunk importing this worker's entry chunk.
import ortRuntimeModuleUrl from 'onnxruntime-web/ort-wasm-simd-threaded.mjs?url';
import ortRuntimeWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.wasm?url';
import { CpuMatmul } from '../cpu/cpuMatmul.ts';
import { epochOrder } from '../data/order.ts';
import { DEFAULT_ADAMW } from '../kernels/optimizer.ts';
import { buildMatMulModel } from '../model/onnx.ts';
import { DEFAULT_MLP, initParameters, mlpLayout } from '../model/mlp.ts';
import { CpuBackend } from '../worker/cpuBackend.ts';
import { resolveModel } from '../model/layers/spec.ts';
import { batchIndices, matmulInputs, probeIndices, timeRepeatedly, type CpuMeasureReply, type CpuMeasureRequest, type MatmulFigures, type MlpMeasureRequest, type TrainingFigures } from './cpuBaselines.ts';
import { trainTfjsWasm } from './cpuTfjs.ts';
import { oursCnn, oursConv, ortConv } from './cnn/cpuMeasure.ts';
import { oursAttention, ortAttention } from './attention/cpuMeasure.ts';

async function oursMatmul(r: Extract<CpuMeasureRequest, { kind: 'ours-matmul' }>): Promise<MatmulFigures> {
  const mm = await CpuMatmul.create({ layout: 'nn', m: r.n, n: r.n, k: r.n }, { threads: r.threads, simd: r.simd });
  try {
    const { a, b } = matmulInputs(r.n);
    // Inputs are written once, as onnxruntime's are copied in by each run: ours packs them in each run.
    mm.a.set(a);
    mm.b.set(b);
    const t = await timeRepeatedly(() => mm.multiply(), r.budgetMs);
    const c = mm.c;
    return {
      ...t,
      probe: probeIndices(r.n).map((i) => c[i]),
      details: { threads: mm.threads, simd: mm.simd, timing: 'wall-clock of multiply() (packing A and B included) seen from the worker' },
    };
  } finally {
    mm.dispose();
  }
}

async function ortMatmul(r: Extract<CpuMeasureRequest, { kind: 'ort-matmul' }>): Promise<MatmulFigures> {
  const ort = await import('onnxruntime-web/wasm');
  ort.env.wasm.numThreads = r.threads;
  ort.env.wasm.wasmPaths = { mjs: ortRuntimeModuleUrl, wasm: ortRuntimeWasmUrl };
  const session = await ort.InferenceSession.create(buildMatMulModel(r.n, r.n, r.n), { executionProviders: ['wasm'] });
  try {
    const { a, b } = matmulInputs(r.n);
    const feeds = { A: new ort.Tensor('float32', a, [r.n, r.n]), B: new ort.Tensor('float32', b, [r.n, r.n]) };
    let c: Float32Array | null = null;
    const t = await timeRepeatedly(async () => {
      const out = await session.run(feeds);
      c = out.C.data as Float32Array;
    }, r.budgetMs);
    return {
      ...t,
      probe: probeIndices(r.n).map((i) => c![i]),
      details: { threads: r.threads, version: ort.env.versions.web, timing: 'wall-clock of session.run() (copying the inputs in included) seen from the worker' },
    };
  } finally {
    await session.release();
  }
}

async function oursMlp(r: MlpMeasureRequest): Promise<TrainingFigures> {
  const layout = mlpLayout(DEFAULT_MLP);
  const backend = await CpuBackend.create({ model: resolveModel(DEFAULT_MLP), threads: r.threads });
  try {
    await backend.setDatasets(r.train, null);
    backend.setParameters(initParameters(layout, r.seed));
    const zeros = new Float32Array(layout.total);
    backend.setOptimizerState(zeros, zeros);
    const order = epochOrder(r.seed, 0, r.train.count);
    let step = 0;
    const losses: number[] = [];
    const trainOne = async () => {
      step++;
      losses.push((await backend.trainStep(batchIndices(order, step, r.batch), DEFAULT_ADAMW, step)).loss);
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
      details: { threads: backend.report().cpu!.threads, kernel: backend.report().kernel, optimizer: DEFAULT_ADAMW, warmupSteps: r.warmupSteps },
    };
  } finally {
    backend.dispose();
  }
}

self.onmessage = async (e: MessageEvent<CpuMeasureRequest>) => {
  const r = e.data;
  let reply: CpuMeasureReply;
  try {
    const figures =
      r.kind === 'ours-matmul' ? await oursMatmul(r)
      : r.kind === 'ort-matmul' ? await ortMatmul(r)
      : r.kind === 'ours-mlp' ? await oursMlp(r)
      : r.kind === 'ours-conv' ? await oursConv(r)
      : r.kind === 'ort-conv' ? await ortConv(r)
      : r.kind === 'ours-cnn' ? await oursCnn(r)
      : r.kind === 'ours-attention' ? await oursAttention(r)
      : r.kind === 'ort-attention' ? await ortAttention(r)
      : await trainTfjsWasm(r);
    reply = { ok: true, figures };
  } catch (error) {
    reply = { ok: false, error: (error as Error).stack ?? String(error) };
  }
  self.postMessage(reply);
};
