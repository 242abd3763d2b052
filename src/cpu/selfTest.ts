// The CPU backend's start-up checks on the job's own model: a known-answer test of one
// gradient against the f64 reference (a broken engine or build is caught before it sends
// anything), and a short timing that gives the report's FLOP rate.

import { randomDataset } from '../data/dataset.ts';
import { gradientFlops } from '../model/gpuMlp.ts';
import { initParameters } from '../model/mlp.ts';
import { mlpLossAndGradientRef } from '../model/reference.ts';
import { compareClose } from '../testing/allclose.ts';
import { Random } from '../util/random.ts';
import type { CpuMlp } from './cpuMlp.ts';

export class CpuSelfTestError extends Error {
  override name = 'CpuSelfTestError';
}

const CHECK_BATCH = 5;
const TIMING_BATCH = 128;
const TIMING_MS = 150;

/**
 * Checks a gradient against the reference, then times gradients of TIMING_BATCH examples.
 * Leaves no dataset loaded; parameters and optimizer state are for the caller to set.
 */
export async function runCpuSelfTest(mlp: CpuMlp): Promise<{ flopsPerMs: number }> {
  const { layout } = mlp;
  const params = initParameters(layout, 7);
  const data = randomDataset(new Random(11), CHECK_BATCH, layout.spec.widths[0], layout.spec.widths[layout.spec.widths.length - 1]);
  mlp.setParameters(params);
  await mlp.setDatasets(data, null);
  const indices = Uint32Array.from({ length: CHECK_BATCH }, (_, i) => i);
  const got = await mlp.gradient(indices);
  const x = Float32Array.from(data.images, (b) => b / 255);
  const ref = mlpLossAndGradientRef(layout, params, x, data.labels, CHECK_BATCH);
  const close = compareClose(got.gradient, ref.gradient, 1e-5, 1e-3);
  if (!close.ok || !(Math.abs(got.loss - ref.loss) <= 1e-4 * Math.max(1, ref.loss))) {
    throw new CpuSelfTestError(
      `The CPU backend's self-test failed (${mlp.simd} SIMD, ${mlp.threads} threads): loss ${got.loss} vs ${ref.loss}, ` +
        `${close.mismatches} gradient values differ (worst at ${close.worstIndex}: ${got.gradient[close.worstIndex]} vs ${ref.gradient[close.worstIndex]}). ` +
        'This browser computes incorrectly; use another backend or browser.',
    );
  }
  const timing = Uint32Array.from({ length: TIMING_BATCH }, (_, i) => i % CHECK_BATCH);
  await mlp.gradient(timing);
  let runs = 0;
  const start = performance.now();
  while (runs < 3 || performance.now() - start < TIMING_MS) {
    await mlp.gradient(timing);
    runs++;
  }
  const ms = performance.now() - start;
  await mlp.setDatasets(null, null);
  return { flopsPerMs: (gradientFlops(layout, TIMING_BATCH) * runs) / ms };
}
