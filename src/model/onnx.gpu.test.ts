// onnxruntime-web's WebGPU execution provider running our ONNX models in Chromium, loaded
// exactly as the app will load it under Vite 8: `import * as ort from 'onnxruntime-web/webgpu'`
// and nothing else. Vite 8's dep optimizer rewrites the bundle's
// `new URL('ort-wasm-simd-threaded.asyncify.wasm', import.meta.url)` to the file in
// node_modules, and `vite build` emits that .wasm as an asset, so neither wasmPaths nor
// optimizeDeps.exclude is needed.

import * as ort from 'onnxruntime-web/webgpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertAllClose } from '../testing/allclose.ts';
import { Random } from '../util/random.ts';
import { mlpLayout } from './mlp.ts';
import { buildMatMulModel, exportMlpOnnx } from './onnx.ts';

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
