// MLP training on the CPU: our CPU backend against tfjs-backend-wasm, the same model,
// batch, initialisation and AdamW on real Fashion-MNIST, at 1 thread and one per core, each
// run in a fresh worker, interleaved over repeats. Then both of this device's backends side
// by side as backend selection times them (gradients on the job's shapes).

import { loadFashionMnistFromUrl } from '../data/fashionMnist.ts';
import type { ImageDataset } from '../data/dataset.ts';
import { DEFAULT_MLP } from '../model/mlp.ts';
import { startTrainerWorker } from '../worker/client.ts';
import type { BenchSettings } from './settings.ts';
import type { BenchSuite } from './suite.ts';
import { benchThreadCounts, measureInWorker, type MlpMeasureRequest, type TrainingFigures } from './cpuBaselines.ts';
import { CPU_MLP_BATCH, CPU_MLP_SUITE_ID, cpuMlpChecks, oursMlpName, tfjsMlpName } from './cpuChecks.ts';

const DATASET_URL = '/data/fashion-mnist/';
/** Training examples handed to each run: 100 micro-batches, more than any run visits. */
const TRAIN_EXAMPLES = 100 * CPU_MLP_BATCH;
const SEED = 1;

function firstExamples(ds: ImageDataset, count: number): ImageDataset {
  const n = Math.min(count, ds.count);
  return { ...ds, count: n, images: ds.images.slice(0, n * ds.features), labels: ds.labels.slice(0, n) };
}

export function createCpuMlpSuite(settings: Pick<BenchSettings, 'quick' | 'trainWarmupSteps' | 'trainTimedSteps'>): BenchSuite {
  return {
    id: CPU_MLP_SUITE_ID,
    title: `MLP ${DEFAULT_MLP.widths.join('-')} training on the CPU, batch ${CPU_MLP_BATCH}: ours vs tfjs-backend-wasm; both backends of this device`,
    sizeLabel: 'batch',
    async run(ctx, emit) {
      ctx.log('Loading Fashion-MNIST…');
      const train = firstExamples((await loadFashionMnistFromUrl(DATASET_URL)).train, TRAIN_EXAMPLES);
      const repeats = settings.quick ? 1 : 3;
      const plan: { name: string; request: MlpMeasureRequest }[] = [];
      for (const threads of benchThreadCounts()) {
        for (const kind of ['ours-mlp', 'tfjs-mlp'] as const) {
          plan.push({
            name: kind === 'ours-mlp' ? oursMlpName(threads) : tfjsMlpName(threads),
            request: {
              kind, threads, batch: CPU_MLP_BATCH, train, seed: SEED,
              warmupSteps: settings.trainWarmupSteps, minSteps: settings.trainTimedSteps, budgetMs: settings.quick ? 300 : 2000,
            },
          });
        }
      }
      const results = new Map<string, TrainingFigures[]>();
      /** Baseline runs that could not run as asked (tfjs with fewer threads): a skipped row, not a failed suite. */
      const skipped = new Map<string, string>();
      for (let rep = 1; rep <= repeats; rep++) {
        for (const { name, request } of plan) {
          ctx.signal?.throwIfAborted();
          if (skipped.has(name)) continue;
          let f: TrainingFigures;
          try {
            f = (await measureInWorker(request, ctx.signal)) as TrainingFigures;
          } catch (error) {
            const reason = /TfjsThreadsError: (.*)/.exec((error as Error).message)?.[1];
            if (request.kind !== 'tfjs-mlp' || !reason) throw error;
            ctx.log(`${name}: not measured: ${reason}`);
            skipped.set(name, reason);
            continue;
          }
          ctx.log(`${name}, repeat ${rep}/${repeats}: ${f.examplesPerSecond.toFixed(0)} examples/s over ${f.steps} steps, loss ${f.firstLoss.toFixed(3)} → ${f.lastLoss.toFixed(3)}`);
          if (!(f.lastLoss < f.firstLoss)) throw new Error(`${name} did not train: loss ${f.firstLoss} → ${f.lastLoss}`);
          results.set(name, [...(results.get(name) ?? []), f]);
        }
      }
      for (const { name, request } of plan) {
        const reason = skipped.get(name);
        if (reason) {
          emit({ suite: CPU_MLP_SUITE_ID, name, size: CPU_MLP_BATCH, value: Number.NaN, unit: 'examples/s', skipped: reason, details: { threads: request.threads } });
          continue;
        }
        const all = results.get(name)!;
        const best = all.reduce((a, b) => (b.examplesPerSecond > a.examplesPerSecond ? b : a));
        emit({
          suite: CPU_MLP_SUITE_ID,
          name,
          size: CPU_MLP_BATCH,
          value: best.examplesPerSecond,
          unit: 'examples/s',
          ms: (CPU_MLP_BATCH * 1000) / best.examplesPerSecond,
          details: {
            ...best.details,
            threads: request.threads,
            allExamplesPerSecond: all.map((f) => f.examplesPerSecond),
            steps: best.steps,
            loss: [best.firstLoss, best.lastLoss],
            timing: 'wall-clock of consecutive training steps (gradient + AdamW, loss read back each step) in a worker; ms is per step',
            counted: 'the fastest of the repeats; each in a fresh worker, ours and tfjs interleaved',
          },
        });
      }

      ctx.log('Both backends of this device, as backend selection times them…');
      const worker = startTrainerWorker();
      try {
        const report = await worker.api.init({ spec: DEFAULT_MLP, backend: 'auto', selectionBatch: CPU_MLP_BATCH, selectionBudgetMs: settings.quick ? 300 : 1000, selectionStartupMs: 300_000 });
        const selection = report.selection!;
        ctx.log(`Backend selection: ${selection.reason}`);
        for (const c of selection.candidates) {
          emit({
            suite: CPU_MLP_SUITE_ID,
            name: `selection: ${c.backend === 'webgpu' ? 'WebGPU' : 'CPU'} backend gradient`,
            size: c.batch,
            value: c.examplesPerSecond ?? Number.NaN,
            unit: 'examples/s',
            ms: c.msPerBatch ?? undefined,
            skipped: c.examplesPerSecond === null ? c.error : undefined,
            details: { kernel: c.kernel, runs: c.runs, chosen: selection.chosen === c.backend, reason: selection.reason },
          });
        }
      } finally {
        worker.terminate();
      }
    },
    checks: cpuMlpChecks,
  };
}
