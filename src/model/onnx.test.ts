// The ONNX writers checked by running their models in onnxruntime-web's WASM backend in
// Node, against plain f64 arithmetic written here (independent of src/model/reference.ts).

import * as ort from 'onnxruntime-web';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertAllClose } from '../testing/allclose.ts';
import { Random } from '../util/random.ts';
import { type MlpSpec, type ParamLayout, DEFAULT_MLP, mlpLayout } from './mlp.ts';
import { MLP_SPEC_METADATA_KEY, buildMatMulModel, exportMlpOnnx } from './onnx.ts';
import { onnx } from './onnxProto.ts';

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
    expect(graph.initializer.map((t) => t.name)).toEqual(expect.arrayContaining(layout.segments.map((s) => s.name)));
    // Padding is not exported: each initializer holds exactly its segment.
    for (const s of layout.segments) {
      const t = graph.initializer.find((i) => i.name === s.name);
      expect(t?.rawData?.byteLength).toBe(4 * s.length);
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
  });
});
