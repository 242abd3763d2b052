// The coordinator's CPU reference of a local-steps lease (DiLoCo's inner loop), what spot
// checks recompute: the same rules as the contributor's runLocalSteps (worker/localSteps.ts),
// batch by batch, with JsMlp (f32) for each inner batch's gradient of the mean loss and
// adamwStepRef or sgdMomentumStepRef (f64 maths, f32 storage) for each step.
//   θ_0 = θ_v;  state = 0;  for s = 1..H:  g_s = ∇ mean loss(θ_{s−1}, batch s);  θ_s = step(θ_{s−1}, g_s, t = s)
//   Δ = θ_v − θ_H (f32 subtraction)
// Two correct implementations round differently, and H steps carry those differences along:
// README "Spot checks" gives the measured drift and the tolerance it calls for.

import type { ImageDataset } from '../data/dataset.ts';
import { adamwStepRef, sgdMomentumStepRef } from '../model/reference.ts';
import { innerBatches, type LocalStepsLease } from '../worker/localSteps.ts';
import type { JsMlp } from './jsMlp.ts';

/** What the reference needs of a lease: its examples in order, the inner batch and the inner optimizer at the lease's learning rate. */
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
  const { hyper } = work;
  const kind: unknown = hyper?.kind;
  if (kind !== 'adamw' && kind !== 'sgd') throw new Error(`${fn}: local steps run AdamW or SGD; got optimizer ${JSON.stringify(kind)}`);

  const params = start.slice();
  // The optimizer state, zero at the start of every lease: AdamW's two moments, or SGD's momentum buffer.
  const state1 = new Float32Array(layout.total);
  const state2 = hyper.kind === 'adamw' ? new Float32Array(layout.total) : state1;
  const gradient = new Float32Array(layout.total);
  const batches = innerBatches(work.indices, work.innerBatch);
  let loss = 0;
  let correct = 0;
  for (let s = 0; s < batches.length; s++) {
    const r = mlp.lossAndGradient(params, train, batches[s], gradient);
    loss += r.loss * r.count;
    correct += r.correct;
    if (hyper.kind === 'adamw') adamwStepRef(params, gradient, state1, state2, s + 1, hyper, layout.decayEnd);
    else sgdMomentumStepRef(params, gradient, state1, hyper, layout.decayEnd);
  }
  const delta = new Float32Array(layout.total);
  for (let i = 0; i < delta.length; i++) delta[i] = start[i] - params[i];
  return { delta, loss: loss / work.indices.length, correct, steps: batches.length };
}
