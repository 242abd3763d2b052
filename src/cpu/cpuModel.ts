// Any layer-table model (src/model/layers/spec.ts) on the CPU backend: parameters, gradient,
// optimizer state, datasets and every activation in one WebAssembly memory laid out by
// cpuModelPlan.ts, each layer computed by its entry of cpuModelLayers.ts on the threads of
// one executor. The same public surface and semantics as CpuMlp (inputs byte/255, gradient
// of the mean loss, AdamW/SGD with clipping), and for an MLP the same bits: the same kernels
// are called in the same order. Runs in Node on one thread (no SharedArrayBuffer needed).

import { labelsPerExample, type ImageDataset } from '../data/dataset.ts';
import type { OptimizerHyper } from '../kernels/optimizer.ts';
import { checkU32 } from '../model/layers/dropout.ts';
import { checkTokenIds, describeLabelsPerExample, findDropout, type ResolvedLayer, type ResolvedLinear, type ResolvedModel } from '../model/layers/spec.ts';
import { optimizerArgs, type CpuGradient } from './cpuMlp.ts';
import { planModel, specRegion, type CpuModelPlan, type CpuNode, type ModelPlanInputs } from './cpuModelPlan.ts';
import { createExecutor, type CpuExecutor, type ExecutorOptions } from './executor.ts';
import type { CpuJob } from './jobs.ts';
import type { Region } from './memoryPlan.ts';

/** Batch buffers grow in steps of this many rows, so that nearby batch sizes share a plan. */
/** Batch capacity grows in steps of this many rows of work: examples, or positions of a sequence model (a step of 128 / T sequences). */
const CAPACITY_STEP = 128;
const capacityStep = (model: ResolvedModel) => Math.max(1, Math.floor(CAPACITY_STEP / model.labelsPerExample));

/** A call as the jobs it runs, in order: the executor runs each yielded job before the next step. */
type Steps<T> = Generator<CpuJob, T, void>;

/**
 * The calls the coordinator makes, synchronous: with one thread the jobs run on the caller's
 * thread, so a spot check or an evaluation needs no await (CpuModel.inline).
 */
export interface InlineCpuModel {
  readonly model: ResolvedModel;
  setDatasets(train: ImageDataset | null, test: ImageDataset | null): void;
  setParameters(params: Float32Array): void;
  setOptimizerState(state1: Float32Array, state2: Float32Array): void;
  readState(): { params: Float32Array; state1: Float32Array; state2: Float32Array };
  gradient(indices: Uint32Array, dropout?: CpuDropout): CpuGradient;
  gradientWith(indices: Uint32Array, between: (relus: ReluInput[]) => void, dropout?: CpuDropout): CpuGradient;
  /** The linears with a ReLU fused into them, in the order gradientWith lists them. */
  fusedRelus(): ResolvedLinear[];
  trainStep(indices: Uint32Array, hyper: OptimizerHyper, t: number, dropout?: CpuDropout): { loss: number; correct: number };
  evaluate(split: 'train' | 'test', indices: Uint32Array): { lossSum: number; correct: number; count: number };
  /** Logits for raw inputs in evaluation mode (CpuModel.logits). */
  logits(x: Float32Array, batch: number): Float32Array;
}

/**
 * A ReLU fused into the linear before it, as a gradient's forward left it (views into the
 * memory, valid until the next call): the backward reads only the sign of z, so a caller
 * that sets an entry of z to the other sign sends that unit's gradient the other way
 * (verification's kink resolution, src/coordinator/kinkModel.ts).
 */
export interface ReluInput {
  layer: ResolvedLinear;
  /** The linear's input, rows × inFeatures, row-major. */
  x: Float32Array;
  /** Its pre-activation, rows × outFeatures, row-major. */
  z: Float32Array;
}

/** Dropout's randomness in training: the lease's seed and each example's dataset position. */
export interface CpuDropout {
  seed: number;
  /** positions[i] is the dataset position of example i of the micro-batch. */
  positions: Uint32Array;
}

export class CpuModel {
  private plan: CpuModelPlan;
  /** The packed weights are stale: parameters changed since they were packed. */
  private repack = true;
  private datasets: { train: ImageDataset | null; test: ImageDataset | null } = { train: null, test: null };
  /** The first dropout layer with p > 0, or null: training needs a CpuDropout when there is one. */
  private readonly stochastic: ResolvedLayer | null;

  private constructor(
    readonly model: ResolvedModel,
    private readonly executor: CpuExecutor,
    private readonly specBytes: number,
  ) {
    this.plan = planModel(model, this.planInputs(0, 0, capacityStep(model)), executor.heapBase);
    this.stochastic = findDropout(model.layers);
  }

  static async create(model: ResolvedModel, options: ExecutorOptions = {}): Promise<CpuModel> {
    const spec = new TextEncoder().encode(JSON.stringify(model.spec));
    const executor = await createExecutor(options);
    try {
      const cpu = new CpuModel(model, executor, spec.length);
      const region = specRegion(executor.heapBase, spec.length);
      executor.ensureBytes(region.offset + region.bytes);
      new Uint8Array(executor.memory.buffer, region.offset, region.bytes).set(spec);
      await cpu.drive(cpu.configure(cpu.plan.inputs));
      return cpu;
    } catch (error) {
      executor.dispose();
      throw error;
    }
  }

  get threads(): number {
    return this.executor.threads;
  }

  /** The same model behind synchronous calls; needs threads: 1 (the jobs run on the caller's thread). */
  get inline(): InlineCpuModel {
    if (!this.executor.runSync) throw new Error(`CpuModel.inline needs the CPU backend on the caller's thread (threads: 1), this one has ${this.executor.threads}`);
    return {
      model: this.model,
      setDatasets: (train, test) => this.driveSync(this.setDatasetsSteps(train, test)),
      setParameters: (params) => this.setParameters(params),
      setOptimizerState: (state1, state2) => this.setOptimizerState(state1, state2),
      readState: () => this.readState(),
      gradient: (indices, dropout) => this.driveSync(this.gradientSteps(indices, dropout)),
      gradientWith: (indices, between, dropout) => this.driveSync(this.gradientWithSteps(indices, between, dropout)),
      fusedRelus: () => this.fusedRelus(),
      trainStep: (indices, hyper, t, dropout) => this.driveSync(this.trainStepSteps(indices, hyper, t, dropout)),
      evaluate: (split, indices) => this.driveSync(this.evaluateSteps(split, indices)),
      logits: (x, batch) => this.driveSync(this.logitsSteps(x, batch)),
    };
  }

  get simd() {
    return this.executor.simd;
  }

  get lost(): boolean {
    return this.executor.lost;
  }

  /** Copies both splits into the memory; labels are checked against the model's classes first. */
  setDatasets(train: ImageDataset | null, test: ImageDataset | null): Promise<void> {
    return this.drive(this.setDatasetsSteps(train, test));
  }

  private *setDatasetsSteps(train: ImageDataset | null, test: ImageDataset | null): Steps<void> {
    const { classes, inputSize: features, labelsPerExample: per } = this.model;
    for (const [name, ds] of [['train', train], ['test', test]] as const) {
      if (!ds) continue;
      if (ds.features !== features) throw new Error(`The ${name} set has ${ds.features} features per example; the model's input is ${features}`);
      if (labelsPerExample(ds) !== per) {
        throw new Error(`The ${name} set has ${describeLabelsPerExample(labelsPerExample(ds))}, the model takes ${describeLabelsPerExample(per)}`);
      }
      if (ds.images.length < ds.count * features || ds.labels.length < ds.count * per) {
        throw new Error(`The ${name} set is truncated: ${ds.count} examples need ${ds.count * features} image bytes and ${ds.count * per} labels`);
      }
      for (let i = 0; i < ds.count * per; i++) {
        if (ds.labels[i] >= classes) throw new Error(`The ${name} set's label ${i} is ${ds.labels[i]}; the model has ${classes} classes`);
      }
    }
    yield* this.configure({ ...this.plan.inputs, trainCount: train?.count ?? 0, testCount: test?.count ?? 0 });
    const bytes = new Uint8Array(this.executor.memory.buffer);
    for (const [ds, regions] of [[train, this.plan.train], [test, this.plan.test]] as const) {
      if (!ds) continue;
      bytes.set(ds.images.subarray(0, ds.count * ds.features), regions.images.offset);
      bytes.set(ds.labels.subarray(0, ds.count * per), regions.labels.offset);
    }
    this.datasets = { train, test };
  }

  setParameters(params: Float32Array): void {
    this.floats(this.plan.params).set(this.checkFlat('Parameters', params));
    this.repack = true;
  }

  setOptimizerState(state1: Float32Array, state2: Float32Array): void {
    this.floats(this.plan.state1).set(this.checkFlat('Optimizer state 1', state1));
    this.floats(this.plan.state2).set(this.checkFlat('Optimizer state 2', state2));
  }

  readState(): { params: Float32Array; state1: Float32Array; state2: Float32Array } {
    const { params, state1, state2 } = this.plan;
    return { params: this.floats(params).slice(), state1: this.floats(state1).slice(), state2: this.floats(state2).slice() };
  }

  /** Loss and gradient of the mean loss over training examples `indices`; a model with dropout needs `dropout`. */
  gradient(indices: Uint32Array, dropout?: CpuDropout): Promise<CpuGradient> {
    return this.drive(this.gradientSteps(indices, dropout));
  }

  private *gradientSteps(indices: Uint32Array, dropout?: CpuDropout): Steps<CpuGradient> {
    const batch = yield* this.writeIndices(indices, 'train');
    const dropoutSeed = this.writeDropout(dropout, batch, 'gradient');
    yield* this.runWeights({ kind: 'model-gradient', batch, repack: this.repack, optimizer: null, dropoutSeed, source: 'train', phase: 'all' });
    return { ...this.rowSummary(batch), gradient: this.floats(this.plan.grads).slice() };
  }

  /**
   * gradient(), with `between` called after the forward and before the backward on the
   * ReLUs fused into linears (their inputs and pre-activations, which it may change).
   */
  gradientWith(indices: Uint32Array, between: (relus: ReluInput[]) => void, dropout?: CpuDropout): Promise<CpuGradient> {
    return this.drive(this.gradientWithSteps(indices, between, dropout));
  }

  private *gradientWithSteps(indices: Uint32Array, between: (relus: ReluInput[]) => void, dropout?: CpuDropout): Steps<CpuGradient> {
    const batch = yield* this.writeIndices(indices, 'train');
    const dropoutSeed = this.writeDropout(dropout, batch, 'gradientWith');
    const job = { kind: 'model-gradient', batch, optimizer: null, dropoutSeed, source: 'train' } as const;
    yield* this.runWeights({ ...job, repack: this.repack, phase: 'forward' });
    between(this.reluInputs(batch));
    yield { ...job, repack: false, phase: 'backward' };
    return { ...this.rowSummary(batch), gradient: this.floats(this.plan.grads).slice() };
  }

  /** The linears with a ReLU fused into them, in layer order (residual branches included). */
  fusedRelus(): ResolvedLinear[] {
    return this.fusedReluNodes().map((n) => n.layer);
  }

  private fusedReluNodes(): CpuNode<'linear'>[] {
    const found: CpuNode<'linear'>[] = [];
    const walk = (nodes: readonly CpuNode[]) => {
      for (const n of nodes) {
        if (n.layer.kind === 'linear' && n.act === 'relu') found.push(n as CpuNode<'linear'>);
        walk(n.branch);
      }
    };
    walk(this.plan.nodes);
    return found;
  }

  /** The fused linear + ReLU nodes' inputs and pre-activations over `batch` rows. */
  private reluInputs(batch: number): ReluInput[] {
    const memory = this.executor.memory.buffer;
    return this.fusedReluNodes().map((n) => ({
      layer: n.layer,
      x: new Float32Array(memory, n.x.offset, batch * n.inSize),
      z: new Float32Array(memory, n.buffers.z!.offset, batch * n.outSize),
    }));
  }

  /**
   * Loss and gradient of the mean loss over raw inputs x (batch × the input size, any floats) and
   * their labels; a next-token model takes T token ids per example and a label per position.
   */
  gradientOf(x: Float32Array, labels: ArrayLike<number>, dropout?: CpuDropout): Promise<CpuGradient> {
    return this.drive(this.gradientOfSteps(x, labels, dropout));
  }

  private *gradientOfSteps(x: Float32Array, labels: ArrayLike<number>, dropout?: CpuDropout): Steps<CpuGradient> {
    const per = this.model.labelsPerExample;
    if (labels.length % per !== 0) throw new Error(`gradientOf: labels has ${labels.length} values, not a multiple of the ${per} labels (one per position) of an example`);
    const batch = labels.length / per;
    const features = this.model.inputSize;
    if (!(x instanceof Float32Array) || batch < 1 || x.length !== batch * features) {
      throw new Error(`gradientOf needs a Float32Array of batch·${features} inputs and at least one example, got ${x?.length} values for ${batch} examples`);
    }
    checkTokenIds('gradientOf', this.model, x);
    for (let i = 0; i < labels.length; i++) {
      if (!Number.isInteger(labels[i]) || labels[i] < 0 || labels[i] >= this.model.classes) {
        throw new Error(`gradientOf: labels[${i}] = ${labels[i]} is not a class index in [0, ${this.model.classes})`);
      }
    }
    yield* this.ensureCapacity(batch);
    this.floats(this.plan.batch.x).set(x);
    new Int32Array(this.executor.memory.buffer, this.plan.batch.labels.offset, labels.length).set(Array.from(labels));
    const dropoutSeed = this.writeDropout(dropout, batch, 'gradientOf');
    yield* this.runWeights({ kind: 'model-gradient', batch, repack: this.repack, optimizer: null, dropoutSeed, source: 'raw', phase: 'all' });
    return { ...this.rowSummary(batch), gradient: this.floats(this.plan.grads).slice() };
  }

  /** Gradient, then optimizer step t, in one job. */
  trainStep(indices: Uint32Array, hyper: OptimizerHyper, t: number, dropout?: CpuDropout): Promise<{ loss: number; correct: number }> {
    return this.drive(this.trainStepSteps(indices, hyper, t, dropout));
  }

  private *trainStepSteps(indices: Uint32Array, hyper: OptimizerHyper, t: number, dropout?: CpuDropout): Steps<{ loss: number; correct: number }> {
    const optimizer = optimizerArgs(hyper, t);
    const batch = yield* this.writeIndices(indices, 'train');
    const dropoutSeed = this.writeDropout(dropout, batch, 'trainStep');
    yield* this.runWeights({ kind: 'model-gradient', batch, repack: this.repack, optimizer, dropoutSeed, source: 'train', phase: 'all' });
    this.repack = true;
    return this.rowSummary(batch);
  }

  /** Optimizer step t on `gradient`, or on the last computed gradient. */
  optimizerStep(hyper: OptimizerHyper, t: number, gradient?: Float32Array): Promise<void> {
    return this.drive(this.optimizerStepSteps(hyper, t, gradient));
  }

  private *optimizerStepSteps(hyper: OptimizerHyper, t: number, gradient?: Float32Array): Steps<void> {
    const optimizer = optimizerArgs(hyper, t);
    if (gradient) {
      const grads = this.floats(this.plan.grads);
      grads.set(this.checkFlat('The gradient', gradient));
      // Padding between tensors stays zero, as in a computed gradient, so padding parameters never move.
      let end = 0;
      for (const t of this.model.tensors) {
        grads.fill(0, end, t.offset);
        end = t.offset + t.length;
      }
      grads.fill(0, end);
    }
    yield { kind: 'model-optimizer', optimizer };
    this.repack = true;
  }

  /** Summed loss and correct count over `indices` of a split, forward only (dropout is the identity). */
  evaluate(split: 'train' | 'test', indices: Uint32Array): Promise<{ lossSum: number; correct: number; count: number }> {
    return this.drive(this.evaluateSteps(split, indices));
  }

  private *evaluateSteps(split: 'train' | 'test', indices: Uint32Array): Steps<{ lossSum: number; correct: number; count: number }> {
    const batch = yield* this.writeIndices(indices, split);
    yield* this.runWeights({ kind: 'model-forward', batch, repack: this.repack, source: split });
    const rows = this.rowSummary(batch);
    const count = batch * this.model.labelsPerExample;
    return { lossSum: rows.loss * count, correct: rows.correct, count };
  }

  /** Logits for raw inputs x (batch × the model's input size, already scaled to [0, 1]), in evaluation mode. */
  logits(x: Float32Array, batch: number): Promise<Float32Array> {
    return this.drive(this.logitsSteps(x, batch));
  }

  private *logitsSteps(x: Float32Array, batch: number): Steps<Float32Array> {
    const features = this.model.inputSize;
    if (!(x instanceof Float32Array) || !Number.isInteger(batch) || batch < 1 || x.length !== batch * features) {
      throw new Error(`Logits need a Float32Array of batch·${features} inputs for a positive integer batch, got ${x?.length} values for batch ${batch}`);
    }
    checkTokenIds('logits', this.model, x);
    yield* this.ensureCapacity(batch);
    this.floats(this.plan.batch.x).set(x);
    yield* this.runWeights({ kind: 'model-forward', batch, repack: this.repack, source: 'raw' });
    return this.floats(this.plan.logits).slice(0, batch * this.model.labelsPerExample * this.model.classes);
  }

  /** Ends the threads as a crash would: the executor is lost afterwards. */
  kill(): void {
    this.executor.kill();
  }

  dispose(): void {
    this.executor.dispose();
  }

  /** Bytes of WebAssembly memory the current plan uses. */
  get memoryBytes(): number {
    return this.plan.end;
  }

  private planInputs(trainCount: number, testCount: number, batchCapacity: number): ModelPlanInputs {
    return { specBytes: this.specBytes, trainCount, testCount, batchCapacity, threads: this.executor.threads };
  }

  /** Runs a job that packs the weights when they are stale; they are fresh after it. */
  private *runWeights(job: CpuJob): Steps<void> {
    yield job;
    this.repack = false;
  }

  private *configure(inputs: ModelPlanInputs): Steps<void> {
    const plan = planModel(this.model, inputs, this.executor.heapBase);
    this.executor.ensureBytes(plan.end);
    yield { kind: 'model-configure', inputs };
    this.plan = plan;
  }

  private *ensureCapacity(batch: number): Steps<void> {
    if (batch <= this.plan.batch.capacity) return;
    const step = capacityStep(this.model);
    yield* this.configure({ ...this.plan.inputs, batchCapacity: Math.ceil(batch / step) * step });
  }

  /** Runs a call's jobs one after the other on the executor's threads. */
  private async drive<T>(steps: Steps<T>): Promise<T> {
    for (let step = steps.next(); ; step = steps.next()) {
      if (step.done) return step.value;
      await this.executor.run(step.value);
    }
  }

  /** Runs a call's jobs on the caller's thread, returning when they are done (one thread only). */
  private driveSync<T>(steps: Steps<T>): T {
    const run = this.executor.runSync;
    if (!run) throw new Error(`Synchronous calls need the CPU backend on the caller's thread (threads: 1), this one has ${this.executor.threads}`);
    for (let step = steps.next(); ; step = steps.next()) {
      if (step.done) return step.value;
      run.call(this.executor, step.value);
    }
  }

  private *writeIndices(indices: Uint32Array, split: 'train' | 'test'): Steps<number> {
    const data = this.datasets[split];
    if (!data) throw new Error(`No ${split} set is loaded into the CPU backend`);
    if (!(indices instanceof Uint32Array) || indices.length === 0) throw new Error('A micro-batch needs a non-empty Uint32Array of example indices');
    for (let i = 0; i < indices.length; i++) {
      if (indices[i] >= data.count) throw new Error(`Example index ${indices[i]} (position ${i}) is out of range: the ${split} set has ${data.count} examples`);
    }
    yield* this.ensureCapacity(indices.length);
    new Uint32Array(this.executor.memory.buffer, this.plan.batch.indices.offset, indices.length).set(indices);
    return indices.length;
  }

  /** Checks the dropout context and writes its positions; the seed for the job, or null when no layer drops. */
  private writeDropout(dropout: CpuDropout | undefined, batch: number, fn: string): number | null {
    if (!dropout) {
      const l = this.stochastic;
      if (l && l.kind === 'dropout') throw new Error(`${fn}: dropout at layer ${l.path} (p = ${l.p}) needs dropout = { seed, positions } in training`);
      return null;
    }
    checkU32('seed', dropout.seed);
    if (!(dropout.positions instanceof Uint32Array) || dropout.positions.length !== batch) {
      throw new Error(`${fn}: dropout.positions must be a Uint32Array with one dataset position per example (${batch}), got ${dropout.positions?.length}`);
    }
    new Uint32Array(this.executor.memory.buffer, this.plan.batch.positions.offset, batch).set(dropout.positions);
    return this.stochastic ? dropout.seed : null;
  }

  /** Mean loss and correct count from the per-row (loss, correct) pairs (a row per label), summed in f64 in row order. */
  private rowSummary(batch: number): { loss: number; correct: number } {
    const rows = batch * this.model.labelsPerExample;
    const stats = new Float32Array(this.executor.memory.buffer, this.plan.batch.rowStats.offset, 2 * rows);
    let loss = 0;
    let correct = 0;
    for (let i = 0; i < stats.length; i += 2) {
      loss += stats[i];
      correct += stats[i + 1];
    }
    return { loss: loss / rows, correct };
  }

  private floats(region: Region): Float32Array {
    return new Float32Array(this.executor.memory.buffer, region.offset, region.bytes / 4);
  }

  private checkFlat(what: string, values: Float32Array): Float32Array {
    if (!(values instanceof Float32Array) || values.length !== this.model.total) {
      throw new Error(`${what} must be a Float32Array of ${this.model.total} values (the model's flat layout), got ${values?.length}`);
    }
    return values;
  }
}

