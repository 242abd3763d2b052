// The MLP on the GPU: parameters, gradients and optimizer state resident in flat buffers
// laid out as in mlp.ts; a plan per batch size records gather → forward → softmax-CE →
// backward into one recorder, with one readback at the end.

import { STORAGE } from '../gpu/buffers.ts';
import type { GpuContext } from '../gpu/context.ts';
import { ComputeRecorder } from '../gpu/recorder.ts';
import { writeArray } from '../gpu/transfer.ts';
import { floats } from '../kernels/common.ts';
import { ActivationBackwardOp } from '../kernels/elementwise.ts';
import { GatherExamplesOp, packBytes } from '../kernels/gather.ts';
import { MatmulOp, type MatmulConfig, type MatmulShape } from '../kernels/matmul.ts';
import { OptimizerOp, type OptimizerHyper } from '../kernels/optimizer.ts';
import { ColumnSumOp, GlobalNormOp } from '../kernels/reduce.ts';
import { SoftmaxCrossEntropyOp } from '../kernels/softmaxXent.ts';
import { labelsPerExample, type ImageDataset, type TokenWindows } from '../data/dataset.ts';
import { mlpFlops, type ParamLayout } from './mlp.ts';

/** A dataset uploaded once: u8 pixels and labels packed four to a word. */
export interface ResidentDataset {
  images: GPUBuffer;
  labels: GPUBuffer;
  count: number;
  features: number;
  classes: number;
  /** Token windows (ImageDataset.tokens): ids and a label per position; null for pixels. */
  tokens: TokenWindows | null;
}

export function uploadDataset(ctx: GpuContext, ds: ImageDataset, label = 'dataset'): ResidentDataset {
  const make = (words: Uint32Array, what: string) => {
    const buffer = ctx.device.createBuffer({ label: `${label} ${what}`, size: Math.max(16, words.byteLength), usage: STORAGE });
    writeArray(ctx, buffer, words);
    return buffer;
  };
  const bytes = ds.count * ds.features;
  if (bytes > ctx.device.limits.maxStorageBufferBindingSize) {
    throw new Error(
      `The dataset's ${bytes} bytes exceed this GPU's largest storage binding (${ctx.device.limits.maxStorageBufferBindingSize} bytes)`,
    );
  }
  return {
    images: make(packBytes(ds.images.subarray(0, bytes)), 'images'),
    labels: make(packBytes(ds.labels.subarray(0, ds.count * labelsPerExample(ds))), 'labels'),
    count: ds.count,
    features: ds.features,
    classes: ds.classes,
    tokens: ds.tokens ?? null,
  };
}

export function destroyDataset(d: ResidentDataset): void {
  d.images.destroy();
  d.labels.destroy();
}

/** Picks the matmul configuration for a shape (the autotuner's choice). */
export type MatmulChooser = (shape: MatmulShape) => MatmulConfig;

export interface SubmitBudget {
  maxSubmitMs?: number;
  flopsPerMs?: number;
}

export interface GpuGradient {
  /** Mean loss over the micro-batch. */
  loss: number;
  correct: number;
  /** Gradient of the mean loss, flat, in the parameter layout. */
  gradient: Float32Array;
  gpuTimeMs: number | null;
  submits: number;
}

type PlanMode = 'train' | 'eval' | 'raw';

/** Buffers and ops for one batch size and mode. */
interface BatchPlan {
  batch: number;
  mode: PlanMode;
  indices: GPUBuffer;
  x: GPUBuffer;
  y: GPUBuffer;
  /** Per layer: pre-activation (training, hidden layers) and output. */
  z: (GPUBuffer | null)[];
  h: GPUBuffer[];
  dlogits: GPUBuffer;
  rowStats: GPUBuffer;
  /** Per hidden layer: gradient w.r.t. its output, then w.r.t. its pre-activation. */
  dh: GPUBuffer[];
  dz: GPUBuffer[];
  gather: GatherExamplesOp | null;
  forward: MatmulOp[];
  xent: SoftmaxCrossEntropyOp | null;
  weightGrad: MatmulOp[];
  biasGrad: ColumnSumOp[];
  inputGrad: (MatmulOp | null)[];
  activationGrad: (ActivationBackwardOp | null)[];
  owned: GPUBuffer[];
}

const MAX_CACHED_PLANS = 6;

export class GpuMlp {
  readonly params: GPUBuffer;
  readonly grads: GPUBuffer;
  private readonly state1: GPUBuffer;
  private readonly state2: GPUBuffer;
  private readonly norm: GPUBuffer;
  private readonly plans = new Map<string, Promise<BatchPlan>>();
  private optimizer: OptimizerOp | null = null;
  private normOp: Promise<GlobalNormOp> | null = null;

  constructor(
    private readonly ctx: GpuContext,
    readonly layout: ParamLayout,
    private readonly chooseConfig: MatmulChooser,
    private readonly budget: SubmitBudget = {},
  ) {
    const make = (label: string) => ctx.device.createBuffer({ label, size: layout.total * 4, usage: STORAGE });
    this.params = make('parameters');
    this.grads = make('gradients');
    this.state1 = make('optimizer state 1');
    this.state2 = make('optimizer state 2');
    this.norm = ctx.device.createBuffer({ label: 'gradient norm', size: 16, usage: STORAGE });
  }

  get spec() {
    return this.layout.spec;
  }

  setParameters(params: Float32Array): void {
    writeArray(this.ctx, this.params, params);
  }

  setOptimizerState(state1: Float32Array, state2: Float32Array): void {
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

  /** Loss and gradient of the mean loss over the examples `indices` of `data`. */
  async gradient(data: ResidentDataset, indices: Uint32Array): Promise<GpuGradient> {
    const plan = await this.plan(indices.length, 'train', data);
    writeArray(this.ctx, plan.indices, indices);
    const rec = this.recorder('gradient');
    this.encodeForward(rec, plan, data);
    this.encodeBackward(rec, plan);
    const result = await rec.finishWithReadback([
      { buffer: this.grads, size: this.layout.total * 4 },
      { buffer: plan.rowStats, size: plan.batch * 8 },
    ]);
    return { ...summariseRows(new Float32Array(result.data[1])), gradient: new Float32Array(result.data[0]), gpuTimeMs: result.gpuTimeMs, submits: result.submits };
  }

  /**
   * One local training step: gradient, then the optimizer, without reading the gradient
   * back. Returns the micro-batch's loss and correct count.
   */
  async trainStep(data: ResidentDataset, indices: Uint32Array, hyper: OptimizerHyper, t: number) {
    const plan = await this.plan(indices.length, 'train', data);
    const optimizer = await this.optimizerOp(hyper);
    const normOp = hyper.maxGradNorm > 0 ? await this.globalNormOp() : null;
    writeArray(this.ctx, plan.indices, indices);
    const rec = this.recorder('train step');
    this.encodeForward(rec, plan, data);
    this.encodeBackward(rec, plan);
    normOp?.encode(rec, floats(this.grads, 0, this.layout.total), floats(this.norm, 0, 4));
    this.encodeOptimizer(rec, optimizer, hyper, t);
    const result = await rec.finishWithReadback([{ buffer: plan.rowStats, size: plan.batch * 8 }]);
    return { ...summariseRows(new Float32Array(result.data[0])), gpuTimeMs: result.gpuTimeMs, submits: result.submits };
  }

  /** Apply the optimizer to the gradient buffer (a given gradient is uploaded first). */
  async optimizerStep(hyper: OptimizerHyper, t: number, gradient?: Float32Array): Promise<void> {
    const optimizer = await this.optimizerOp(hyper);
    const normOp = hyper.maxGradNorm > 0 ? await this.globalNormOp() : null;
    if (gradient) writeArray(this.ctx, this.grads, gradient);
    const rec = this.recorder('optimizer step');
    normOp?.encode(rec, floats(this.grads, 0, this.layout.total), floats(this.norm, 0, 4));
    this.encodeOptimizer(rec, optimizer, hyper, t);
    await rec.finish();
  }

  /** Summed loss and correct count over `indices`, forward only. */
  async evaluate(data: ResidentDataset, indices: Uint32Array): Promise<{ lossSum: number; correct: number; count: number }> {
    const plan = await this.plan(indices.length, 'eval', data);
    writeArray(this.ctx, plan.indices, indices);
    const rec = this.recorder('evaluate');
    this.encodeForward(rec, plan, data);
    const result = await rec.finishWithReadback([{ buffer: plan.rowStats, size: plan.batch * 8 }]);
    const rows = summariseRows(new Float32Array(result.data[0]));
    return { lossSum: rows.loss * plan.batch, correct: rows.correct, count: plan.batch };
  }

  /** Logits for raw inputs x (batch × widths[0], already scaled to [0, 1]). */
  async logits(x: Float32Array, batch: number): Promise<Float32Array> {
    const plan = await this.plan(batch, 'raw', null);
    writeArray(this.ctx, plan.x, x);
    const rec = this.recorder('logits');
    this.encodeForward(rec, plan, null);
    const classes = this.spec.widths[this.spec.widths.length - 1];
    const result = await rec.finishWithReadback([{ buffer: plan.h[plan.h.length - 1], size: batch * classes * 4 }]);
    return new Float32Array(result.data[0]);
  }

  destroy(): void {
    for (const b of [this.params, this.grads, this.state1, this.state2, this.norm]) b.destroy();
    for (const plan of this.plans.values()) plan.then((p) => this.releasePlan(p)).catch(() => {});
    this.plans.clear();
    this.optimizer?.destroy();
    this.normOp?.then((op) => op.destroy()).catch(() => {});
  }

  private recorder(label: string): ComputeRecorder {
    return new ComputeRecorder(this.ctx, { label, ...this.budget });
  }

  private encodeForward(rec: ComputeRecorder, plan: BatchPlan, data: ResidentDataset | null): void {
    const { layout } = this;
    const B = plan.batch;
    const widths = this.spec.widths;
    if (plan.gather && data) {
      plan.gather.encode(rec, {
        images: { buffer: data.images },
        labels: { buffer: data.labels },
        indices: floats(plan.indices, 0, B),
        x: floats(plan.x, 0, B * widths[0]),
        y: floats(plan.y, 0, B),
      });
    }
    plan.forward.forEach((op, l) => {
      const input = l === 0 ? plan.x : plan.h[l - 1];
      const w = layout.weights[l];
      const b = layout.biases[l];
      const z = plan.z[l];
      op.encode(rec, {
        a: floats(input, 0, B * widths[l]),
        b: floats(this.params, w.offset, w.length),
        c: floats(plan.h[l], 0, B * widths[l + 1]),
        bias: floats(this.params, b.offset, b.length),
        preact: z ? floats(z, 0, B * widths[l + 1]) : undefined,
      });
    });
    if (plan.xent) {
      const classes = widths[widths.length - 1];
      plan.xent.encode(rec, {
        logits: floats(plan.h[plan.h.length - 1], 0, B * classes),
        labels: floats(plan.y, 0, B),
        dlogits: floats(plan.dlogits, 0, B * classes),
        rowStats: floats(plan.rowStats, 0, 2 * B),
      });
    }
  }

  private encodeBackward(rec: ComputeRecorder, plan: BatchPlan): void {
    const { layout } = this;
    const B = plan.batch;
    const widths = this.spec.widths;
    const L = widths.length - 1;
    for (let l = L - 1; l >= 0; l--) {
      const dz = l === L - 1 ? plan.dlogits : plan.dz[l];
      const input = l === 0 ? plan.x : plan.h[l - 1];
      const w = layout.weights[l];
      const b = layout.biases[l];
      // dW = inputᵀ·dZ, db = Σ_rows dZ, written straight into the flat gradient.
      plan.weightGrad[l].encode(rec, {
        a: floats(input, 0, B * widths[l]),
        b: floats(dz, 0, B * widths[l + 1]),
        c: floats(this.grads, w.offset, w.length),
      });
      plan.biasGrad[l].encode(rec, floats(dz, 0, B * widths[l + 1]), floats(this.grads, b.offset, b.length));
      if (l > 0) {
        // dH_{l-1} = dZ·Wᵀ, then through the activation: dZ_{l-1} = dH ⊙ act'(Z_{l-1}).
        plan.inputGrad[l]!.encode(rec, {
          a: floats(dz, 0, B * widths[l + 1]),
          b: floats(this.params, w.offset, w.length),
          c: floats(plan.dh[l - 1], 0, B * widths[l]),
        });
        plan.activationGrad[l - 1]!.encode(rec, {
          dH: floats(plan.dh[l - 1], 0, B * widths[l]),
          z: floats(plan.z[l - 1]!, 0, B * widths[l]),
          dZ: floats(plan.dz[l - 1], 0, B * widths[l]),
        });
      }
    }
  }

  private encodeOptimizer(rec: ComputeRecorder, op: OptimizerOp, hyper: OptimizerHyper, t: number): void {
    const n = this.layout.total;
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
      this.optimizer = await OptimizerOp.create(this.ctx, hyper.kind, this.layout.total, this.layout.decayEnd);
    }
    return this.optimizer;
  }

  private globalNormOp(): Promise<GlobalNormOp> {
    this.normOp ??= GlobalNormOp.create(this.ctx, this.layout.total);
    return this.normOp;
  }

  private plan(batch: number, mode: PlanMode, data: ResidentDataset | null): Promise<BatchPlan> {
    if (!Number.isInteger(batch) || batch < 1) throw new Error(`Batch size must be a positive integer, got ${batch}`);
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

  private async buildPlan(B: number, mode: PlanMode, data: ResidentDataset | null): Promise<BatchPlan> {
    const { ctx, spec } = this;
    const widths = spec.widths;
    const L = widths.length - 1;
    const classes = widths[L];
    const training = mode === 'train';
    const owned: GPUBuffer[] = [];
    const buffer = (floatsCount: number, label: string) => {
      const b = ctx.buffers.acquire(Math.max(16, floatsCount * 4), STORAGE, label);
      owned.push(b);
      return b;
    };
    const hidden = (l: number) => l < L - 1;
    const config = (shape: MatmulShape) => this.chooseConfig(shape);
    const nn = (l: number): MatmulShape => ({ layout: 'nn', m: B, n: widths[l + 1], k: widths[l] });
    const tn = (l: number): MatmulShape => ({ layout: 'tn', m: widths[l], n: widths[l + 1], k: B });
    const nt = (l: number): MatmulShape => ({ layout: 'nt', m: B, n: widths[l], k: widths[l + 1] });
    const layers = [...Array(L).keys()];
    const [gather, forward, xent, weightGrad, biasGrad, inputGrad, activationGrad] = await Promise.all([
      mode !== 'raw' && data ? GatherExamplesOp.create(ctx, B, widths[0], data.count) : null,
      Promise.all(
        layers.map((l) =>
          MatmulOp.create(ctx, nn(l), { bias: true, activation: hidden(l) ? spec.activation : 'none', preact: training && hidden(l) }, config(nn(l))),
        ),
      ),
      mode !== 'raw' ? SoftmaxCrossEntropyOp.create(ctx, B, classes) : null,
      training ? Promise.all(layers.map((l) => MatmulOp.create(ctx, tn(l), {}, config(tn(l))))) : [],
      training ? Promise.all(layers.map((l) => ColumnSumOp.create(ctx, B, widths[l + 1]))) : [],
      training ? Promise.all(layers.map((l) => (l > 0 ? MatmulOp.create(ctx, nt(l), {}, config(nt(l))) : null))) : [],
      training ? Promise.all(layers.map((l) => (hidden(l) ? ActivationBackwardOp.create(ctx, spec.activation, B * widths[l + 1]) : null))) : [],
    ]);
    return {
      batch: B,
      mode,
      indices: buffer(B, 'indices'),
      x: buffer(B * widths[0], 'x'),
      y: buffer(B, 'labels'),
      z: layers.map((l) => (training && hidden(l) ? buffer(B * widths[l + 1], `z${l}`) : null)),
      h: layers.map((l) => buffer(B * widths[l + 1], `h${l}`)),
      dlogits: buffer(B * classes, 'dlogits'),
      rowStats: buffer(2 * B, 'row stats'),
      dh: training ? layers.slice(0, L - 1).map((l) => buffer(B * widths[l + 1], `dh${l}`)) : [],
      dz: training ? layers.slice(0, L - 1).map((l) => buffer(B * widths[l + 1], `dz${l}`)) : [],
      gather,
      forward,
      xent,
      weightGrad,
      biasGrad,
      inputGrad,
      activationGrad,
      owned,
    };
  }

  private releasePlan(plan: BatchPlan): void {
    if (this.ctx.deviceLost) return;
    for (const b of plan.owned) this.ctx.buffers.release(b);
    for (const op of [plan.gather, ...plan.forward, plan.xent, ...plan.weightGrad, ...plan.biasGrad, ...plan.inputGrad, ...plan.activationGrad]) {
      op?.destroy();
    }
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

export function gradientFlops(layout: ParamLayout, batch: number): number {
  const f = mlpFlops(layout.spec, batch);
  return f.forward + f.backward;
}
