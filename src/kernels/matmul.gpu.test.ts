import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpuContext } from '../gpu/context.ts';
import { ComputeRecorder } from '../gpu/recorder.ts';
import { assertAllClose } from '../testing/allclose.ts';
import { emptyBuffer, readFloats, upload } from '../gpu/transfer.ts';
import { Random } from '../util/random.ts';
import { MATMUL_CONFIGS, MatmulOp, configName} from './matmul.ts';
import { floats } from './common.ts';
import { matmulRef } from '../model/reference.ts';
import { ReferenceMatmulOp } from './matmulReference.ts';

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

describe('reference 16×16 tiled matmul (benchmark baseline)', () => {
  it('is correct for shapes that are not multiples of 16', async () => {
    const rng = new Random(8);
    for (const [m, n, k] of [[1, 1, 1], [17, 33, 5], [100, 257, 33]] as [number, number, number][]) {
      const a = rng.uniformArray(m * k), b = rng.uniformArray(k * n);
      const op = await ReferenceMatmulOp.create(ctx, m, n, k);
      const A = upload(ctx, a), B = upload(ctx, b), C = emptyBuffer(ctx, m * n);
      const rec = new ComputeRecorder(ctx);
      op.encode(rec, { a: floats(A, 0, a.length), b: floats(B, 0, b.length), c: floats(C, 0, m * n) });
      await rec.finish();
      assertAllClose(await readFloats(ctx, C, m * n), matmulRef(a, b, m, n, k, 'nn'), 1e-5, 1e-4, `reference ${m}x${n}x${k}`);
    }
  });
});
