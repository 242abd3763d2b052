// The residual add (shaders/residual.wgsl): y = a + b over `count` values, the residual's
// forward (x + branch(x)) and its backward (dy + the branch's dx).

import type { GpuContext } from '../gpu/context.ts';
import type { Kernel } from '../gpu/pipelines.ts';
import type { ComputeRecorder } from '../gpu/recorder.ts';
import { compileTemplate, createUniform, linearGroups } from './common.ts';

export class AddOp {
  private constructor(
    readonly count: number,
    private readonly kernel: Kernel,
    private readonly params: GPUBuffer,
  ) {}

  static async create(ctx: GpuContext, count: number): Promise<AddOp> {
    if (!Number.isInteger(count) || count < 1) throw new Error(`residual add count must be a positive integer, got ${count}`);
    const kernel = await compileTemplate(ctx, 'residual_add', 'residual', {}, ['read', 'read', 'uniform', 'readwrite']);
    return new AddOp(count, kernel, createUniform(ctx, 'residual add params', new Uint32Array([count, 0, 0, 0])));
  }

  /** y = a + b; a and b may be the same binding, y must be another buffer. */
  encode(rec: ComputeRecorder, b: { a: GPUBufferBinding; b: GPUBufferBinding; y: GPUBufferBinding }): void {
    rec.dispatch(this.kernel, [b.a, b.b, { buffer: this.params }, b.y], linearGroups(this.count), this.count);
  }

  destroy(): void {
    this.params.destroy();
  }
}
