// A local training run: the whole loop on one device, no network. Drives the worker API
// (comlink proxy or a Trainer directly) with a seeded data order and periodic evaluation.

import type { OptimizerHyper } from '../kernels/optimizer.ts';
import { epochOrder } from '../data/order.ts';
import type { TrainerApi } from './api.ts';

export interface LocalTrainingConfig {
  /** Train on the first this-many training examples. */
  trainExamples: number;
  epochs: number;
  batch: number;
  hyper: OptimizerHyper;
  seed: number;
  /** Evaluate on the test set every this many steps (and at the end). */
  evalEvery: number;
  /** Test examples to evaluate on (the first ones). */
  evalExamples: number;
}

export interface LocalTrainingProgress {
  step: number;
  totalSteps: number;
  epoch: number;
  loss: number;
  trainAccuracy: number;
  examplesPerSecond: number;
  test?: { loss: number; accuracy: number };
}

export interface LocalTrainingSummary {
  steps: number;
  examples: number;
  wallMs: number;
  examplesPerSecond: number;
  testLoss: number;
  testAccuracy: number;
  recoveries: number;
}

type Api = Pick<TrainerApi, 'trainStep' | 'evaluate' | 'initParameters'>;

export async function runLocalTraining(
  api: Api,
  config: LocalTrainingConfig,
  onProgress: (p: LocalTrainingProgress) => void = () => {},
  signal?: AbortSignal,
): Promise<LocalTrainingSummary> {
  const { trainExamples, epochs, batch } = config;
  const stepsPerEpoch = Math.ceil(trainExamples / batch);
  const totalSteps = stepsPerEpoch * epochs;
  let { version } = await api.initParameters(config.seed);
  const t0 = performance.now();
  let trainMs = 0; // time in training steps only, evaluations excluded
  let examples = 0;
  let step = 0;
  let recoveries = 0;
  let windowLoss = 0;
  let windowCorrect = 0;
  let windowExamples = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    const order = epochOrder(config.seed, epoch, trainExamples);
    for (let s = 0; s < stepsPerEpoch; s++) {
      signal?.throwIfAborted();
      const indices = order.slice(s * batch, Math.min((s + 1) * batch, trainExamples));
      const stepStart = performance.now();
      const r = await api.trainStep({ version, indices }, config.hyper);
      trainMs += performance.now() - stepStart;
      version = r.version;
      recoveries += r.recoveries;
      step++;
      examples += indices.length;
      windowLoss += r.loss * indices.length;
      windowCorrect += r.correct;
      windowExamples += indices.length;
      const evaluateNow = step % config.evalEvery === 0 || step === totalSteps;
      const test = evaluateNow ? await api.evaluate('test', config.evalExamples) : undefined;
      if (evaluateNow || step % 10 === 0) {
        onProgress({
          step,
          totalSteps,
          epoch,
          loss: windowLoss / windowExamples,
          trainAccuracy: windowCorrect / windowExamples,
          examplesPerSecond: examples / (trainMs / 1000),
          test: test && { loss: test.loss, accuracy: test.accuracy },
        });
        windowLoss = windowCorrect = windowExamples = 0;
      }
    }
  }
  const wallMs = performance.now() - t0;
  const final = await api.evaluate('test', config.evalExamples);
  return {
    steps: step,
    examples,
    wallMs,
    examplesPerSecond: examples / (trainMs / 1000),
    testLoss: final.loss,
    testAccuracy: final.accuracy,
    recoveries,
  };
}
