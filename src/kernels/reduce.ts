// Deterministic reductions (shaders/reduce.wgsl): the bias gradient's column sums and the
// global gradient norm.

import type { GpuContext } from '../gpu/context.ts';
import type { Kernel } from '../gpu/pipelines.ts';
import type { ComputeRecorder } from '../gpu/recorder.ts';
import { compileTemplate, createUniform, linearGroups } from './common.ts';

const ENTRY = { COLUMN_SUM: false, SUM_SQUARES_PARTIAL: false, SUM_SQUARES_FINAL: false };
const BINDINGS = ['read', 'uniform', 'readwrite'] as const;

/** out[j] = Σ_i X[i][j] for an X of rows × cols. */
export class ColumnSumOp {
  private constructor(
    readonly rows: number,
    readonly cols: number,
    private readonly kernel: Kernel,
    private readonly params: GPUBuffer,
  ) {}

  static async create(ctx: GpuContext, rows: number, cols: number): Promise<ColumnSumOp> {
    const kernel = await compileTemplate(ctx, 'column_sum', 'reduce', { ...ENTRY, COLUMN_SUM: true }, [...BINDINGS]);
    return new ColumnSumOp(rows, cols, kernel, createUniform(ctx, 'column_sum params', new Uint32Array([rows, cols, 0, 0])));
  }

  encode(rec: ComputeRecorder, x: GPUBufferBinding, out: GPUBufferBinding): void {
    rec.dispatch(this.kernel, [x, { buffer: this.params }, out], [Math.ceil(this.cols / 64)], this.rows * this.cols);
  }

  destroy(): void {
    this.params.destroy();
  }
}

/** Values each partial-sum workgroup covers; the final pass then reads count/CHUNK partials. */
const CHUNK = 4096;

/** out = [Σx², ‖x‖] over `count` values, in two fixed-order passes. */
export class GlobalNormOp {
  private constructor(
    readonly count: number,
    private readonly partialKernel: Kernel,
    private readonly finalKernel: Kernel,
    private readonly partialParams: GPUBuffer,
    private readonly finalParams: GPUBuffer,
    private readonly partials: GPUBuffer,
  ) {}

  static async create(ctx: GpuContext, count: number): Promise<GlobalNormOp> {
    const groups = Math.ceil(count / CHUNK);
    const [partialKernel, finalKernel] = await Promise.all([
      compileTemplate(ctx, 'sum_squares_partial', 'reduce', { ...ENTRY, SUM_SQUARES_PARTIAL: true }, [...BINDINGS]),
      compileTemplate(ctx, 'sum_squares_final', 'reduce', { ...ENTRY, SUM_SQUARES_FINAL: true }, [...BINDINGS]),
    ]);
    if (groups > ctx.device.limits.maxComputeWorkgroupsPerDimension) {
      throw new Error(`GlobalNormOp: ${count} values need ${groups} workgroups, over the device limit`);
    }
    return new GlobalNormOp(
      count,
      partialKernel,
      finalKernel,
      createUniform(ctx, 'norm partial params', new Uint32Array([0, 0, count, CHUNK])),
      createUniform(ctx, 'norm final params', new Uint32Array([0, 0, groups, 0])),
      ctx.device.createBuffer({ label: 'norm partials', size: Math.max(16, groups * 4), usage: GPUBufferUsage.STORAGE }),
    );
  }

  /** `out` must hold at least two floats: [Σx², ‖x‖]. */
  encode(rec: ComputeRecorder, x: GPUBufferBinding, out: GPUBufferBinding): void {
    const groups = Math.ceil(this.count / CHUNK);
    rec.dispatch(this.partialKernel, [x, { buffer: this.partialParams }, { buffer: this.partials }], [groups], 2 * this.count);
    rec.dispatch(this.finalKernel, [{ buffer: this.partials, size: groups * 4 }, { buffer: this.finalParams }, out], [1], groups);
  }

  destroy(): void {
    this.partialParams.destroy();
    this.finalParams.destroy();
    this.partials.destroy();
  }
}

