// The evaluation thread: evaluates parameter vectors on the job's test split, which the
// coordinator's thread loaded and checked once (loadJobDataset) and handed over in workerData,
// through the CPU layer table (TestEvaluator.create).

import { parentPort, workerData } from 'node:worker_threads';
import { TestEvaluator } from '../coordinator/evaluator.ts';
import { resolveModel } from '../model/layers/spec.ts';
import type { EvaluationSetup } from './evaluationThread.ts';

const setup = workerData as EvaluationSetup;
let evaluator: Promise<TestEvaluator> | null = null;

parentPort!.on('message', async ({ id, params }: { id: number; params: Float32Array }) => {
  try {
    evaluator ??= TestEvaluator.create(resolveModel(setup.spec), setup.test, setup.testExamples);
    parentPort!.postMessage({ id, evaluation: (await evaluator).evaluate(params) });
  } catch (error) {
    parentPort!.postMessage({ id, error: (error as Error).message });
  }
});
