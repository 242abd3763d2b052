// Any model of src/model/layers/spec.ts on the GPU: parameters, gradients and optimizer state
// resident in flat buffers in the model's layout; a plan per batch size and mode walks the
// layer table of gpuLayers.ts once, and each call records gather → forward → loss → backward
// (→ optimizer) into one recorder, with one readback at the end. The same public surface and
// semantics as GpuMlp (gpuMlp.ts), which it replaces; for an MLP it runs the very same ops,
// so its results are GpuMlp's bit for bit.

import { STORAGE } from '../gpu/buffers.ts';
import type { GpuContext } from '../gpu/context.ts';
import { ComputeRecorder } from '../gpu/recorder.ts';
import { writeArray } from '../gpu/transfer.ts';
import { floats } from '../kernels/common.ts';
import { dropoutWords } from '../kernels/dropout.ts';
import { GatherExamplesOp } from '../kernels/gather.ts';
import { OptimizerOp, type OptimizerHyper } from '../kernels/optimizer.ts';
import { GlobalNormOp } from '../kernels/reduce.ts';
import type { GpuGradient, MatmulChooser, ResidentDataset, SubmitBudget } from './gpuMlp.ts';
import { encodeBackward, encodeForward, planList, settleAll, type Binding, type EncodeEnv, type GpuState, type PlannedList } from './gpuLayers.ts';
import { checkU32 } from './layers/dropout.ts';
import { checkTokenIds, describeLabelsPerExample, findDropout, type ResolvedModel } from './layers/spec.ts';

export { destroyDataset, uploadDataset, type GpuGradient, type MatmulChooser, type ResidentDataset, type SubmitBudget } from './gpuMlp.ts';
export { gradientFlops } from './layers/spec.ts';

/** Dropout's randomness in training: the lease's seed and each example's dataset position. */
export interface GpuDropout {
  seed: number;
  /** positions[i] is the dataset position of example i of the batch. */
  positions: Uint32Array;
}

type PlanMode = 'train' | 'eval' | 'raw';

/** Buffers and ops for one batch size and mode. */
interface ModelPlan {
  batch: number;
  mode: PlanMode;
  indices: GPUBuffer;
  x: Binding;
  labels: Binding;
  /** [seed, positions…] for the dropout kernels; null unless training a model with dropout. */
  randomness: Binding | null;
  gather: GatherExamplesOp | null;
  /** The whole layer list, the loss last (its body only in 'raw' mode). */
  list: PlannedList;
  loss: GpuState['softmax-cross-entropy'] | null;
  owned: GPUBuffer[];
  ops: { destroy(): void }[];
}

const MAX_CACHED_PLANS = 6;

export class GpuModel {
  readonly params: GPUBuffer;
  readonly grads: GPUBuffer;
  private readonly state1: GPUBuffer;
  private readonly state2: GPUBuffer;
  private readonly norm: GPUBuffer;
  private readonly plans = new Map<string, Promise<ModelPlan>>();
  private optimizer: OptimizerOp | null = null;
  private normOp: Promise<GlobalNormOp> | null = null;
  /** The first dropout with p > 0, which makes training need a dropout context. */
  private readonly stochastic: ReturnType<typeof findDropout>;

  constructor(
    private readonly ctx: GpuContext,
    readonly model: ResolvedModel,
    private readonly chooseConfig: MatmulChooser,
    private readonly budget: SubmitBudget = {},
  ) {
    const make = (label: string) => ctx.device.createBuffer({ label, size: model.total * 4, usage: STORAGE });
    this.params = make('parameters');
    this.grads = make('gradients');
    this.state1 = make('optimizer state 1');
    this.state2 = make('optimizer state 2');
    this.norm = ctx.device.createBuffer({ label: 'gradient norm', size: 16, usage: STORAGE });
    this.stochastic = findDropout(model.layers);
  }

  get spec() {
    return this.model.spec;
  }

  setParameters(params: Float32Array): void {
    this.checkLength('setParameters: params', params.length);
    writeArray(this.ctx, this.params, params);
  }

  setOptimizerState(state1: Float32Array, state2: Float32Array): void {
    this.checkLength('setOptimizerState: state1', state1.length);
    this.checkLength('setOptimizerState: state2', state2.length);
    writeArray(this.ctx, this.state1, state1);
    writeArray(this.ctx, this.state2, state2);
  }

  /** Parameters and optimizer state, read back together (one readback). */
  async readState(): Promise<{ params: Float32Array; state1: Float32Array; state2: Float32Array }> {
    const rec = this.recorder('read state');
    const { data } = await rec.finishWithReadback([{ buffer: this.params }, { buffer: this.state1 }, { buffer: this.state2 }]);
    const [params, state1, state2] = data.map((d) => new Float32Array(d));
    return { params, state1, state2 };
  }

  /**
   * Loss and gradient of the mean loss over the examples `indices` of `data`, in training
   * mode: a model with dropout needs `dropout` (the seed and one dataset position per example).
   */
  async gradient(data: ResidentDataset, indices: Uint32Array, dropout?: GpuDropout): Promise<GpuGradient> {
    const plan = await this.trainingPlan('gradient', indices.length, data, dropout);
    // Inputs are written with no await before the submit, so overlapping calls cannot mix them.
    writeArray(this.ctx, plan.indices, indices);
    this.writeDropout(plan, dropout);
    return this.runGradient(plan, data, 'gradient');
  }

  /**
   * The same for raw inputs x (batch × inputSize, [C,H,W] order, any floats) and their labels,
   * no dataset: for spot checks and tests on values a u8 image cannot hold (CpuModel.gradientOf).
   * A next-token model takes T token ids per example and a label per position (batch × T).
   */
  async gradientOf(x: Float32Array, labels: ArrayLike<number>, dropout?: GpuDropout): Promise<GpuGradient> {
    const per = this.model.labelsPerExample;
    if (labels.length % per !== 0) throw new Error(`gradientOf: labels has ${labels.length} values, not a multiple of the ${per} labels (one per position) of an example`);
    const batch = labels.length / per;
    const features = this.model.inputSize;
    if (x.length !== batch * features) {
      throw new Error(`gradientOf: x has ${x.length} values, expected batch·inputSize = ${batch}·${features}`);
    }
    checkTokenIds('gradientOf', this.model, x);
    for (let i = 0; i < labels.length; i++) {
      if (!Number.isInteger(labels[i]) || labels[i] < 0 || labels[i] >= this.model.classes) {
        throw new Error(`gradientOf: labels[${i}] = ${labels[i]} is not a class index in [0, ${this.model.classes})`);
      }
    }
    const plan = await this.trainingPlan('gradientOf', batch, null, dropout);
    writeArray(this.ctx, plan.x.buffer, x);
    writeArray(this.ctx, plan.labels.buffer, Uint32Array.from(labels));
    this.writeDropout(plan, dropout);
    return this.runGradient(plan, null, 'gradient of inputs');
  }

  /**
   * One local training step: gradient, then the optimizer, without reading the gradient
   * back. Returns the micro-batch's loss and correct count.
   */
  async trainStep(data: ResidentDataset, indices: Uint32Array, hyper: OptimizerHyper, t: number, dropout?: GpuDropout) {
    const plan = await this.trainingPlan('trainStep', indices.length, data, dropout);
    const optimizer = await this.optimizerOp(hyper);
    const normOp = hyper.maxGradNorm > 0 ? await this.globalNormOp() : null;
    writeArray(this.ctx, plan.indices, indices);
    this.writeDropout(plan, dropout);
    const rec = this.recorder('train step');
    const env = this.env(plan);
    this.encodeGather(rec, plan, data);
    encodeForward(plan.list, rec, env);
    encodeBackward(plan.list, rec, env);
    normOp?.encode(rec, floats(this.grads, 0, this.model.total), floats(this.norm, 0, 4));
    this.encodeOptimizer(rec, optimizer, hyper, t);
    const result = await rec.finishWithReadback([{ buffer: plan.loss!.rowStats.buffer, size: this.lossRows(plan) * 8 }]);
    return { ...summariseRows(new Float32Array(result.data[0])), gpuTimeMs: result.gpuTimeMs, submits: result.submits };
  }

  /** Apply the optimizer to the gradient buffer (a given gradient is uploaded first). */
  async optimizerStep(hyper: OptimizerHyper, t: number, gradient?: Float32Array): Promise<void> {
    const optimizer = await this.optimizerOp(hyper);
    const normOp = hyper.maxGradNorm > 0 ? await this.globalNormOp() : null;
    if (gradient) {
      this.checkLength('optimizerStep: gradient', gradient.length);
      writeArray(this.ctx, this.grads, gradient);
    }
    const rec = this.recorder('optimizer step');
    normOp?.encode(rec, floats(this.grads, 0, this.model.total), floats(this.norm, 0, 4));
    this.encodeOptimizer(rec, optimizer, hyper, t);
    await rec.finish();
  }

  /** Summed loss and correct count over `indices`, forward only (dropout is the identity). */
  async evaluate(data: ResidentDataset, indices: Uint32Array): Promise<{ lossSum: number; correct: number; count: number }> {
    const plan = await this.plan(indices.length, 'eval', data);
    writeArray(this.ctx, plan.indices, indices);
    const rec = this.recorder('evaluate');
    this.encodeGather(rec, plan, data);
    encodeForward(plan.list, rec, this.env(plan));
    const count = this.lossRows(plan);
    const result = await rec.finishWithReadback([{ buffer: plan.loss!.rowStats.buffer, size: count * 8 }]);
    const rows = summariseRows(new Float32Array(result.data[0]));
    return { lossSum: rows.loss * count, correct: rows.correct, count };
  }

  /** Logits for raw inputs x (batch × inputSize, already scaled to [0, 1], or token ids), evaluation mode: batch × classes, or batch × T × vocabulary. */
  async logits(x: Float32Array, batch: number): Promise<Float32Array> {
    const plan = await this.plan(batch, 'raw', null);
    if (x.length !== batch * this.model.inputSize) {
      throw new Error(`logits: x has ${x.length} values, expected batch·inputSize = ${batch}·${this.model.inputSize}`);
    }
    checkTokenIds('logits', this.model, x);
    writeArray(this.ctx, plan.x.buffer, x);
    const rec = this.recorder('logits');
    encodeForward(plan.list, rec, this.env(plan));
    const out = plan.list.y;
    const result = await rec.finishWithReadback([{ buffer: out.buffer, offset: out.offset, size: batch * this.model.labelsPerExample * this.model.classes * 4 }]);
    return new Float32Array(result.data[0]);
  }

  /**
   * Bytes of GPU memory in the model's buffers: parameters, gradients, optimizer state, the
   * norm, and every cached plan's activations and inputs (the benchmark's peak-memory figure).
   * The resident datasets are the caller's, and the ops' own uniforms and scratch are not counted.
   */
  async memoryBytes(): Promise<number> {
    let bytes = 0;
    for (const b of [this.params, this.grads, this.state1, this.state2, this.norm]) bytes += b.size;
    for (const plan of await Promise.allSettled(this.plans.values())) {
      if (plan.status === 'fulfilled') for (const b of plan.value.owned) bytes += b.size;
    }
    return bytes;
  }

  destroy(): void {
    for (const b of [this.params, this.grads, this.state1, this.state2, this.norm]) b.destroy();
    for (const plan of this.plans.values()) plan.then((p) => this.releasePlan(p)).catch(() => {});
    this.plans.clear();
    this.optimizer?.destroy();
    this.normOp?.then((op) => op.destroy()).catch(() => {});
  }

  /** Rows of the loss: one per example, or one per position of a sequence. */
  private lossRows(plan: ModelPlan): number {
    return plan.batch * this.model.labelsPerExample;
  }

  private checkLength(what: string, length: number): void {
    if (length !== this.model.total) throw new Error(`${what} has ${length} floats, the model's layout has ${this.model.total}`);
  }

  private recorder(label: string): ComputeRecorder {
    return new ComputeRecorder(this.ctx, { label, ...this.budget });
  }

  private env(plan: ModelPlan): EncodeEnv {
    return { params: this.params, grads: this.grads, labels: plan.labels, randomness: plan.randomness };
  }

  /** The training plan, the dropout context checked. */
  private async trainingPlan(fn: string, batch: number, data: ResidentDataset | null, dropout: GpuDropout | undefined): Promise<ModelPlan> {
    if (dropout) {
      checkU32('seed', dropout.seed);
      if (!(dropout.positions instanceof Uint32Array)) throw new Error(`${fn}: dropout.positions must be a Uint32Array (one dataset position per example)`);
      if (dropout.positions.length !== batch) {
        throw new Error(`${fn}: dropout.positions has ${dropout.positions.length} entries, one per example (${batch}) expected`);
      }
    } else if (this.stochastic) {
      const l = this.stochastic;
      throw new Error(`${fn}: dropout at layer ${l.path} (p = ${l.p}) needs a dropout context { seed, positions } in training`);
    }
    return this.plan(batch, 'train', data);
  }

  private writeDropout(plan: ModelPlan, dropout: GpuDropout | undefined): void {
    if (plan.randomness && dropout) writeArray(this.ctx, plan.randomness.buffer, dropoutWords(dropout.seed, dropout.positions));
  }

  private async runGradient(plan: ModelPlan, data: ResidentDataset | null, label: string): Promise<GpuGradient> {
    const rec = this.recorder(label);
    const env = this.env(plan);
    this.encodeGather(rec, plan, data);
    encodeForward(plan.list, rec, env);
    encodeBackward(plan.list, rec, env);
    const result = await rec.finishWithReadback([
      { buffer: this.grads, size: this.model.total * 4 },
      { buffer: plan.loss!.rowStats.buffer, size: this.lossRows(plan) * 8 },
    ]);
    return { ...summariseRows(new Float32Array(result.data[1])), gradient: new Float32Array(result.data[0]), gpuTimeMs: result.gpuTimeMs, submits: result.submits };
  }

  private encodeGather(rec: ComputeRecorder, plan: ModelPlan, data: ResidentDataset | null): void {
    if (!plan.gather || !data) return;
    const B = plan.batch;
    plan.gather.encode(rec, {
      images: { buffer: data.images },
      labels: { buffer: data.labels },
      indices: floats(plan.indices, 0, B),
      x: plan.x,
      y: plan.labels,
    });
  }

  private encodeOptimizer(rec: ComputeRecorder, op: OptimizerOp, hyper: OptimizerHyper, t: number): void {
    const n = this.model.total;
    op.encode(rec, hyper, t, {
      grads: floats(this.grads, 0, n),
      norm: floats(this.norm, 0, 4),
      params: floats(this.params, 0, n),
      state1: floats(this.state1, 0, n),
      state2: hyper.kind === 'adamw' ? floats(this.state2, 0, n) : undefined,
    });
  }

  private async optimizerOp(hyper: OptimizerHyper): Promise<OptimizerOp> {
    if (this.optimizer?.kind !== hyper.kind) {
      this.optimizer?.destroy();
      this.optimizer = await OptimizerOp.create(this.ctx, hyper.kind, this.model.total, this.model.decayEnd);
    }
    return this.optimizer;
  }

  private globalNormOp(): Promise<GlobalNormOp> {
    this.normOp ??= GlobalNormOp.create(this.ctx, this.model.total);
    return this.normOp;
  }

  private plan(batch: number, mode: PlanMode, data: ResidentDataset | null): Promise<ModelPlan> {
    if (!Number.isInteger(batch) || batch < 1) throw new Error(`Batch size must be a positive integer, got ${batch}`);
    if (data && data.features !== this.model.inputSize) {
      throw new Error(`The dataset has ${data.features} features per example, the model's input [${this.model.inputShape.join(',')}] takes ${this.model.inputSize}`);
    }
    if (data && (data.tokens?.labelsPerExample ?? 1) !== this.model.labelsPerExample) {
      throw new Error(`The dataset has ${describeLabelsPerExample(data.tokens?.labelsPerExample ?? 1)}, the model takes ${describeLabelsPerExample(this.model.labelsPerExample)}`);
    }
    const key = `${mode}:${batch}:${data?.count ?? 0}`;
    let plan = this.plans.get(key);
    if (plan) {
      // Refresh its place in the LRU order.
      this.plans.delete(key);
      this.plans.set(key, plan);
      return plan;
    }
    plan = this.buildPlan(batch, mode, data);
    this.plans.set(key, plan);
    plan.catch(() => this.plans.delete(key));
    if (this.plans.size > MAX_CACHED_PLANS) {
      const [oldestKey, oldest] = this.plans.entries().next().value!;
      this.plans.delete(oldestKey);
      oldest.then((p) => this.releasePlan(p)).catch(() => {});
    }
    return plan;
  }

  private async buildPlan(B: number, mode: PlanMode, data: ResidentDataset | null): Promise<ModelPlan> {
    const { ctx, model } = this;
    const training = mode === 'train';
    const owned: GPUBuffer[] = [];
    const ops: { destroy(): void }[] = [];
    const maxBinding = ctx.device.limits.maxStorageBufferBindingSize;
    const buffer = (count: number, label: string): Binding => {
      if (count * 4 > maxBinding) {
        throw new Error(`The ${label} buffer at batch ${B} takes ${count * 4} bytes, over this GPU's largest storage binding (${maxBinding} bytes); use a smaller micro-batch`);
      }
      const b = ctx.buffers.acquire(Math.max(16, count * 4), STORAGE, label);
      owned.push(b);
      return floats(b, 0, count);
    };
    const own = <T extends { destroy(): void }>(op: T): T => {
      ops.push(op);
      return op;
    };
    const release = () => {
      if (ctx.deviceLost) return;
      for (const b of owned) ctx.buffers.release(b);
      for (const op of ops) op.destroy();
    };
    try {
      const indices = buffer(B, 'indices').buffer;
      const x = buffer(B * model.inputSize, 'input');
      const labels = buffer(B * model.labelsPerExample, 'labels');
      const randomness = training && this.stochastic ? buffer(1 + B, 'dropout randomness') : null;
      const layers = mode === 'raw' ? model.layers.slice(0, -1) : model.layers;
      const [gather, list] = await settleAll([
        mode !== 'raw' && data ? GatherExamplesOp.create(ctx, B, model.inputSize, data.count, data.tokens).then(own) : null,
        planList(layers, { x, dx: null, dyOut: null }, { ctx, batch: B, training, chooseConfig: this.chooseConfig, buffer, own }),
      ] as const);
      const last = list.layers[list.layers.length - 1];
      const loss = mode === 'raw' ? null : (last.state as GpuState['softmax-cross-entropy']);
      return { batch: B, mode, indices, x, labels, randomness, gather, list, loss, owned, ops };
    } catch (error) {
      release();
      throw error;
    }
  }

  private releasePlan(plan: ModelPlan): void {
    if (this.ctx.deviceLost) return;
    for (const b of plan.owned) this.ctx.buffers.release(b);
    for (const op of plan.ops) op.destroy();
  }
}

/** Mean loss and correct count from per-row (loss, correct) pairs, summed in f64. */
function summariseRows(rowStats: Float32Array): { loss: number; correct: number } {
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < rowStats.length; i += 2) {
    loss += rowStats[i];
    correct += rowStats[i + 1];
  }
  return { loss: loss / (rowStats.length / 2), correct };
}
