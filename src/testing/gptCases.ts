// The GPT cases every backend's layer table is held to (the CPU suite, src/cpu/cpuGpt.testSuite.ts,
// and WebGPU's, src/model/gpuGpt.gpu.test.ts): odd contexts and head sizes, a tied and an untied
// head, per-position layernorm, MLP and dropout; parameters moved off their constants; random
// token batches with a label per position.

import { initModelParameters, type LayerModelSpec, type ResolvedModel } from '../model/layers/spec.ts';
import { Random } from '../util/random.ts';

export const SCE = { kind: 'softmax-cross-entropy' } as const;

export const GPT_CASES: [string, LayerModelSpec][] = [
  ['embeddings and a tied head, context 1', {
    input: [1],
    layers: [{ kind: 'embedding', vocabulary: 5, features: 4 }, { kind: 'position-embedding' }, { kind: 'lm-head' }, SCE],
  }],
  ['1 head of 5, context 7, an untied head', {
    input: [7],
    layers: [{ kind: 'embedding', vocabulary: 6, features: 5 }, { kind: 'position-embedding' }, { kind: 'attention', heads: 1 }, { kind: 'lm-head', tied: false }, SCE],
  }],
  ['GPT blocks: 3 heads of 3, layernorm, MLP and dropout per position, context 7', {
    input: [7],
    layers: [
      { kind: 'embedding', vocabulary: 13, features: 9 }, { kind: 'position-embedding' },
      { kind: 'residual', layers: [{ kind: 'layernorm' }, { kind: 'attention', heads: 3 }] },
      { kind: 'residual', layers: [{ kind: 'layernorm' }, { kind: 'linear', outFeatures: 36 }, { kind: 'gelu' }, { kind: 'linear', outFeatures: 9 }, { kind: 'dropout', p: 0.2 }] },
      { kind: 'residual', layers: [{ kind: 'layernorm' }, { kind: 'attention', heads: 3 }] },
      { kind: 'layernorm' }, { kind: 'lm-head' }, SCE,
    ],
  }],
  ['2 heads of 3, context 33', {
    input: [33],
    layers: [{ kind: 'embedding', vocabulary: 4, features: 6 }, { kind: 'position-embedding' }, { kind: 'attention', heads: 2 }, { kind: 'lm-head' }, SCE],
  }],
];

/** Initial parameters with every entry moved, so no bias is 0, no gain 1, and the small N(0, 0.02) tables matter. */
export function gptParameters(model: ResolvedModel, seed: number): Float32Array {
  const rng = new Random(seed);
  const params = initModelParameters(model, seed);
  for (const t of model.tensors) for (let i = 0; i < t.length; i++) params[t.offset + i] += rng.uniform(-0.3, 0.3);
  return params;
}

export function gptBatch(model: ResolvedModel, rng: Random, batch: number) {
  const vocabulary = model.tokens!.vocabulary;
  const x = Float32Array.from({ length: batch * model.inputSize }, () => rng.int(vocabulary));
  const labels = Array.from({ length: batch * model.labelsPerExample }, () => rng.int(vocabulary));
  const dropout = { seed: rng.int(2 ** 32), positions: Uint32Array.from({ length: batch }, () => rng.int(2 ** 32)) };
  return { x, labels, dropout };
}

