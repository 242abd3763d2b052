// What a compute backend provides to the Trainer. The WebGPU backend and the CPU (WASM)
// backend implement the same maths behind this interface; the Trainer adds validation,
// versions, snapshots and recovery on top.

import type { OptimizerHyper } from '../kernels/optimizer.ts';
import type { ImageDataset } from '../data/dataset.ts';
import type { BackendReport } from './api.ts';

/** Dropout's randomness for one micro-batch: the work's seed and each example's position (src/model/layers/dropout.ts). */
export interface BackendDropout {
  seed: number;
  positions: Uint32Array;
}

export interface BackendGradient {
  loss: number;
  correct: number;
  gradient: Float32Array;
  /** Device time when the backend can measure it (GPU timestamps), else null. */
  deviceTimeMs: number | null;
  submits: number;
  readbacks: number;
}

export interface BackendState {
  params: Float32Array;
  state1: Float32Array;
  state2: Float32Array;
}

export interface TrainingBackend {
  readonly kind: BackendReport['backend'];
  report(): BackendReport;
  setDatasets(train: ImageDataset | null, test: ImageDataset | null): void | Promise<void>;
  setParameters(params: Float32Array): void | Promise<void>;
  setOptimizerState(state1: Float32Array, state2: Float32Array): void | Promise<void>;
  readState(): Promise<BackendState>;
  /**
   * Loss and gradient of the mean loss over training examples `indices`. A model with dropout
   * needs `dropout`: the seed of the work and one position per example, so that a
   * recomputation of the same work draws the same masks.
   */
  gradient(indices: Uint32Array, dropout?: BackendDropout): Promise<BackendGradient>;
  /** Gradient then optimizer step t, keeping the gradient on the device. */
  trainStep(indices: Uint32Array, hyper: OptimizerHyper, t: number, dropout?: BackendDropout): Promise<{ loss: number; correct: number; deviceTimeMs: number | null }>;
  /** Optimizer step t on `gradient`, or on the last computed gradient. */
  optimizerStep(hyper: OptimizerHyper, t: number, gradient?: Float32Array): Promise<void>;
  evaluate(split: 'train' | 'test', indices: Uint32Array): Promise<{ lossSum: number; correct: number; count: number }>;
  /** Whether the device behind this backend is gone (a lost GPU); CPU backends never are. */
  readonly lost: boolean;
  /** Destroy the device as a driver reset would (tests, chaos drills). */
  simulateLoss(): Promise<void>;
  dispose(): void;
}

/** Builds a backend; called again, with the same choices, to recover from a lost device. */
export type BackendFactory = () => Promise<TrainingBackend>;
