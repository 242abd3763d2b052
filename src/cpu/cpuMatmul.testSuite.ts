// The CPU matmul against the f64 reference in all three layouts, odd shapes included (edge
// tiles, partial panels, k smaller than a vector), for Node and Chromium.

import { describe, it } from 'vitest';
import { matmulRef, type MatmulLayout } from '../model/reference.ts';
import { assertAllClose } from '../testing/allclose.ts';
import { Random } from '../util/random.ts';
import { CpuMatmul } from './cpuMatmul.ts';
import type { SimdLevel } from './kernels.ts';

export const MATMUL_TEST_SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [5, 7, 3],
  [4, 8, 16],
  [33, 17, 29],
  [130, 257, 67],
];

export async function multiplyRandom(layout: MatmulLayout, m: number, n: number, k: number, threads: number, seed: number, simd?: SimdLevel) {
  const rng = new Random(seed);
  const mm = await CpuMatmul.create({ layout, m, n, k }, { threads, simd });
  const a = rng.uniformArray(m * k);
  const b = rng.uniformArray(k * n);
  mm.a.set(a);
  mm.b.set(b);
  await mm.multiply();
  const c = mm.c.slice();
  mm.dispose();
  return { a, b, c };
}

export function defineCpuMatmulTests(threads: number, simdLevels: (SimdLevel | undefined)[] = [undefined]) {
  describe(`CPU matmul against the reference (${threads} thread${threads > 1 ? 's' : ''})`, () => {
    for (const simd of simdLevels) {
      for (const layout of ['nn', 'nt', 'tn'] as const) {
        it(`${layout}${simd ? `, ${simd} SIMD` : ''}: ${MATMUL_TEST_SHAPES.map((s) => s.join('×')).join(', ')}`, async () => {
          for (const [m, n, k] of MATMUL_TEST_SHAPES) {
            const { a, b, c } = await multiplyRandom(layout, m, n, k, threads, m * 1000 + n, simd);
            assertAllClose(c, matmulRef(a, b, m, n, k, layout), 1e-5, 1e-4, `${layout} ${m}×${n}×${k}`);
          }
        });
      }
    }
  });
}
