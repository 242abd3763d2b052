// Activations forward and backward (shaders/activation.wgsl).

import type { GpuContext } from '../gpu/context.ts';
import type { Kernel } from '../gpu/pipelines.ts';
import type { ComputeRecorder } from '../gpu/recorder.ts';
import { compileTemplate, createUniform, linearGroups } from './common.ts';
import { WGSL } from './shaders.ts';

/** Y = act(X) over `count` values: an activation no matmul epilogue absorbed. */
export class ActivationForwardOp {
  private constructor(
    readonly count: number,
    private readonly kernel: Kernel,
    private readonly params: GPUBuffer,
  ) {}

  static async create(ctx: GpuContext, activation: 'relu' | 'gelu', count: number): Promise<ActivationForwardOp> {
    const kernel = await compileTemplate(
      ctx,
      `activation_forward_${activation}`,
      'activation',
      { FORWARD: true, ACT_RELU: activation === 'relu', ACT_GELU: activation === 'gelu' },
      ['read', 'uniform', 'readwrite'],
      WGSL.gelu,
    );
    return new ActivationForwardOp(count, kernel, createUniform(ctx, 'activation params', new Uint32Array([count, 0, 0, 0])));
  }

  encode(rec: ComputeRecorder, b: { x: GPUBufferBinding; y: GPUBufferBinding }): void {
    rec.dispatch(this.kernel, [b.x, { buffer: this.params }, b.y], linearGroups(Math.ceil(this.count / 4)), 8 * this.count);
  }

  destroy(): void {
    this.params.destroy();
  }
}

/** dZ = dH ⊙ act'(Z) over `count` values. */
export class ActivationBackwardOp {
  private constructor(
    readonly count: number,
    private readonly kernel: Kernel,
    private readonly params: GPUBuffer,
  ) {}

  static async create(ctx: GpuContext, activation: 'relu' | 'gelu', count: number): Promise<ActivationBackwardOp> {
    const kernel = await compileTemplate(
      ctx,
      `activation_backward_${activation}`,
      'activation',
      { FORWARD: false, ACT_RELU: activation === 'relu', ACT_GELU: activation === 'gelu' },
      ['read', 'read', 'uniform', 'readwrite'],
      WGSL.gelu,
    );
    return new ActivationBackwardOp(count, kernel, createUniform(ctx, 'activation params', new Uint32Array([count, 0, 0, 0])));
  }

  encode(rec: ComputeRecorder, b: { dH: GPUBufferBinding; z: GPUBufferBinding; dZ: GPUBufferBinding }): void {
    rec.dispatch(this.kernel, [b.dH, b.z, { buffer: this.params }, b.dZ], linearGroups(Math.ceil(this.count / 4)), 10 * this.count);
  }

  destroy(): void {
    this.params.destroy();
  }
}
