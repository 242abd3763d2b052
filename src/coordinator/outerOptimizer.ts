// The outer optimizer of local-steps training (DiLoCo): a lease runs H inner steps from
// version v and returns the pseudo-gradient Δ = θ_v − θ_after; the coordinator combines a
// round's Δs and takes one Nesterov momentum step on them, as PyTorch's
// SGD(nesterov=True) would with Δ as the gradient. Pure: no I/O, no layout, no schedule.
// A step is all or nothing: a bad Δ or an overflowing result leaves params and momentum as they were.

import type { ResolvedModel } from '../model/layers/spec.ts';
import { globalNormRef } from '../model/reference.ts';
import { OptimizerDivergedError, paddingRanges, type OptimizerState, type StepReport } from './optimizerHost.ts';

export interface OuterHyper {
  /** η; DiLoCo uses 0.7. */
  lr: number;
  /** μ in [0, 1); DiLoCo uses 0.9. 0 makes the step plain SGD: θ ← θ − η·Δ. */
  momentum: number;
}

/** What a checkpoint keeps of the outer optimizer. */
export interface OuterState {
  momentum: Float32Array;
  /** Outer steps taken. */
  steps: number;
}

/** The index of the first non-finite entry, or -1. */
function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return i;
  return -1;
}

export class OuterNesterov {
  readonly lr: number;
  readonly momentum: number;
  private buffer: Float32Array;
  private steps = 0;
  /** Scratch for the next buffer and params, so a rejected step changes nothing. */
  private readonly nextBuffer: Float32Array;
  private readonly nextParams: Float32Array;

  constructor(
    /** Floats per parameter vector (layout.total). */
    readonly length: number,
    hyper: OuterHyper,
    /** A checkpoint's state to continue from; a zero buffer and step 0 when absent. */
    state?: OuterState,
  ) {
    if (!Number.isInteger(length) || length < 0) throw new Error(`OuterNesterov: length must be an integer ≥ 0, got ${length}`);
    if (!(Number.isFinite(hyper.lr) && hyper.lr > 0)) throw new Error(`OuterNesterov: lr must be a finite number > 0, got ${hyper.lr}`);
    if (!(hyper.momentum >= 0 && hyper.momentum < 1)) throw new Error(`OuterNesterov: momentum must be in [0, 1), got ${hyper.momentum}`);
    this.lr = hyper.lr;
    this.momentum = hyper.momentum;
    this.buffer = new Float32Array(length);
    this.nextBuffer = new Float32Array(length);
    this.nextParams = new Float32Array(length);
    if (state) this.restore(state);
  }

  /** Outer steps taken; the next step is stepCount + 1. */
  get stepCount(): number {
    return this.steps;
  }

  /**
   * One outer step: updates params in place from the round's combined pseudo-gradient.
   * Throws, changing nothing, on a length mismatch, a non-finite Δ, or a non-finite result.
   */
  step(params: Float32Array, pseudoGradient: Float32Array): void {
    const n = this.length;
    if (params.length !== n) throw new Error(`OuterNesterov.step: params has ${params.length} floats, expected ${n}`);
    if (pseudoGradient.length !== n) throw new Error(`OuterNesterov.step: the pseudo-gradient has ${pseudoGradient.length} floats, expected ${n}`);
    const bad = firstNonFinite(pseudoGradient);
    if (bad >= 0) {
      throw new Error(
        `OuterNesterov.step: pseudo-gradient entry ${bad} is ${pseudoGradient[bad]}; a round's combined Δ must be finite. Nothing was changed; find the result that sent it.`,
      );
    }
    const { lr, momentum } = this;
    const v = this.nextBuffer;
    const p = this.nextParams;
    for (let i = 0; i < n; i++) {
      const d = pseudoGradient[i];
      // Nesterov (PyTorch SGD, nesterov=True, Δ as the gradient): v ← μ·v + Δ; θ ← θ − η·(Δ + μ·v), v read back from f32.
      v[i] = momentum * this.buffer[i] + d;
      p[i] = params[i] - lr * (d + momentum * v[i]);
    }
    let overflow = 0;
    while (overflow < n && Number.isFinite(p[overflow]) && Number.isFinite(v[overflow])) overflow++;
    if (overflow < n) {
      throw new OptimizerDivergedError(
        `Outer step ${this.steps + 1} (lr ${lr}) would make parameter ${overflow} ${p[overflow]} (momentum ${v[overflow]}); params are left at step ${this.steps}. Lower sync.outer.lr.`,
      );
    }
    params.set(p);
    this.buffer.set(v);
    this.steps++;
  }

  /** A copy of the momentum buffer and step count, for a checkpoint. */
  state(): OuterState {
    return { momentum: this.buffer.slice(), steps: this.steps };
  }

  /** Continue from a checkpoint's state (copied in). Throws, changing nothing, if it does not fit. */
  restore(state: OuterState): void {
    const { momentum, steps } = state;
    if (!(momentum instanceof Float32Array) || momentum.length !== this.length) {
      throw new Error(
        `OuterNesterov.restore: the momentum buffer must be a Float32Array of ${this.length} floats (the model's size), got ${momentum instanceof Float32Array ? momentum.length : typeof momentum}; is the checkpoint from another model?`,
      );
    }
    if (!Number.isInteger(steps) || steps < 0) throw new Error(`OuterNesterov.restore: steps must be an integer ≥ 0, got ${steps}`);
    const bad = firstNonFinite(momentum);
    if (bad >= 0) throw new Error(`OuterNesterov.restore: momentum entry ${bad} is ${momentum[bad]}; a checkpoint holds finite values only`);
    this.buffer = momentum.slice();
    this.steps = steps;
  }
}

/**
 * The coordinator's model under local steps, with the same contract as OptimizerHost: the
 * parameters and the outer optimizer, one outer step per round on the round's combined Δ.
 * Its checkpoint state is an OptimizerState whose moment1 is the momentum buffer (no moment2).
 */
export class OuterHost {
  private current: Float32Array;
  private readonly outer: OuterNesterov;
  private readonly padding: Array<[number, number]>;
  private readonly delta: Float32Array;

  constructor(
    readonly layout: ResolvedModel,
    readonly hyper: OuterHyper,
    state: OptimizerState,
  ) {
    if (!(state.params instanceof Float32Array) || state.params.length !== layout.total) {
      throw new Error(`OuterHost: params must be a Float32Array of ${layout.total} floats (the model's layout), got ${state.params?.length ?? 'none'}`);
    }
    if (state.moment2 !== null) throw new Error('OuterHost: the outer optimizer keeps no second moment, but the state has one; is it from an every-step job?');
    this.outer = new OuterNesterov(layout.total, hyper, { momentum: state.moment1, steps: state.step });
    this.current = state.params;
    this.padding = paddingRanges(layout);
    this.delta = new Float32Array(layout.total);
  }

  get step(): number {
    return this.outer.stepCount;
  }

  /** The current parameters: a new array per step, never written to afterwards. */
  get params(): Float32Array {
    return this.current;
  }

  /** One outer step; padding entries of Δ are zeroed first. Throws OptimizerDivergedError, changing nothing, on overflow. */
  apply(meanDelta: Float32Array): StepReport {
    if (meanDelta.length !== this.layout.total) throw new Error(`OuterHost.apply: Δ has ${meanDelta.length} floats, expected ${this.layout.total}`);
    const delta = this.delta;
    delta.set(meanDelta);
    for (const [start, end] of this.padding) delta.fill(0, start, end);
    const gradNorm = globalNormRef(delta);
    if (!Number.isFinite(gradNorm)) throw new OptimizerDivergedError(`The combined Δ of outer step ${this.step + 1} is not finite (norm ${gradNorm})`);
    const next = this.current.slice();
    this.outer.step(next, delta);
    this.current = next;
    return { step: this.step, lr: this.hyper.lr, gradNorm };
  }

  snapshot(): OptimizerState {
    const { momentum, steps } = this.outer.state();
    return { step: steps, params: this.current.slice(), moment1: momentum, moment2: null };
  }
}
