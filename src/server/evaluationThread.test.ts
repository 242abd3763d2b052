// The evaluation thread evaluates on the test split it is handed (no dataset of its own):
// the same figures as the evaluator in this thread, on the job's first testExamples.

import { describe, expect, it } from 'vitest';
import { TestEvaluator } from '../coordinator/evaluator.ts';
import { randomDataset } from '../data/dataset.ts';
import { initModelParameters, resolveModel, type ModelSpec } from '../model/layers/spec.ts';
import { Random } from '../util/random.ts';
import { EvaluationThread } from './evaluationThread.ts';

describe('EvaluationThread', () => {
  it('evaluates on the split it was given, as the evaluator does here', async () => {
    const spec: ModelSpec = { widths: [6, 5, 3], activation: 'relu' };
    const test = randomDataset(new Random(7), 40, 6, 3);
    const params = initModelParameters(resolveModel(spec), 3);
    const thread = new EvaluationThread({ spec, test, testExamples: 25 });
    try {
      const evaluation = await thread.evaluate(params);
      expect(evaluation).toEqual((await TestEvaluator.create(resolveModel(spec), test, 25)).evaluate(params));
      expect(evaluation.count).toBe(25);
    } finally {
      await thread.close();
    }
  });

  it('answers every evaluation with the error when the job asks for more test examples than the split has', async () => {
    const spec: ModelSpec = { widths: [6, 3], activation: 'relu' };
    const thread = new EvaluationThread({ spec, test: randomDataset(new Random(1), 10, 6, 3), testExamples: 11 });
    try {
      await expect(thread.evaluate(new Float32Array(resolveModel(spec).total))).rejects.toThrow(/Evaluation failed: .*asks for 11 test examples, the test set has 10/);
    } finally {
      await thread.close();
    }
  });

  it("writes a next-token job's text samples in order behind its evaluations, as the evaluator does here", async () => {
    const spec: ModelSpec = { input: [8], layers: [{ kind: 'embedding', vocabulary: 6, features: 8 }, { kind: 'attention', heads: 2 }, { kind: 'lm-head' }, { kind: 'softmax-cross-entropy' }] };
    const model = resolveModel(spec);
    const test = randomDataset(new Random(2), 5, 8, 6, { labelsPerExample: 8 });
    const sampling = { prompt: 'ab', length: 30, temperature: 0.8, seed: 4, vocabulary: ['a', 'b', 'c', 'd', 'e', 'f'] };
    const params = initModelParameters(model, 9);
    const thread = new EvaluationThread({ spec, test, testExamples: 5, sampling });
    const plain = new EvaluationThread({ spec, test, testExamples: 5 });
    try {
      expect(thread.samples).toBe(true);
      const [evaluation, sample] = await Promise.all([thread.evaluate(params), thread.sample(params)]);
      const here = await TestEvaluator.create(model, test, 5);
      expect(evaluation).toEqual(here.evaluate(params));
      expect(sample).toBe(await here.sample(params, sampling));
      expect(sample).toMatch(/^[a-f]{30}$/);
      expect(plain.samples).toBe(false);
      await expect(plain.sample(params)).rejects.toThrow(/no text samples/);
    } finally {
      await thread.close();
      await plain.close();
    }
  });
});
