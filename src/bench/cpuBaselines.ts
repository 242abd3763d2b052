// The CPU benchmarks' measurements and their wire format between the page and the bench
// worker (cpuBench.worker.ts). Each measurement runs in a fresh worker, because
// onnxruntime-web and tfjs-backend-wasm fix their thread count once per context: a fresh
// context per thread count, for ours and theirs alike, keeps the comparison fair.

import type { ImageDataset } from '../data/dataset.ts';
import type { CnnTrainFigures, CnnTrainRequest, ConvFigures, ConvMeasureRequest } from './cnn/cpuMeasure.ts';
import type { AttentionMeasureRequest } from './attention/cpuMeasure.ts';

/** Training the default MLP with AdamW on `train`: untimed warm-up steps, then at least minSteps for at least budgetMs. */
export interface MlpMeasureRequest {
  kind: 'ours-mlp' | 'tfjs-mlp';
  threads: number;
  batch: number;
  warmupSteps: number;
  budgetMs: number;
  minSteps: number;
  train: ImageDataset;
  seed: number;
}

export type CpuMeasureRequest =
  | { kind: 'ours-matmul'; n: number; threads: number; simd: 'relaxed' | 'plain'; budgetMs: number }
  | { kind: 'ort-matmul'; n: number; threads: number; budgetMs: number }
  | MlpMeasureRequest
  | ConvMeasureRequest
  | CnnTrainRequest
  | AttentionMeasureRequest;

export interface MatmulFigures {
  /** Best and median of the timed runs, milliseconds per C = A·B. */
  bestMs: number;
  medianMs: number;
  runs: number;
  /** A few elements of C, for a cross-check between implementations. */
  probe: number[];
  details: Record<string, unknown>;
}

export interface TrainingFigures {
  examplesPerSecond: number;
  steps: number;
  wallMs: number;
  firstLoss: number;
  lastLoss: number;
  details: Record<string, unknown>;
}

export type CpuMeasureFigures = MatmulFigures | TrainingFigures | ConvFigures | CnnTrainFigures;

export type CpuMeasureReply = { ok: true; figures: CpuMeasureFigures } | { ok: false; error: string };

/** Timed runs of `once` after one warm-up, until budgetMs has passed and at least 3 ran. */
export async function timeRepeatedly(once: () => Promise<unknown> | unknown, budgetMs: number): Promise<{ bestMs: number; medianMs: number; runs: number }> {
  await once();
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < 3 || performance.now() - start < budgetMs) {
    const t0 = performance.now();
    await once();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return { bestMs: samples[0], medianMs: samples[Math.floor(samples.length / 2)], runs: samples.length };
}

/** The same deterministic inputs for every implementation: A[i] = sin(i), B[i] = cos(i). */
export function matmulInputs(n: number): { a: Float32Array; b: Float32Array } {
  return { a: Float32Array.from({ length: n * n }, (_, i) => Math.sin(i)), b: Float32Array.from({ length: n * n }, (_, i) => Math.cos(i)) };
}

/** Positions of C read back as probes: corners and a middle element. */
export function probeIndices(n: number): number[] {
  return [0, n - 1, (n >> 1) * n + (n >> 1), n * n - 1];
}

/** The micro-batch of training step `step` (1-based): consecutive slices of a seeded order, wrapping around. */
export function batchIndices(order: Uint32Array, step: number, batch: number): Uint32Array {
  const slices = Math.floor(order.length / batch);
  if (slices < 1) throw new Error(`A training set of ${order.length} examples cannot fill a batch of ${batch}`);
  const start = ((step - 1) % slices) * batch;
  return order.subarray(start, start + batch);
}

/** Runs one request in a fresh bench worker and ends it. */
export async function measureInWorker(request: CpuMeasureRequest, signal?: AbortSignal): Promise<CpuMeasureFigures> {
  const worker = new Worker(new URL('./cpuBench.worker.ts', import.meta.url), { type: 'module', name: `swarmgrad bench ${request.kind}` });
  try {
    const reply = await new Promise<CpuMeasureReply>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent<CpuMeasureReply>) => resolve(e.data);
      worker.onerror = (e) => reject(new Error(`The bench worker for ${request.kind} failed: ${e.message || 'its script did not load'}`));
      signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
      worker.postMessage(request);
    });
    if (!reply.ok) throw new Error(`${request.kind} with ${request.threads} thread(s): ${reply.error}`);
    return reply.figures;
  } finally {
    worker.terminate();
  }
}

/** 1 and every core (when the page may run threads): the thread counts both sides are measured at. */
export function benchThreadCounts(): number[] {
  const cores = globalThis.crossOriginIsolated ? Math.max(1, navigator.hardwareConcurrency || 1) : 1;
  return [...new Set([1, Math.min(cores, 16)])];
}
