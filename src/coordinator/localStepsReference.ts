// The coordinator's CPU reference of a local-steps lease (DiLoCo's inner loop), what spot
// checks recompute: the same rules as the contributor's runLocalSteps (worker/localSteps.ts),
// batch by batch, with a CpuKinkModel (kinkModel.ts: the CPU layer table, f32) for each inner
// batch's gradient of the mean loss and adamwStepRef or sgdMomentumStepRef (f64 maths, f32
// storage) for each step.
//   θ_0 = θ_v;  state = 0;  for s = 1..H:  g_s = ∇ mean loss(θ_{s−1}, batch s);  θ_s = step(θ_{s−1}, g_s, t = s)
//   Δ = θ_v − θ_H (f32 subtraction)
// Two correct implementations agree to ~1e-5 (AdamW) or ~1e-6 (SGD) over any H, except when a
// ReLU unit of one example falls on the other side of its kink at one step: that moves every
// later step, up to 0.4 relative at H = 64. resolveLocalStepsKinks finds such a unit and
// replays the lease from there (measured: scripts/bench-local-steps-drift.ts).

import type { ImageDataset } from '../data/dataset.ts';
import type { OptimizerHyper } from '../kernels/optimizer.ts';
import { adamwStepRef, sgdMomentumStepRef } from '../model/reference.ts';
import { innerBatches, type LocalStepsLease } from '../worker/localSteps.ts';
import type { CpuKinkModel, LossAndCorrect, NearKink } from './kinkModel.ts';

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
 */
export function localStepsReference(mlp: CpuKinkModel, train: ImageDataset, start: Float32Array, work: LocalStepsWork): LocalStepsReferenceResult {
  const loop = new InnerLoop(mlp, train, start, work);
  const state = loop.initial();
  let loss = 0;
  let correct = 0;
  for (let s = 0; s < loop.steps; s++) {
    const r = loop.step(state, s);
    loss += r.loss * r.count;
    correct += r.correct;
  }
  return { delta: loop.delta(state), loss: loss / work.indices.length, correct, steps: loop.steps };
}

export interface LocalStepsKinkOptions {
  /** What the claim went through on its way (the job's up encoding): every replay is rounded so before it is compared. */
  round?: (delta: Float32Array) => Float32Array;
  /** Stop as soon as the distance is within this (the check's tolerance); by default every flip within the budget is tried. */
  tolerance?: number;
}

/** Units whose incoming weights carry most of the residual: their near kinks are tried, in this order. */
const SUSPECT_UNITS = 32;
/** Kink flips kept, one at a time, each the best single flip left. */
const MAX_FLIPS = 3;
/** A flip is kept when it cuts the distance by at least this factor. */
const HELPFUL = 0.9;
/** Inner steps one resolution may compute, in leases (a run that lists kinks counts 3 per step): bounded whatever the claim. */
const BUDGET_LEASES = 16;
/** Saved states to replay from per run (each holds parameters and optimizer state). */
const SNAPSHOTS = 16;

/**
 * A claimed Δ's distance to the reference once ReLU kinks are resolved its way: a unit of one
 * example within float error of its kink at one inner step may have taken the other side in
 * the claim's arithmetic (or in the drift of the steps before), and every later step follows.
 * The lease is run keeping its near-kink units (CpuKinkModel's near kinks at each step); those of the
 * SUSPECT_UNITS units whose incoming weights differ most between the claim and the reference
 * are flipped one at a time, replaying from that step, and the best flip is kept while it
 * helps (up to MAX_FLIPS), within a budget of BUDGET_LEASES leases of compute, stopping as
 * soon as the distance is within options.tolerance. A cheat gains nothing: each replay is an
 * honest lease with some units on the other side.
 */
export function resolveLocalStepsKinks(
  mlp: CpuKinkModel,
  train: ImageDataset,
  start: Float32Array,
  work: LocalStepsWork,
  claimed: Float32Array,
  options: LocalStepsKinkOptions = {},
): { distance: number; kinks: number } {
  const round = options.round ?? ((delta: Float32Array) => delta);
  const tolerance = options.tolerance ?? 0;
  const loop = new InnerLoop(mlp, train, start, work);
  const { steps } = loop;
  const every = Math.ceil(steps / SNAPSHOTS);
  const unitOf = mlp.unitOf;
  const forcing = new Map<number, Map<number, boolean>>();
  let budget = BUDGET_LEASES * steps;
  let best = Infinity;
  let kinks = 0;
  for (let flips = 0; ; flips++) {
    // The reference with the flips kept so far: its distance, states to replay from, each step's near kinks.
    const run = loop.run(forcing, every);
    budget -= 3 * steps;
    const reference = round(run.delta);
    const distance = relativeDistanceOf(claimed, reference);
    best = Math.min(best, distance);
    kinks = Math.max(kinks, run.kinks.length);
    if (distance <= tolerance || flips === MAX_FLIPS || budget <= 0) break;
    const suspects = suspectUnits(unitOf, claimed, reference);
    const rankOf = (k: StepKink) => suspects.get(mlp.kinkUnit(k.key)) ?? Infinity;
    const candidates = run.kinks.filter((k) => rankOf(k) < Infinity).sort((a, b) => rankOf(a) - rankOf(b) || a.step - b.step);
    let chosen: StepKink | null = null;
    let chosenDistance = distance;
    for (const k of candidates) {
      const from = Math.floor(k.step / every) * every;
      if (steps - from > budget) break;
      budget -= steps - from;
      const state = cloneState(run.snapshots[from / every]);
      for (let s = from; s < steps; s++) {
        const forced = forcing.get(s);
        loop.step(state, s, s === k.step ? new Map([...(forced ?? []), [k.key, !k.active]]) : forced);
      }
      const d = relativeDistanceOf(claimed, round(loop.delta(state)));
      if (d <= tolerance) return { distance: d, kinks };
      if (d < chosenDistance) {
        chosen = k;
        chosenDistance = d;
      }
    }
    if (!chosen || chosenDistance > HELPFUL * distance) break;
    if (!forcing.has(chosen.step)) forcing.set(chosen.step, new Map());
    forcing.get(chosen.step)!.set(chosen.key, !chosen.active);
    best = Math.min(best, chosenDistance);
  }
  return { distance: best, kinks };
}

interface InnerState {
  params: Float32Array;
  /** AdamW's first moment, or SGD's momentum buffer. */
  state1: Float32Array;
  /** AdamW's second moment (null for SGD). */
  state2: Float32Array | null;
}

/** A near-kink unit at one inner step: its key within that step's batch, and the side the reference took. */
interface StepKink extends NearKink {
  step: number;
}

const cloneState = (s: InnerState): InnerState => ({ params: s.params.slice(), state1: s.state1.slice(), state2: s.state2?.slice() ?? null });

/** A lease's inner loop one step at a time: for the reference, and for replays from a saved state. */
class InnerLoop {
  readonly batches: Uint32Array[];
  private readonly gradient: Float32Array;
  private readonly hyper: OptimizerHyper;

  constructor(
    private readonly mlp: CpuKinkModel,
    private readonly train: ImageDataset,
    private readonly start: Float32Array,
    work: LocalStepsWork,
  ) {
    const fn = 'localStepsReference';
    if (!(start instanceof Float32Array) || start.length !== mlp.total) {
      throw new Error(`${fn}: the start parameters must be a Float32Array of ${mlp.total} floats (layout.total), got ${start?.length}`);
    }
    if (!(work.indices instanceof Uint32Array) || work.indices.length === 0) {
      throw new Error(`${fn}: a lease needs at least one example (a non-empty Uint32Array of indices)`);
    }
    if (!Number.isInteger(work.innerBatch) || work.innerBatch < 1) throw new Error(`${fn}: innerBatch must be a positive integer, got ${work.innerBatch}`);
    const kind: unknown = work.hyper?.kind;
    if (kind !== 'adamw' && kind !== 'sgd') throw new Error(`${fn}: local steps run AdamW or SGD; got optimizer ${JSON.stringify(kind)}`);
    this.hyper = work.hyper;
    this.batches = innerBatches(work.indices, work.innerBatch);
    this.gradient = new Float32Array(mlp.total);
  }

  get steps(): number {
    return this.batches.length;
  }

  /** θ_v with the optimizer state at zero, as every lease starts. */
  initial(): InnerState {
    const total = this.mlp.total;
    return { params: this.start.slice(), state1: new Float32Array(total), state2: this.hyper.kind === 'adamw' ? new Float32Array(total) : null };
  }

  /** Inner step s (0-based) in place, with some ReLU units forced to a side (and its near kinks appended to `found`); the batch's pre-update loss. */
  step(state: InnerState, s: number, forced?: ReadonlyMap<number, boolean>, found?: NearKink[]): LossAndCorrect {
    const r = this.mlp.lossAndGradient(state.params, this.train, this.batches[s], this.gradient, forced, found);
    const { hyper, mlp } = this;
    if (hyper.kind === 'adamw') adamwStepRef(state.params, this.gradient, state.state1, state.state2!, s + 1, hyper, mlp.decayEnd);
    else sgdMomentumStepRef(state.params, this.gradient, state.state1, hyper, mlp.decayEnd);
    return r;
  }

  /** The whole lease with `forcing` (step → forced units), keeping the state before every `every`-th step and each step's near kinks. */
  run(forcing: ReadonlyMap<number, ReadonlyMap<number, boolean>>, every: number): { delta: Float32Array; snapshots: InnerState[]; kinks: StepKink[] } {
    const state = this.initial();
    const snapshots: InnerState[] = [];
    const kinks: StepKink[] = [];
    for (let s = 0; s < this.steps; s++) {
      if (s % every === 0) snapshots.push(cloneState(state));
      const found: NearKink[] = [];
      this.step(state, s, forcing.get(s), found);
      for (const k of found) kinks.push({ step: s, ...k });
    }
    return { delta: this.delta(state), snapshots, kinks };
  }

  delta(state: InnerState): Float32Array {
    const delta = new Float32Array(this.mlp.total);
    for (let i = 0; i < delta.length; i++) delta[i] = this.start[i] - state.params[i];
    return delta;
  }
}

/** The SUSPECT_UNITS units with the largest ‖claimed − reference‖² on their incoming weights and bias → rank (0 = largest). */
function suspectUnits(unitOf: Int32Array, claimed: Float32Array, reference: Float32Array): Map<number, number> {
  const energy = new Map<number, number>();
  for (let i = 0; i < claimed.length; i++) {
    const u = unitOf[i];
    if (u < 0) continue;
    const d = claimed[i] - reference[i];
    energy.set(u, (energy.get(u) ?? 0) + d * d);
  }
  const ranked = [...energy.entries()].filter(([, e]) => e > 0).sort((a, b) => b[1] - a[1]).slice(0, SUSPECT_UNITS);
  return new Map(ranked.map(([u], rank) => [u, rank]));
}

/** ‖g − ref‖ / ‖ref‖, as verification.ts relativeDistance (kept here so the reference does not import the checker). */
function relativeDistanceOf(g: Float32Array, ref: Float32Array): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < g.length; i++) {
    const d = g[i] - ref[i];
    diff += d * d;
    norm += ref[i] * ref[i];
  }
  return norm > 0 ? Math.sqrt(diff / norm) : Math.sqrt(diff);
}
