// The training worker's contract, shared by the page that drives it and the worker itself,
// and the checks every input passes before it reaches a GPU buffer.

import type { AdapterReport } from '../gpu/context.ts';
import type { TuneResult } from '../kernels/autotune.ts';
import type { OptimizerHyper } from '../kernels/optimizer.ts';
import type { MlpSpec, ParamLayout } from '../model/mlp.ts';
import type { ImageDataset } from '../data/dataset.ts';

export interface TrainerOptions {
  spec: MlpSpec;
  /** Keep each GPU submit under this many estimated milliseconds (default 100). */
  maxSubmitMs?: number;
  /** Force a matmul configuration by name instead of autotuning (tests, benchmarks). */
  matmulConfig?: string;
  /** Local training: snapshot parameters and optimizer state every this many steps, to recover from device loss. */
  snapshotEvery?: number;
}

/** What a backend tells the page and the coordinator about itself. */
export interface BackendReport {
  backend: 'webgpu' | 'cpu';
  /** The GPU adapter (WebGPU backend). */
  adapter?: AdapterReport;
  /** The kernel version in use, e.g. the autotuned matmul configuration. */
  kernel: string;
  tuning: TuneResult | null;
  /** Estimated matmul throughput, FLOP per millisecond. */
  flopsPerMs: number;
  selfTest: 'passed';
}

export type DatasetSource =
  | { kind: 'url'; baseUrl: string }
  | { kind: 'arrays'; train: ImageDataset; test?: ImageDataset };

/** A unit of work: which training examples, against which parameter version. */
export interface MicroBatch {
  version: number;
  indices: Uint32Array;
}

export interface GradientResult {
  version: number;
  /** Mean loss over the micro-batch. */
  loss: number;
  correct: number;
  exampleCount: number;
  /** Gradient of the mean loss, flat, in the parameter layout. */
  gradient: Float32Array;
  gpuTimeMs: number | null;
  wallTimeMs: number;
  flops: number;
  submits: number;
  readbacks: number;
  /** Device losses recovered from while computing this result. */
  recoveries: number;
}

export interface TrainStepResult {
  version: number;
  step: number;
  loss: number;
  correct: number;
  exampleCount: number;
  gpuTimeMs: number | null;
  wallTimeMs: number;
  recoveries: number;
}

export interface EvaluationResult {
  loss: number;
  accuracy: number;
  count: number;
}

export interface TrainerApi {
  init(options: TrainerOptions): Promise<BackendReport>;
  loadDataset(source: DatasetSource): Promise<{ train: number; test: number }>;
  loadParameters(version: number, params: Float32Array): Promise<void>;
  /** Fresh parameters from a seed (local training). */
  initParameters(seed: number): Promise<{ version: number }>;
  computeGradient(batch: MicroBatch): Promise<GradientResult>;
  /** Apply the optimizer to `gradient`, or to the last computed one; bumps the version. */
  optimizerStep(hyper: OptimizerHyper, gradient?: Float32Array): Promise<{ version: number; step: number }>;
  /** Gradient and optimizer step on the GPU without reading the gradient back. */
  trainStep(batch: MicroBatch, hyper: OptimizerHyper): Promise<TrainStepResult>;
  evaluate(split: 'train' | 'test', limit?: number): Promise<EvaluationResult>;
  getParameters(): Promise<{ version: number; params: Float32Array }>;
  /** Destroys the GPU device, as a driver reset would: for tests and chaos drills. */
  simulateDeviceLoss(): Promise<void>;
  dispose(): Promise<void>;
}

/** Bad input from the caller: the worker's state is unchanged. */
export class InvalidInputError extends Error {
  override name = 'InvalidInputError';
}

/** The most examples one micro-batch may name. */
export const MAX_MICRO_BATCH = 8192;

export function validateParameters(layout: ParamLayout, version: number, params: unknown): Float32Array {
  if (!Number.isSafeInteger(version) || version < 0) {
    throw new InvalidInputError(`Parameter version must be a non-negative integer, got ${version}`);
  }
  if (!(params instanceof Float32Array)) {
    throw new InvalidInputError(`Parameters must be a Float32Array, got ${describe(params)}`);
  }
  if (params.length !== layout.total) {
    throw new InvalidInputError(
      `Parameters have ${params.length} values, but the model ${layout.spec.widths.join('-')} needs ${layout.total} (padding included)`,
    );
  }
  const bad = firstNonFinite(params);
  if (bad >= 0) throw new InvalidInputError(`Parameter ${bad} is ${params[bad]}: parameters must be finite`);
  return params;
}

export function validateMicroBatch(batch: unknown, loadedVersion: number | null, examples: number): Uint32Array {
  if (typeof batch !== 'object' || batch === null) throw new InvalidInputError(`A micro-batch must be an object, got ${describe(batch)}`);
  const { version, indices } = batch as Partial<MicroBatch>;
  if (loadedVersion === null) throw new InvalidInputError('No parameters are loaded: call loadParameters or initParameters first');
  if (version !== loadedVersion) {
    throw new InvalidInputError(`Stale parameter version: the micro-batch is for version ${version}, the worker holds version ${loadedVersion}`);
  }
  if (examples === 0) throw new InvalidInputError('No dataset is loaded: call loadDataset first');
  if (!(indices instanceof Uint32Array)) throw new InvalidInputError(`Micro-batch indices must be a Uint32Array, got ${describe(indices)}`);
  if (indices.length === 0) throw new InvalidInputError('A micro-batch needs at least one example');
  if (indices.length > MAX_MICRO_BATCH) throw new InvalidInputError(`A micro-batch may name at most ${MAX_MICRO_BATCH} examples, got ${indices.length}`);
  for (let i = 0; i < indices.length; i++) {
    if (indices[i] >= examples) {
      throw new InvalidInputError(`Example index ${indices[i]} (position ${i}) is out of range: the training set has ${examples} examples`);
    }
  }
  return indices;
}

export function validateGradient(layout: ParamLayout, gradient: unknown): Float32Array {
  if (!(gradient instanceof Float32Array)) throw new InvalidInputError(`A gradient must be a Float32Array, got ${describe(gradient)}`);
  if (gradient.length !== layout.total) {
    throw new InvalidInputError(`The gradient has ${gradient.length} values, the model needs ${layout.total}`);
  }
  const bad = firstNonFinite(gradient);
  if (bad >= 0) throw new InvalidInputError(`Gradient value ${bad} is ${gradient[bad]}: gradients must be finite`);
  return gradient;
}

export function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return i;
  return -1;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  return (value as object).constructor?.name ?? 'object';
}
