// The plain 16×16 tiled matmul (shaders/matmul_reference.wgsl): the benchmark's baseline.

import type { GpuContext } from '../gpu/context.ts';
import type { Kernel } from '../gpu/pipelines.ts';
import type { ComputeRecorder } from '../gpu/recorder.ts';
import { compileTemplate, createUniform } from './common.ts';
import { matmulFlops } from './matmul.ts';

export class ReferenceMatmulOp {
  private constructor(
    readonly m: number,
    readonly n: number,
    readonly k: number,
    private readonly kernel: Kernel,
    private readonly dims: GPUBuffer,
  ) {}

  /** C[m×n] = A[m×k]·B[k×n]. */
  static async create(ctx: GpuContext, m: number, n: number, k: number): Promise<ReferenceMatmulOp> {
    const kernel = await compileTemplate(ctx, 'matmul_reference_16x16', 'matmulReference', {}, ['read', 'read', 'uniform', 'readwrite']);
    return new ReferenceMatmulOp(m, n, k, kernel, createUniform(ctx, 'reference matmul dims', new Uint32Array([m, n, k, 0])));
  }

  get flops(): number {
    return matmulFlops(this);
  }

  encode(rec: ComputeRecorder, b: { a: GPUBufferBinding; b: GPUBufferBinding; c: GPUBufferBinding }): void {
    rec.dispatch(this.kernel, [b.a, b.b, { buffer: this.dims }, b.c], [Math.ceil(this.n / 16), Math.ceil(this.m / 16)], this.flops);
  }

  destroy(): void {
    this.dims.destroy();
  }
}
