// The coordinator's CPU reference of a local-steps lease (DiLoCo's inner loop), what spot
// checks recompute: the same rules as the contributor's runLocalSteps (worker/localSteps.ts),
// batch by batch, with JsMlp (f32) for each inner batch's gradient of the mean loss and
// adamwStepRef (f64 maths, f32 storage) for each step.
//   θ_0 = θ_v;  m = v = 0;  for s = 1..H:  g_s = ∇ mean loss(θ_{s−1}, batch s);  θ_s = AdamW(θ_{s−1}, g_s, t = s)
//   Δ = θ_v − θ_H (f32 subtraction)
// Two correct implementations round differently, and H steps carry those differences along:
// README "Spot checks" gives the measured drift and the tolerance it calls for.

import type { ImageDataset } from '../data/dataset.ts';
import { adamwStepRef } from '../model/reference.ts';
import { innerBatches, type LocalStepsLease } from '../worker/localSteps.ts';
import type { JsMlp } from './jsMlp.ts';

/** What the reference needs of a lease: its examples in order, the inner batch and the inner AdamW. */
export type LocalStepsWork = Pick<LocalStepsLease, 'indices' | 'innerBatch' | 'hyper'>;

export interface LocalStepsReferenceResult {
  /** θ_v − θ_after, flat in the parameter layout. */
  delta: Float32Array;
  /** Mean training loss over the lease's examples, each at the step that saw it (before that step's update). */
  loss: number;
  correct: number;
  /** Inner steps taken: ⌈examples / innerBatch⌉. */
  steps: number;
}

/**
 * Runs the lease's inner steps from `start` (θ_v, left unchanged) on `train` and returns Δ.
 * `mlp` is reused for its buffers; its layout is the model's.
 */
export function localStepsReference(mlp: JsMlp, train: ImageDataset, start: Float32Array, work: LocalStepsWork): LocalStepsReferenceResult {
  const { layout } = mlp;
  const fn = 'localStepsReference';
  if (!(start instanceof Float32Array) || start.length !== layout.total) {
    throw new Error(`${fn}: the start parameters must be a Float32Array of ${layout.total} floats (layout.total), got ${start?.length}`);
  }
  if (!(work.indices instanceof Uint32Array) || work.indices.length === 0) {
    throw new Error(`${fn}: a lease needs at least one example (a non-empty Uint32Array of indices)`);
  }
  if (!Number.isInteger(work.innerBatch) || work.innerBatch < 1) throw new Error(`${fn}: innerBatch must be a positive integer, got ${work.innerBatch}`);
  if (work.hyper?.kind !== 'adamw') throw new Error(`${fn}: local steps run AdamW; got optimizer ${JSON.stringify(work.hyper?.kind)}`);

  const params = start.slice();
  const m = new Float32Array(layout.total);
  const v = new Float32Array(layout.total);
  const gradient = new Float32Array(layout.total);
  const batches = innerBatches(work.indices, work.innerBatch);
  let loss = 0;
  let correct = 0;
  for (let s = 0; s < batches.length; s++) {
    const r = mlp.lossAndGradient(params, train, batches[s], gradient);
    loss += r.loss * r.count;
    correct += r.correct;
    adamwStepRef(params, gradient, m, v, s + 1, work.hyper, layout.decayEnd);
  }
  const delta = new Float32Array(layout.total);
  for (let i = 0; i < delta.length; i++) delta[i] = start[i] - params[i];
  return { delta, loss: loss / work.indices.length, correct, steps: batches.length };
}
