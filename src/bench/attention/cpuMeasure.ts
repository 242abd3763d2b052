// The attention benchmark's CPU measurements, run inside the bench worker (cpuBench.worker.ts),
// one per fresh worker: CpuModel's forward and forward + backward of the attention model, and
// onnxruntime-web wasm running our export of it, each at the requested threads.

import ortRuntimeModuleUrl from 'onnxruntime-web/ort-wasm-simd-threaded.mjs?url';
import ortRuntimeWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.wasm?url';
import { CpuModel } from '../../cpu/cpuModel.ts';
import { exportModelOnnx } from '../../model/onnx.ts';
import { timeRepeatedly } from '../cpuBaselines.ts';
import type { ConvFigures } from '../cnn/cpuMeasure.ts';
import { ATTENTION_BATCH, attentionBatch, attentionModel, attentionParameters, attentionProbes, attentionWindows } from './model.ts';

export type AttentionMeasureRequest = { kind: 'ours-attention'; threads: number; budgetMs: number } | { kind: 'ort-attention'; threads: number; budgetMs: number };

export async function oursAttention(r: AttentionMeasureRequest): Promise<ConvFigures> {
  const model = attentionModel();
  const windows = attentionWindows(model);
  const { indices, ids } = attentionBatch(windows);
  const cpu = await CpuModel.create(model, { threads: r.threads });
  try {
    await cpu.setDatasets(windows, null);
    cpu.setParameters(attentionParameters(model));
    const forward = await timeRepeatedly(() => cpu.evaluate('train', indices), r.budgetMs);
    const forwardBackward = await timeRepeatedly(() => cpu.gradient(indices), r.budgetMs);
    const logits = await cpu.logits(ids, ATTENTION_BATCH);
    return {
      forward, forwardBackward, probe: attentionProbes(model).map((i) => logits[i]),
      details: { threads: cpu.threads, timing: 'wall-clock of CpuModel.evaluate (forward and loss) and CpuModel.gradient (forward, backward, the gradient copied out) seen from the worker' },
    };
  } finally {
    cpu.dispose();
  }
}

export async function ortAttention(r: AttentionMeasureRequest): Promise<ConvFigures> {
  const ort = await import('onnxruntime-web/wasm');
  ort.env.wasm.numThreads = r.threads;
  ort.env.wasm.wasmPaths = { mjs: ortRuntimeModuleUrl, wasm: ortRuntimeWasmUrl };
  const model = attentionModel();
  const { ids } = attentionBatch(attentionWindows(model));
  const session = await ort.InferenceSession.create(exportModelOnnx(model, attentionParameters(model), { batch: ATTENTION_BATCH }), { executionProviders: ['wasm'] });
  try {
    const feeds = { input: new ort.Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), [ATTENTION_BATCH, model.inputSize]) };
    let logits: Float32Array | null = null;
    const forward = await timeRepeatedly(async () => {
      logits = (await session.run(feeds)).logits.data as Float32Array;
    }, r.budgetMs);
    return {
      forward, forwardBackward: null, probe: attentionProbes(model).map((i) => logits![i]),
      details: { threads: r.threads, version: ort.env.versions.web, timing: 'wall-clock of session.run() (copying the ids in and the logits out included) seen from the worker' },
    };
  } finally {
    await session.release();
  }
}
