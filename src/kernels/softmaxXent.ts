// Fused softmax cross-entropy forward and backward (shaders/softmax_xent.wgsl).

import type { GpuContext } from '../gpu/context.ts';
import type { Kernel } from '../gpu/pipelines.ts';
import type { ComputeRecorder } from '../gpu/recorder.ts';
import { compileTemplate, createUniform } from './common.ts';

export class SoftmaxCrossEntropyOp {
  private constructor(
    readonly rows: number,
    readonly classes: number,
    private readonly kernel: Kernel,
    private readonly params: GPUBuffer,
  ) {}

  /** dlogits is scaled by 1/rows: the gradient of the mean loss over the rows. */
  static async create(ctx: GpuContext, rows: number, classes: number): Promise<SoftmaxCrossEntropyOp> {
    const kernel = await compileTemplate(ctx, 'softmax_xent', 'softmaxXent', {}, ['read', 'read', 'uniform', 'readwrite', 'readwrite']);
    const words = new ArrayBuffer(16);
    new Uint32Array(words, 0, 2).set([rows, classes]);
    new Float32Array(words, 8, 1)[0] = 1 / rows;
    return new SoftmaxCrossEntropyOp(rows, classes, kernel, createUniform(ctx, 'softmax_xent params', words));
  }

  /** rowStats receives (loss, correct) per row as two floats. */
  encode(
    rec: ComputeRecorder,
    b: { logits: GPUBufferBinding; labels: GPUBufferBinding; dlogits: GPUBufferBinding; rowStats: GPUBufferBinding },
  ): void {
    rec.dispatch(this.kernel, [b.logits, b.labels, { buffer: this.params }, b.dlogits, b.rowStats], [Math.ceil(this.rows / 64)], 8 * this.rows * this.classes);
  }

  destroy(): void {
    this.params.destroy();
  }
}
