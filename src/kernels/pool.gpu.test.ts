// Pooling kernels (shaders/pool.wgsl) against the f64 layer table: odd sizes whose last rows
// and columns no window reaches, overlapping windows (stride < kernel), rectangular
// windows, batch 1, 7, 33, and integer-valued inputs full of ties, where max pooling must
// pick the reference's argmax (the first maximum) exactly. Each pass runs twice, same bits.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpuContext } from '../gpu/context.ts';
import { ComputeRecorder } from '../gpu/recorder.ts';
import { emptyBuffer, readFloats, upload } from '../gpu/transfer.ts';
import type { PoolSpec } from '../model/layers/spec.ts';
import { assertAllClose } from '../testing/allclose.ts';
import { assertBitIdentical, referenceLayer, singleLayer } from '../testing/layerCases.ts';
import { Random } from '../util/random.ts';
import { floats } from './common.ts';
import { Pool2dOp, pool2dShapeOf, type PoolKind } from './pool.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await GpuContext.create();
});
afterAll(() => ctx?.destroy());

interface Case { batch: number; input: [number, number, number]; pool: Omit<PoolSpec, 'kind'>; ties?: boolean }

const CASES: Case[] = [
  { batch: 1, input: [1, 4, 4], pool: { kernel: 2 } },
  { batch: 7, input: [3, 7, 9], pool: { kernel: 2 } },
  { batch: 2, input: [5, 8, 7], pool: { kernel: 3, stride: 2 } },
  { batch: 3, input: [2, 6, 5], pool: { kernel: [3, 2], stride: [1, 2] } },
  { batch: 33, input: [1, 6, 6], pool: { kernel: 2 } },
  { batch: 4, input: [3, 9, 8], pool: { kernel: 3, stride: 1 }, ties: true },
];

const name = (kind: PoolKind, c: Case) =>
  `${kind} batch ${c.batch}, ${c.input.join('×')}, k ${c.pool.kernel} s ${c.pool.stride ?? c.pool.kernel}${c.ties ? ', ties' : ''}`;

describe('pooling', () => {
  for (const kind of ['maxpool2d', 'avgpool2d'] as const) {
    for (const c of CASES) {
      it(name(kind, c), async () => {
        const what = name(kind, c);
        const rng = new Random(c.batch * 100 + c.input[0]);
        const { model, layer } = singleLayer(c.input, { kind, ...c.pool });
        const inSize = c.batch * c.input.reduce((a, b) => a * b);
        const outSize = c.batch * layer.outShape.reduce((a, b) => a * b);
        const x = c.ties ? rng.uniformArray(inSize, 0, 3).map(Math.floor) : rng.uniformArray(inSize);
        const dy = rng.uniformArray(outSize);
        const ref = referenceLayer(model, layer, new Float32Array(model.total), x, dy, c.batch);

        const op = await Pool2dOp.create(ctx, kind, pool2dShapeOf(layer, c.batch));
        const X = upload(ctx, x), DY = upload(ctx, dy);
        const runs = [];
        for (let run = 0; run < 2; run++) {
          const Y = emptyBuffer(ctx, outSize), A = emptyBuffer(ctx, outSize), DX = emptyBuffer(ctx, inSize);
          const argmax = kind === 'maxpool2d' ? floats(A, 0, outSize) : undefined;
          const rec = new ComputeRecorder(ctx);
          op.encodeForward(rec, { x: floats(X, 0, inSize), y: floats(Y, 0, outSize), argmax });
          op.encodeBackward(rec, { dy: floats(DY, 0, outSize), dx: floats(DX, 0, inSize), argmax });
          await rec.finish();
          expect(ctx.takeUncapturedErrors()).toEqual([]);
          const a = await readFloats(ctx, A, outSize);
          runs.push({ y: await readFloats(ctx, Y, outSize), dx: await readFloats(ctx, DX, inSize), argmax: new Uint32Array(a.buffer) });
        }
        const [got, again] = runs;
        assertAllClose(got.y, ref.y, 1e-6, 1e-6, `forward, ${what}`);
        assertAllClose(got.dx, ref.dx, 1e-6, 1e-5, `dx, ${what}`);
        if (kind === 'maxpool2d') {
          expect(Array.from(got.argmax)).toEqual(Array.from((ref.saved as { argmax: Int32Array }).argmax));
        }
        for (const key of ['y', 'dx', 'argmax'] as const) assertBitIdentical(got[key], again[key], `${key} repeat, ${what}`);
        op.destroy();
      });
    }
  }
});
