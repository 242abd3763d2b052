// The model's parameters and optimizer state, on the coordinator's CPU, and the one place
// they change: apply(meanGradient). A step is all or nothing: it runs on copies and is
// committed only if every parameter stays finite, so a diverging step leaves the model as it was.

import { initModelParameters, type ResolvedModel } from '../model/layers/spec.ts';
import { adamwStepRef, globalNormRef, sgdMomentumStepRef } from '../model/reference.ts';
import { learningRateAt, type JobOptimizer } from './job.ts';

export interface OptimizerState {
  /** Optimizer steps taken; the next step is step + 1. */
  step: number;
  params: Float32Array;
  /** AdamW's first moment, or SGD's momentum buffer. */
  moment1: Float32Array;
  /** AdamW's second moment; null for SGD. */
  moment2: Float32Array | null;
}

export interface StepReport {
  step: number;
  lr: number;
  /** Global L2 norm of the mean gradient (padding excluded), before any clipping. */
  gradNorm: number;
}

export class OptimizerDivergedError extends Error {
  override name = 'OptimizerDivergedError';
}

/** [start, end) ranges of the flat vector that are alignment padding, not parameters. */
export function paddingRanges(layout: Pick<ResolvedModel, 'tensors' | 'total'>): Array<[number, number]> {
  const segments = [...layout.tensors].sort((a, b) => a.offset - b.offset);
  const out: Array<[number, number]> = [];
  let at = 0;
  for (const s of segments) {
    if (s.offset > at) out.push([at, s.offset]);
    at = s.offset + s.length;
  }
  if (at < layout.total) out.push([at, layout.total]);
  return out;
}

export function freshOptimizerState(layout: ResolvedModel, optimizer: JobOptimizer, seed: number): OptimizerState {
  return {
    step: 0,
    params: initModelParameters(layout, seed),
    moment1: new Float32Array(layout.total),
    moment2: optimizer.kind === 'adamw' ? new Float32Array(layout.total) : null,
  };
}

export class OptimizerHost {
  private state: OptimizerState;
  private readonly padding: Array<[number, number]>;
  private readonly gradient: Float32Array;

  constructor(
    readonly layout: ResolvedModel,
    readonly optimizer: JobOptimizer,
    /** Planned optimizer steps, for decaying schedules; null when only a target accuracy ends the job. */
    readonly plannedSteps: number | null,
    state: OptimizerState,
  ) {
    const total = layout.total;
    const sizes: Array<[string, Float32Array | null]> = [['params', state.params], ['moment1', state.moment1], ['moment2', state.moment2]];
    for (const [name, array] of sizes) {
      if (name === 'moment2' && optimizer.kind === 'sgd') {
        if (array !== null) throw new Error('OptimizerHost: SGD keeps no second moment, but the state has one; is it from an AdamW job?');
        continue;
      }
      if (!(array instanceof Float32Array) || array.length !== total) {
        throw new Error(`OptimizerHost: ${name} must be a Float32Array of ${total} floats (the model's layout), got ${array?.length ?? 'none'}`);
      }
    }
    if (!Number.isInteger(state.step) || state.step < 0) throw new Error(`OptimizerHost: step must be an integer ≥ 0, got ${state.step}`);
    this.state = state;
    this.padding = paddingRanges(layout);
    this.gradient = new Float32Array(total);
  }

  get step(): number {
    return this.state.step;
  }

  /**
   * The current parameters. Never mutated: each step commits new arrays, so this array is a
   * snapshot of its version that messages and events may share. Do not write to it.
   */
  get params(): Float32Array {
    return this.state.params;
  }

  /** The learning rate step t will use. */
  learningRate(t: number): number {
    return learningRateAt(this.optimizer, t, this.plannedSteps);
  }

  /**
   * One optimizer step on the round's mean gradient. Padding entries of the gradient are
   * zeroed first, so padding parameters stay exactly zero whatever a contributor sent there.
   * Throws OptimizerDivergedError, with the state untouched, if a parameter would not be finite.
   */
  apply(meanGradient: Float32Array): StepReport {
    const total = this.layout.total;
    if (meanGradient.length !== total) throw new Error(`OptimizerHost.apply: the gradient has ${meanGradient.length} floats, expected ${total}`);
    const g = this.gradient;
    g.set(meanGradient);
    for (const [start, end] of this.padding) g.fill(0, start, end);
    const gradNorm = globalNormRef(g);
    if (!Number.isFinite(gradNorm)) throw new OptimizerDivergedError(`The mean gradient of step ${this.state.step + 1} is not finite (norm ${gradNorm})`);
    const t = this.state.step + 1;
    const lr = this.learningRate(t);
    const next: OptimizerState = {
      step: t,
      params: this.state.params.slice(),
      moment1: this.state.moment1.slice(),
      moment2: this.state.moment2?.slice() ?? null,
    };
    const o = this.optimizer;
    if (o.kind === 'adamw') {
      const h = { lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay, maxGradNorm: o.maxGradNorm };
      adamwStepRef(next.params, g, next.moment1, next.moment2!, t, h, this.layout.decayEnd);
    } else {
      const h = { lr, momentum: o.momentum, weightDecay: o.weightDecay, maxGradNorm: o.maxGradNorm };
      sgdMomentumStepRef(next.params, g, next.moment1, h, this.layout.decayEnd);
    }
    for (let i = 0; i < total; i++) {
      if (!Number.isFinite(next.params[i])) {
        throw new OptimizerDivergedError(
          `Step ${t} (learning rate ${lr}) would make parameter ${i} ${next.params[i]}; the model is left at step ${t - 1}. Lower optimizer.lr or set optimizer.maxGradNorm.`,
        );
      }
    }
    this.state = next;
    return { step: t, lr, gradNorm };
  }

  /** A copy of the whole state, for a checkpoint. */
  snapshot(): OptimizerState {
    return {
      step: this.state.step,
      params: this.state.params.slice(),
      moment1: this.state.moment1.slice(),
      moment2: this.state.moment2?.slice() ?? null,
    };
  }
}
