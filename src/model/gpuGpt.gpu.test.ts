// The WebGPU table's GPT layers (token and position embeddings, causal attention, the tied or
// untied lm-head, and linear, layernorm and the loss row by row over a sequence) against the
// f64 table on odd shapes: contexts 1, 7 and 33, heads of sizes 3 and 5, batch 1 and 3; the
// PyTorch goldens of two tiny GPTs (scaled_dot_product_attention with is_causal); bit-identical
// repeats; bad token ids refused before anything runs; and a GPT that learns, on this GPU, a
// task only attention can solve.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpuContext } from '../gpu/context.ts';
import { MATMUL_CONFIGS } from '../kernels/matmul.ts';
import type { AdamWHyper } from '../kernels/optimizer.ts';
import { assertAllClose } from '../testing/allclose.ts';
import { Random } from '../util/random.ts';
import { GpuModel, uploadDataset, destroyDataset } from './gpuModel.ts';
import { buildTextCorpus, textBatch, textWindowsDataset } from '../data/text.ts';
import { forward as forwardRef, forwardBackward } from './layers/reference.ts';
import { initModelParameters, parseModelSpec, resolveModel, type ResolvedModel } from './layers/spec.ts';
import { GPT_CASES, SCE, gptBatch, gptParameters } from '../testing/gptCases.ts';
import gptGolden from '../../test/fixtures/torch-goldens/gpt.json';
import gptUntiedGolden from '../../test/fixtures/torch-goldens/gpt-untied.json';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await GpuContext.create();
});
afterAll(() => ctx?.destroy());

const CONFIG = MATMUL_CONFIGS[1];
function setup(model: ResolvedModel, seed: number) {
  const params = gptParameters(model, seed);
  const gpu = new GpuModel(ctx, model, () => CONFIG);
  gpu.setParameters(params);
  return { rng: new Random(seed + 100), params, gpu };
}

describe('the GPT layers on WebGPU agree with the f64 table', () => {
  for (const [name, spec] of GPT_CASES) {
    for (const batch of [1, 3]) {
      it(`${name}, batch ${batch}: loss, every gradient, logits`, async () => {
        const model = resolveModel(spec);
        const { rng, params, gpu } = setup(model, 5 + batch);
        const { x, labels, dropout } = gptBatch(model, rng, batch);
        try {
          const got = await gpu.gradientOf(x, labels, dropout);
          const ref = forwardBackward(model, params, x, labels, { dropout });
          expect(Math.abs(got.loss - ref.loss)).toBeLessThan(1e-5 * (1 + ref.loss));
          expect(got.correct).toBe(ref.correct);
          for (const t of model.tensors) {
            assertAllClose(got.gradient.subarray(t.offset, t.offset + t.length), ref.gradient.subarray(t.offset, t.offset + t.length), 2e-5, 1e-3, t.name);
          }
          assertAllClose(await gpu.logits(x, batch), forwardRef(model, params, x, batch), 2e-5, 1e-4, 'logits');
        } finally {
          gpu.destroy();
        }
      });
    }
  }

  it('gives bit-identical gradients on a repeat', async () => {
    const model = resolveModel(GPT_CASES[2][1]);
    const { rng, gpu } = setup(model, 9);
    const { x, labels, dropout } = gptBatch(model, rng, 3);
    try {
      const a = await gpu.gradientOf(x, labels, dropout);
      const b = await gpu.gradientOf(x, labels, dropout);
      expect(b.loss).toBe(a.loss);
      expect(Array.from(b.gradient)).toEqual(Array.from(a.gradient));
    } finally {
      gpu.destroy();
    }
  });

  it('refuses token ids outside the vocabulary and labels that are not one per position', async () => {
    const model = resolveModel(GPT_CASES[1][1]);
    const { gpu } = setup(model, 3);
    try {
      const x = new Float32Array(7);
      x[3] = 6;
      await expect(gpu.gradientOf(x, new Array(7).fill(0))).rejects.toThrow('gradientOf: x[3] = 6 is not a token id in [0, 6)');
      await expect(gpu.logits(x, 1)).rejects.toThrow('logits: x[3] = 6 is not a token id in [0, 6)');
      await expect(gpu.gradientOf(new Float32Array(7), new Array(6).fill(0))).rejects.toThrow(/labels has 6 values, not a multiple of the 7 labels/);
    } finally {
      gpu.destroy();
    }
  });
});

interface Golden { model: unknown; batch: number; inputs: number[]; labels: number[]; dropout: { seed: number; positions: number[] }; params: number[]; loss: number; gradient: number[]; logits: number[] }

describe('PyTorch goldens of two tiny GPTs', () => {
  for (const [name, golden] of [['gpt', gptGolden], ['gpt-untied', gptUntiedGolden]] as [string, Golden][]) {
    it(`${name}: torch's loss, every gradient and the logits, from the f32 parameters`, async () => {
      const model = resolveModel(parseModelSpec(golden.model));
      const gpu = new GpuModel(ctx, model, () => CONFIG);
      try {
        gpu.setParameters(Float32Array.from(golden.params));
        const dropout = { seed: golden.dropout.seed, positions: Uint32Array.from(golden.dropout.positions) };
        const got = await gpu.gradientOf(Float32Array.from(golden.inputs), golden.labels, dropout);
        expect(Math.abs(got.loss - golden.loss)).toBeLessThan(1e-5 * (1 + golden.loss));
        for (const t of model.tensors) {
          assertAllClose(got.gradient.subarray(t.offset, t.offset + t.length), golden.gradient.slice(t.offset, t.offset + t.length), 2e-5, 1e-3, `${name} ${t.name}`);
        }
        if (name === 'gpt-untied') assertAllClose(await gpu.logits(Float32Array.from(golden.inputs), golden.batch), golden.logits, 2e-5, 1e-4, `${name} logits`);
      } finally {
        gpu.destroy();
      }
    });
  }
});

describe('a resident dataset of text windows', () => {
  it('gives gradient, trainStep and evaluate on window indices the bits of gradientOf on the same windows', async () => {
    const text = new TextEncoder().encode('To be, or not to be, that is the question: whether tis nobler in the mind to suffer. '.repeat(4));
    const corpus = buildTextCorpus(text, { context: 7, maxVocabulary: 64 });
    const model = resolveModel({
      input: [7],
      layers: [
        { kind: 'embedding', vocabulary: corpus.vocabulary.chars.length, features: 9 }, { kind: 'position-embedding' },
        { kind: 'residual', layers: [{ kind: 'layernorm' }, { kind: 'attention', heads: 3 }] },
        { kind: 'layernorm' }, { kind: 'lm-head' }, SCE,
      ],
    });
    const { params, gpu } = setup(model, 4);
    const data = uploadDataset(ctx, textWindowsDataset(corpus.train, corpus.vocabulary));
    try {
      const positions = Uint32Array.from([5, 0, 31, 12, 5]);
      const { inputs, targets } = textBatch(corpus.train, positions);
      const resident = await gpu.gradient(data, positions);
      const raw = await gpu.gradientOf(Float32Array.from(inputs), Array.from(targets));
      expect(resident.loss).toBe(raw.loss);
      expect(resident.correct).toBe(raw.correct);
      expect(Array.from(resident.gradient)).toEqual(Array.from(raw.gradient));
      const evaluated = await gpu.evaluate(data, positions);
      expect(evaluated.count).toBe(5 * 7);
      expect(Math.abs(evaluated.lossSum / evaluated.count - raw.loss)).toBeLessThan(1e-6);
      const ref = forwardBackward(model, params, inputs, targets);
      expect(Math.abs(raw.loss - ref.loss)).toBeLessThan(1e-5 * (1 + ref.loss));
      // A training step from the resident windows moves the parameters as gradientOf + the optimizer does.
      const hyper: AdamWHyper = { kind: 'adamw', lr: 1e-2, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, maxGradNorm: 1 };
      const other = new GpuModel(ctx, model, () => CONFIG);
      other.setParameters(params);
      await gpu.trainStep(data, positions, hyper, 1);
      await other.gradientOf(Float32Array.from(inputs), Array.from(targets));
      await other.optimizerStep(hyper, 1);
      expect(Array.from((await gpu.readState()).params)).toEqual(Array.from((await other.readState()).params));
      other.destroy();
      // An image model refuses it, and this model refuses an image dataset.
      const mlp = new GpuModel(ctx, resolveModel({ widths: [7, 4, 40], activation: 'relu' }), () => CONFIG);
      await expect(mlp.evaluate(data, positions)).rejects.toThrow('The dataset has 7 labels per example (one per position), the model takes one label per example');
      mlp.destroy();
    } finally {
      destroyDataset(data);
      gpu.destroy();
    }
  });
});

describe('training a GPT on this GPU', () => {
  it('learns to copy: the second half of each sequence repeats its random first half, which only attention can see', async () => {
    // Context 16: 8 random tokens, then the same 8 again. The first half is unpredictable
    // (ln 8 = 2.08 per token at best); the second half is a lookup 8 positions back.
    const model = resolveModel({
      input: [16],
      layers: [
        { kind: 'embedding', vocabulary: 8, features: 32 }, { kind: 'position-embedding' },
        { kind: 'residual', layers: [{ kind: 'layernorm' }, { kind: 'attention', heads: 2 }] },
        { kind: 'residual', layers: [{ kind: 'layernorm' }, { kind: 'linear', outFeatures: 64 }, { kind: 'gelu' }, { kind: 'linear', outFeatures: 32 }] },
        { kind: 'layernorm' }, { kind: 'lm-head' }, SCE,
      ],
    });
    const gpu = new GpuModel(ctx, model, () => CONFIG);
    const rng = new Random(17);
    const sequences = (batch: number) => {
      const x = new Float32Array(batch * 16);
      const labels: number[] = [];
      for (let n = 0; n < batch; n++) {
        const half = Array.from({ length: 8 }, () => rng.int(8));
        const s = [...half, ...half, rng.int(8)];
        x.set(s.slice(0, 16), n * 16);
        labels.push(...s.slice(1, 17));
      }
      return { x, labels };
    };
    /** Accuracy on the predictable positions 8..14 (their next token is 8 back), from the logits. */
    const copyAccuracy = async () => {
      const { x, labels } = sequences(64);
      const logits = await gpu.logits(x, 64);
      let right = 0;
      for (let n = 0; n < 64; n++) {
        for (let t = 7; t < 15; t++) {
          const row = logits.subarray((n * 16 + t) * 8, (n * 16 + t + 1) * 8);
          if (row.indexOf(Math.max(...row)) === labels[n * 16 + t]) right++;
        }
      }
      return right / (64 * 8);
    };
    try {
      gpu.setParameters(initModelParameters(model, 5));
      const before = await copyAccuracy();
      const hyper: AdamWHyper = { kind: 'adamw', lr: 6e-3, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1 };
      let loss = Infinity;
      for (let step = 1; step <= 120; step++) {
        const { x, labels } = sequences(16);
        loss = (await gpu.gradientOf(x, labels)).loss;
        await gpu.optimizerStep(hyper, step);
      }
      const after = await copyAccuracy();
      console.log(`copy task: accuracy on the repeated half ${(100 * before).toFixed(1)}% → ${(100 * after).toFixed(1)}%, last loss ${loss.toFixed(3)}`);
      // Chance is 1/8; without attention no position could beat it.
      expect(before).toBeLessThan(0.3);
      expect(after).toBeGreaterThan(0.9);
    } finally {
      gpu.destroy();
    }
  });
});
