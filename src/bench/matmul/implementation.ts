// What the matmul suite measures: anything that computes C[N×N] = A[N×N]·B[N×N] and can say
// how long one run took and what that time included.

import type { RepeatPolicy } from '../../gpu/timing.ts';

export interface MatmulProblem {
  n: number;
  a: Float32Array;
  b: Float32Array;
}

export interface MatmulMeasurement {
  /** The fastest timed run. */
  ms: number;
  /** Wall-clock of the fastest run, from starting the work to knowing it finished. */
  wallMs: number;
  /** What `ms` includes and how it was taken, in words, for the row details. */
  timing: string;
  samplesMs: number[];
  warmups: number;
  /** The product, read back after timing, for verifyMatmul. */
  c: Float32Array;
  /** Anything else the row should carry (threads, configuration). */
  details?: Record<string, unknown>;
}

export interface MatmulImplementation {
  /** The row name, e.g. "ours 4x8_wg8x8_shared". */
  name: string;
  /** Which family it belongs to, for the checks. */
  family: 'ours' | 'reference' | 'onnxruntime-webgpu' | 'onnxruntime-wasm';
  /**
   * Runs at one size leave it warm for the next (same compiled pipeline), so a slow run needs
   * no warm-up; false where each size starts cold (a new ORT session compiles its shaders).
   */
  warmAcrossSizes: boolean;
  measure(problem: MatmulProblem, policy: RepeatPolicy): Promise<MatmulMeasurement>;
}

/** A set of implementations sharing a device or a runtime, set up once and torn down once. */
export interface MatmulProvider {
  /** For the log, e.g. "our WebGPU kernels". */
  title: string;
  open(log: (message: string) => void): Promise<MatmulImplementation[]>;
  close(): Promise<void>;
}
