// The layer-list schema and its resolution: errors that name the layer and the field, shapes,
// the parameter layout (the MLP shorthand's is mlpLayout's, offset for offset), initialisation
// and FLOP counts.

import { describe, expect, it } from 'vitest';
import { initParameters, mlpFlops, mlpLayout, type MlpSpec } from '../mlp.ts';
import { BABY_GPT, SHAKESPEARE_CHAR_GPT, gptSpec } from './gpt.ts';
import {
  initModelParameters, modelSpecSchema, mlpToLayers, parseModelSpec, resolveModel,
  tensorByName, walkLayers, type LayerModelSpec, type ResolvedModel,
} from './spec.ts';

const errorOf = (raw: unknown): string => {
  try {
    parseModelSpec(raw);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(raw)} to be rejected`);
};

const SCE = { kind: 'softmax-cross-entropy' } as const;

const CNN: LayerModelSpec = {
  input: [1, 28, 28],
  layers: [
    { kind: 'conv2d', outChannels: 8, kernel: 3, padding: 1 },
    { kind: 'relu' },
    { kind: 'maxpool2d', kernel: 2 },
    { kind: 'residual', layers: [{ kind: 'conv2d', outChannels: 8, kernel: 3, padding: 1 }, { kind: 'relu' }] },
    { kind: 'conv2d', outChannels: 16, kernel: [3, 5], stride: 2 },
    { kind: 'gelu' },
    { kind: 'avgpool2d', kernel: 2, stride: 1 },
    { kind: 'flatten' },
    { kind: 'dropout', p: 0.25 },
    { kind: 'linear', outFeatures: 32 },
    { kind: 'layernorm' },
    { kind: 'linear', outFeatures: 10 },
    SCE,
  ],
};

describe('schema errors name the layer index and the field', () => {
  it.each([
    [{ input: [1, 4, 4], layers: [{ kind: 'conv2d', outChannels: 2, kernel: 5 }, { kind: 'flatten' }, { kind: 'linear', outFeatures: 2 }, SCE] },
      'model.layers[0].kernel: 5×5 kernel does not fit the 4×4 input'],
    [{ input: [3, 8, 8], layers: [{ kind: 'relu' }, { kind: 'relu' }, { kind: 'relu' }, { kind: 'maxpool2d', kernel: [9, 2] }, SCE] },
      'model.layers[3].kernel: 9×2 kernel does not fit the 8×8 input'],
    [{ input: [1, 4, 4], layers: [{ kind: 'conv2d', outChannels: 2, kernel: 7, padding: 1 }, SCE] },
      'model.layers[0].kernel: 7×7 kernel does not fit the 4×4 input padded by 1×1'],
    [{ input: [1, 4, 4], layers: [{ kind: 'conv2d', outChannels: 2, kernal: 3 }, SCE] },
      'model.layers[0].kernel: required: an integer in [1, 65536] or [height, width] of them (also model.layers[0]: Unrecognized key: "kernal")'],
    [{ input: [1, 4, 4], layers: [{ kind: 'maxpool2d', kernel: [3] }, SCE] }, 'model.layers[0].kernel: must be an integer in [1, 65536] or [height, width] of them, got [3]'],
    [{ input: [1, 4, 4], layers: [{ kind: 'conv2d', outChannels: 0, kernel: 3 }, SCE] }, 'model.layers[0].outChannels'],
    [{ input: [1, 4, 4], layers: [{ kind: 'conv2d', outChannels: 2, kernel: 3, stride: 0 }, SCE] }, 'model.layers[0].stride'],
    [{ input: [1, 4, 4], layers: [{ kind: 'conv2d', outChannels: 2, kernel: 3, padding: 3 }, SCE] }, 'model.layers[0].padding: padding 3×3 must be smaller'],
    [{ input: [8], layers: [{ kind: 'dropout', p: 1 }, SCE] }, 'model.layers[0].p'],
    [{ input: [8], layers: [{ kind: 'layernorm', eps: -1 }, SCE] }, 'model.layers[0].eps'],
    [{ input: [8], layers: [{ kind: 'sigmoid' }, SCE] }, 'model.layers[0].kind: unknown layer kind "sigmoid"; one of linear, conv2d,'],
    [{ input: [8], layers: [{ outFeatures: 3 }, SCE] }, 'model.layers[0].kind: a layer needs a kind, one of linear'],
    [{ input: [8], layers: [{ kind: 'linear', outFeatures: 4 }] }, 'model.layers[0].kind: the last layer must be the loss'],
    [{ input: [8], layers: [SCE, { kind: 'linear', outFeatures: 4 }, SCE] }, 'model.layers[0].kind: softmax-cross-entropy is the loss'],
    [{ input: [8], layers: [{ kind: 'residual', layers: [SCE] }, SCE] }, 'model.layers[0].layers[0].kind: softmax-cross-entropy is the loss'],
    [{ input: [2, 4, 4], layers: [{ kind: 'linear', outFeatures: 4 }, SCE] }, 'model.layers[0]: linear needs a flat input or a sequence [T, C], got [2,4,4]'],
    [{ input: [16], layers: [{ kind: 'maxpool2d', kernel: 2 }, SCE] }, 'model.layers[0]: maxpool2d needs a [C,H,W] input, got [16]'],
    [{ input: [2, 4, 4], layers: [{ kind: 'relu' }, SCE] }, 'model.layers[1]: softmax-cross-entropy needs flat logits, got [2,4,4]'],
    [{ input: [8], layers: [{ kind: 'linear', outFeatures: 1 }, SCE] }, 'model.layers[1]: softmax-cross-entropy needs at least 2 classes'],
    [{ input: [2, 6, 6], layers: [{ kind: 'relu' }, { kind: 'residual', layers: [{ kind: 'conv2d', outChannels: 2, kernel: 3 }] }, { kind: 'flatten' }, SCE] },
      'model.layers[1].layers: the residual branch maps [2,6,6] to [2,4,4]'],
    [{ input: [2, 6, 6], layers: [{ kind: 'residual', layers: [{ kind: 'relu' }, { kind: 'conv2d', outChannels: 2, kernel: 9 }] }, SCE] },
      'model.layers[0].layers[1].kernel: 9×9 kernel does not fit the 6×6 input'],
    [{ input: [2, 6], layers: [SCE] }, 'model.input: the input shape is [features], [channels, height, width], or [context]'],
    [{ input: [8], layers: [] }, 'model.layers: a model needs at least its loss layer'],
    [{ input: [8], layers: [{ kind: 'linear', outFeatures: 4 }, { kind: 'embedding', vocabulary: 9, features: 4 }, SCE] },
      "model.layers[1]: embedding reads the token ids of the input, so it must be the model's first layer"],
    [{ input: [1, 4, 4], layers: [{ kind: 'embedding', vocabulary: 9, features: 4 }, SCE] }, 'model.layers[0]: embedding reads [T] token ids'],
    [{ input: [8], layers: [{ kind: 'embedding', vocabulary: 1, features: 4 }, SCE] }, 'model.layers[0].vocabulary: a vocabulary needs at least 2 tokens'],
    [{ input: [8], layers: [{ kind: 'embedding', vocabulary: 9, features: 6 }, { kind: 'attention', heads: 4 }, { kind: 'lm-head' }, SCE] },
      'model.layers[1].heads: 4 heads do not divide the 6 features'],
    [{ input: [8], layers: [{ kind: 'attention', heads: 1 }, SCE] }, 'model.layers[0]: attention needs a sequence [T, C] input, got [8]; start the model with {"kind":"embedding"}'],
    [{ input: [8], layers: [{ kind: 'embedding', vocabulary: 9, features: 6 }, { kind: 'linear', outFeatures: 5 }, { kind: 'lm-head' }, SCE] },
      'model.layers[2].tied: a tied lm-head reads the embedding\'s [9, 6] table, so its input needs 6 features, got 5'],
    [{ input: [8], layers: [{ kind: 'embedding', vocabulary: 9, features: 6 }, { kind: 'lm-head', initStd: 0.02 }, SCE] },
      'model.layers[1].initStd: a tied lm-head has no weights of its own'],
    [{ input: [8], layers: [{ kind: 'embedding', vocabulary: 9, features: 6 }, { kind: 'position-embedding', initStd: 0 }, { kind: 'lm-head' }, SCE] },
      'model.layers[1].initStd'],
    [{ widths: [784], activation: 'relu' }, 'model.widths'],
    [{ widths: [784, 10], activation: 'tanh' }, 'model.activation'],
  ])('%j → %s', (raw, message) => {
    expect(errorOf(raw)).toContain(message);
  });

  it('is a zod schema a job schema can embed, the path relative to the model', () => {
    const result = modelSpecSchema.safeParse({ input: [1, 4, 4], layers: [{ kind: 'conv2d', outChannels: 2, kernel: 5 }, SCE] });
    expect(result.success).toBe(false);
    expect(result.error!.issues[0].path).toEqual(['layers', 0, 'kernel']);
    expect(modelSpecSchema.parse(CNN)).toEqual(CNN);
    expect(modelSpecSchema.parse({ widths: [784, 10], activation: 'gelu' })).toEqual({ widths: [784, 10], activation: 'gelu' });
  });
});

describe('resolution', () => {
  const model = resolveModel(CNN);

  it('gives each layer its input and output shape', () => {
    expect(model.layers.map((l) => [l.kind, l.outShape])).toEqual([
      ['conv2d', [8, 28, 28]],
      ['relu', [8, 28, 28]],
      ['maxpool2d', [8, 14, 14]],
      ['residual', [8, 14, 14]],
      // ⌊(14 − 3)/2⌋ + 1 = 6, ⌊(14 − 5)/2⌋ + 1 = 5
      ['conv2d', [16, 6, 5]],
      ['gelu', [16, 6, 5]],
      ['avgpool2d', [16, 5, 4]],
      ['flatten', [320]],
      ['dropout', [320]],
      ['linear', [32]],
      ['layernorm', [32]],
      ['linear', [10]],
      ['softmax-cross-entropy', [1]],
    ]);
    expect(model.layers[4].inShape).toEqual([8, 14, 14]);
    expect(model.classes).toBe(10);
    expect(model.inputSize).toBe(784);
    const residual = model.layers[3];
    if (residual.kind !== 'residual') throw new Error('layer 3 is the residual');
    expect(residual.layers.map((l) => [l.path, l.ordinal])).toEqual([['3.0', 4], ['3.1', 5]]);
  });

  it('lays out weights first, then biases and layernorm, each on a 64-float boundary', () => {
    expect(model.tensors.map((t) => t.name)).toEqual([
      '0.conv2d.weight', '3.0.conv2d.weight', '4.conv2d.weight', '9.linear.weight', '11.linear.weight',
      '0.conv2d.bias', '3.0.conv2d.bias', '4.conv2d.bias', '9.linear.bias', '10.layernorm.weight', '10.layernorm.bias', '11.linear.bias',
    ]);
    for (const t of model.tensors) expect(t.offset % 64).toBe(0);
    for (let i = 1; i < model.tensors.length; i++) {
      const prev = model.tensors[i - 1];
      expect(model.tensors[i].offset).toBe(Math.ceil((prev.offset + prev.length) / 64) * 64);
    }
    expect(model.decayEnd).toBe(tensorByName(model, '0.conv2d.bias').offset);
    expect(model.tensors.filter((t) => t.decay).every((t) => t.offset < model.decayEnd)).toBe(true);
    expect(tensorByName(model, '4.conv2d.weight').shape).toEqual([8, 3, 5, 16]);
    expect(tensorByName(model, '9.linear.weight').shape).toEqual([320, 32]);
    expect(model.parameterCount).toBe(
      (1 * 9 * 8 + 8) + (8 * 9 * 8 + 8) + (8 * 15 * 16 + 16) + (320 * 32 + 32) + (32 + 32) + (32 * 10 + 10),
    );
    expect(model.total).toBe(model.tensors.at(-1)!.offset + 64);
  });

  it('counts forward FLOPs per example', () => {
    const macs = 28 * 28 * 8 * 9 + 14 * 14 * 8 * 72 + 6 * 5 * 16 * 120 + 320 * 32 + 32 * 10;
    expect(model.matmulFlops).toBe(2 * macs);
    let sum = 0;
    walkLayers(model.layers, (l) => (sum += l.forwardFlops));
    expect(model.forwardFlops).toBe(sum);
    // The residual's own cost is its add: one per element of [8,14,14].
    expect(model.layers[3].forwardFlops).toBe(8 * 14 * 14);
    expect(model.forwardFlops).toBeGreaterThan(model.matmulFlops);
  });

  it('explains a missing tensor name', () => {
    expect(() => tensorByName(model, 'layer0.weight')).toThrow(/no parameter tensor "layer0.weight"; the model has 0.conv2d.weight/);
  });
});

describe('the MLP shorthand', () => {
  const specs: MlpSpec[] = [
    { widths: [784, 256, 128, 10], activation: 'relu' },
    { widths: [5, 3], activation: 'gelu' },
    { widths: [100, 65, 1, 130, 7], activation: 'gelu' },
  ];

  it.each(specs)('$widths $activation: the layout is mlpLayout, offset for offset', (spec) => {
    const model: ResolvedModel = resolveModel(parseModelSpec(spec));
    const layout = mlpLayout(spec);
    expect(model.total).toBe(layout.total);
    expect(model.decayEnd).toBe(layout.decayEnd);
    expect(model.parameterCount).toBe(layout.segments.reduce((n, s) => n + s.length, 0));
    const linears = model.layers.filter((l) => l.kind === 'linear');
    expect(model.tensors.map((t) => [t.offset, t.length])).toEqual(layout.segments.map((s) => [s.offset, s.length]));
    // Our names are '<index>.linear.weight'; mlpLayout's are 'layer<l>.weight', linear l being layer 2l.
    layout.weights.forEach((w, l) => {
      expect(linears[l].path).toBe(String(2 * l));
      expect(tensorByName(model, `${2 * l}.linear.weight`).shape).toEqual([w.rows, w.cols]);
      expect(tensorByName(model, `${2 * l}.linear.bias`).offset).toBe(layout.biases[l].offset);
    });
    expect(model.matmulFlops).toBe(mlpFlops(spec, 1).forward);
  });

  it('initialises bit for bit as mlp.ts initParameters', () => {
    for (const spec of specs) {
      const model = resolveModel(spec);
      expect(initModelParameters(model, 1234)).toEqual(initParameters(mlpLayout(spec), 1234));
    }
  });

  it('converts to linear, activation, …, linear, loss', () => {
    expect(mlpToLayers({ widths: [4, 3, 2], activation: 'gelu' })).toEqual({
      input: [4],
      layers: [{ kind: 'linear', outFeatures: 3 }, { kind: 'gelu' }, { kind: 'linear', outFeatures: 2 }, SCE],
    });
  });
});

describe('initialisation', () => {
  it('is deterministic from the seed, Kaiming-uniform for weights, 1 and 0 for layernorm', () => {
    const model = resolveModel(CNN);
    const a = initModelParameters(model, 7);
    expect(initModelParameters(model, 7)).toEqual(a);
    expect(initModelParameters(model, 8)).not.toEqual(a);
    const conv = tensorByName(model, '4.conv2d.weight');
    const bound = Math.sqrt(6 / (8 * 3 * 5));
    const w = a.subarray(conv.offset, conv.offset + conv.length);
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.9 * bound);
    const gain = tensorByName(model, '10.layernorm.weight');
    expect([...a.subarray(gain.offset, gain.offset + gain.length)].every((v) => v === 1)).toBe(true);
    const bias = tensorByName(model, '10.layernorm.bias');
    expect([...a.subarray(bias.offset, bias.offset + bias.length)].every((v) => v === 0)).toBe(true);
    // Padding stays zero (the first conv's 72 weights are followed by 56 floats of it).
    const first = tensorByName(model, '0.conv2d.weight');
    expect([...a.subarray(first.offset + first.length, first.offset + 128)]).toEqual(new Array(56).fill(0));
  });
});

describe('a GPT as a layer list', () => {
  const baby = gptSpec(BABY_GPT);
  const model = resolveModel(baby);

  it('reads 64 token ids, gives 64 rows of 65 logits, and a label per position', () => {
    expect(model.tokens).toEqual({ vocabulary: 65, context: 64 });
    expect(model.inputSize).toBe(64);
    expect(model.classes).toBe(65);
    expect(model.labelsPerExample).toBe(64);
    expect(model.layers[0].outShape).toEqual([64, 128]);
    expect(model.layers[model.layers.length - 2].outShape).toEqual([64, 65]);
  });

  it("has nanoGPT's parameters plus the biases it leaves out: 809,856", () => {
    // Per block: 2 layernorms (2·256), qkv 128·384 + 384, projection 128·128 + 128, MLP 128·512 + 512 + 512·128 + 128.
    const perBlock = 2 * 256 + 128 * 384 + 384 + 128 * 128 + 128 + 128 * 512 + 512 + 512 * 128 + 128;
    expect(model.parameterCount).toBe(4 * perBlock + 65 * 128 + 64 * 128 + 256);
    expect(model.parameterCount).toBe(809_856);
    // The head is tied: no tensor of its own.
    expect(model.tensors.some((t) => t.name.includes('lm-head'))).toBe(false);
  });

  it('decays the matrices (embeddings included, as nanoGPT) and nothing else', () => {
    const decayed = model.tensors.filter((t) => t.decay);
    expect(decayed.every((t) => t.shape.length === 2)).toBe(true);
    expect(model.tensors.filter((t) => !t.decay).every((t) => t.shape.length === 1)).toBe(true);
    expect(decayed.map((t) => t.name).slice(0, 4)).toEqual(['0.embedding.weight', '1.position-embedding.weight', '2.1.attention.qkv.weight', '2.1.attention.projection.weight']);
  });

  it('draws the embeddings and projections from N(0, 0.02²), the biases 0 and the gains 1', () => {
    const params = initModelParameters(model, 3);
    const t = tensorByName(model, '0.embedding.weight');
    const values = params.subarray(t.offset, t.offset + t.length);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const std = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length);
    expect(Math.abs(mean)).toBeLessThan(0.001);
    expect(std).toBeGreaterThan(0.019);
    expect(std).toBeLessThan(0.021);
    const bias = tensorByName(model, '2.1.attention.qkv.bias');
    expect(params.subarray(bias.offset, bias.offset + bias.length).every((v) => v === 0)).toBe(true);
    const gain = tensorByName(model, '2.0.layernorm.weight');
    expect(gain.length).toBe(128);
    expect(params.subarray(gain.offset, gain.offset + gain.length).every((v) => v === 1)).toBe(true);
  });

  it("gives nanoGPT's shakespeare_char model its 10.65M parameters (plus biases), dropout where nanoGPT has it", () => {
    const large = resolveModel(gptSpec(SHAKESPEARE_CHAR_GPT));
    // nanoGPT's 10.65M: bias=False, and get_num_params leaves the position table (256·384) out.
    const c = 384;
    const biasesPerBlock = 2 * c + 3 * c + c + 4 * c + c; // two layernorms' shifts, qkv, projection, MLP
    expect(large.parameterCount - 256 * c - 6 * biasesPerBlock - c).toBe(10_646_784);
    expect(JSON.stringify(large.spec)).toContain('"kind":"dropout","p":0.2');
  });

  it('counts FLOPs: the matmuls at 2 per multiply-add, attention over all T² pairs', () => {
    const c = 128;
    const t = 64;
    const perBlock = 2 * t * c * 3 * c + 2 * t * c * c + 4 * t * t * c + 2 * t * c * 4 * c * 2;
    expect(model.matmulFlops).toBe(4 * perBlock + 2 * t * c * 65);
  });
});
