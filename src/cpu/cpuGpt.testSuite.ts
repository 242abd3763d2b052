// The CPU layer table's GPT layers (token and position embeddings, the attention core between
// its two projection linears, the tied or untied lm-head, and linear, layernorm and the loss
// row by row over sequences) against the f64 table, shared by Node (one thread) and Chromium
// (worker threads): contexts 1, 7 and 33, heads of sizes 3 and 5, batches 1, 3 and 9 (an MR
// block and a ragged one); the PyTorch goldens of two tiny GPTs; the same bits whatever the
// thread count; bad token ids refused.

import { describe, expect, it } from 'vitest';
import { forward, forwardBackward } from '../model/layers/reference.ts';
import { parseModelSpec, resolveModel } from '../model/layers/spec.ts';
import { GPT_CASES, SCE, gptBatch, gptParameters } from '../testing/gptCases.ts';
import { assertAllClose } from '../testing/allclose.ts';
import { Random } from '../util/random.ts';
import { CpuModel } from './cpuModel.ts';
import { runCpuModelSelfTest } from './cpuModelSelfTest.ts';
import { buildTextCorpus, textBatch, textWindowsDataset } from '../data/text.ts';
import type { AdamWHyper } from '../kernels/optimizer.ts';
import gptGolden from '../../test/fixtures/torch-goldens/gpt.json';
import gptUntiedGolden from '../../test/fixtures/torch-goldens/gpt-untied.json';

interface Golden { model: unknown; batch: number; inputs: number[]; labels: number[]; dropout: { seed: number; positions: number[] }; params: number[]; loss: number; gradient: number[]; logits: number[] }

export function defineCpuGptTests(threads: number): void {
  describe(`CPU GPT layers, ${threads} thread${threads === 1 ? '' : 's'}`, () => {
    for (const [name, spec] of GPT_CASES) {
      it(`${name}: loss, every gradient and the logits at batches 1, 3, 9`, async () => {
        const model = resolveModel(spec);
        const params = gptParameters(model, 5);
        const cpu = await CpuModel.create(model, { threads });
        try {
          cpu.setParameters(params);
          const rng = new Random(11);
          for (const batch of [1, 3, 9]) {
            const { x, labels, dropout } = gptBatch(model, rng, batch);
            const got = await cpu.gradientOf(x, labels, dropout);
            const ref = forwardBackward(model, params, x, labels, { dropout });
            expect(Math.abs(got.loss - ref.loss), `loss, batch ${batch}`).toBeLessThan(1e-5 * (1 + ref.loss));
            expect(got.correct).toBe(ref.correct);
            for (const t of model.tensors) {
              assertAllClose(got.gradient.subarray(t.offset, t.offset + t.length), ref.gradient.subarray(t.offset, t.offset + t.length), 2e-5, 1e-3, `${t.name}, batch ${batch}`);
            }
            assertAllClose(await cpu.logits(x, batch), forward(model, params, x, batch), 2e-5, 1e-4, `logits, batch ${batch}`);
          }
        } finally {
          cpu.dispose();
        }
      });
    }

    for (const [name, golden] of [['gpt', gptGolden], ['gpt-untied', gptUntiedGolden]] as [string, Golden][]) {
      it(`PyTorch golden ${name}: torch's loss and every gradient, from the f32 parameters`, async () => {
        const model = resolveModel(parseModelSpec(golden.model));
        const cpu = await CpuModel.create(model, { threads });
        try {
          cpu.setParameters(Float32Array.from(golden.params));
          const dropout = { seed: golden.dropout.seed, positions: Uint32Array.from(golden.dropout.positions) };
          const got = await cpu.gradientOf(Float32Array.from(golden.inputs), golden.labels, dropout);
          expect(Math.abs(got.loss - golden.loss)).toBeLessThan(1e-5 * (1 + golden.loss));
          for (const t of model.tensors) {
            assertAllClose(got.gradient.subarray(t.offset, t.offset + t.length), golden.gradient.slice(t.offset, t.offset + t.length), 2e-5, 1e-3, `${name} ${t.name}`);
          }
        } finally {
          cpu.dispose();
        }
      });
    }

    it('trains and evaluates from resident text windows with the bits of gradientOf on the same windows', async () => {
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
      const params = gptParameters(model, 4);
      const [resident, raw] = await Promise.all([CpuModel.create(model, { threads }), CpuModel.create(model, { threads })]);
      try {
        resident.setParameters(params);
        raw.setParameters(params);
        await resident.setDatasets(textWindowsDataset(corpus.train, corpus.vocabulary), textWindowsDataset(corpus.validation, corpus.vocabulary));
        const positions = Uint32Array.from([5, 0, 31, 12, 5]);
        const { inputs, targets } = textBatch(corpus.train, positions);
        const viaRaw = await raw.gradientOf(Float32Array.from(inputs), Array.from(targets));
        const evaluated = await resident.evaluate('train', positions);
        expect(evaluated.count).toBe(5 * 7);
        expect(Math.abs(evaluated.lossSum / evaluated.count - viaRaw.loss)).toBeLessThan(1e-6);
        expect(evaluated.correct).toBe(viaRaw.correct);
        const hyper: AdamWHyper = { kind: 'adamw', lr: 1e-2, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, maxGradNorm: 1 };
        await resident.trainStep(positions, hyper, 1);
        await raw.optimizerStep(hyper, 1);
        expect(Array.from((await resident.readState()).params)).toEqual(Array.from((await raw.readState()).params));
        const test = await resident.evaluate('test', Uint32Array.from([0, corpus.validation.sequences - 1]));
        expect(test.count).toBe(14);
      } finally {
        resident.dispose();
        raw.dispose();
      }
    });

    it('passes the start-up self-test on random token windows', async () => {
      const cpu = await CpuModel.create(resolveModel(GPT_CASES[2][1]), { threads });
      try {
        const { flopsPerMs } = await runCpuModelSelfTest(cpu);
        expect(flopsPerMs).toBeGreaterThan(0);
      } finally {
        cpu.dispose();
      }
    });

    it('refuses token ids outside the vocabulary, labels that are not one per position, and a dataset of images', async () => {
      const model = resolveModel(GPT_CASES[1][1]);
      const cpu = await CpuModel.create(model, { threads });
      try {
        const x = new Float32Array(7);
        x[3] = 6;
        await expect(cpu.gradientOf(x, new Array(7).fill(0))).rejects.toThrow('gradientOf: x[3] = 6 is not a token id in [0, 6)');
        await expect(cpu.logits(x, 1)).rejects.toThrow('logits: x[3] = 6 is not a token id in [0, 6)');
        await expect(cpu.gradientOf(new Float32Array(7), new Array(6).fill(0))).rejects.toThrow(/labels has 6 values, not a multiple of the 7 labels/);
        const images = { images: new Uint8Array(14), labels: new Uint8Array(2), count: 2, features: 7, classes: 6 };
        await expect(cpu.setDatasets(images, null)).rejects.toThrow('The train set has one label per example, the model takes 7 labels per example (one per position)');
      } finally {
        cpu.dispose();
      }
    });
  });
}
