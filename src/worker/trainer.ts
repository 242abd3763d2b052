// The trainer that runs inside the worker: validates every call, keeps versions and the
// CPU-side copies needed to survive a lost device (recreate it, re-upload, retry), and
// drives whichever backend computes (WebGPU or CPU).

import { DeviceLostError } from '../gpu/context.ts';
import type { OptimizerHyper } from '../kernels/optimizer.ts';
import { ModelSpecError, gradientFlops, initModelParameters, parseModelSpec, resolveModel, type ResolvedModel } from '../model/layers/spec.ts';
import { labelsPerExample, type DatasetFormat, type ImageDataset } from '../data/dataset.ts';
import {
  InvalidInputError,
  firstNonFinite,
  validateGradient,
  validateMicroBatch,
  validateBackendOptions,
  validateParameters,
  type BackendReport,
  type DatasetSource,
  type EvaluationResult,
  type GradientResult,
  type MicroBatch,
  type TrainStepResult,
  type TrainerApi,
  type TrainerOptions,
} from './api.ts';
import type { BackendDropout, BackendFactory, TrainingBackend } from './backend.ts';
import { runLocalSteps, type LocalStepsLease, type LocalStepsResult } from './localSteps.ts';

/** Device losses in a row after which a call gives up. */
const MAX_RECOVERIES = 3;
const EVAL_CHUNK = 1000;

export interface TrainerDeps {
  /** Makes the backend for these options; the Trainer calls the returned factory again to recover. */
  backendFor: (options: TrainerOptions, model: ResolvedModel) => BackendFactory;
  loadDatasetFromUrl?: (baseUrl: string, format: DatasetFormat) => Promise<{ train: ImageDataset; test: ImageDataset }>;
}

interface Snapshot {
  version: number;
  step: number;
  params: Float32Array;
  state1: Float32Array;
  state2: Float32Array;
}

export class Trainer implements TrainerApi {
  private options: TrainerOptions | null = null;
  private model: ResolvedModel | null = null;
  private backend: TrainingBackend | null = null;
  private createBackend: BackendFactory | null = null;
  private train: ImageDataset | null = null;
  private test: ImageDataset | null = null;
  /** The parameter version on the device, and the CPU copy to restore after a device loss. */
  private version: number | null = null;
  private step = 0;
  private snapshot: Snapshot | null = null;
  private stepsSinceSnapshot = 0;
  private hasGradient = false;
  /** The parameters last loaded, which local-steps leases start from. */
  private loaded: { version: number; params: Float32Array } | null = null;

  constructor(private readonly deps: TrainerDeps) {}

  async init(options: TrainerOptions): Promise<BackendReport> {
    const model = resolveTrainerModel(options?.spec);
    validateBackendOptions(options);
    this.backend?.dispose();
    this.backend = null;
    this.createBackend = this.deps.backendFor(options, model);
    this.backend = await this.createBackend();
    this.options = options;
    this.model = model;
    this.version = null;
    this.snapshot = null;
    if (this.train) await this.backend.setDatasets(this.train, this.test);
    return this.backend.report();
  }

  async loadDataset(source: DatasetSource): Promise<{ train: number; test: number }> {
    this.requireInit();
    let splits: { train: ImageDataset; test?: ImageDataset };
    if (source?.kind === 'url') {
      if (!this.deps.loadDatasetFromUrl) throw new InvalidInputError('This trainer cannot fetch datasets by URL');
      splits = await this.deps.loadDatasetFromUrl(source.baseUrl, source.format ?? 'fashion-mnist-idx-gz');
    } else if (source?.kind === 'arrays') {
      splits = source;
    } else {
      throw new InvalidInputError(`A dataset source is {kind: 'url', baseUrl} or {kind: 'arrays', train, test?}, got ${JSON.stringify(source)}`);
    }
    const model = this.model!;
    for (const [name, ds] of [['train', splits.train], ['test', splits.test]] as const) {
      if (!ds) continue;
      if (ds.features !== model.inputSize) {
        throw new InvalidInputError(`The ${name} set has ${ds.features} features per example; the model's input is ${model.inputSize} ([${model.inputShape.join(',')}])`);
      }
      if (ds.classes > model.classes) throw new InvalidInputError(`The ${name} set has ${ds.classes} classes; the model outputs ${model.classes}`);
    }
    this.train = splits.train;
    this.test = splits.test ?? null;
    await this.withRecovery('upload the dataset', (b) => b.setDatasets(this.train, this.test));
    return { train: this.train.count, test: this.test?.count ?? 0 };
  }

  async loadParameters(version: number, params: Float32Array): Promise<void> {
    const layout = this.requireInit();
    validateParameters(layout, version, params);
    const copy = params.slice();
    const zeros = new Float32Array(layout.total);
    await this.withRecovery('load parameters', async (b) => {
      await b.setParameters(copy);
      // A fresh optimizer state: in distributed runs the coordinator owns it.
      await b.setOptimizerState(zeros, zeros);
    });
    this.version = version;
    this.step = 0;
    this.hasGradient = false;
    this.snapshot = { version, step: 0, params: copy, state1: zeros, state2: zeros };
    this.stepsSinceSnapshot = 0;
    this.loaded = { version, params: copy };
  }

  async initParameters(seed: number): Promise<{ version: number }> {
    const layout = this.requireInit();
    if (!Number.isInteger(seed)) throw new InvalidInputError(`The seed must be an integer, got ${seed}`);
    await this.loadParameters(0, initModelParameters(layout, seed));
    return { version: 0 };
  }

  async computeGradient(batch: MicroBatch): Promise<GradientResult> {
    const layout = this.requireInit();
    const indices = validateMicroBatch(batch, this.version, this.train?.count ?? 0);
    const t0 = performance.now();
    let recoveries = 0;
    const result = await this.withRecovery(
      'compute the gradient',
      (b) => {
        if (this.version !== batch.version) {
          // Only local training steps can roll the version back; a gradient is never
          // silently computed against other parameters than the ones asked for.
          throw new Error(`The device was lost and parameters rolled back to version ${this.version}; version ${batch.version} is gone`);
        }
        return b.gradient(indices, dropoutOf(batch, indices));
      },
      () => recoveries++,
    );
    const bad = firstNonFinite(result.gradient);
    if (!Number.isFinite(result.loss) || bad >= 0) {
      throw new Error(
        `The gradient is not finite (loss ${result.loss}${bad >= 0 ? `, gradient[${bad}] = ${result.gradient[bad]}` : ''}): ` +
          'the parameters have diverged or this device computes incorrectly. Nothing was sent.',
      );
    }
    this.hasGradient = true;
    return {
      version: batch.version,
      loss: result.loss,
      correct: result.correct,
      exampleCount: indices.length,
      gradient: result.gradient,
      gpuTimeMs: result.deviceTimeMs,
      wallTimeMs: performance.now() - t0,
      flops: gradientFlops(layout, indices.length),
      submits: result.submits,
      readbacks: result.readbacks,
      recoveries,
    };
  }

  async optimizerStep(hyper: OptimizerHyper, gradient?: Float32Array): Promise<{ version: number; step: number }> {
    const layout = this.requireInit();
    this.requireParameters();
    validateHyper(hyper);
    if (gradient !== undefined) validateGradient(layout, gradient);
    else if (!this.hasGradient) throw new InvalidInputError('No gradient to apply: compute one first or pass one in');
    const t = this.step + 1;
    await this.withRecovery('apply the optimizer', (b) => b.optimizerStep(hyper, t, gradient));
    return this.afterStep();
  }

  async trainStep(batch: MicroBatch, hyper: OptimizerHyper): Promise<TrainStepResult> {
    this.requireInit();
    const indices = validateMicroBatch(batch, this.version, this.train?.count ?? 0);
    validateHyper(hyper);
    const t0 = performance.now();
    let recoveries = 0;
    // After a device loss the step resumes from the last snapshot: t is read at each try.
    const r = await this.withRecovery('run a training step', (b) => b.trainStep(indices, hyper, this.step + 1, dropoutOf(batch, indices)), () => recoveries++);
    if (!Number.isFinite(r.loss)) throw new Error(`The training loss is ${r.loss}: training diverged; lower the learning rate`);
    const { version, step } = await this.afterStep();
    return {
      version,
      step,
      loss: r.loss,
      correct: r.correct,
      exampleCount: indices.length,
      gpuTimeMs: r.deviceTimeMs,
      wallTimeMs: performance.now() - t0,
      recoveries,
    };
  }

  async localSteps(lease: LocalStepsLease): Promise<LocalStepsResult> {
    this.requireInit();
    const loaded = this.loaded;
    if (!loaded) throw new InvalidInputError('No parameters are loaded: call loadParameters first');
    if (lease?.version !== loaded.version) {
      throw new InvalidInputError(`Stale parameter version: the lease is for version ${lease?.version}, the worker last loaded version ${loaded.version}`);
    }
    return runLocalSteps(this, loaded.params, lease);
  }

  async evaluate(split: 'train' | 'test', limit?: number): Promise<EvaluationResult> {
    this.requireInit();
    this.requireParameters();
    const ds = split === 'train' ? this.train : split === 'test' ? this.test : undefined;
    if (ds === undefined) throw new InvalidInputError(`Evaluate 'train' or 'test', got ${JSON.stringify(split)}`);
    if (!ds) throw new InvalidInputError(`No ${split} set is loaded`);
    const count = Math.min(ds.count, limit ?? ds.count);
    let lossSum = 0;
    let correct = 0;
    let labels = 0;
    // Chunks of EVAL_CHUNK rows of work: examples, or windows of T positions each.
    const chunk = Math.max(1, Math.floor(EVAL_CHUNK / labelsPerExample(ds)));
    for (let start = 0; start < count; start += chunk) {
      const n = Math.min(chunk, count - start);
      const indices = Uint32Array.from({ length: n }, (_, i) => start + i);
      const r = await this.withRecovery('evaluate', (b) => b.evaluate(split, indices));
      lossSum += r.lossSum;
      correct += r.correct;
      labels += r.count;
    }
    // The mean over the labels: one per example, or one per position of a window.
    return { loss: lossSum / labels, accuracy: correct / labels, count };
  }

  async getParameters(): Promise<{ version: number; params: Float32Array }> {
    this.requireInit();
    const version = this.requireParameters();
    const state = await this.withRecovery('read parameters', (b) => b.readState());
    return { version, params: state.params };
  }

  async simulateDeviceLoss(): Promise<void> {
    this.requireInit();
    await this.backend!.simulateLoss();
  }

  async dispose(): Promise<void> {
    this.backend?.dispose();
    this.backend = null;
  }

  private async afterStep(): Promise<{ version: number; step: number }> {
    this.step++;
    this.version = this.version! + 1;
    this.hasGradient = false;
    this.stepsSinceSnapshot++;
    if (this.stepsSinceSnapshot >= (this.options!.snapshotEvery ?? 50)) {
      const s = await this.backend!.readState();
      this.snapshot = { version: this.version, step: this.step, ...s };
      this.stepsSinceSnapshot = 0;
    }
    return { version: this.version, step: this.step };
  }

  /**
   * Run `op` on the backend; if its device is lost (before or during), make a new one,
   * restore the datasets and the last snapshot of parameters and optimizer state, and
   * run it again.
   */
  private async withRecovery<T>(what: string, op: (b: TrainingBackend) => Promise<T> | T, onRecover?: () => void): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await op(this.backend!);
      } catch (error) {
        if (!(error instanceof DeviceLostError) && !this.backend!.lost) throw error;
        if (attempt >= MAX_RECOVERIES) {
          throw new DeviceLostError(
            `Could not ${what}: the device was lost ${attempt + 1} times in a row (${(error as Error).message}). ` +
              'The GPU or its driver is unstable; try again later or use another device.',
          );
        }
        console.warn(`Device lost while trying to ${what}; recreating it (attempt ${attempt + 1}): ${(error as Error).message}`);
        await this.recover();
        onRecover?.();
      }
    }
  }

  private async recover(): Promise<void> {
    this.backend!.dispose();
    const backend = await this.createBackend!();
    await backend.setDatasets(this.train, this.test);
    if (this.snapshot) {
      await backend.setParameters(this.snapshot.params);
      await backend.setOptimizerState(this.snapshot.state1, this.snapshot.state2);
      // Steps since the snapshot are lost with the device: training resumes from it.
      this.version = this.snapshot.version;
      this.step = this.snapshot.step;
      this.stepsSinceSnapshot = 0;
    }
    this.hasGradient = false;
    this.backend = backend;
  }

  private requireInit(): ResolvedModel {
    if (!this.model || !this.backend) throw new InvalidInputError('The trainer is not initialised: call init first');
    return this.model;
  }

  private requireParameters(): number {
    if (this.version === null) throw new InvalidInputError('No parameters are loaded: call loadParameters or initParameters first');
    return this.version;
  }
}

function validateHyper(h: OptimizerHyper): void {
  if (typeof h !== 'object' || h === null || (h.kind !== 'adamw' && h.kind !== 'sgd')) {
    throw new InvalidInputError(`Optimizer hyper-parameters need kind 'adamw' or 'sgd', got ${JSON.stringify(h)}`);
  }
  for (const [name, value] of Object.entries(h).filter(([k]) => k !== 'kind')) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new InvalidInputError(`Optimizer ${name} must be a finite non-negative number, got ${value}`);
    }
  }
}

/** The model of init's options, checked as untrusted input: a bad one is the caller's error, named by field. */
function resolveTrainerModel(spec: unknown): ResolvedModel {
  try {
    return resolveModel(parseModelSpec(spec));
  } catch (error) {
    if (error instanceof ModelSpecError) throw new InvalidInputError(`The model is invalid: ${error.message}`);
    throw error;
  }
}

/** The dropout context of a micro-batch: its seed and each example's index as its position. */
function dropoutOf(batch: MicroBatch, indices: Uint32Array): BackendDropout | undefined {
  return batch.dropoutSeed === undefined ? undefined : { seed: batch.dropoutSeed, positions: indices };
}
