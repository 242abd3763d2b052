// Optimizer steps over the flat parameter vector (shaders/optimizer.wgsl).

import type { GpuContext } from '../gpu/context.ts';
import type { Kernel } from '../gpu/pipelines.ts';
import type { ComputeRecorder } from '../gpu/recorder.ts';
import { compileTemplate, linearGroups } from './common.ts';
import { UNIFORM } from '../gpu/buffers.ts';

export interface AdamWHyper {
  kind: 'adamw';
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Clip the global gradient norm to this; 0 turns clipping off. */
  maxGradNorm: number;
}

export interface SgdHyper {
  kind: 'sgd';
  lr: number;
  momentum: number;
  weightDecay: number;
  maxGradNorm: number;
}

export type OptimizerHyper = AdamWHyper | SgdHyper;

export const DEFAULT_ADAMW: AdamWHyper = { kind: 'adamw', lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-4, maxGradNorm: 0 };

/** The Hyper uniform of optimizer.wgsl for step t (1-based); bias corrections in f64. */
export function hyperWords(h: OptimizerHyper, t: number, decayEnd: number, count: number): ArrayBuffer {
  const bytes = new ArrayBuffer(48);
  const f = new Float32Array(bytes, 0, 8);
  const u = new Uint32Array(bytes, 32, 4);
  if (h.kind === 'adamw') {
    f.set([h.lr, h.beta1, h.beta2, h.eps, h.weightDecay, 1 - h.beta1 ** t, 1 - h.beta2 ** t, h.maxGradNorm]);
  } else {
    f.set([h.lr, h.momentum, 0, 0, h.weightDecay, 1, 1, h.maxGradNorm]);
  }
  u.set([decayEnd, count, 0, 0]);
  return bytes;
}

export class OptimizerOp {
  private readonly hyper: GPUBuffer;

  private constructor(
    private readonly ctx: GpuContext,
    readonly kind: OptimizerHyper['kind'],
    readonly count: number,
    readonly decayEnd: number,
    private readonly kernel: Kernel,
  ) {
    this.hyper = ctx.device.createBuffer({ label: 'optimizer hyper', size: 48, usage: UNIFORM });
  }

  static async create(ctx: GpuContext, kind: OptimizerHyper['kind'], count: number, decayEnd: number): Promise<OptimizerOp> {
    const bindings = kind === 'adamw' ? 6 : 5;
    const kernel = await compileTemplate(
      ctx,
      `optimizer_${kind}`,
      'optimizer',
      { ADAMW: kind === 'adamw', SGD: kind === 'sgd' },
      ['read', 'read', 'uniform', 'readwrite', 'readwrite', 'readwrite'].slice(0, bindings) as ('read' | 'uniform' | 'readwrite')[],
    );
    return new OptimizerOp(ctx, kind, count, decayEnd, kernel);
  }

  /**
   * Encode step t. The hyper-parameters are written now, through the queue: encode one
   * step per submit, since a later write would overwrite this one's before it runs.
   */
  encode(
    rec: ComputeRecorder,
    h: OptimizerHyper,
    t: number,
    b: { grads: GPUBufferBinding; norm: GPUBufferBinding; params: GPUBufferBinding; state1: GPUBufferBinding; state2?: GPUBufferBinding },
  ): void {
    if (h.kind !== this.kind) throw new Error(`This optimizer op is ${this.kind}, got hyper-parameters for ${h.kind}`);
    this.ctx.device.queue.writeBuffer(this.hyper, 0, hyperWords(h, t, this.decayEnd, this.count));
    const resources = [b.grads, b.norm, { buffer: this.hyper }, b.params, b.state1];
    if (h.kind === 'adamw') {
      if (!b.state2) throw new Error('AdamW needs a second moment buffer (state2)');
      resources.push(b.state2);
    }
    rec.dispatch(this.kernel, resources, linearGroups(this.count), 10 * this.count);
  }

  destroy(): void {
    this.hyper.destroy();
  }
}
