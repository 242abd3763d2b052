// The training worker's contract, shared by the page that drives it and the worker itself,
// and the checks every input passes before it reaches a GPU buffer.

import type { AdapterReport } from '../gpu/context.ts';
import type { TuneResult } from '../kernels/autotune.ts';
import type { OptimizerHyper } from '../kernels/optimizer.ts';
import type { ModelSpec, ResolvedModel } from '../model/layers/spec.ts';
import type { DatasetFormat, ImageDataset } from '../data/dataset.ts';
import type { LocalStepsLease, LocalStepsResult } from './localSteps.ts';

/** Which backend computes: one by name, or 'auto' to time each available one on the job's shapes and keep the fastest. */
export type BackendChoice = 'webgpu' | 'cpu' | 'auto';

export interface TrainerOptions {
  /** The model, either form of src/model/layers/spec.ts (validated by init). */
  spec: ModelSpec;
  /** Default 'auto' (see BackendChoice); a visitor's override names one. */
  backend?: BackendChoice;
  /** CPU backend worker threads (default: one per core on a cross-origin isolated page, else 1). */
  cpuThreads?: number;
  /** 'auto': the micro-batch size each candidate is timed on (default 128). */
  selectionBatch?: number;
  /** 'auto': milliseconds of timing per candidate (default 1000). */
  selectionBudgetMs?: number;
  /** How long a candidate may take to start (create, load, warm up) before it loses; default 6 s. */
  selectionStartupMs?: number;
  /**
   * Refuse a software WebGPU adapter (SwiftShader, WARP, llvmpipe) without starting it: its
   * pipeline compiles and its compute run in the browser's GPU process, where the page's own
   * frames are drawn. The embedded widget sets it, so that a host page keeps its frames.
   */
  hardwareGpuOnly?: boolean;
  /** Keep each GPU submit under this many estimated milliseconds (default 100). */
  maxSubmitMs?: number;
  /** Force a matmul configuration by name instead of autotuning (tests, benchmarks). */
  matmulConfig?: string;
  /** Local training: snapshot parameters and optimizer state every this many steps, to recover from device loss. */
  snapshotEvery?: number;
}

/** One candidate's figures from backend selection, timed on the job's own model and micro-batch. */
export interface BackendMeasurement {
  backend: 'webgpu' | 'cpu';
  /** Gradients of real micro-batches per second, times the batch; null when it could not run. */
  examplesPerSecond: number | null;
  /** Median milliseconds per micro-batch gradient. */
  msPerBatch: number | null;
  batch: number;
  /** Timed gradients (after warm-up). */
  runs: number;
  /** The kernel and device it ran, e.g. "wasm relaxed-SIMD 4x8, 2 threads". */
  kernel?: string;
  /** Why it could not be used. */
  error?: string;
}

/** How the backend in use was chosen. */
export interface BackendSelection {
  requested: BackendChoice;
  chosen: 'webgpu' | 'cpu';
  /** One line for the page, e.g. "fastest on this job: CPU 31,200 examples/s vs WebGPU 610 examples/s". */
  reason: string;
  /** Every candidate timed (empty when the visitor named a backend). */
  candidates: BackendMeasurement[];
}

/** The CPU backend's configuration. */
export interface CpuReport {
  /** Worker threads computing (1: on the trainer's own thread). */
  threads: number;
  /** 'relaxed': WebAssembly relaxed SIMD (fused multiply-add); 'plain': SIMD128. */
  simd: 'relaxed' | 'plain';
  /** Whether the page may share memory with threads (COOP/COEP served). */
  crossOriginIsolated: boolean;
}

/** What a backend tells the page and the coordinator about itself. */
export interface BackendReport {
  backend: 'webgpu' | 'cpu';
  /** The GPU adapter (WebGPU backend). */
  adapter?: AdapterReport;
  /** Threads and SIMD level (CPU backend). */
  cpu?: CpuReport;
  /** How this backend was chosen: the visitor's override or the timings of 'auto'. */
  selection?: BackendSelection;
  /** The kernel version in use, e.g. the autotuned matmul configuration. */
  kernel: string;
  tuning: TuneResult | null;
  /** Estimated matmul throughput, FLOP per millisecond. */
  flopsPerMs: number;
  selfTest: 'passed';
}

export type DatasetSource =
  /** format: how the files at baseUrl are laid out (default fashion-mnist-idx-gz, the four gzipped IDX files). */
  | { kind: 'url'; baseUrl: string; format?: DatasetFormat }
  | { kind: 'arrays'; train: ImageDataset; test?: ImageDataset };

/** A unit of work: which training examples, against which parameter version. */
export interface MicroBatch {
  version: number;
  indices: Uint32Array;
  /**
   * Dropout's seed for this work (the lease's round): a unit's mask is a hash of the seed, the
   * example's index, the layer and the unit (src/model/layers/dropout.ts), so a recomputation of
   * the same work draws the same masks. Required when the model has dropout.
   */
  dropoutSeed?: number;
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
  /** A local-steps lease from the last loaded parameters (localSteps.ts): H inner AdamW steps, Δ = θ_v − θ_after. */
  localSteps(lease: LocalStepsLease): Promise<LocalStepsResult>;
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

export function validateParameters(layout: Pick<ResolvedModel, 'total' | 'parameterCount'>, version: number, params: unknown): Float32Array {
  if (!Number.isSafeInteger(version) || version < 0) {
    throw new InvalidInputError(`Parameter version must be a non-negative integer, got ${version}`);
  }
  if (!(params instanceof Float32Array)) {
    throw new InvalidInputError(`Parameters must be a Float32Array, got ${describe(params)}`);
  }
  if (params.length !== layout.total) {
    throw new InvalidInputError(
      `Parameters have ${params.length} values, but the model needs ${layout.total} (${layout.parameterCount} parameters and their padding)`,
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
  const { dropoutSeed } = batch as Partial<MicroBatch>;
  if (dropoutSeed !== undefined && !(Number.isInteger(dropoutSeed) && dropoutSeed >= 0 && dropoutSeed <= 0xffffffff)) {
    throw new InvalidInputError(`A micro-batch's dropoutSeed must be an integer in [0, 2^32), got ${dropoutSeed}`);
  }
  for (let i = 0; i < indices.length; i++) {
    if (indices[i] >= examples) {
      throw new InvalidInputError(`Example index ${indices[i]} (position ${i}) is out of range: the training set has ${examples} examples`);
    }
  }
  return indices;
}

export function validateGradient(layout: Pick<ResolvedModel, 'total'>, gradient: unknown): Float32Array {
  if (!(gradient instanceof Float32Array)) throw new InvalidInputError(`A gradient must be a Float32Array, got ${describe(gradient)}`);
  if (gradient.length !== layout.total) {
    throw new InvalidInputError(`The gradient has ${gradient.length} values, the model needs ${layout.total}`);
  }
  const bad = firstNonFinite(gradient);
  if (bad >= 0) throw new InvalidInputError(`Gradient value ${bad} is ${gradient[bad]}: gradients must be finite`);
  return gradient;
}

/** The backend choices in TrainerOptions; checked before init changes anything. */
export function validateBackendOptions(options: TrainerOptions): void {
  const { backend, cpuThreads, selectionBatch, selectionBudgetMs, selectionStartupMs, hardwareGpuOnly } = options;
  if (hardwareGpuOnly !== undefined && typeof hardwareGpuOnly !== 'boolean') {
    throw new InvalidInputError(`hardwareGpuOnly must be true or false, got ${JSON.stringify(hardwareGpuOnly)}`);
  }
  if (backend !== undefined && backend !== 'webgpu' && backend !== 'cpu' && backend !== 'auto') {
    throw new InvalidInputError(`backend must be 'webgpu', 'cpu' or 'auto', got ${JSON.stringify(backend)}`);
  }
  if (cpuThreads !== undefined && !(Number.isInteger(cpuThreads) && cpuThreads >= 1 && cpuThreads <= 16)) {
    throw new InvalidInputError(`cpuThreads must be an integer from 1 to 16, got ${cpuThreads}`);
  }
  if (selectionBatch !== undefined && !(Number.isInteger(selectionBatch) && selectionBatch >= 1 && selectionBatch <= MAX_MICRO_BATCH)) {
    throw new InvalidInputError(`selectionBatch must be an integer from 1 to ${MAX_MICRO_BATCH}, got ${selectionBatch}`);
  }
  if (selectionStartupMs !== undefined && !(Number.isFinite(selectionStartupMs) && selectionStartupMs > 0 && selectionStartupMs <= 600_000)) {
    throw new InvalidInputError(`selectionStartupMs must be a number of milliseconds in (0, 600000], got ${selectionStartupMs}`);
  }
  if (selectionBudgetMs !== undefined && !(Number.isFinite(selectionBudgetMs) && selectionBudgetMs > 0 && selectionBudgetMs <= 60_000)) {
    throw new InvalidInputError(`selectionBudgetMs must be a number of milliseconds in (0, 60000], got ${selectionBudgetMs}`);
  }
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
