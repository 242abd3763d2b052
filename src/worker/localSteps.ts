// A local-steps lease (DiLoCo's inner loop): H inner optimizer steps (AdamW or SGD) from the lease's parameter version,
// one inner batch of the lease's examples per step, with a fresh optimizer state, and the
// pseudo-gradient Δ = θ_v − θ_after as the result. Written once over the worker API, so the
// worker runs it on its own Trainer (no message per step) and the widget's throttled trainer
// runs it step by step with rests in between. The coordinator's reference
// (coordinator/localStepsReference.ts) follows the same rules, batch by batch.

import type { OptimizerHyper } from '../kernels/optimizer.ts';
import { InvalidInputError, MAX_MICRO_BATCH, type TrainerApi } from './api.ts';

export interface LocalStepsLease {
  /** The parameter version the steps start from (the one loaded). */
  version: number;
  /** The lease's examples in order: inner batch s is indices[s·innerBatch, (s+1)·innerBatch). */
  indices: Uint32Array;
  innerBatch: number;
  /** The inner optimizer (AdamW or SGD with momentum) at the lease's learning rate; its state starts at zero for every lease. */
  hyper: OptimizerHyper;
  /** Dropout's seed for every inner step (MicroBatch.dropoutSeed): the lease's round. */
  dropoutSeed?: number;
}

export interface LocalStepsResult {
  version: number;
  /** Inner steps taken: ⌈examples / innerBatch⌉. */
  steps: number;
  /** Mean training loss over the lease's examples, each counted at the step that saw it (before that step's update). */
  loss: number;
  correct: number;
  exampleCount: number;
  /** θ_v − θ_after, flat, in the parameter layout (f32 subtraction). */
  delta: Float32Array;
  gpuTimeMs: number | null;
  wallTimeMs: number;
  /** Device losses recovered from (each restarts the lease from θ_v). */
  recoveries: number;
}

/** The part of the worker API the inner loop drives. */
export type LocalStepsTrainer = Pick<TrainerApi, 'loadParameters' | 'trainStep' | 'getParameters'>;

/** Restarts of a lease after a device loss before it fails. */
const MAX_RESTARTS = 3;

/** The inner batches of a lease, in order (views, not copies); the last one may be smaller. */
export function innerBatches(indices: Uint32Array, innerBatch: number): Uint32Array[] {
  const out: Uint32Array[] = [];
  for (let start = 0; start < indices.length; start += innerBatch) out.push(indices.subarray(start, start + innerBatch));
  return out;
}

export function validateLocalStepsLease(lease: LocalStepsLease): void {
  if (typeof lease !== 'object' || lease === null) throw new InvalidInputError('A local-steps lease must be an object {version, indices, innerBatch, hyper}');
  const { innerBatch, hyper, indices } = lease;
  if (!Number.isInteger(innerBatch) || innerBatch < 1 || innerBatch > MAX_MICRO_BATCH) {
    throw new InvalidInputError(`innerBatch must be an integer from 1 to ${MAX_MICRO_BATCH}, got ${innerBatch}`);
  }
  const kind: unknown = hyper?.kind;
  if (kind !== 'adamw' && kind !== 'sgd') throw new InvalidInputError(`Local steps run AdamW or SGD; got optimizer ${JSON.stringify(kind)}`);
  if (!(indices instanceof Uint32Array) || indices.length === 0) throw new InvalidInputError('A local-steps lease needs at least one example (a Uint32Array of indices)');
}

/**
 * Runs the lease's inner steps from `start` (the parameters of lease.version) and returns Δ.
 * The trainer is left holding θ_after at a later local version: load parameters again before
 * computing anything else on it.
 */
export async function runLocalSteps(trainer: LocalStepsTrainer, start: Float32Array, lease: LocalStepsLease, now: () => number = () => performance.now()): Promise<LocalStepsResult> {
  validateLocalStepsLease(lease);
  const t0 = now();
  const batches = innerBatches(lease.indices, lease.innerBatch);
  let recoveries = 0;
  for (let attempt = 0; ; attempt++) {
    await trainer.loadParameters(lease.version, start);
    let loss = 0;
    let correct = 0;
    let gpuTimeMs: number | null = 0;
    let rolledBack = false;
    for (let s = 0; s < batches.length; s++) {
      const r = await trainer.trainStep({ version: lease.version + s, indices: batches[s], dropoutSeed: lease.dropoutSeed }, lease.hyper);
      recoveries += r.recoveries;
      // A lost device resumes from the trainer's last snapshot, which may be an earlier step: start the lease over.
      if (r.step !== s + 1) {
        rolledBack = true;
        break;
      }
      loss += r.loss * r.exampleCount;
      correct += r.correct;
      gpuTimeMs = gpuTimeMs === null || r.gpuTimeMs === null ? null : gpuTimeMs + r.gpuTimeMs;
    }
    if (rolledBack) {
      if (attempt >= MAX_RESTARTS) throw new Error(`The device was lost ${attempt + 1} times during a local-steps lease; giving it up`);
      continue;
    }
    const { params } = await trainer.getParameters();
    const delta = new Float32Array(start.length);
    for (let i = 0; i < delta.length; i++) delta[i] = start[i] - params[i];
    const exampleCount = lease.indices.length;
    return { version: lease.version, steps: batches.length, loss: loss / exampleCount, correct, exampleCount, delta, gpuTimeMs, wallTimeMs: now() - t0, recoveries };
  }
}
