// LayerNorm kernels (shaders/layernorm.wgsl) against the f64 layer table: rows 1, 7, 33;
// features below, at and above the 64-wide workgroup (2, 5, 64, 147, 300), flat and [C,H,W]
// inputs, inputs with a large offset (where a one-pass variance would cancel), another ε.
// The saved stats are the reference's mean and 1/√(σ² + ε). Each pass runs twice, same bits.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpuContext } from '../gpu/context.ts';
import { ComputeRecorder } from '../gpu/recorder.ts';
import { emptyBuffer, readFloats, upload } from '../gpu/transfer.ts';
import { assertAllClose } from '../testing/allclose.ts';
import { assertBitIdentical, randomParams, referenceLayer, singleLayer } from '../testing/layerCases.ts';
import { Random } from '../util/random.ts';
import { floats } from './common.ts';
import { LayerNormOp } from './layernorm.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await GpuContext.create();
});
afterAll(() => ctx?.destroy());

interface Case { rows: number; input: number[]; eps?: number; offset?: number }

const CASES: Case[] = [
  { rows: 1, input: [2] },
  { rows: 7, input: [5] },
  { rows: 33, input: [64] },
  { rows: 7, input: [3, 7, 7] },
  { rows: 3, input: [300], offset: 100 },
  { rows: 33, input: [5, 2, 3], eps: 1e-3 },
];

const name = (c: Case) => `${c.rows} rows of ${c.input.join('×')}${c.offset ? `, offset ${c.offset}` : ''}${c.eps ? `, eps ${c.eps}` : ''}`;

describe('layernorm', () => {
  for (const c of CASES) {
    it(name(c), async () => {
      const what = name(c);
      const rng = new Random(c.rows * 1000 + c.input.length);
      const { model, layer } = singleLayer(c.input, { kind: 'layernorm', eps: c.eps });
      const f = layer.features;
      const count = c.rows * f;
      const params = randomParams(model, rng);
      const x = rng.uniformArray(count, -2, 2).map((v) => v + (c.offset ?? 0));
      const dy = rng.uniformArray(count);
      const ref = referenceLayer(model, layer, params, x, dy, c.rows);
      const saved = ref.saved as { xhat: Float64Array; invStd: Float64Array };

      const op = await LayerNormOp.create(ctx, c.rows, f, layer.eps);
      const P = upload(ctx, params), X = upload(ctx, x), DY = upload(ctx, dy);
      const gain = floats(P, layer.weight.offset, f), shift = floats(P, layer.bias.offset, f);
      const runs = [];
      for (let run = 0; run < 2; run++) {
        const Y = emptyBuffer(ctx, count), S = emptyBuffer(ctx, 2 * c.rows), DX = emptyBuffer(ctx, count), G = emptyBuffer(ctx, model.total);
        const stats = floats(S, 0, 2 * c.rows);
        const rec = new ComputeRecorder(ctx);
        op.encodeForward(rec, { x: floats(X, 0, count), gain, shift, y: floats(Y, 0, count), stats });
        op.encodeBackwardInput(rec, { x: floats(X, 0, count), stats, gain, dy: floats(DY, 0, count), dx: floats(DX, 0, count) });
        op.encodeParamGrad(rec, {
          x: floats(X, 0, count), stats, dy: floats(DY, 0, count),
          dGain: floats(G, layer.weight.offset, f), dShift: floats(G, layer.bias.offset, f),
        });
        await rec.finish();
        expect(ctx.takeUncapturedErrors()).toEqual([]);
        runs.push({
          y: await readFloats(ctx, Y, count),
          stats: await readFloats(ctx, S, 2 * c.rows),
          dx: await readFloats(ctx, DX, count),
          dGain: await readFloats(ctx, G, f, layer.weight.offset),
          dShift: await readFloats(ctx, G, f, layer.bias.offset),
        });
      }
      const [got, again] = runs;
      const refStats = new Float64Array(2 * c.rows);
      for (let n = 0; n < c.rows; n++) {
        refStats[2 * n] = x.subarray(n * f, (n + 1) * f).reduce((a, b) => a + b, 0) / f;
        refStats[2 * n + 1] = saved.invStd[n];
      }
      const g = ref.gradient;
      assertAllClose(got.y, ref.y, 1e-5, 1e-4, `forward, ${what}`);
      assertAllClose(got.stats, refStats, 1e-5, 1e-4, `stats, ${what}`);
      assertAllClose(got.dx, ref.dx, 1e-5, 1e-4, `dx, ${what}`);
      assertAllClose(got.dGain, g.subarray(layer.weight.offset, layer.weight.offset + f), 1e-5 * Math.sqrt(c.rows), 1e-4, `dGain, ${what}`);
      assertAllClose(got.dShift, g.subarray(layer.bias.offset, layer.bias.offset + f), 1e-5 * Math.sqrt(c.rows), 1e-4, `dShift, ${what}`);
      for (const key of ['y', 'stats', 'dx', 'dGain', 'dShift'] as const) assertBitIdentical(got[key], again[key], `${key} repeat, ${what}`);
      op.destroy();
    });
  }
});
