// The evaluation thread: evaluates parameter vectors on the job's test split, which the
// coordinator's thread loaded and checked once (loadJobDataset) and handed over in workerData.

import { parentPort, workerData } from 'node:worker_threads';
import { TestEvaluator } from '../coordinator/evaluator.ts';
import { resolveModel } from '../model/layers/spec.ts';
import type { EvaluationSetup } from './evaluationThread.ts';

const setup = workerData as EvaluationSetup;
let evaluator: TestEvaluator | null = null;

parentPort!.on('message', ({ id, params }: { id: number; params: Float32Array }) => {
  try {
    evaluator ??= new TestEvaluator(resolveModel(setup.spec), setup.test, setup.testExamples);
    parentPort!.postMessage({ id, evaluation: evaluator.evaluate(params) });
  } catch (error) {
    parentPort!.postMessage({ id, error: (error as Error).message });
  }
});
