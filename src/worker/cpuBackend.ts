// The CPU backend: the job's model in WebAssembly SIMD on worker threads (src/cpu/cpuModel.ts,
// the CPU layer table), behind the
// same TrainingBackend interface as WebGPU. "Lost" means its threads died (a crash, or
// simulateLoss): the Trainer then builds a new one, as after a GPU device loss.

import type { OptimizerHyper } from '../kernels/optimizer.ts';
import type { ResolvedModel } from '../model/layers/spec.ts';
import type { ImageDataset } from '../data/dataset.ts';
import { CpuModel } from '../cpu/cpuModel.ts';
import type { SimdLevel } from '../cpu/kernels.ts';
import { runCpuModelSelfTest } from '../cpu/cpuModelSelfTest.ts';
import type { BackendReport } from './api.ts';
import type { BackendDropout, BackendGradient, TrainingBackend } from './backend.ts';

export interface CpuBackendOptions {
  model: ResolvedModel;
  /** Worker threads (default: one per core when cross-origin isolated, else 1). */
  threads?: number;
  /** Force a SIMD level (benchmarks, tests). */
  simd?: SimdLevel;
}

export class CpuBackend implements TrainingBackend {
  readonly kind = 'cpu' as const;

  private constructor(
    private readonly mlp: CpuModel,
    private readonly flopsPerMs: number,
  ) {}

  /** Starts the threads, runs the self-test on the job's model and times it. */
  static async create(options: CpuBackendOptions): Promise<CpuBackend> {
    const mlp = await CpuModel.create(options.model, { threads: options.threads, simd: options.simd });
    try {
      const { flopsPerMs } = await runCpuModelSelfTest(mlp);
      return new CpuBackend(mlp, flopsPerMs);
    } catch (error) {
      mlp.dispose();
      throw error;
    }
  }

  get lost(): boolean {
    return this.mlp.lost;
  }

  report(): BackendReport {
    return {
      backend: 'cpu',
      cpu: { threads: this.mlp.threads, simd: this.mlp.simd, crossOriginIsolated: globalThis.crossOriginIsolated === true },
      kernel: `wasm ${this.mlp.simd === 'relaxed' ? 'relaxed-SIMD (FMA)' : 'SIMD128'} 4x8, ${this.mlp.threads} thread${this.mlp.threads === 1 ? '' : 's'}`,
      tuning: null,
      flopsPerMs: this.flopsPerMs,
      selfTest: 'passed',
    };
  }

  setDatasets(train: ImageDataset | null, test: ImageDataset | null): Promise<void> {
    return this.mlp.setDatasets(train, test);
  }

  setParameters(params: Float32Array): void {
    this.mlp.setParameters(params);
  }

  setOptimizerState(state1: Float32Array, state2: Float32Array): void {
    this.mlp.setOptimizerState(state1, state2);
  }

  async readState() {
    return this.mlp.readState();
  }

  /** One job per gradient and one copy out: reported as one submit and one readback. */
  async gradient(indices: Uint32Array, dropout?: BackendDropout): Promise<BackendGradient> {
    const r = await this.mlp.gradient(indices, dropout);
    return { loss: r.loss, correct: r.correct, gradient: r.gradient, deviceTimeMs: null, submits: 1, readbacks: 1 };
  }

  async trainStep(indices: Uint32Array, hyper: OptimizerHyper, t: number, dropout?: BackendDropout) {
    const r = await this.mlp.trainStep(indices, hyper, t, dropout);
    return { loss: r.loss, correct: r.correct, deviceTimeMs: null };
  }

  optimizerStep(hyper: OptimizerHyper, t: number, gradient?: Float32Array): Promise<void> {
    return this.mlp.optimizerStep(hyper, t, gradient);
  }

  evaluate(split: 'train' | 'test', indices: Uint32Array) {
    return this.mlp.evaluate(split, indices);
  }

  async simulateLoss(): Promise<void> {
    this.mlp.kill();
  }

  dispose(): void {
    this.mlp.dispose();
  }
}
