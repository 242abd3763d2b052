import { beforeAll, describe, expect, it } from 'vitest';
import type { ImageDataset } from '../data/dataset.ts';
import { loadFashionMnistFromDir } from '../data/fashionMnistNode.ts';
import { CpuModel } from '../cpu/cpuModel.ts';
import { initModelParameters, resolveModel, type LayerModelSpec, type ModelSpec, type ResolvedLinear } from '../model/layers/spec.ts';
import { DEFAULT_MLP } from '../model/mlp.ts';
import { CpuKinkModel, KINK_REL_TOL } from './kinkModel.ts';
import { cpuModelSpotChecker, relativeDistance } from './verification.ts';

const bits = (x: Float32Array) => Array.from(new Uint32Array(x.buffer, x.byteOffset, x.length));
const kinksOf = async (spec: ModelSpec) => new CpuKinkModel((await CpuModel.create(resolveModel(spec), { threads: 1 })).inline);

describe('CpuKinkModel (the CPU layer table)', () => {
  let train: ImageDataset;
  beforeAll(async () => {
    ({ train } = await loadFashionMnistFromDir('test/fixtures/fashion-mnist-small'));
  });

  it('computes the CPU backend\'s gradient bit for bit, and the same with units forced to the side they took', async () => {
    const model = resolveModel(DEFAULT_MLP);
    const cpu = await CpuModel.create(model, { threads: 1 });
    const kinks = new CpuKinkModel(cpu.inline);
    const params = initModelParameters(model, 3);
    const indices = Uint32Array.from({ length: 96 }, (_, i) => (i * 7) % train.count);
    const found: { key: number; active: boolean }[] = [];
    const gradient = new Float32Array(model.total);
    const r = kinks.lossAndGradient(params, train, indices, gradient, undefined, found);
    await cpu.setDatasets(train, null);
    cpu.setParameters(params);
    const expected = await cpu.gradient(indices);
    expect(bits(gradient)).toEqual(bits(expected.gradient));
    expect(r).toEqual({ loss: expected.loss, correct: expected.correct, count: 96 });
    expect(found.length).toBeGreaterThan(0);
    const same = new Float32Array(model.total);
    kinks.lossAndGradient(params, train, indices, same, new Map(found.map((k) => [k.key, k.active])));
    expect(bits(same)).toEqual(bits(gradient));
  });

  it('finds the first layer\'s units within KINK_REL_TOL of their kink, as an f64 sum says, and forcing one moves only what that unit feeds back', async () => {
    const kinks = await kinksOf(DEFAULT_MLP);
    const model = resolveModel(DEFAULT_MLP);
    const params = initModelParameters(model, 3);
    const indices = Uint32Array.from({ length: 64 }, (_, i) => (i * 11) % train.count);
    const cpuFound = kinks.nearKinks(params, train, indices);
    expect(cpuFound.length).toBeGreaterThan(0);
    // The first linear by definition, in f64: z = x·W + b and its scale |b| + Σ|x·w|, for every (example, unit).
    const first = model.layers[0] as ResolvedLinear;
    const found = new Set(cpuFound.filter((k) => kinks.kinkUnit(k.key) < 256).map((k) => k.key));
    let clear = 0;
    for (let r = 0; r < indices.length; r++) {
      for (let j = 0; j < 256; j++) {
        let z = params[first.bias.offset + j];
        let scale = Math.abs(z);
        for (let p = 0; p < 784; p++) {
          const xw = (train.images[indices[r] * 784 + p] / 255) * params[first.weight.offset + p * 256 + j];
          z += xw;
          scale += Math.abs(xw);
        }
        const ratio = Math.abs(z) / (KINK_REL_TOL * scale);
        // Well inside or well outside (f32 rounding decides the edge): the CPU model agrees.
        if (ratio < 0.9) expect(found.has(kinks.kinkKey(r, 0, j)), `example ${r}, unit ${j}`).toBe(true);
        if (ratio > 1.1) expect(found.has(kinks.kinkKey(r, 0, j))).toBe(false);
        if (ratio < 0.9) clear++;
      }
    }
    expect(clear).toBeGreaterThan(0);

    const base = new Float32Array(kinks.total);
    kinks.lossAndGradient(params, train, indices, base);
    const k = cpuFound.find((c) => kinks.kinkUnit(c.key) < 256)!; // a unit of the first hidden layer
    const flipped = new Float32Array(kinks.total);
    kinks.lossAndGradient(params, train, indices, flipped, new Map([[k.key, !k.active]]));
    expect(relativeDistance(flipped, base)).toBeGreaterThan(0);
    // The first layer's weights into other units do not move; the unit's own column does, where its example's pixel is lit.
    const unit = kinks.kinkUnit(k.key);
    for (let i = 0; i < 784 * 256; i++) if (kinks.unitOf[i] !== unit) expect(flipped[i]).toBe(base[i]);
    expect(bits(flipped.filter((_, i) => kinks.unitOf[i] === unit))).not.toEqual(bits(base.filter((_, i) => kinks.unitOf[i] === unit)));
  });

  it('says which models it resolves fully: every ReLU fused into a linear, no max-pool, no dropout', async () => {
    const flat = (layers: LayerModelSpec['layers']) => ({ input: [1, 6, 6], layers: [...layers, { kind: 'linear', outFeatures: 3 }, { kind: 'softmax-cross-entropy' }] }) as ModelSpec;
    expect((await kinksOf(DEFAULT_MLP)).resolvesAll).toBe(true);
    expect((await kinksOf({ widths: [36, 5, 3], activation: 'gelu' })).resolvesAll).toBe(true);
    expect((await kinksOf(flat([{ kind: 'flatten' }, { kind: 'linear', outFeatures: 4 }, { kind: 'layernorm' }, { kind: 'relu' }]))).resolvesAll).toBe(false);
    expect((await kinksOf(flat([{ kind: 'conv2d', outChannels: 2, kernel: 3 }, { kind: 'relu' }, { kind: 'flatten' }]))).resolvesAll).toBe(false);
    expect((await kinksOf(flat([{ kind: 'conv2d', outChannels: 2, kernel: 3 }, { kind: 'maxpool2d', kernel: 2 }, { kind: 'flatten' }]))).resolvesAll).toBe(false);
    expect((await kinksOf(flat([{ kind: 'flatten' }, { kind: 'linear', outFeatures: 4 }, { kind: 'relu' }, { kind: 'dropout', p: 0.1 }]))).resolvesAll).toBe(false);
  });

  it('the coordinator\'s checker: kink resolution for an MLP, the inconclusive band for a CNN', async () => {
    const mlp = cpuModelSpotChecker((await CpuModel.create(resolveModel(DEFAULT_MLP), { threads: 1 })).inline, train);
    expect(mlp.resolveKinks).toBeTypeOf('function');
    expect(mlp.inconclusiveUpTo).toBeUndefined();
    const cnnSpec: ModelSpec = { input: [1, 28, 28], layers: [{ kind: 'conv2d', outChannels: 2, kernel: 3 }, { kind: 'relu' }, { kind: 'maxpool2d', kernel: 2 }, { kind: 'flatten' }, { kind: 'linear', outFeatures: 10 }, { kind: 'softmax-cross-entropy' }] };
    const cnn = cpuModelSpotChecker((await CpuModel.create(resolveModel(cnnSpec), { threads: 1 })).inline, train);
    expect(cnn.resolveKinks).toBeUndefined();
    expect(cnn.inconclusiveUpTo).toBeGreaterThan(0);
  });

  it('refuses a key that is not a unit of the micro-batch, and a gradient buffer of the wrong size', async () => {
    const kinks = await kinksOf(DEFAULT_MLP);
    const params = initModelParameters(resolveModel(DEFAULT_MLP), 1);
    const indices = Uint32Array.of(0, 1);
    expect(() => kinks.lossAndGradient(params, train, indices, new Float32Array(kinks.total), new Map([[kinks.kinkKey(2, 0, 0), true]]))).toThrow(/kink key \d+ is not a unit of this micro-batch of 2/);
    expect(() => kinks.lossAndGradient(params, train, indices, new Float32Array(5))).toThrow(/gradient has 5 floats, the model needs \d+/);
  });
});
