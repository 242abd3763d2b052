// MLP training on the WebGPU trainer worker, driven as the local training page drives it:
// examples/s of trainStep at batch 128, and what one forward+backward costs in submits and
// readbacks.

import { epochOrder } from '../../data/order.ts';
import { DEFAULT_ADAMW } from '../../kernels/optimizer.ts';
import { DEFAULT_MLP } from '../../model/mlp.ts';
import { startTrainerWorker } from '../../worker/client.ts';
import { runLocalTraining } from '../../worker/localTraining.ts';
import type { BenchSettings } from '../settings.ts';
import type { BenchSuite } from '../suite.ts';
import { mlpChecks } from './checks.ts';
import { MLP_BATCH, MLP_SUITE_ID, READBACKS_NAME, SUBMITS_NAME, TRAINING_NAME } from './names.ts';

const SEED = 1;
const DATASET_URL = '/data/fashion-mnist/';
/** Enough test examples to show the steps trained something, few enough to cost little. */
const EVAL_EXAMPLES = 1000;
/** Gradient calls whose costs are recorded; the largest counts. */
const GRADIENT_CALLS = 2;

export function createMlpSuite(settings: Pick<BenchSettings, 'trainWarmupSteps' | 'trainTimedSteps'>): BenchSuite {
  return {
    id: MLP_SUITE_ID,
    title: `MLP ${DEFAULT_MLP.widths.join('-')} training on Fashion-MNIST (WebGPU worker)`,
    async run(ctx, emit) {
      const worker = startTrainerWorker();
      try {
        const { api } = worker;
        ctx.log('Starting the trainer worker (autotune and self-test)…');
        const report = await api.init({ spec: DEFAULT_MLP, backend: 'webgpu' });
        ctx.log(`Trainer ready with matmul ${report.kernel}; loading Fashion-MNIST…`);
        const counts = await api.loadDataset({ kind: 'url', baseUrl: DATASET_URL });
        const local = (steps: number) => ({
          trainExamples: steps * MLP_BATCH,
          epochs: 1,
          batch: MLP_BATCH,
          hyper: DEFAULT_ADAMW,
          seed: SEED,
          evalEvery: steps,
          evalExamples: Math.min(EVAL_EXAMPLES, counts.test),
        });
        ctx.log(`Warm-up: ${settings.trainWarmupSteps} training steps…`);
        await runLocalTraining(api, local(settings.trainWarmupSteps), () => {}, ctx.signal);
        ctx.log(`Timing ${settings.trainTimedSteps} training steps of ${MLP_BATCH} examples…`);
        const summary = await runLocalTraining(api, local(settings.trainTimedSteps), () => {}, ctx.signal);
        ctx.log(`Training: ${summary.examplesPerSecond.toFixed(0)} examples/s, test accuracy ${(100 * summary.testAccuracy).toFixed(1)}% after ${summary.steps} steps`);
        emit({
          suite: MLP_SUITE_ID,
          name: TRAINING_NAME,
          value: summary.examplesPerSecond,
          unit: 'examples/s',
          ms: (summary.examples / summary.examplesPerSecond) * 1000 / summary.steps,
          details: {
            model: DEFAULT_MLP,
            kernel: report.kernel,
            optimizer: DEFAULT_ADAMW,
            steps: summary.steps,
            warmupSteps: settings.trainWarmupSteps,
            timing: 'wall-clock of each trainStep call made from the page (worker round trip included), evaluations excluded; ms is per step',
            testAccuracy: summary.testAccuracy,
            evalExamples: Math.min(EVAL_EXAMPLES, counts.test),
          },
        });

        const { version } = await api.initParameters(SEED);
        const indices = epochOrder(SEED, 0, counts.train).slice(0, MLP_BATCH);
        const calls = [];
        for (let i = 0; i < GRADIENT_CALLS; i++) {
          ctx.signal?.throwIfAborted();
          const g = await api.computeGradient({ version, indices });
          calls.push({ submits: g.submits, readbacks: g.readbacks, wallMs: g.wallTimeMs, gpuMs: g.gpuTimeMs });
        }
        const submits = Math.max(...calls.map((c) => c.submits));
        const readbacks = Math.max(...calls.map((c) => c.readbacks));
        ctx.log(`computeGradient of ${MLP_BATCH} examples: ${submits} submits, ${readbacks} readbacks`);
        const details = { calls, counted: `the largest of ${GRADIENT_CALLS} computeGradient calls`, kernel: report.kernel };
        emit({ suite: MLP_SUITE_ID, name: SUBMITS_NAME, value: submits, unit: 'submits', details });
        emit({ suite: MLP_SUITE_ID, name: READBACKS_NAME, value: readbacks, unit: 'readbacks', details });
      } finally {
        worker.terminate();
      }
    },
    checks: mlpChecks,
  };
}
