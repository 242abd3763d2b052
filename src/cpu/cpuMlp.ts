// The MLP on the CPU: parameters, gradient, optimizer state and datasets in one WebAssembly
// memory laid out by memoryPlan.ts, computed by the threads of an executor. The same maths
// as GpuMlp (inputs byte/255, hidden pre-activations kept, gradient of the mean loss,
// AdamW/SGD with clipping), checked against the f64 reference by the same tests.

import type { ImageDataset } from '../data/dataset.ts';
import type { OptimizerHyper } from '../kernels/optimizer.ts';
import type { ParamLayout } from '../model/mlp.ts';
import { createExecutor, type CpuExecutor, type ExecutorOptions } from './executor.ts';
import type { CpuJob, OptimizerStepArgs } from './jobs.ts';
import { planMemory, type MemoryPlan, type PlanInputs, type Region } from './memoryPlan.ts';

/** Batch buffers grow in steps of this many rows, so that nearby batch sizes share a plan. */
const CAPACITY_STEP = 128;

export interface CpuGradient {
  loss: number;
  correct: number;
  gradient: Float32Array;
}

export class CpuMlp {
  private plan: MemoryPlan;
  /** The packed weights are stale: parameters changed since they were packed. */
  private repack = true;
  private datasets: { train: ImageDataset | null; test: ImageDataset | null } = { train: null, test: null };

  private constructor(
    readonly layout: ParamLayout,
    private readonly executor: CpuExecutor,
  ) {
    this.plan = planMemory({ spec: layout.spec, trainCount: 0, testCount: 0, batchCapacity: CAPACITY_STEP }, executor.heapBase);
  }

  static async create(layout: ParamLayout, options: ExecutorOptions = {}): Promise<CpuMlp> {
    const executor = await createExecutor(options);
    try {
      const mlp = new CpuMlp(layout, executor);
      await mlp.configure(mlp.plan.inputs);
      return mlp;
    } catch (error) {
      executor.dispose();
      throw error;
    }
  }

  get threads(): number {
    return this.executor.threads;
  }

  get simd() {
    return this.executor.simd;
  }

  get lost(): boolean {
    return this.executor.lost;
  }

  /** Copies both splits into the memory; labels are checked against the model's classes first. */
  async setDatasets(train: ImageDataset | null, test: ImageDataset | null): Promise<void> {
    const classes = this.layout.spec.widths[this.layout.spec.widths.length - 1];
    for (const [name, ds] of [['train', train], ['test', test]] as const) {
      if (!ds) continue;
      const features = this.layout.spec.widths[0];
      if (ds.features !== features) throw new Error(`The ${name} set has ${ds.features} features per example; the model's input is ${features}`);
      if (ds.images.length < ds.count * features || ds.labels.length < ds.count) {
        throw new Error(`The ${name} set is truncated: ${ds.count} examples need ${ds.count * features} image bytes and ${ds.count} labels`);
      }
      for (let i = 0; i < ds.count; i++) {
        if (ds.labels[i] >= classes) throw new Error(`The ${name} set's label ${i} is ${ds.labels[i]}; the model has ${classes} classes`);
      }
    }
    await this.configure({ ...this.plan.inputs, trainCount: train?.count ?? 0, testCount: test?.count ?? 0 });
    const bytes = new Uint8Array(this.executor.memory.buffer);
    for (const [ds, regions] of [[train, this.plan.train], [test, this.plan.test]] as const) {
      if (!ds) continue;
      bytes.set(ds.images.subarray(0, ds.count * ds.features), regions.images.offset);
      bytes.set(ds.labels.subarray(0, ds.count), regions.labels.offset);
    }
    this.datasets = { train, test };
  }

  setParameters(params: Float32Array): void {
    this.floats(this.plan.model.params).set(this.checkFlat('Parameters', params));
    this.repack = true;
  }

  setOptimizerState(state1: Float32Array, state2: Float32Array): void {
    this.floats(this.plan.model.state1).set(this.checkFlat('Optimizer state 1', state1));
    this.floats(this.plan.model.state2).set(this.checkFlat('Optimizer state 2', state2));
  }

  readState(): { params: Float32Array; state1: Float32Array; state2: Float32Array } {
    const { model } = this.plan;
    return { params: this.floats(model.params).slice(), state1: this.floats(model.state1).slice(), state2: this.floats(model.state2).slice() };
  }

  /** Loss and gradient of the mean loss over training examples `indices`. */
  async gradient(indices: Uint32Array): Promise<CpuGradient> {
    const batch = await this.writeIndices(indices, 'train');
    await this.runWeights({ kind: 'gradient', batch, repack: this.repack, optimizer: null });
    return { ...this.rowSummary(batch), gradient: this.floats(this.plan.model.grads).slice() };
  }

  /** Gradient, then optimizer step t, in one job. */
  async trainStep(indices: Uint32Array, hyper: OptimizerHyper, t: number): Promise<{ loss: number; correct: number }> {
    const batch = await this.writeIndices(indices, 'train');
    await this.runWeights({ kind: 'gradient', batch, repack: this.repack, optimizer: optimizerArgs(hyper, t) });
    this.repack = true;
    return this.rowSummary(batch);
  }

  /** Optimizer step t on `gradient`, or on the last computed gradient. */
  async optimizerStep(hyper: OptimizerHyper, t: number, gradient?: Float32Array): Promise<void> {
    if (gradient) {
      const grads = this.floats(this.plan.model.grads);
      grads.set(this.checkFlat('The gradient', gradient));
      // Padding between segments stays zero, as in a computed gradient, so padding parameters never move.
      let end = 0;
      for (const s of [...this.layout.segments].sort((a, b) => a.offset - b.offset)) {
        grads.fill(0, end, s.offset);
        end = s.offset + s.length;
      }
      grads.fill(0, end);
    }
    await this.executor.run({ kind: 'optimizer', optimizer: optimizerArgs(hyper, t) });
    this.repack = true;
  }

  /** Summed loss and correct count over `indices` of a split, forward only. */
  async evaluate(split: 'train' | 'test', indices: Uint32Array): Promise<{ lossSum: number; correct: number; count: number }> {
    const batch = await this.writeIndices(indices, split);
    await this.runWeights({ kind: 'forward', batch, repack: this.repack, source: split });
    const rows = this.rowSummary(batch);
    return { lossSum: rows.loss * batch, correct: rows.correct, count: batch };
  }

  /** Logits for raw inputs x (batch × widths[0], already scaled to [0, 1]). */
  async logits(x: Float32Array, batch: number): Promise<Float32Array> {
    const features = this.layout.spec.widths[0];
    if (!Number.isInteger(batch) || batch < 1 || x.length !== batch * features) {
      throw new Error(`Logits need batch·${features} inputs for a positive integer batch, got ${x.length} values for batch ${batch}`);
    }
    await this.ensureCapacity(batch);
    this.floats(this.plan.batch.x).set(x);
    await this.runWeights({ kind: 'forward', batch, repack: this.repack, source: 'raw' });
    const classes = this.layout.spec.widths[this.layout.spec.widths.length - 1];
    return this.floats(this.plan.batch.h[this.plan.batch.h.length - 1]).slice(0, batch * classes);
  }

  /** Ends the threads as a crash would: the executor is lost afterwards. */
  kill(): void {
    this.executor.kill();
  }

  dispose(): void {
    this.executor.dispose();
  }

  /** Runs a job that packs the weights when they are stale; they are fresh after it. */
  private async runWeights(job: CpuJob): Promise<void> {
    await this.executor.run(job);
    this.repack = false;
  }

  private async configure(inputs: PlanInputs): Promise<void> {
    const plan = planMemory(inputs, this.executor.heapBase);
    this.executor.ensureBytes(plan.end);
    await this.executor.run({ kind: 'configure', inputs });
    this.plan = plan;
  }

  private async ensureCapacity(batch: number): Promise<void> {
    if (batch <= this.plan.batch.capacity) return;
    await this.configure({ ...this.plan.inputs, batchCapacity: Math.ceil(batch / CAPACITY_STEP) * CAPACITY_STEP });
  }

  private async writeIndices(indices: Uint32Array, split: 'train' | 'test'): Promise<number> {
    const data = this.datasets[split];
    if (!data) throw new Error(`No ${split} set is loaded into the CPU backend`);
    if (!(indices instanceof Uint32Array) || indices.length === 0) throw new Error('A micro-batch needs a non-empty Uint32Array of example indices');
    for (let i = 0; i < indices.length; i++) {
      if (indices[i] >= data.count) throw new Error(`Example index ${indices[i]} (position ${i}) is out of range: the ${split} set has ${data.count} examples`);
    }
    await this.ensureCapacity(indices.length);
    new Uint32Array(this.executor.memory.buffer, this.plan.batch.indices.offset, indices.length).set(indices);
    return indices.length;
  }

  /** Mean loss and correct count from the per-row (loss, correct) pairs, summed in f64 in row order. */
  private rowSummary(batch: number): { loss: number; correct: number } {
    const stats = new Float32Array(this.executor.memory.buffer, this.plan.batch.rowStats.offset, 2 * batch);
    let loss = 0;
    let correct = 0;
    for (let i = 0; i < stats.length; i += 2) {
      loss += stats[i];
      correct += stats[i + 1];
    }
    return { loss: loss / batch, correct };
  }

  private floats(region: Region): Float32Array {
    return new Float32Array(this.executor.memory.buffer, region.offset, region.bytes / 4);
  }

  private checkFlat(what: string, values: Float32Array): Float32Array {
    if (!(values instanceof Float32Array) || values.length !== this.layout.total) {
      throw new Error(`${what} must be a Float32Array of ${this.layout.total} values (the model's flat layout), got ${values?.length}`);
    }
    return values;
  }
}

/** The step's arguments: bias corrections of step t in f64, as the GPU's host side computes them. */
export function optimizerArgs(h: OptimizerHyper, t: number): OptimizerStepArgs {
  if (!Number.isInteger(t) || t < 1) throw new Error(`The optimizer step t is 1-based, got ${t}`);
  if (h.kind === 'adamw') {
    return { kind: 'adamw', lr: h.lr, beta1: h.beta1, beta2: h.beta2, eps: h.eps, weightDecay: h.weightDecay, bc1: 1 - h.beta1 ** t, bc2: 1 - h.beta2 ** t, maxGradNorm: h.maxGradNorm };
  }
  return { kind: 'sgd', lr: h.lr, beta1: h.momentum, beta2: 0, eps: 0, weightDecay: h.weightDecay, bc1: 1, bc2: 1, maxGradNorm: h.maxGradNorm };
}
