import { beforeAll, describe, expect, it } from 'vitest';
import { labelsOf, toFloatBatch, type ImageDataset } from '../data/dataset.ts';
import { loadFashionMnistFromDir } from '../data/fashionMnistNode.ts';
import { initModelParameters, resolveModel } from '../model/layers/spec.ts';
import { evaluate, forward } from '../model/layers/reference.ts';
import { TestEvaluator } from './evaluator.ts';
import { buildTextCorpus, textBatch, textWindowsDataset } from '../data/text.ts';

let test: ImageDataset;
beforeAll(async () => {
  ({ test } = await loadFashionMnistFromDir('test/fixtures/fashion-mnist-small'));
});

describe('TestEvaluator (the CPU layer table)', () => {
  it.each([
    ['an MLP', { widths: [784, 16, 10], activation: 'relu' as const }],
    ['a CNN', { input: [1, 28, 28], layers: [{ kind: 'conv2d' as const, outChannels: 3, kernel: 3 }, { kind: 'relu' as const }, { kind: 'maxpool2d' as const, kernel: 2 }, { kind: 'flatten' as const }, { kind: 'linear' as const, outFeatures: 10 }, { kind: 'softmax-cross-entropy' as const }] }],
  ])('evaluates %s over a prefix of the test set (across chunks of 500) as the f64 reference does', async (_, spec) => {
    const model = resolveModel(spec);
    const params = initModelParameters(model, 21);
    const limit = Math.min(test.count, 650);
    const indices = Array.from({ length: limit }, (_, i) => i);
    const ref = evaluate(model, params, toFloatBatch(test, indices), labelsOf(test, indices));
    const out = (await TestEvaluator.create(model, test, limit)).evaluate(params);
    expect(out.count).toBe(limit);
    expect(out.accuracy).toBe(ref.correct / limit);
    expect(out.loss).toBeCloseTo(ref.loss, 5);
  });

  it('evaluates a next-token model over validation windows (across chunks): the mean over every position', async () => {
    const text = new TextEncoder().encode('All the world is a stage, and all the men and women merely players. '.repeat(12));
    const corpus = buildTextCorpus(text, { context: 16, maxVocabulary: 32 });
    const model = resolveModel({
      input: [16],
      layers: [{ kind: 'embedding', vocabulary: 32, features: 8 }, { kind: 'attention', heads: 2 }, { kind: 'lm-head' }, { kind: 'softmax-cross-entropy' }],
    });
    const params = initModelParameters(model, 3);
    const windows = { ...textWindowsDataset(corpus.train, corpus.vocabulary), classes: 32 };
    const limit = windows.count; // 50 windows: more than one chunk of 500 / 16 = 31
    const { inputs, targets } = textBatch(corpus.train, Array.from({ length: limit }, (_, k) => k));
    const ref = evaluate(model, params, inputs, targets);
    const out = (await TestEvaluator.create(model, windows, limit)).evaluate(params);
    expect(limit).toBeGreaterThan(31);
    expect(out.count).toBe(limit);
    expect(out.accuracy).toBe(ref.correct / (limit * 16));
    expect(out.loss).toBeCloseTo(ref.loss, 5);
  });

  it("writes a next-token model's text from a prompt: the reference's greedy choice at temperature 0, the vocabulary's characters at 0.8", async () => {
    const text = new TextEncoder().encode('to be, or not to be: that is the question. '.repeat(6));
    const corpus = buildTextCorpus(text, { context: 8, maxVocabulary: 20 });
    const model = resolveModel({ input: [8], layers: [{ kind: 'embedding', vocabulary: 20, features: 8 }, { kind: 'attention', heads: 2 }, { kind: 'lm-head' }, { kind: 'softmax-cross-entropy' }] });
    const params = initModelParameters(model, 4);
    const evaluator = await TestEvaluator.create(model, { ...textWindowsDataset(corpus.validation, corpus.vocabulary), classes: 20 });
    const vocabulary = corpus.vocabulary.chars;
    const sampling = { prompt: 'to be', length: 12, temperature: 0, seed: 1, vocabulary };
    const ids = [...'to be'].map((c) => vocabulary.indexOf(c));
    for (let i = 0; i < 12; i++) {
      const window = new Float32Array(8);
      const context = ids.slice(-8);
      window.set(context);
      const logits = forward(model, params, window, 1).subarray((context.length - 1) * 20, context.length * 20);
      ids.push(logits.indexOf(Math.max(...logits)));
    }
    const greedy = ids.slice(5).map((id) => vocabulary[id] ?? '\uFFFD').join('');
    expect(await evaluator.sample(params, sampling)).toBe(greedy);
    const warm = await evaluator.sample(params, { ...sampling, temperature: 0.8, length: 40 });
    expect([...warm]).toHaveLength(40);
    expect(await evaluator.sample(params, { ...sampling, temperature: 0.8, length: 40 })).toBe(warm);
    await expect(evaluator.sample(params, { ...sampling, prompt: 'tö' })).rejects.toThrow(/the prompt's "ö" is not in the vocabulary/);
  });

  it('refuses more test examples than the set has', async () => {
    const model = resolveModel({ widths: [784, 4, 10], activation: 'relu' });
    await expect(TestEvaluator.create(model, test, test.count + 1)).rejects.toThrow(new RegExp(`asks for ${test.count + 1} test examples, the test set has ${test.count}`));
  });
});
