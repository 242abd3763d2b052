// The evaluation thread: evaluates parameter vectors on the job's test split, which the
// coordinator's thread loaded and checked once (loadJobDataset) and handed over in workerData,
// through the CPU layer table (TestEvaluator.create); for a next-token job it also writes the
// text samples the dashboard shows.

import { parentPort, workerData } from 'node:worker_threads';
import { TestEvaluator } from '../coordinator/evaluator.ts';
import { resolveModel } from '../model/layers/spec.ts';
import type { EvaluationReply, EvaluationRequest, EvaluationSetup } from './evaluationThread.ts';

const setup = workerData as EvaluationSetup;
let evaluator: Promise<TestEvaluator> | null = null;

// Requests are answered in order: a sample waits for the evaluation asked before it.
let queue = Promise.resolve();
parentPort!.on('message', (request: EvaluationRequest) => {
  queue = queue.then(() => answer(request)).then((reply) => parentPort!.postMessage(reply));
});

async function answer({ id, params, kind }: EvaluationRequest): Promise<EvaluationReply> {
  try {
    evaluator ??= TestEvaluator.create(resolveModel(setup.spec), setup.test, setup.testExamples);
    const e = await evaluator;
    if (kind === 'evaluate') return { id, evaluation: e.evaluate(params) };
    if (!setup.sampling) throw new Error('this job has no text samples');
    return { id, sample: await e.sample(params, setup.sampling) };
  } catch (error) {
    return { id, error: (error as Error).message };
  }
}
