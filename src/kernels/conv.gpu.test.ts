// Conv2d kernels (shaders/conv2d.wgsl) against the f64 layer table on odd shapes: batch 1,
// 2, 7, 33; channels 1, 3, 5 and outputs that are not multiples of the 4-wide blocks;
// stride 1 and 2; padding 0, 1, 2; square and rectangular kernels. Each pass runs twice
// and must give the same bits.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpuContext } from '../gpu/context.ts';
import { ComputeRecorder } from '../gpu/recorder.ts';
import { emptyBuffer, readFloats, upload } from '../gpu/transfer.ts';
import type { Conv2dSpec } from '../model/layers/spec.ts';
import { assertAllClose } from '../testing/allclose.ts';
import { assertBitIdentical, randomParams, referenceLayer, singleLayer } from '../testing/layerCases.ts';
import { Random } from '../util/random.ts';
import { floats } from './common.ts';
import { Conv2dOp, conv2dShapeOf } from './conv2d.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await GpuContext.create();
});
afterAll(() => ctx?.destroy());

interface Case { batch: number; input: [number, number, number]; conv: Omit<Conv2dSpec, 'kind'> }

const CASES: Case[] = [
  { batch: 1, input: [1, 5, 5], conv: { outChannels: 3, kernel: 3 } },
  { batch: 7, input: [3, 9, 11], conv: { outChannels: 5, kernel: 3, stride: 2, padding: 1 } },
  { batch: 2, input: [5, 8, 7], conv: { outChannels: 7, kernel: [3, 2], stride: [2, 1], padding: [2, 1] } },
  { batch: 33, input: [1, 12, 12], conv: { outChannels: 8, kernel: 3, padding: 1 } },
  { batch: 3, input: [3, 6, 6], conv: { outChannels: 4, kernel: 1 } },
  { batch: 2, input: [2, 10, 9], conv: { outChannels: 6, kernel: 5, padding: 2 } },
  { batch: 4, input: [8, 14, 14], conv: { outChannels: 16, kernel: 3, padding: 1 } },
];

const name = (c: Case) => {
  const { outChannels, kernel, stride = 1, padding = 0 } = c.conv;
  return `batch ${c.batch}, ${c.input.join('×')} → ${outChannels} ch, k ${kernel} s ${stride} p ${padding}`;
};

describe('conv2d', () => {
  for (const c of CASES) {
    it(name(c), async () => {
      const rng = new Random(c.batch * 1000 + c.input[0] * 10 + c.conv.outChannels);
      const { model, layer } = singleLayer(c.input, { kind: 'conv2d', ...c.conv });
      const params = randomParams(model, rng);
      const inSize = c.batch * c.input.reduce((a, b) => a * b);
      const outSize = c.batch * layer.outShape.reduce((a, b) => a * b);
      const x = rng.uniformArray(inSize);
      const dy = rng.uniformArray(outSize);
      const ref = referenceLayer(model, layer, params, x, dy, c.batch);

      const op = await Conv2dOp.create(ctx, conv2dShapeOf(layer, c.batch));
      const P = upload(ctx, params), X = upload(ctx, x), DY = upload(ctx, dy);
      const weight = floats(P, layer.weight.offset, layer.weight.length);
      const bias = floats(P, layer.bias.offset, layer.bias.length);
      const runs = [];
      for (let run = 0; run < 2; run++) {
        const Y = emptyBuffer(ctx, outSize), DX = emptyBuffer(ctx, inSize), G = emptyBuffer(ctx, model.total);
        const rec = new ComputeRecorder(ctx);
        op.encodeForward(rec, { x: floats(X, 0, inSize), weight, bias, y: floats(Y, 0, outSize) });
        op.encodeBackwardInput(rec, { dy: floats(DY, 0, outSize), weight, dx: floats(DX, 0, inSize) });
        op.encodeBackwardWeight(rec, {
          x: floats(X, 0, inSize), dy: floats(DY, 0, outSize),
          dWeight: floats(G, layer.weight.offset, layer.weight.length), dBias: floats(G, layer.bias.offset, layer.bias.length),
        });
        await rec.finish();
        expect(ctx.takeUncapturedErrors()).toEqual([]);
        runs.push({
          y: await readFloats(ctx, Y, outSize),
          dx: await readFloats(ctx, DX, inSize),
          dw: await readFloats(ctx, G, layer.weight.length, layer.weight.offset),
          db: await readFloats(ctx, G, layer.bias.length, layer.bias.offset),
        });
      }
      const [got, again] = runs;
      // f32 sums of K = inC·kH·kW (forward), outC·kH·kW (dx) or batch·outH·outW (dW, db) terms of size ≤ 1.
      assertAllClose(got.y, ref.y, 2e-5 * Math.sqrt(op.depth), 1e-5, `forward, ${name(c)}`);
      assertAllClose(got.dx, ref.dx, 2e-5 * Math.sqrt(c.conv.outChannels * op.depth / c.input[0]), 1e-5, `dx, ${name(c)}`);
      const rows = op.rows;
      const dw = ref.gradient.subarray(layer.weight.offset, layer.weight.offset + layer.weight.length);
      const db = ref.gradient.subarray(layer.bias.offset, layer.bias.offset + layer.bias.length);
      assertAllClose(got.dw, dw, 2e-5 * Math.sqrt(rows), 1e-5, `dW, ${name(c)}`);
      assertAllClose(got.db, db, 2e-5 * Math.sqrt(rows), 1e-5, `db, ${name(c)}`);
      for (const key of ['y', 'dx', 'dw', 'db'] as const) assertBitIdentical(got[key], again[key], `${key} repeat, ${name(c)}`);
      op.destroy();
    });
  }
});
