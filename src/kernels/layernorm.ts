// LayerNorm forward and backward (shaders/layernorm.wgsl) over rows of `features` values:
// the forward saves each row's mean and 1/√(σ² + ε) as stats (two floats per row), which
// both backward kernels read instead of x̂.

import type { GpuContext } from '../gpu/context.ts';
import type { Kernel } from '../gpu/pipelines.ts';
import type { ComputeRecorder } from '../gpu/recorder.ts';
import { compileTemplate, createUniform } from './common.ts';

const ENTRY = { FORWARD: false, BACKWARD_INPUT: false, PARAM_GRAD: false };

/** One workgroup per row, folded into two dimensions past the per-dimension limit. */
function rowGroups(rows: number, maxPerDimension: number): [number, number] {
  if (rows <= maxPerDimension) return [rows, 1];
  const y = Math.ceil(rows / maxPerDimension);
  return [Math.ceil(rows / y), y];
}

export class LayerNormOp {
  private constructor(
    readonly rows: number,
    readonly features: number,
    readonly eps: number,
    private readonly kernels: { forward: Kernel; backwardInput: Kernel; paramGrad: Kernel },
    private readonly params: GPUBuffer,
    private readonly maxGroups: number,
  ) {}

  static async create(ctx: GpuContext, rows: number, features: number, eps = 1e-5): Promise<LayerNormOp> {
    if (!Number.isInteger(rows) || rows < 1) throw new Error(`layernorm rows must be a positive integer, got ${rows}`);
    if (!Number.isInteger(features) || features < 2) throw new Error(`layernorm needs at least 2 features per row, got ${features}`);
    if (!(eps > 0)) throw new Error(`layernorm eps must be positive, got ${eps}`);
    const maxGroups = ctx.device.limits.maxComputeWorkgroupsPerDimension;
    if (Math.ceil(features / 64) > maxGroups) throw new Error(`layernorm: ${features} features need more than ${maxGroups} workgroups for the parameter gradient`);
    const [forward, backwardInput, paramGrad] = await Promise.all([
      compileTemplate(ctx, 'layernorm_forward', 'layernorm', { ...ENTRY, FORWARD: true }, ['read', 'read', 'read', 'uniform', 'readwrite', 'readwrite']),
      compileTemplate(ctx, 'layernorm_backward_input', 'layernorm', { ...ENTRY, BACKWARD_INPUT: true }, ['read', 'read', 'read', 'read', 'uniform', 'readwrite']),
      compileTemplate(ctx, 'layernorm_param_grad', 'layernorm', { ...ENTRY, PARAM_GRAD: true }, ['read', 'read', 'read', 'uniform', 'readwrite', 'readwrite']),
    ]);
    const words = new ArrayBuffer(16);
    new Uint32Array(words, 0, 2).set([rows, features]);
    new Float32Array(words, 8, 1)[0] = eps;
    return new LayerNormOp(rows, features, eps, { forward, backwardInput, paramGrad }, createUniform(ctx, 'layernorm params', words), maxGroups);
  }

  /** y = γ⊙x̂ + β per row; stats gets (mean, rstd) per row (2·rows floats). */
  encodeForward(rec: ComputeRecorder, b: { x: GPUBufferBinding; gain: GPUBufferBinding; shift: GPUBufferBinding; y: GPUBufferBinding; stats: GPUBufferBinding }): void {
    rec.dispatch(this.kernels.forward, [b.x, b.gain, b.shift, { buffer: this.params }, b.y, b.stats], rowGroups(this.rows, this.maxGroups), 7 * this.rows * this.features);
  }

  /** dx, overwritten, from the forward's x and stats. */
  encodeBackwardInput(rec: ComputeRecorder, b: { x: GPUBufferBinding; stats: GPUBufferBinding; gain: GPUBufferBinding; dy: GPUBufferBinding; dx: GPUBufferBinding }): void {
    rec.dispatch(this.kernels.backwardInput, [b.x, b.stats, b.gain, b.dy, { buffer: this.params }, b.dx], rowGroups(this.rows, this.maxGroups), 10 * this.rows * this.features);
  }

  /** dGain and dShift (features each), overwritten: summed over the rows in order. */
  encodeParamGrad(rec: ComputeRecorder, b: { x: GPUBufferBinding; stats: GPUBufferBinding; dy: GPUBufferBinding; dGain: GPUBufferBinding; dShift: GPUBufferBinding }): void {
    rec.dispatch(this.kernels.paramGrad, [b.x, b.stats, b.dy, { buffer: this.params }, b.dGain, b.dShift], [Math.ceil(this.features / 64)], 5 * this.rows * this.features);
  }

  destroy(): void {
    this.params.destroy();
  }
}
