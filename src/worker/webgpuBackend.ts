// The WebGPU backend: a GpuContext, the autotuned matmul configuration, the job's model
// (src/model/gpuModel.ts, the WebGPU layer table) and the datasets resident on the GPU.

import { GpuContext, GpuNotAvailableError } from '../gpu/context.ts';
import { autotuneMatmul, representativeShape, type TuneCache, type TuneResult } from '../kernels/autotune.ts';
import { configName, parseConfigName, type MatmulConfig } from '../kernels/matmul.ts';
import type { OptimizerHyper } from '../kernels/optimizer.ts';
import { runSelfTest } from '../kernels/selftest.ts';
import { GpuModel, destroyDataset, uploadDataset, type ResidentDataset } from '../model/gpuModel.ts';
import { largestLinearShape, type ResolvedModel } from '../model/layers/spec.ts';
import type { ImageDataset } from '../data/dataset.ts';
import type { BackendReport } from './api.ts';
import type { BackendDropout, BackendGradient, TrainingBackend } from './backend.ts';

export interface WebGpuBackendOptions {
  model: ResolvedModel;
  gpu?: GPU;
  maxSubmitMs?: number;
  /** A configuration name to use instead of autotuning. */
  matmulConfig?: string;
  tuneCache?: TuneCache;
  /** Refuse a software adapter before compiling anything (see TrainerOptions.hardwareGpuOnly). */
  hardwareGpuOnly?: boolean;
}

export class WebGpuBackend implements TrainingBackend {
  readonly kind = 'webgpu' as const;
  private train: ResidentDataset | null = null;
  private test: ResidentDataset | null = null;

  private constructor(
    private readonly ctx: GpuContext,
    private readonly mlp: GpuModel,
    private readonly config: MatmulConfig,
    private readonly tuning: TuneResult | null,
  ) {}

  /** Create the device, choose the matmul (forced, cached or autotuned), run the self-test. */
  static async create(options: WebGpuBackendOptions): Promise<WebGpuBackend> {
    const ctx = await GpuContext.create({ gpu: options.gpu });
    if (options.hardwareGpuOnly && ctx.report.isFallbackAdapter) {
      const name = [ctx.report.vendor, ctx.report.device, ctx.report.description].filter(Boolean).join(' ') || 'this adapter';
      ctx.destroy();
      throw new GpuNotAvailableError(`${name} is a software GPU: its compiles and compute would run beside the page's own frames, so it is not used here`);
    }
    try {
      let config: MatmulConfig;
      let tuning: TuneResult | null = null;
      if (options.matmulConfig) {
        config = parseConfigName(options.matmulConfig);
      } else {
        const largest = largestLinearShape(options.model);
        tuning = await autotuneMatmul(ctx, { shape: representativeShape([largest.k, largest.n]), cache: options.tuneCache });
        config = parseConfigName(tuning.best);
      }
      await runSelfTest(ctx, config);
      const mlp = new GpuModel(ctx, options.model, () => config, {
        maxSubmitMs: options.maxSubmitMs ?? 100,
        flopsPerMs: tuning?.flopsPerMs,
      });
      return new WebGpuBackend(ctx, mlp, config, tuning);
    } catch (error) {
      ctx.destroy();
      throw error;
    }
  }

  get lost(): boolean {
    return this.ctx.deviceLost;
  }

  report(): BackendReport {
    return {
      backend: 'webgpu',
      adapter: this.ctx.report,
      kernel: configName(this.config),
      tuning: this.tuning,
      flopsPerMs: this.tuning?.flopsPerMs ?? 0,
      selfTest: 'passed',
    };
  }

  setDatasets(train: ImageDataset | null, test: ImageDataset | null): void {
    this.ctx.assertAlive();
    if (this.train) destroyDataset(this.train);
    if (this.test) destroyDataset(this.test);
    this.train = train ? uploadDataset(this.ctx, train, 'train') : null;
    this.test = test ? uploadDataset(this.ctx, test, 'test') : null;
  }

  setParameters(params: Float32Array): void {
    this.ctx.assertAlive();
    this.mlp.setParameters(params);
  }

  setOptimizerState(state1: Float32Array, state2: Float32Array): void {
    this.ctx.assertAlive();
    this.mlp.setOptimizerState(state1, state2);
  }

  readState() {
    this.ctx.assertAlive();
    return this.mlp.readState();
  }

  async gradient(indices: Uint32Array, dropout?: BackendDropout): Promise<BackendGradient> {
    this.ctx.assertAlive();
    const before = this.ctx.counters.readbacks;
    const r = await this.mlp.gradient(this.requireTrain(), indices, dropout);
    return {
      loss: r.loss,
      correct: r.correct,
      gradient: r.gradient,
      deviceTimeMs: r.gpuTimeMs,
      submits: r.submits,
      readbacks: this.ctx.counters.readbacks - before,
    };
  }

  async trainStep(indices: Uint32Array, hyper: OptimizerHyper, t: number, dropout?: BackendDropout) {
    this.ctx.assertAlive();
    const r = await this.mlp.trainStep(this.requireTrain(), indices, hyper, t, dropout);
    return { loss: r.loss, correct: r.correct, deviceTimeMs: r.gpuTimeMs };
  }

  optimizerStep(hyper: OptimizerHyper, t: number, gradient?: Float32Array): Promise<void> {
    this.ctx.assertAlive();
    return this.mlp.optimizerStep(hyper, t, gradient);
  }

  evaluate(split: 'train' | 'test', indices: Uint32Array) {
    this.ctx.assertAlive();
    const data = split === 'train' ? this.train : this.test;
    if (!data) throw new Error(`No ${split} set is on the GPU`);
    return this.mlp.evaluate(data, indices);
  }

  async simulateLoss(): Promise<void> {
    this.ctx.device.destroy();
    await this.ctx.lost;
  }

  dispose(): void {
    this.mlp.destroy();
    this.ctx.destroy();
  }

  private requireTrain(): ResidentDataset {
    if (!this.train) throw new Error('No training set is on the GPU');
    return this.train;
  }
}
