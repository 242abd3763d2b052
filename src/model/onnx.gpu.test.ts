// onnxruntime-web's WebGPU execution provider running our ONNX models in Chromium, loaded
// exactly as the app will load it under Vite 8: `import * as ort from 'onnxruntime-web/webgpu'`
// and nothing else. Vite 8's dep optimizer rewrites the bundle's
// `new URL('ort-wasm-simd-threaded.asyncify.wasm', import.meta.url)` to the file in
// node_modules, and `vite build` emits that .wasm as an asset, so neither wasmPaths nor
// optimizeDeps.exclude is needed.
//
// The layer-table export (each zoo job's model as its job file defines it, an MLP with relu
// and with gelu, a CNN, layernorm + gelu + residual + dropout) runs on the WebGPU EP and its
// logits match the f64 reference table's forward within |Δ| ≤ 1e-4 + 1e-3·|ref| (WebGPU's
// f32 math: tanh and sums in another order).

import * as ort from 'onnxruntime-web/webgpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertAllClose } from '../testing/allclose.ts';
import { Random } from '../util/random.ts';
import { forward } from './layers/reference.ts';
import { initModelParameters, resolveModel, type ModelSpec, type ResolvedModel } from './layers/spec.ts';
import { mlpLayout } from './mlp.ts';
import { buildMatMulModel, exportMlpOnnx, exportModelOnnx } from './onnx.ts';
import cnnJob from '../coordinator/jobs/fashion-mnist-cnn.json';
import mlpJob from '../coordinator/jobs/fashion-mnist-mlp.json';

beforeAll(() => {
  // Threads need cross-origin isolation (SharedArrayBuffer), which the test page lacks.
  ort.env.wasm.numThreads = 1;
});

describe('onnxruntime-web WebGPU EP in Chromium', () => {
  it.each([
    [1, 1, 1],
    [7, 33, 5],
    [32, 48, 40],
  ])('runs the m=%i k=%i n=%i MatMul model', async (m, k, n) => {
    const rng = new Random(m + 100 * k + 10_000 * n);
    const a = rng.uniformArray(m * k);
    const b = rng.uniformArray(k * n);
    const session = await ort.InferenceSession.create(buildMatMulModel(m, k, n), { executionProviders: ['webgpu'] });
    try {
      // Set once the WebGPU EP has its device: the session did not fall back to WASM.
      expect(ort.env.webgpu.device).toBeInstanceOf(GPUDevice);
      const { C } = await session.run({
        A: new ort.Tensor('float32', a, [m, k]),
        B: new ort.Tensor('float32', b, [k, n]),
      });
      expect(C.dims).toEqual([m, n]);
      const ref = new Float64Array(m * n);
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) ref[i * n + j] += a[i * k + p] * b[p * n + j];
      assertAllClose(C.data as Float32Array, ref, 1e-5, 1e-4, `WebGPU MatMul ${m}×${k}×${n}`);
    } finally {
      await session.release();
    }
  });

  it('runs the exported GELU MLP like the WASM EP does', async () => {
    const layout = mlpLayout({ widths: [6, 5, 4, 3], activation: 'gelu' });
    const rng = new Random(11);
    const model = exportMlpOnnx(layout, rng.uniformArray(layout.total));
    const input = new ort.Tensor('float32', rng.uniformArray(9 * 6, 0, 1), [9, 6]);
    const logits = async (ep: string) => {
      const session = await ort.InferenceSession.create(model, { executionProviders: [ep] });
      try {
        return (await session.run({ input })).logits.data as Float32Array;
      } finally {
        await session.release();
      }
    };
    assertAllClose(await logits('webgpu'), await logits('wasm'), 1e-5, 1e-4, 'WebGPU vs WASM logits');
  });
});

const SCE = { kind: 'softmax-cross-entropy' } as const;

const MODELS: [string, ModelSpec][] = [
  // The zoo, as its job files define it.
  [`zoo ${mlpJob.name}`, mlpJob.model as ModelSpec],
  [`zoo ${cnnJob.name}`, cnnJob.model as ModelSpec],
  ['MLP relu', { widths: [12, 10, 8, 4], activation: 'relu' }],
  ['MLP gelu', { widths: [12, 10, 8, 4], activation: 'gelu' }],
  [
    'CNN conv2d → relu → maxpool2d → conv2d → relu → avgpool2d → flatten → linear',
    {
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
  ],
  [
    'layernorm + gelu + residual + dropout',
    {
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
  ],
];

/** initModelParameters, then every bias and gain moved off its constant (0, 1), so each tensor matters. */
function exportParams(model: ResolvedModel, seed: number): Float32Array {
  const params = initModelParameters(model, seed);
  const rng = new Random(seed + 1);
  for (const t of model.tensors) {
    if (t.init.kind === 'constant') for (let i = 0; i < t.length; i++) params[t.offset + i] += rng.uniform(-0.3, 0.3);
  }
  return params;
}

describe('exportModelOnnx on the WebGPU EP matches the f64 reference forward', () => {
  it.each(MODELS)('%s', async (name, spec) => {
    const model = resolveModel(spec);
    const params = exportParams(model, 23);
    const session = await ort.InferenceSession.create(exportModelOnnx(model, params), { executionProviders: ['webgpu'] });
    try {
      expect(ort.env.webgpu.device).toBeInstanceOf(GPUDevice);
      const batch = 6;
      const input = new Random(3).uniformArray(batch * model.inputSize, 0, 1);
      const { logits } = await session.run({ input: new ort.Tensor('float32', input, [batch, ...model.inputShape]) });
      expect(logits.dims).toEqual([batch, model.classes]);
      assertAllClose(logits.data as Float32Array, forward(model, params, input, batch), 1e-4, 1e-3, `WebGPU ${name}`);
    } finally {
      await session.release();
    }
  });
});
