// Every non-matmul kernel against the CPU reference, on shapes that are and are not
// multiples of the workgroup and vector widths.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpuContext } from '../gpu/context.ts';
import { ComputeRecorder } from '../gpu/recorder.ts';
import {
  activationBackwardRef,
  adamwStepRef,
  columnSumRef,
  globalNormRef,
  sgdMomentumStepRef,
  softmaxCrossEntropyRef,
} from '../model/reference.ts';
import { assertAllClose } from '../testing/allclose.ts';
import { emptyBuffer, readFloats, upload } from '../gpu/transfer.ts';
import { Random } from '../util/random.ts';
import { floats } from './common.ts';
import { ActivationBackwardOp } from './elementwise.ts';
import { GatherExamplesOp, packBytes } from './gather.ts';
import { OptimizerOp, type AdamWHyper, type SgdHyper } from './optimizer.ts';
import { ColumnSumOp, GlobalNormOp } from './reduce.ts';
import { SoftmaxCrossEntropyOp } from './softmaxXent.ts';

const SIZES = [1, 7, 33, 100, 257];
let ctx: GpuContext;
const rng = new Random(11);

beforeAll(async () => {
  ctx = await GpuContext.create();
});
afterAll(() => ctx?.destroy());

async function run(encode: (rec: ComputeRecorder) => void): Promise<void> {
  const rec = new ComputeRecorder(ctx);
  encode(rec);
  await rec.finish();
  expect(ctx.takeUncapturedErrors()).toEqual([]);
}

describe('activation backward', () => {
  for (const act of ['relu', 'gelu'] as const) {
    it(act, async () => {
      for (const count of [...SIZES, 1000]) {
        const dh = rng.uniformArray(count, -2, 2);
        // GELU also gets large |z|, where a naive tanh overflows.
        const z = rng.uniformArray(count, act === 'gelu' ? -60 : -3, act === 'gelu' ? 60 : 3);
        const op = await ActivationBackwardOp.create(ctx, act, count);
        const dH = upload(ctx, dh), Z = upload(ctx, z), dZ = emptyBuffer(ctx, count);
        await run((rec) => op.encode(rec, { dH: floats(dH, 0, count), z: floats(Z, 0, count), dZ: floats(dZ, 0, count) }));
        assertAllClose(await readFloats(ctx, dZ, count), activationBackwardRef(dh, z, act), 1e-6, 1e-5, `${act} backward, ${count}`);
      }
    });
  }
});

describe('reductions', () => {
  it('column sums (bias gradient)', async () => {
    for (const rows of SIZES) {
      for (const cols of [1, 10, 33, 257]) {
        const x = rng.uniformArray(rows * cols);
        const op = await ColumnSumOp.create(ctx, rows, cols);
        const X = upload(ctx, x), out = emptyBuffer(ctx, cols);
        await run((rec) => op.encode(rec, floats(X, 0, rows * cols), floats(out, 0, cols)));
        assertAllClose(await readFloats(ctx, out, cols), columnSumRef(x, rows, cols), 1e-5, 1e-5, `colsum ${rows}x${cols}`);
      }
    }
  });

  it('global norm', async () => {
    for (const count of [...SIZES, 4096, 4097, 235146]) {
      const g = rng.uniformArray(count);
      const op = await GlobalNormOp.create(ctx, count);
      const G = upload(ctx, g), out = emptyBuffer(ctx, 4);
      await run((rec) => op.encode(rec, floats(G, 0, count), floats(out, 0, 4)));
      const [sumSq, norm] = await readFloats(ctx, out, 2);
      const ref = globalNormRef(g);
      assertAllClose([sumSq, norm], [ref * ref, ref], 1e-6, 1e-5, `norm of ${count}`);
    }
  });
});

describe('softmax cross-entropy', () => {
  it('loss, gradient and accuracy against the reference', async () => {
    for (const rows of SIZES) {
      for (const classes of [1, 2, 10, 33]) {
        const logits = rng.uniformArray(rows * classes, -8, 8);
        if (rows > 1) logits.fill(3e3, 0, classes); // a row of huge, tied logits
        const labels = Uint32Array.from({ length: rows }, () => rng.int(classes));
        const op = await SoftmaxCrossEntropyOp.create(ctx, rows, classes);
        const Lg = upload(ctx, logits), Lb = upload(ctx, labels);
        const dl = emptyBuffer(ctx, rows * classes), stats = emptyBuffer(ctx, 2 * rows);
        await run((rec) =>
          op.encode(rec, {
            logits: floats(Lg, 0, rows * classes),
            labels: floats(Lb, 0, rows),
            dlogits: floats(dl, 0, rows * classes),
            rowStats: floats(stats, 0, 2 * rows),
          }),
        );
        const ref = softmaxCrossEntropyRef(logits, labels, rows, classes);
        const where = `${rows}x${classes}`;
        assertAllClose(await readFloats(ctx, dl, rows * classes), ref.dlogits, 1e-6, 1e-4, `dlogits ${where}`);
        const s = await readFloats(ctx, stats, 2 * rows);
        assertAllClose(s.filter((_, i) => i % 2 === 0), ref.rowLoss, 1e-5, 1e-4, `row loss ${where}`);
        expect(s.filter((_, i) => i % 2 === 1).reduce((a, b) => a + b, 0)).toBe(ref.correct);
      }
    }
  });
});

describe('optimizers', () => {
  const count = 1000;
  const decayEnd = 640;
  for (const maxGradNorm of [0, 0.5]) {
    it(`AdamW over three steps, maxGradNorm ${maxGradNorm}`, async () => {
      const h: AdamWHyper = { kind: 'adamw', lr: 1e-2, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, maxGradNorm };
      const params = rng.uniformArray(count), m = new Float32Array(count), v = new Float32Array(count);
      const P = upload(ctx, params), S1 = emptyBuffer(ctx, count), S2 = emptyBuffer(ctx, count), norm = emptyBuffer(ctx, 4);
      const op = await OptimizerOp.create(ctx, 'adamw', count, decayEnd);
      const normOp = await GlobalNormOp.create(ctx, count);
      for (let t = 1; t <= 3; t++) {
        const g = rng.uniformArray(count, -0.1, 0.1);
        const G = upload(ctx, g);
        await run((rec) => {
          normOp.encode(rec, floats(G, 0, count), floats(norm, 0, 4));
          op.encode(rec, h, t, { grads: floats(G, 0, count), norm: floats(norm, 0, 4), params: floats(P, 0, count), state1: floats(S1, 0, count), state2: floats(S2, 0, count) });
        });
        adamwStepRef(params, g, m, v, t, h, decayEnd);
      }
      assertAllClose(await readFloats(ctx, P, count), params, 1e-6, 1e-5, 'AdamW parameters');
      assertAllClose(await readFloats(ctx, S1, count), m, 1e-7, 1e-5, 'AdamW first moment');
      assertAllClose(await readFloats(ctx, S2, count), v, 1e-9, 1e-5, 'AdamW second moment');
    });

    it(`SGD with momentum over three steps, maxGradNorm ${maxGradNorm}`, async () => {
      const h: SgdHyper = { kind: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 0.01, maxGradNorm };
      const params = rng.uniformArray(count), buf = new Float32Array(count);
      const P = upload(ctx, params), S1 = emptyBuffer(ctx, count), norm = emptyBuffer(ctx, 4);
      const op = await OptimizerOp.create(ctx, 'sgd', count, decayEnd);
      const normOp = await GlobalNormOp.create(ctx, count);
      for (let t = 1; t <= 3; t++) {
        const g = rng.uniformArray(count, -0.1, 0.1);
        const G = upload(ctx, g);
        await run((rec) => {
          normOp.encode(rec, floats(G, 0, count), floats(norm, 0, 4));
          op.encode(rec, h, t, { grads: floats(G, 0, count), norm: floats(norm, 0, 4), params: floats(P, 0, count), state1: floats(S1, 0, count) });
        });
        sgdMomentumStepRef(params, g, buf, h, decayEnd);
      }
      assertAllClose(await readFloats(ctx, P, count), params, 1e-6, 1e-5, 'SGD parameters');
      assertAllClose(await readFloats(ctx, S1, count), buf, 1e-6, 1e-5, 'SGD momentum');
    });
  }
});

describe('gather', () => {
  it('builds x = byte/255 and labels for any feature count', async () => {
    for (const features of [1, 7, 784]) {
      const examples = 50;
      const images = Uint8Array.from({ length: examples * features }, () => rng.int(256));
      const labels = Uint8Array.from({ length: examples }, () => rng.int(10));
      const indices = Uint32Array.from([49, 0, 3, 3, 17, 48, 1]);
      const rows = indices.length;
      const op = await GatherExamplesOp.create(ctx, rows, features, examples);
      const I = upload(ctx, packBytes(images)), Lb = upload(ctx, packBytes(labels)), Ix = upload(ctx, indices);
      const X = emptyBuffer(ctx, rows * features), Y = emptyBuffer(ctx, rows);
      await run((rec) =>
        op.encode(rec, { images: { buffer: I }, labels: { buffer: Lb }, indices: floats(Ix, 0, rows), x: floats(X, 0, rows * features), y: floats(Y, 0, rows) }),
      );
      const x = await readFloats(ctx, X, rows * features);
      const expected = new Float64Array(rows * features);
      indices.forEach((e, r) => {
        for (let f = 0; f < features; f++) expected[r * features + f] = images[e * features + f] / 255;
      });
      assertAllClose(x, expected, 0, 1e-7, `gather x, ${features} features`);
      const y = new Uint32Array((await readFloats(ctx, Y, rows)).buffer);
      expect([...y]).toEqual([...indices].map((e) => labels[e]));
    }
  });
});
