// The ONNX writers checked by running their models in onnxruntime-web's WASM backend in
// Node: the MLP export against plain f64 arithmetic written here (independent of
// src/model/reference.ts), the layer table (every kind, CNNs, layernorm, residuals) against
// the f64 reference table's forward, and the graph's structure op by op.

import * as ort from 'onnxruntime-web';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertAllClose } from '../testing/allclose.ts';
import { Random } from '../util/random.ts';
import { forward } from './layers/reference.ts';
import { LAYER_KINDS, initModelParameters, resolveModel, type LayerKind, type LayerModelSpec, type ModelSpec, type ResolvedModel } from './layers/spec.ts';
import { type MlpSpec, type ParamLayout, DEFAULT_MLP, mlpLayout } from './mlp.ts';
import { MLP_SPEC_METADATA_KEY, MODEL_SPEC_METADATA_KEY, buildMatMulModel, exportMlpOnnx, exportModelOnnx, onnxTable, type OnnxRule } from './onnx.ts';
import { onnx } from './onnxProto.ts';

// A table without a kind does not compile: the mapped type asks for every LayerKind.
const { dropout: _dropout, ...withoutDropout } = onnxTable;
// @ts-expect-error 'dropout' is missing
const incomplete: { [K in LayerKind]: OnnxRule<K> } = withoutDropout;
void incomplete;

beforeAll(() => {
  // Node runs only the single-threaded WASM build; it finds its .wasm next to the module.
  ort.env.wasm.numThreads = 1;
});

async function run(model: Uint8Array, feeds: Record<string, ort.Tensor>, output: string): Promise<ort.Tensor> {
  const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'] });
  try {
    const result = await session.run(feeds);
    return result[output];
  } finally {
    await session.release();
  }
}

function naiveMatMul(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
      c[i * n + j] = s;
    }
  }
  return c;
}

const geluTanh = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

/** The MLP forward in f64, straight from the layout: H = act(X·W + b), last layer linear. */
function forwardF64(layout: ParamLayout, params: Float32Array, input: Float32Array, batch: number): Float64Array {
  const { widths, activation } = layout.spec;
  let x: Float64Array = Float64Array.from(input);
  for (let l = 0; l + 1 < widths.length; l++) {
    const w = layout.weights[l];
    const b = layout.biases[l];
    const [fanIn, fanOut] = [widths[l], widths[l + 1]];
    const y = new Float64Array(batch * fanOut);
    for (let r = 0; r < batch; r++) {
      for (let j = 0; j < fanOut; j++) {
        let s = params[b.offset + j];
        for (let i = 0; i < fanIn; i++) s += x[r * fanIn + i] * params[w.offset + i * fanOut + j];
        const hidden = l + 2 < widths.length;
        y[r * fanOut + j] = !hidden ? s : activation === 'relu' ? Math.max(0, s) : geluTanh(s);
      }
    }
    x = y;
  }
  return x;
}

describe('buildMatMulModel', () => {
  it.each([
    [1, 1, 1],
    [7, 33, 5],
    [64, 100, 257],
  ])('m=%i k=%i n=%i matches a naive f64 matmul', async (m, k, n) => {
    const rng = new Random(m * 1000 + k * 10 + n);
    const a = rng.uniformArray(m * k);
    const b = rng.uniformArray(k * n);
    const c = await run(
      buildMatMulModel(m, k, n),
      { A: new ort.Tensor('float32', a, [m, k]), B: new ort.Tensor('float32', b, [k, n]) },
      'C',
    );
    expect(c.dims).toEqual([m, n]);
    assertAllClose(c.data as Float32Array, naiveMatMul(a, b, m, k, n), 1e-6, 1e-4, `MatMul ${m}×${k}×${n}`);
  });

  it('rejects non-positive or fractional sizes', () => {
    expect(() => buildMatMulModel(0, 1, 1)).toThrow(/MatMul m must be a positive integer/);
    expect(() => buildMatMulModel(1, 2.5, 1)).toThrow(/MatMul k/);
  });
});

describe('exportMlpOnnx', () => {
  const specs: MlpSpec[] = [
    { widths: [6, 5, 4, 3], activation: 'relu' },
    { widths: [6, 5, 4, 3], activation: 'gelu' },
    { widths: [7, 2], activation: 'gelu' },
    DEFAULT_MLP,
    { ...DEFAULT_MLP, activation: 'gelu' },
  ];

  it.each(specs.map((s) => [`${s.widths.join('-')} ${s.activation}`, s] as const))(
    '%s gives the f64 forward’s logits for several batch sizes (dynamic batch)',
    async (_, spec) => {
      const layout = mlpLayout(spec);
      const rng = new Random(spec.widths.reduce((a, w) => a * 31 + w, spec.activation === 'gelu' ? 7 : 3));
      // Weights scaled like Kaiming init and non-zero biases, so every segment matters.
      const params = new Float32Array(layout.total);
      for (const s of layout.segments) {
        const bound = s.kind === 'weight' ? Math.sqrt(6 / s.rows) : 0.5;
        for (let i = 0; i < s.length; i++) params[s.offset + i] = rng.uniform(-bound, bound);
      }
      const model = exportMlpOnnx(layout, params);
      const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'] });
      try {
        expect(session.inputNames).toEqual(['input']);
        expect(session.outputNames).toEqual(['logits']);
        const [inWidth, classes] = [spec.widths[0], spec.widths[spec.widths.length - 1]];
        for (const batch of [1, 3, 17]) {
          const input = rng.uniformArray(batch * inWidth, 0, 1); // pixels / 255
          const { logits } = await session.run({ input: new ort.Tensor('float32', input, [batch, inWidth]) });
          expect(logits.dims).toEqual([batch, classes]);
          const ref = forwardF64(layout, params, input, batch);
          assertAllClose(logits.data as Float32Array, ref, 1e-4, 1e-4, `${spec.widths.join('-')} ${spec.activation} batch ${batch}`);
        }
      } finally {
        await session.release();
      }
    },
  );

  it('writes a fixed batch, the segment names, the producer and the spec as metadata', async () => {
    const spec: MlpSpec = { widths: [6, 5, 4, 3], activation: 'gelu' };
    const layout = mlpLayout(spec);
    const params = new Random(5).uniformArray(layout.total);
    const bytes = exportMlpOnnx(layout, params, { batch: 2 });
    const model = onnx.ModelProto.decode(bytes);
    expect(model.producerName).toBe('swarmgrad');
    expect(model.docString).toMatch(/6→5→4→3/);
    const specEntry = model.metadataProps.find((p) => p.key === MLP_SPEC_METADATA_KEY);
    expect(JSON.parse(specEntry?.value ?? 'null')).toEqual(spec);
    const graph = onnx.GraphProto.fromObject(model.graph ?? {});
    // Initializers are named after the layer list's tensors ('0.linear.weight'), which sit at
    // the segments' offsets; padding is not exported: each holds exactly its segment.
    const tensors = resolveModel(spec).tensors;
    expect(graph.initializer.map((t) => t.name)).toEqual(expect.arrayContaining(tensors.map((t) => t.name)));
    expect(tensors.map((t) => [t.offset, t.length])).toEqual(layout.segments.map((s) => [s.offset, s.length]));
    for (const t of tensors) {
      const init = graph.initializer.find((i) => i.name === t.name);
      expect(init?.rawData?.byteLength).toBe(4 * t.length);
    }
    const dims = graph.input[0].type?.tensorType?.shape?.dim?.map((d) => Number(d.dimValue));
    expect(dims).toEqual([2, 6]);

    const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    try {
      const input = new Random(6).uniformArray(2 * 6, 0, 1);
      const { logits } = await session.run({ input: new ort.Tensor('float32', input, [2, 6]) });
      assertAllClose(logits.data as Float32Array, forwardF64(layout, params, input, 2), 1e-4, 1e-4, 'fixed batch');
    } finally {
      await session.release();
    }
    expect(onnx.ModelProto.decode(exportMlpOnnx(layout, params, { producer: 'me' })).producerName).toBe('me');
  });

  it('rejects a params vector of the wrong length', () => {
    const layout = mlpLayout({ widths: [6, 5, 4, 3], activation: 'relu' });
    expect(() => exportMlpOnnx(layout, new Float32Array(layout.total - 1))).toThrow(
      new RegExp(`params has ${layout.total - 1} floats but the layout .* needs ${layout.total}`),
    );
    expect(() => exportMlpOnnx(layout, new Float32Array(layout.total), { batch: 0 })).toThrow(/batch must be a positive integer/);
    // An activation without a layer kind is refused, not exported as another one.
    const tanh = { ...layout, spec: { ...layout.spec, activation: 'tanh' } } as unknown as ParamLayout;
    expect(() => exportMlpOnnx(tanh, new Float32Array(layout.total))).toThrow(/activation "tanh" has no layer kind \(relu or gelu\)/);
  });
});

// ---------------------------------------------------------------------------------------
// The layer table

const SCE = { kind: 'softmax-cross-entropy' } as const;

/** Models that exercise every kind: odd, non-square shapes so a swapped height and width or a mis-laid conv weight shows. */
const MODELS: Record<string, ModelSpec> = {
  'MLP relu': { widths: [12, 10, 8, 4], activation: 'relu' },
  'MLP gelu': { widths: [12, 10, 8, 4], activation: 'gelu' },
  CNN: {
    input: [3, 8, 12],
    layers: [
      { kind: 'conv2d', outChannels: 4, kernel: [3, 5], padding: [1, 2] },
      { kind: 'relu' },
      { kind: 'maxpool2d', kernel: 2 },
      { kind: 'conv2d', outChannels: 6, kernel: 3, stride: [1, 2] },
      { kind: 'relu' },
      { kind: 'avgpool2d', kernel: [2, 1] },
      { kind: 'flatten' },
      { kind: 'linear', outFeatures: 5 },
      SCE,
    ],
  },
  'layernorm + gelu + residual + dropout': {
    input: [16],
    layers: [
      { kind: 'linear', outFeatures: 12 },
      { kind: 'layernorm' },
      { kind: 'gelu' },
      { kind: 'residual', layers: [{ kind: 'linear', outFeatures: 12 }, { kind: 'gelu' }, { kind: 'dropout', p: 0.1 }, { kind: 'layernorm', eps: 1e-3 }] },
      { kind: 'dropout', p: 0.2 },
      { kind: 'linear', outFeatures: 4 },
      SCE,
    ],
  },
  'conv + layernorm over [C,H,W] + residual conv': {
    input: [2, 6, 7],
    layers: [
      { kind: 'conv2d', outChannels: 3, kernel: 3 },
      { kind: 'layernorm' },
      { kind: 'gelu' },
      { kind: 'residual', layers: [{ kind: 'conv2d', outChannels: 3, kernel: 3, padding: 1 }, { kind: 'relu' }] },
      { kind: 'flatten' },
      { kind: 'linear', outFeatures: 3 },
      SCE,
    ],
  },
};

/** initModelParameters, then every bias and gain moved off its constant (0, 1), so each tensor matters. */
function exportParams(model: ResolvedModel, seed: number): Float32Array {
  const params = initModelParameters(model, seed);
  const rng = new Random(seed + 1);
  for (const t of model.tensors) {
    if (t.init.kind === 'constant') for (let i = 0; i < t.length; i++) params[t.offset + i] += rng.uniform(-0.3, 0.3);
  }
  return params;
}

function decodeGraph(bytes: Uint8Array) {
  return onnx.GraphProto.fromObject(onnx.ModelProto.decode(bytes).graph ?? {});
}

/** Tolerance of ORT's float32 against the f64 reference: |Δ| ≤ 1e-4 + 1e-4·|ref| (a few float32 ulps over sums of ≤ 75 terms). */
const ATOL = 1e-4;
const RTOL = 1e-4;

describe('exportModelOnnx: onnxruntime (WASM, Node) gives the reference forward’s logits', () => {
  it.each(Object.entries(MODELS))('%s', async (name, spec) => {
    const model = resolveModel(spec);
    const params = exportParams(model, 41);
    const session = await ort.InferenceSession.create(exportModelOnnx(model, params), { executionProviders: ['wasm'] });
    try {
      const rng = new Random(7);
      for (const batch of [1, 5]) {
        const input = rng.uniformArray(batch * model.inputSize, 0, 1);
        const { logits } = await session.run({ input: new ort.Tensor('float32', input, [batch, ...model.inputShape]) });
        expect(logits.dims).toEqual([batch, model.classes]);
        assertAllClose(logits.data as Float32Array, forward(model, params, input, batch), ATOL, RTOL, `${name} batch ${batch}`);
      }
    } finally {
      await session.release();
    }
  });
});

/** Next-token models: odd contexts and head sizes, a tied and an untied head, per-position layernorm and MLP. */
const GPTS: Record<string, LayerModelSpec> = {
  'GPT blocks, 3 heads of 3, context 7, tied head': {
    input: [7],
    layers: [
      { kind: 'embedding', vocabulary: 11, features: 9 }, { kind: 'position-embedding' },
      { kind: 'residual', layers: [{ kind: 'layernorm' }, { kind: 'attention', heads: 3 }] },
      { kind: 'residual', layers: [{ kind: 'layernorm' }, { kind: 'linear', outFeatures: 36 }, { kind: 'gelu' }, { kind: 'linear', outFeatures: 9 }, { kind: 'dropout', p: 0.1 }] },
      { kind: 'layernorm' }, { kind: 'lm-head' }, SCE,
    ],
  },
  '1 head of 5, context 1, untied head': {
    input: [1],
    layers: [{ kind: 'embedding', vocabulary: 6, features: 5 }, { kind: 'position-embedding' }, { kind: 'attention', heads: 1 }, { kind: 'lm-head', tied: false }, SCE],
  },
  '2 heads of 3, context 33': {
    input: [33],
    layers: [{ kind: 'embedding', vocabulary: 4, features: 6 }, { kind: 'attention', heads: 2 }, { kind: 'layernorm' }, { kind: 'lm-head' }, SCE],
  },
};

describe('exportModelOnnx: a next-token model takes int64 token ids and gives logits per position', () => {
  it.each(Object.entries(GPTS))('%s', async (name, spec) => {
    const model = resolveModel(spec);
    const params = initModelParameters(model, 43);
    // The N(0, 0.02) tables give near-uniform attention; wider values make every head matter.
    const rng = new Random(3);
    for (let i = 0; i < params.length; i++) params[i] += rng.uniform(-0.4, 0.4);
    const session = await ort.InferenceSession.create(exportModelOnnx(model, params), { executionProviders: ['wasm'] });
    try {
      const t = model.inputShape[0];
      for (const batch of [1, 3]) {
        const ids = Array.from({ length: batch * t }, () => rng.int(model.classes));
        const { logits } = await session.run({ input: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [batch, t]) });
        expect(logits.dims).toEqual([batch, t, model.classes]);
        assertAllClose(logits.data as Float32Array, forward(model, params, ids, batch), ATOL, RTOL, `${name} batch ${batch}`);
      }
    } finally {
      await session.release();
    }
  });

  it('declares the int64 input and the per-position output, and does not copy a tied table', () => {
    const model = resolveModel(GPTS['GPT blocks, 3 heads of 3, context 7, tied head']);
    const graph = decodeGraph(exportModelOnnx(model, initModelParameters(model, 1)));
    expect(graph.input?.[0].type?.tensorType?.elemType).toBe(onnx.TensorProto.DataType.INT64);
    expect(graph.output?.[0].type?.tensorType?.shape?.dim?.map((d) => d.dimValue ? Number(d.dimValue) : d.dimParam)).toEqual(['batch', 7, 11]);
    expect(graph.initializer?.filter((t) => t.name === '0.embedding.weight')).toHaveLength(1);
    expect(graph.initializer?.some((t) => t.name?.includes('lm-head'))).toBe(false);
  });
});

describe('exportModelOnnx: structure', () => {
  it('has a rule for every layer kind', () => {
    expect(Object.keys(onnxTable).sort()).toEqual([...LAYER_KINDS].sort());
  });

  it('emits each kind as its ONNX ops, the loss as nothing but the name `logits`', () => {
    const model = resolveModel(MODELS['layernorm + gelu + residual + dropout']);
    const cnn = resolveModel(MODELS.CNN);
    const opsOf = (m: ResolvedModel, prefix: string) =>
      decodeGraph(exportModelOnnx(m, new Float32Array(m.total))).node.filter((n) => (n.name ?? '').startsWith(prefix)).map((n) => n.opType);
    const gelu = ['Mul', 'Mul', 'Add', 'Mul', 'Mul', 'Tanh', 'Add', 'Mul', 'Mul'];
    const expected: [ResolvedModel, string, string[]][] = [
      [cnn, 'layer0.conv2d', ['Conv']],
      [cnn, 'layer1.relu', ['Relu']],
      [cnn, 'layer2.maxpool2d', ['MaxPool']],
      [cnn, 'layer5.avgpool2d', ['AveragePool']],
      [cnn, 'layer6.flatten', ['Flatten']],
      [cnn, 'layer7.linear', ['MatMul', 'Add']],
      [cnn, 'layer8.', []],
      [model, 'layer1.layernorm', ['LayerNormalization']],
      [model, 'layer2.gelu', gelu],
      [model, 'layer3.', ['MatMul', 'Add', ...gelu, 'Identity', 'LayerNormalization', 'Add']],
      [model, 'layer3.residual', ['Add']],
      [model, 'layer4.dropout', ['Identity']],
    ];
    for (const [m, prefix, ops] of expected) expect(opsOf(m, prefix), prefix).toEqual(ops);

    const graph = decodeGraph(exportModelOnnx(cnn, new Float32Array(cnn.total)));
    expect(graph.node[graph.node.length - 1].output).toEqual(['logits']);
    expect(graph.output.map((o) => o.name)).toEqual(['logits']);
    const dims = (v: (typeof graph.input)[number]) => v.type?.tensorType?.shape?.dim?.map((d) => d.dimParam || Number(d.dimValue));
    expect(dims(graph.input[0])).toEqual(['batch', 3, 8, 12]);
    expect(dims(graph.output[0])).toEqual(['batch', 5]);
    const conv = graph.node.find((n) => n.name === 'layer0.conv2d')!;
    const attrs = Object.fromEntries((conv.attribute ?? []).map((a) => [a.name, (a.ints ?? []).map(Number)]));
    expect(attrs).toEqual({ kernel_shape: [3, 5], strides: [1, 1], pads: [1, 2, 1, 2] });
  });

  it('exports a model that is only its loss as Identity(input) → logits', async () => {
    const model = resolveModel({ input: [3], layers: [SCE] });
    const bytes = exportModelOnnx(model, new Float32Array(model.total));
    expect(decodeGraph(bytes).node.map((n) => [n.opType, n.input, n.output])).toEqual([['Identity', ['input'], ['logits']]]);
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    try {
      const { logits } = await session.run({ input: new ort.Tensor('float32', Float32Array.of(0.1, 0.2, 0.3), [1, 3]) });
      expect([...(logits.data as Float32Array)]).toEqual([...Float32Array.of(0.1, 0.2, 0.3)]);
    } finally {
      await session.release();
    }
  });

  it('re-lays a conv2d weight out as [outC, inC, kh, kw]', () => {
    const model = resolveModel({ input: [2, 4, 5], layers: [{ kind: 'conv2d', outChannels: 3, kernel: [2, 3] }, { kind: 'flatten' }, { kind: 'linear', outFeatures: 2 }, SCE] });
    const params = new Float32Array(model.total).map((_, i) => i);
    const w = model.tensors.find((t) => t.name === '0.conv2d.weight')!;
    const init = decodeGraph(exportModelOnnx(model, params)).initializer.find((t) => t.name === w.name)!;
    expect((init.dims ?? []).map(Number)).toEqual([3, 2, 2, 3]);
    const values = new Float32Array(init.rawData!.slice().buffer);
    for (let o = 0; o < 3; o++)
      for (let ci = 0; ci < 2; ci++)
        for (let ky = 0; ky < 2; ky++)
          for (let kx = 0; kx < 3; kx++) {
            // Stored [inC, kh, kw, outC] row-major.
            expect(values[((o * 2 + ci) * 2 + ky) * 3 + kx]).toBe(params[w.offset + ((ci * 2 + ky) * 3 + kx) * 3 + o]);
          }
  });

  it('gives layernorm’s gain and shift the example’s shape, and shares GELU’s constants', () => {
    const model = resolveModel(MODELS['conv + layernorm over [C,H,W] + residual conv']);
    const graph = decodeGraph(exportModelOnnx(model, new Float32Array(model.total)));
    expect(graph.initializer.find((t) => t.name === '1.layernorm.weight')?.dims?.map(Number)).toEqual([3, 4, 5]);
    const names = graph.initializer.map((t) => t.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names.filter((n) => n?.startsWith('gelu.'))).toHaveLength(4);
    const ln = graph.node.find((n) => n.opType === 'LayerNormalization')!;
    expect(ln.attribute?.find((a) => a.name === 'epsilon')?.f).toBeCloseTo(1e-5, 10);
  });

  it('writes the layer spec as metadata and describes the layers', () => {
    const spec = MODELS.CNN as LayerModelSpec;
    const model = resolveModel(spec);
    const decoded = onnx.ModelProto.decode(exportModelOnnx(model, new Float32Array(model.total), { batch: 4 }));
    expect(JSON.parse(decoded.metadataProps.find((p) => p.key === MODEL_SPEC_METADATA_KEY)?.value ?? 'null')).toEqual(spec);
    expect(decoded.docString).toMatch(/conv2d 4 3×5 → relu → maxpool2d 2×2/);
    expect(decoded.docString).toMatch(/output: logits \(the softmax-cross-entropy loss is not exported\)/);
    expect(decoded.graph?.input?.[0].type?.tensorType?.shape?.dim?.map((d) => Number(d.dimValue))).toEqual([4, 3, 8, 12]);
  });

  it('rejects a params vector of the wrong length, a batch, a model without its loss, an unknown kind', () => {
    const model = resolveModel(MODELS.CNN);
    expect(() => exportModelOnnx(model, new Float32Array(model.total + 1))).toThrow(
      `exportModelOnnx: params has ${model.total + 1} floats but the model's layout needs ${model.total} (padding included)`,
    );
    expect(() => exportModelOnnx(model, new Float32Array(model.total), { batch: 1.5 })).toThrow(/exportModelOnnx batch must be a positive integer, got 1.5/);
    const headless = { ...model, layers: model.layers.slice(0, -1) };
    expect(() => exportModelOnnx(headless, new Float32Array(model.total))).toThrow(/last layer must be its softmax-cross-entropy loss, got "linear"/);
    const odd = { ...model, layers: [{ ...model.layers[0], kind: 'batchnorm' }, ...model.layers.slice(1)] } as unknown as ResolvedModel;
    expect(() => exportModelOnnx(odd, new Float32Array(model.total))).toThrow(/no ONNX rule for layer kind "batchnorm" \(layer 0\)/);
  });
});
