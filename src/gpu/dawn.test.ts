// Our WGSL in Node through Dawn (the `webgpu` package): what runs the kernels on a GPU
// machine without a browser. It must work straight after `npm ci`, with the package's
// install script denied (package.json allowScripts: it only clears a macOS quarantine flag).
// Without a GPU, Dawn finds Vulkan on the CPU through the SwiftShader ICD that Chromium ships.

import { existsSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { floats } from '../kernels/common.ts';
import { MATMUL_CONFIGS, MatmulOp } from '../kernels/matmul.ts';
import { matmulRef } from '../model/reference.ts';
import { assertAllClose } from '../testing/allclose.ts';
import { Random } from '../util/random.ts';
import { GpuContext } from './context.ts';
import { ComputeRecorder } from './recorder.ts';
import { emptyBuffer, readFloats, upload } from './transfer.ts';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

let ctx: GpuContext;
/** Held for the whole file: Dawn's instance dies with its JS wrapper, and the device with it. */
let gpu: GPU;
beforeAll(async () => {
  // A machine with a real GPU keeps its own Vulkan driver; one without uses SwiftShader's.
  if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD) && !existsSync('/dev/dri')) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  gpu = create([]);
  ctx = await GpuContext.create({ gpu });
});
afterAll(() => ctx?.destroy());

it('loads Dawn and reports its adapter', () => {
  expect(ctx.report.limits.maxComputeInvocationsPerWorkgroup).toBeGreaterThanOrEqual(64);
  console.log(`Dawn adapter: ${[ctx.report.vendor, ctx.report.architecture, ctx.report.device, ctx.report.description].filter(Boolean).join(' ')}`);
});

it('runs the matmul kernel family to the f64 reference on odd shapes', async () => {
  const rng = new Random(11);
  for (const layout of ['nn', 'nt', 'tn'] as const) {
    for (const [m, n, k] of [[1, 1, 1], [7, 33, 5], [33, 7, 100]] as [number, number, number][]) {
      const a = rng.uniformArray(m * k);
      const b = rng.uniformArray(k * n);
      const op = await MatmulOp.create(ctx, { layout, m, n, k }, {}, MATMUL_CONFIGS[0]);
      const A = upload(ctx, a), B = upload(ctx, b), C = emptyBuffer(ctx, m * n);
      const rec = new ComputeRecorder(ctx);
      op.encode(rec, { a: floats(A, 0, a.length), b: floats(B, 0, b.length), c: floats(C, 0, m * n) });
      await rec.finish();
      assertAllClose(await readFloats(ctx, C, m * n), matmulRef(a, b, m, n, k, layout), 1e-5, 1e-4, `Dawn ${layout} ${m}x${n}x${k}`);
    }
  }
  expect(ctx.takeUncapturedErrors()).toEqual([]);
});
