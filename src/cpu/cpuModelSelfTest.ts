// The layer-table CPU backend's start-up checks on the job's own model (as selfTest.ts does
// for CpuMlp): a known-answer test of one gradient, dropout included, against the f64 layer
// table (a broken engine or build is caught before it sends anything), and a short timing
// that gives the report's FLOP rate.

import { randomDataset, tokenWindowsOf } from '../data/dataset.ts';
import { forwardBackward } from '../model/layers/reference.ts';
import { gradientFlops, initModelParameters } from '../model/layers/spec.ts';
import { compareClose } from '../testing/allclose.ts';
import { Random } from '../util/random.ts';
import type { CpuModel } from './cpuModel.ts';
import { CpuSelfTestError } from './selfTest.ts';

/** Few examples: the f64 reference runs direct loops (a CNN's takes a fraction of a second). */
const CHECK_BATCH = 3;
const TIMING_BATCH = 64;
const TIMING_MS = 150;


/**
 * Checks a gradient against the reference, then times gradients of TIMING_BATCH examples.
 * Leaves no dataset loaded; parameters and optimizer state are for the caller to set.
 */
export async function runCpuModelSelfTest(cpu: CpuModel): Promise<{ flopsPerMs: number }> {
  const { model } = cpu;
  const params = initModelParameters(model, 7);
  const data = randomDataset(new Random(11), CHECK_BATCH, model.inputSize, model.classes, tokenWindowsOf(model));
  cpu.setParameters(params);
  await cpu.setDatasets(data, null);
  const indices = Uint32Array.from({ length: CHECK_BATCH }, (_, i) => i);
  const dropout = { seed: 12345, positions: Uint32Array.from(indices, (i) => 1000 + i) };
  const got = await cpu.gradient(indices, dropout);
  const x = Float32Array.from(data.images, (b) => (data.tokens ? b : b / 255));
  const ref = forwardBackward(model, params, x, data.labels, { dropout });
  const close = compareClose(got.gradient, ref.gradient, 1e-5, 1e-3);
  if (!close.ok || !(Math.abs(got.loss - ref.loss) <= 1e-4 * Math.max(1, ref.loss))) {
    throw new CpuSelfTestError(
      `The CPU backend's self-test failed (${cpu.simd} SIMD, ${cpu.threads} threads): loss ${got.loss} vs ${ref.loss}, ` +
        `${close.mismatches} gradient values differ (worst at ${close.worstIndex}: ${got.gradient[close.worstIndex]} vs ${ref.gradient[close.worstIndex]}). ` +
        'This browser computes incorrectly; use another backend or browser.',
    );
  }
  const timing = Uint32Array.from({ length: TIMING_BATCH }, (_, i) => i % CHECK_BATCH);
  const timingDropout = { seed: 1, positions: timing };
  await cpu.gradient(timing, timingDropout);
  let runs = 0;
  const start = performance.now();
  while (runs < 3 || performance.now() - start < TIMING_MS) {
    await cpu.gradient(timing, timingDropout);
    runs++;
  }
  const ms = performance.now() - start;
  await cpu.setDatasets(null, null);
  return { flopsPerMs: (gradientFlops(cpu.model, TIMING_BATCH) * runs) / ms };
}
