// The jobs a CPU thread runs, and their encoding into the control block's f64 slots
// (threads share memory, not objects). Pure: tested in Node.

import type { MatmulLayout } from '../model/reference.ts';
import type { Activation } from '../model/mlp.ts';
import type { PlanInputs } from './memoryPlan.ts';
import type { ModelPlanInputs } from './cpuModelPlan.ts';
import { JOB_SLOTS } from './control.ts';
import { decodeLayerJob, encodeLayerJob, type LayerJob } from './layerJobs.ts';

/** One optimizer step, with the bias corrections of its step number already applied. */
export interface OptimizerStepArgs {
  kind: 'adamw' | 'sgd';
  lr: number;
  /** AdamW β1, or SGD momentum. */
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1 − β1^t and 1 − β2^t (AdamW); 1 for SGD. */
  bc1: number;
  bc2: number;
  /** Clip the global gradient norm to this; 0 turns clipping off. */
  maxGradNorm: number;
}

/** C[m×n] = op(A)·op(B) on regions the caller laid out (byte offsets). */
export interface MatmulJob {
  layout: MatmulLayout;
  m: number;
  n: number;
  k: number;
  a: number;
  b: number;
  c: number;
  packedA: number;
  packedB: number;
}

/** A model gradient in one job ('all'), or split around the loss (cpuModel.ts gradientWith). */
export type GradientPhase = 'all' | 'forward' | 'backward';

export type CpuJob =
  /** Compute the memory plan for these inputs (every thread does it for itself). */
  | { kind: 'configure'; inputs: PlanInputs }
  /** Gradient of the mean loss over the `batch` indices written to the plan; optionally then an optimizer step. */
  | { kind: 'gradient'; batch: number; repack: boolean; optimizer: OptimizerStepArgs | null }
  /** Forward and loss (train/test: gather by index) or logits only (raw: x written by the caller). */
  | { kind: 'forward'; batch: number; repack: boolean; source: 'train' | 'test' | 'raw' }
  /** An optimizer step on the gradient region. */
  | { kind: 'optimizer'; optimizer: OptimizerStepArgs }
  | { kind: 'matmul'; matmul: MatmulJob }
  /** One layer kernel (conv2d, pooling, layernorm) on regions the caller laid out (layerJobs.ts). */
  | { kind: 'layer'; layer: LayerJob }
  // The layer-table model (cpuModel.ts): its spec is JSON in the memory (cpuModelPlan.ts), not in the slots.
  /** Compute the model's memory plan from the spec in the memory and these inputs. */
  | { kind: 'model-configure'; inputs: ModelPlanInputs }
  /**
   * Gradient of the mean loss over the `batch` indices (train: gathered; raw: inputs and labels written by the caller);
   * dropout hashes `dropoutSeed` and the positions written to the plan (null: dropout is the identity).
   * `phase` splits it for a caller that reads or adjusts the activations in between: 'forward'
   * stops after the loss, 'backward' runs the rest on what that forward left in the memory.
   */
  | { kind: 'model-gradient'; batch: number; repack: boolean; optimizer: OptimizerStepArgs | null; dropoutSeed: number | null; source: 'train' | 'raw'; phase: GradientPhase }
  /** Forward in evaluation mode (dropout is the identity) and loss, or logits only (raw). */
  | { kind: 'model-forward'; batch: number; repack: boolean; source: 'train' | 'test' | 'raw' }
  | { kind: 'model-optimizer'; optimizer: OptimizerStepArgs };

const KIND = ['configure', 'gradient', 'forward', 'optimizer', 'matmul', 'layer', 'model-configure', 'model-gradient', 'model-forward', 'model-optimizer'] as const;
const SOURCE = ['train', 'test', 'raw'] as const;
const PHASE: GradientPhase[] = ['all', 'forward', 'backward'];
const LAYOUT: MatmulLayout[] = ['nn', 'nt', 'tn'];
const ACTIVATION: Activation[] = ['relu', 'gelu'];
const OPTIMIZER = [null, 'adamw', 'sgd'] as const;
const MAX_WIDTHS = JOB_SLOTS - 8;

function writeOptimizer(s: Float64Array, o: OptimizerStepArgs | null): void {
  s[3] = OPTIMIZER.indexOf(o?.kind ?? null);
  if (o) s.set([o.lr, o.beta1, o.beta2, o.eps, o.weightDecay, o.bc1, o.bc2, o.maxGradNorm], 4);
}

function readOptimizer(s: Float64Array): OptimizerStepArgs | null {
  const kind = OPTIMIZER[s[3]];
  if (!kind) return null;
  const [lr, beta1, beta2, eps, weightDecay, bc1, bc2, maxGradNorm] = s.subarray(4, 12);
  return { kind, lr, beta1, beta2, eps, weightDecay, bc1, bc2, maxGradNorm };
}

/** Writes `job` into the JOB_SLOTS f64 slots. */
export function encodeJob(job: CpuJob, slots: Float64Array): void {
  if (slots.length < JOB_SLOTS) throw new Error(`A job needs ${JOB_SLOTS} slots, got ${slots.length}`);
  slots.fill(0, 0, JOB_SLOTS);
  slots[0] = KIND.indexOf(job.kind);
  switch (job.kind) {
    case 'configure': {
      const { spec, trainCount, testCount, batchCapacity } = job.inputs;
      if (spec.widths.length > MAX_WIDTHS) throw new Error(`The CPU backend supports at most ${MAX_WIDTHS - 1} layers, got ${spec.widths.length - 1}`);
      slots.set([ACTIVATION.indexOf(spec.activation), trainCount, testCount, batchCapacity, spec.widths.length, ...spec.widths], 1);
      break;
    }
    case 'gradient':
      slots[1] = job.batch;
      slots[2] = job.repack ? 1 : 0;
      writeOptimizer(slots, job.optimizer);
      break;
    case 'forward':
      slots.set([job.batch, job.repack ? 1 : 0, SOURCE.indexOf(job.source)], 1);
      break;
    case 'optimizer':
      writeOptimizer(slots, job.optimizer);
      break;
    case 'matmul': {
      const j = job.matmul;
      slots.set([LAYOUT.indexOf(j.layout), j.m, j.n, j.k, j.a, j.b, j.c, j.packedA, j.packedB], 1);
      break;
    }
    case 'layer':
      encodeLayerJob(job.layer, slots, 1);
      break;
    case 'model-configure': {
      const { specBytes, trainCount, testCount, batchCapacity, threads } = job.inputs;
      slots.set([specBytes, trainCount, testCount, batchCapacity, threads], 1);
      break;
    }
    case 'model-gradient':
      slots[1] = job.batch;
      slots[2] = job.repack ? 1 : 0;
      writeOptimizer(slots, job.optimizer);
      slots[12] = job.dropoutSeed === null ? 0 : 1;
      slots[13] = job.dropoutSeed ?? 0;
      slots[14] = SOURCE.indexOf(job.source);
      slots[15] = PHASE.indexOf(job.phase);
      break;
    case 'model-forward':
      slots.set([job.batch, job.repack ? 1 : 0, SOURCE.indexOf(job.source)], 1);
      break;
    case 'model-optimizer':
      writeOptimizer(slots, job.optimizer);
      break;
  }
}

/** Reads back what encodeJob wrote; an unknown kind is an internal error. */
export function decodeJob(s: Float64Array): CpuJob {
  const kind = KIND[s[0]];
  switch (kind) {
    case 'configure': {
      const count = s[5];
      return {
        kind,
        inputs: {
          spec: { activation: ACTIVATION[s[1]], widths: Array.from(s.subarray(6, 6 + count)) },
          trainCount: s[2],
          testCount: s[3],
          batchCapacity: s[4],
        },
      };
    }
    case 'gradient':
      return { kind, batch: s[1], repack: s[2] === 1, optimizer: readOptimizer(s) };
    case 'forward':
      return { kind, batch: s[1], repack: s[2] === 1, source: SOURCE[s[3]] };
    case 'optimizer': {
      const optimizer = readOptimizer(s);
      if (!optimizer) throw new Error('internal error: an optimizer job without an optimizer');
      return { kind, optimizer };
    }
    case 'matmul':
      return { kind, matmul: { layout: LAYOUT[s[1]], m: s[2], n: s[3], k: s[4], a: s[5], b: s[6], c: s[7], packedA: s[8], packedB: s[9] } };
    case 'layer':
      return { kind, layer: decodeLayerJob(s, 1) };
    case 'model-configure':
      return { kind, inputs: { specBytes: s[1], trainCount: s[2], testCount: s[3], batchCapacity: s[4], threads: s[5] } };
    case 'model-gradient':
      return { kind, batch: s[1], repack: s[2] === 1, optimizer: readOptimizer(s), dropoutSeed: s[12] === 1 ? s[13] : null, source: SOURCE[s[14]] as 'train' | 'raw', phase: PHASE[s[15]] };
    case 'model-forward':
      return { kind, batch: s[1], repack: s[2] === 1, source: SOURCE[s[3]] };
    case 'model-optimizer': {
      const optimizer = readOptimizer(s);
      if (!optimizer) throw new Error('internal error: an optimizer job without an optimizer');
      return { kind, optimizer };
    }
    default:
      throw new Error(`internal error: unknown CPU job kind ${s[0]}`);
  }
}
