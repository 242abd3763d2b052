// The CNN on the CPU (issue 11): our conv passes (CpuConv2d) against onnxruntime-web wasm's
// Conv on the CNN's two conv shapes at batch 64, then CpuModel's training step on the whole
// CNN (AdamW, real Fashion-MNIST) and its memory, at 1 thread and one per core. Each run is a
// fresh worker, ours and theirs interleaved over repeats; the fastest repeat counts.
// PyTorch's figure for the same step comes from scripts/bench.mjs (Node side), not the page.

import { cpuModelMemoryBytes } from '../../cpu/cpuModelPlan.ts';
import type { ImageDataset } from '../../data/dataset.ts';
import { loadFashionMnistFromUrl } from '../../data/fashionMnist.ts';
import { benchThreadCounts, measureInWorker } from '../cpuBaselines.ts';
import type { BenchSettings } from '../settings.ts';
import type { BenchRow, BenchSuite } from '../suite.ts';
import { cnnCpuChecks, probesAgree } from './checks.ts';
import type { CnnTrainFigures, ConvFigures } from './cpuMeasure.ts';
import { benchCnn, benchConvs, CNN_BATCH, CNN_CPU_SUITE_ID, CNN_SEED, cpuMemoryName, oursCpuConvName, oursCpuTrainName, ortCpuConvName } from './model.ts';

const DATASET_URL = '/data/fashion-mnist/';
/** Training examples handed to each run: 100 micro-batches, more than any run visits. */
const TRAIN_EXAMPLES = 100 * CNN_BATCH;
/** What a contributor holds for the job: all of Fashion-MNIST. */
const FULL_TRAIN = 60_000;
const FULL_TEST = 10_000;
const MIB = 2 ** 20;

function firstExamples(ds: ImageDataset, count: number): ImageDataset {
  const n = Math.min(count, ds.count);
  return { ...ds, count: n, images: ds.images.slice(0, n * ds.features), labels: ds.labels.slice(0, n) };
}

const best = <T>(all: T[], ms: (t: T) => number) => all.reduce((a, b) => (ms(b) < ms(a) ? b : a));

export function createCnnCpuSuite(settings: Pick<BenchSettings, 'quick' | 'trainWarmupSteps' | 'trainTimedSteps'>): BenchSuite {
  const cnn = benchCnn();
  const convs = benchConvs(cnn.model);
  return {
    id: CNN_CPU_SUITE_ID,
    title: `CNN (issue 11) on the CPU, batch ${CNN_BATCH}: conv ours vs onnxruntime-web wasm; CpuModel training and memory`,
    async run(ctx, emit) {
      const repeats = settings.quick ? 1 : 2;
      const budgetMs = settings.quick ? 200 : 1000;
      const threadCounts = benchThreadCounts();
      const convRuns = new Map<string, ConvFigures[]>();
      for (let rep = 1; rep <= repeats; rep++) {
        for (const threads of threadCounts) {
          for (const [index, conv] of convs.entries()) {
            for (const kind of ['ours-conv', 'ort-conv'] as const) {
              ctx.signal?.throwIfAborted();
              const f = (await measureInWorker({ kind, spec: cnn.spec, conv: index, threads, budgetMs }, ctx.signal)) as ConvFigures;
              const key = `${kind}|${index}|${threads}`;
              convRuns.set(key, [...(convRuns.get(key) ?? []), f]);
              ctx.log(`${conv.label}, ${kind}, ${threads} thread(s), repeat ${rep}/${repeats}: forward ${f.forward.bestMs.toFixed(2)} ms` +
                (f.forwardBackward ? `, forward+backward ${f.forwardBackward.bestMs.toFixed(2)} ms` : ''));
            }
          }
        }
      }
      for (const threads of threadCounts) {
        for (const [index, conv] of convs.entries()) {
          const ours = convRuns.get(`ours-conv|${index}|${threads}`)!;
          const ort = convRuns.get(`ort-conv|${index}|${threads}`)!;
          const agree = probesAgree(ours[0].probe, ort[0].probe);
          if (!agree.ok) throw new Error(`${conv.label}: our CPU conv and onnxruntime-web wasm disagree on the same input: ${agree.detail}`);
          const common = { threads, batch: CNN_BATCH, layer: conv.label, probe: { ours: ours[0].probe, ort: ort[0].probe }, counted: `the fastest run of ${repeats} fresh worker(s), ours and onnxruntime-web interleaved` };
          const fwd = best(ours, (f) => f.forward.bestMs);
          const fb = best(ours, (f) => f.forwardBackward!.bestMs);
          const theirs = best(ort, (f) => f.forward.bestMs);
          const row = (name: string, ms: number, details: Record<string, unknown>): BenchRow => ({ suite: CNN_CPU_SUITE_ID, name, value: ms, unit: 'ms', ms, details: { ...common, ...details } });
          emit(row(oursCpuConvName(conv, 'forward', threads), fwd.forward.bestMs, { ...fwd.details, medianMs: fwd.forward.medianMs }));
          emit(row(oursCpuConvName(conv, 'forward+backward', threads), fb.forwardBackward!.bestMs, { ...fb.details, medianMs: fb.forwardBackward!.medianMs }));
          emit(row(ortCpuConvName(conv, threads), theirs.forward.bestMs, { ...theirs.details, medianMs: theirs.forward.medianMs }));
        }
      }

      ctx.log('Loading Fashion-MNIST…');
      const train = firstExamples((await loadFashionMnistFromUrl(DATASET_URL)).train, TRAIN_EXAMPLES);
      const trainRuns = new Map<number, CnnTrainFigures[]>();
      for (let rep = 1; rep <= repeats; rep++) {
        for (const threads of threadCounts) {
          ctx.signal?.throwIfAborted();
          const f = (await measureInWorker({
            kind: 'ours-cnn', spec: cnn.spec, threads, batch: CNN_BATCH, train, seed: CNN_SEED,
            warmupSteps: settings.trainWarmupSteps, minSteps: settings.trainTimedSteps, budgetMs: settings.quick ? 300 : 3000,
          }, ctx.signal)) as CnnTrainFigures;
          ctx.log(`CpuModel CNN, ${threads} thread(s), repeat ${rep}/${repeats}: ${f.examplesPerSecond.toFixed(0)} images/s over ${f.steps} steps, loss ${f.firstLoss.toFixed(3)} → ${f.lastLoss.toFixed(3)}`);
          if (!(f.lastLoss < f.firstLoss)) throw new Error(`CpuModel did not train the CNN: loss ${f.firstLoss} → ${f.lastLoss}`);
          trainRuns.set(threads, [...(trainRuns.get(threads) ?? []), f]);
        }
      }
      for (const threads of threadCounts) {
        const all = trainRuns.get(threads)!;
        const f = all.reduce((a, b) => (b.examplesPerSecond > a.examplesPerSecond ? b : a));
        emit({
          suite: CNN_CPU_SUITE_ID, name: oursCpuTrainName(threads), value: f.examplesPerSecond, unit: 'images/s', ms: (CNN_BATCH * 1000) / f.examplesPerSecond,
          details: {
            ...f.details, threads, batch: CNN_BATCH, model: cnn.spec, modelSource: cnn.source, steps: f.steps, loss: [f.firstLoss, f.lastLoss],
            allImagesPerSecond: all.map((r) => r.examplesPerSecond),
            timing: 'wall-clock of consecutive CpuModel.trainStep calls (gradient + AdamW, loss read back each step) in a worker; ms is per step',
          },
        });
        const full = cpuModelMemoryBytes(cnn.model, { trainCount: FULL_TRAIN, testCount: FULL_TEST, batchCapacity: CNN_BATCH, threads });
        emit({
          suite: CNN_CPU_SUITE_ID, name: cpuMemoryName(threads), value: full / MIB, unit: 'MiB',
          details: {
            threads, bytes: full, measuredBytes: f.memoryBytes, measuredTrainExamples: f.details.trainExamples,
            what: `cpuModelMemoryBytes with all of Fashion-MNIST resident (${FULL_TRAIN} train, ${FULL_TEST} test, u8) and batch ${CNN_BATCH}; ` +
              `measuredBytes is CpuModel.memoryBytes of the timed run, which held ${f.details.trainExamples} training examples`,
          },
        });
      }
    },
    checks: cnnCpuChecks,
  };
}
