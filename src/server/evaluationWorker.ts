// The evaluation thread: loads the test set once, then evaluates parameter vectors.

import { parentPort, workerData } from 'node:worker_threads';
import { TestEvaluator } from '../coordinator/evaluator.ts';
import { loadFashionMnistFromDir } from '../data/fashionMnistNode.ts';
import { resolveModel } from '../model/layers/spec.ts';
import type { EvaluationSetup } from './evaluationThread.ts';

const setup = workerData as EvaluationSetup;
const evaluator = loadFashionMnistFromDir(setup.dataDir).then(
  ({ test }) => new TestEvaluator(resolveModel(setup.spec), test, setup.testExamples),
);

parentPort!.on('message', async ({ id, params }: { id: number; params: Float32Array }) => {
  try {
    parentPort!.postMessage({ id, evaluation: (await evaluator).evaluate(params) });
  } catch (error) {
    parentPort!.postMessage({ id, error: (error as Error).message });
  }
});
