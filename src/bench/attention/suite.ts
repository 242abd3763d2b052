// The attention benchmark (issue 12): the baby GPT's attention block between its embedding and
// tied head (model.ts), ours against onnxruntime-web running our ONNX export of the same model.
// WebGPU: GpuModel.evaluate (forward) and GpuModel.gradient (forward + backward) against ORT's
// WebGPU session.run, wall-clock until the result is back on both sides. CPU: CpuModel against
// ORT wasm in fresh workers at 1 thread and one per core, repeats interleaved, the fastest
// counts. Both check that ours and theirs computed the same logits first.

import type * as Ort from 'onnxruntime-web/webgpu';
import ortRuntimeModuleUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.mjs?url';
import ortRuntimeWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import { GpuContext } from '../../gpu/context.ts';
import { repeatTimed, type RepeatPolicy } from '../../gpu/timing.ts';
import { autotuneMatmul, representativeShape } from '../../kernels/autotune.ts';
import { parseConfigName } from '../../kernels/matmul.ts';
import { destroyDataset, GpuModel, uploadDataset } from '../../model/gpuModel.ts';
import { largestLinearShape } from '../../model/layers/spec.ts';
import { exportModelOnnx } from '../../model/onnx.ts';
import { probesAgree } from '../cnn/checks.ts';
import type { ConvFigures } from '../cnn/cpuMeasure.ts';
import { benchThreadCounts, measureInWorker } from '../cpuBaselines.ts';
import { wasmThreadCount } from '../matmul/onnxruntime.ts';
import type { BenchSettings } from '../settings.ts';
import type { BenchRow, BenchSuite } from '../suite.ts';
import { attentionCpuChecks, attentionGpuChecks } from './checks.ts';
import {
  ATTENTION_BATCH, ATTENTION_CPU_SUITE_ID, ATTENTION_GPU_SUITE_ID, ATTENTION_SPEC, attentionBatch, attentionLabel, attentionModel, attentionParameters,
  attentionProbes, attentionWindows, oursName, ortName,
} from './model.ts';

const timed = async (once: () => Promise<unknown>) => {
  const t0 = performance.now();
  await once();
  return { ms: performance.now() - t0 };
};

export function createAttentionGpuSuite(settings: Pick<BenchSettings, 'quick'>): BenchSuite {
  return {
    id: ATTENTION_GPU_SUITE_ID,
    title: `GPT attention (issue 12) on WebGPU: ${attentionLabel}; ours vs onnxruntime-web WebGPU on the same graph`,
    async run(ctx, emit) {
      const policy: RepeatPolicy = settings.quick ? { warmups: 1, repetitions: 2, signal: ctx.signal } : { warmups: 2, repetitions: 10, budgetMs: 3000, signal: ctx.signal };
      const model = attentionModel();
      const params = attentionParameters(model);
      const windows = attentionWindows(model);
      const { indices, ids } = attentionBatch(windows);
      const gpu = await GpuContext.create();
      try {
        const largest = largestLinearShape(model);
        const tuning = await autotuneMatmul(gpu, { shape: representativeShape([largest.k, largest.n], ATTENTION_BATCH * model.labelsPerExample) });
        const config = parseConfigName(tuning.best);
        const ours = new GpuModel(gpu, model, () => config, { maxSubmitMs: 100, flopsPerMs: tuning.flopsPerMs });
        const data = uploadDataset(gpu, windows, 'bench attention windows');
        let oursForward;
        let oursFb;
        let oursProbe: number[];
        try {
          ours.setParameters(params);
          oursForward = await repeatTimed(() => timed(() => ours.evaluate(data, indices)), policy);
          oursFb = await repeatTimed(() => timed(() => ours.gradient(data, indices)), policy);
          const logits = await ours.logits(ids, ATTENTION_BATCH);
          oursProbe = attentionProbes(model).map((i) => logits[i]);
        } finally {
          destroyDataset(data);
          ours.destroy();
        }
        const ort: typeof Ort = await import('onnxruntime-web/webgpu');
        ort.env.wasm.numThreads = wasmThreadCount();
        ort.env.wasm.wasmPaths = { mjs: ortRuntimeModuleUrl, wasm: ortRuntimeWasmUrl };
        const session = await ort.InferenceSession.create(exportModelOnnx(model, params, { batch: ATTENTION_BATCH }), { executionProviders: ['webgpu'] });
        let theirsForward;
        let theirsProbe: number[];
        try {
          const feeds = { input: new ort.Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), [ATTENTION_BATCH, model.inputSize]) };
          theirsForward = await repeatTimed(() => timed(() => session.run(feeds)), policy);
          const logits = (await session.run(feeds)).logits.data as Float32Array;
          theirsProbe = attentionProbes(model).map((i) => logits[i]);
        } finally {
          await session.release();
        }
        const agree = probesAgree(oursProbe, theirsProbe);
        if (!agree.ok) throw new Error(`our WebGPU model and onnxruntime-web's disagree on the same ids: ${agree.detail}`);
        ctx.log(`attention on WebGPU: ours forward ${oursForward.best.ms.toFixed(2)} ms, forward+backward ${oursFb.best.ms.toFixed(2)} ms; onnxruntime-web forward ${theirsForward.best.ms.toFixed(2)} ms`);
        const row = (name: string, t: { best: { ms: number }; samples: { ms: number }[] }, details: Record<string, unknown>): BenchRow => ({
          suite: ATTENTION_GPU_SUITE_ID, name, value: t.best.ms, unit: 'ms', ms: t.best.ms,
          details: { batch: ATTENTION_BATCH, model: ATTENTION_SPEC, samplesMs: t.samples.map((s) => s.ms), adapter: gpu.report, ...details },
        });
        const timing = 'wall-clock of the call until its result is read back (ours: the loss, or the gradient; theirs: the logits), ids resident (ours) or copied in (theirs); the fastest run counts';
        emit(row(oursName('forward'), oursForward, { timing, kernel: tuning.best, probe: oursProbe }));
        emit(row(oursName('forward+backward'), oursFb, { timing, kernel: tuning.best }));
        emit(row(ortName(), theirsForward, { timing, version: ort.env.versions.web, probe: theirsProbe, graph: 'our ONNX export: Gather, MatMul, Split, Reshape/Transpose per head, MatMul, the causal mask, Softmax, MatMul, the tied head' }));
      } finally {
        gpu.destroy();
      }
    },
    checks: attentionGpuChecks,
  };
}

export function createAttentionCpuSuite(settings: Pick<BenchSettings, 'quick'>): BenchSuite {
  return {
    id: ATTENTION_CPU_SUITE_ID,
    title: `GPT attention (issue 12) on the CPU: ${attentionLabel}; CpuModel vs onnxruntime-web wasm on the same graph`,
    async run(ctx, emit) {
      const repeats = settings.quick ? 1 : 2;
      const budgetMs = settings.quick ? 200 : 1000;
      const runs = new Map<string, ConvFigures[]>();
      for (let rep = 1; rep <= repeats; rep++) {
        for (const threads of benchThreadCounts()) {
          for (const kind of ['ours-attention', 'ort-attention'] as const) {
            ctx.signal?.throwIfAborted();
            const f = (await measureInWorker({ kind, threads, budgetMs }, ctx.signal)) as ConvFigures;
            runs.set(`${kind}|${threads}`, [...(runs.get(`${kind}|${threads}`) ?? []), f]);
            ctx.log(`attention, ${kind}, ${threads} thread(s), repeat ${rep}/${repeats}: forward ${f.forward.bestMs.toFixed(2)} ms` +
              (f.forwardBackward ? `, forward+backward ${f.forwardBackward.bestMs.toFixed(2)} ms` : ''));
          }
        }
      }
      const fastest = (all: ConvFigures[], pass: (f: ConvFigures) => number) => all.reduce((a, b) => (pass(b) < pass(a) ? b : a));
      for (const threads of benchThreadCounts()) {
        const ours = runs.get(`ours-attention|${threads}`)!;
        const theirs = runs.get(`ort-attention|${threads}`)!;
        const agree = probesAgree(ours[0].probe, theirs[0].probe);
        if (!agree.ok) throw new Error(`our CPU model and onnxruntime-web wasm disagree on the same ids (${threads} threads): ${agree.detail}`);
        const row = (name: string, ms: number, details: Record<string, unknown>): BenchRow => ({
          suite: ATTENTION_CPU_SUITE_ID, name, value: ms, unit: 'ms', ms, details: { batch: ATTENTION_BATCH, threads, model: ATTENTION_SPEC, repeats, ...details },
        });
        const oursForward = fastest(ours, (f) => f.forward.bestMs);
        const oursFb = fastest(ours, (f) => f.forwardBackward!.bestMs);
        const ort = fastest(theirs, (f) => f.forward.bestMs);
        emit(row(oursName('forward', threads), oursForward.forward.bestMs, oursForward.details));
        emit(row(oursName('forward+backward', threads), oursFb.forwardBackward!.bestMs, oursFb.details));
        emit(row(ortName(threads), ort.forward.bestMs, ort.details));
      }
    },
    checks: attentionCpuChecks,
  };
}
