import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpuContext } from '../gpu/context.ts';
import { ComputeRecorder } from '../gpu/recorder.ts';
import { assertAllClose } from '../testing/allclose.ts';
import { emptyBuffer, readFloats, upload } from '../testing/gpu.ts';
import { Random } from '../util/random.ts';
import { MATMUL_CONFIGS, MatmulOp, configName} from './matmul.ts';
import { floats } from './common.ts';
import { matmulRef } from '../model/reference.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await GpuContext.create();
});
afterAll(() => ctx?.destroy());

describe('matmul', () => {
  const rng = new Random(7);
  const shapes: [number, number, number][] = [[1, 1, 1], [7, 33, 5], [33, 7, 100], [64, 64, 64], [100, 257, 33], [128, 10, 128]];
  for (const layout of ['nn', 'nt', 'tn'] as const) {
    for (const config of MATMUL_CONFIGS) {
      it(`${layout} ${configName(config)}`, async () => {
        for (const [m, n, k] of shapes) {
          const a = rng.uniformArray(m * k);
          const b = rng.uniformArray(k * n);
          const op = await MatmulOp.create(ctx, { layout, m, n, k }, {}, config);
          const A = upload(ctx, a), B = upload(ctx, b), C = emptyBuffer(ctx, m * n);
          const rec = new ComputeRecorder(ctx);
          op.encode(rec, { a: floats(A, 0, a.length), b: floats(B, 0, b.length), c: floats(C, 0, m * n) });
          await rec.finish();
          const got = await readFloats(ctx, C, m * n);
          assertAllClose(got, matmulRef(a, b, m, n, k, layout), 1e-5, 1e-4, `${layout} ${m}x${n}x${k}`);
          expect(ctx.takeUncapturedErrors()).toEqual([]);
        }
      });
    }
  }
});
