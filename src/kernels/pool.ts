// Max and average pooling forward and backward (shaders/pool.wgsl), NCHW, no padding.
// Max pooling keeps the flat input index of each window's maximum (u32, one per output),
// and its backward routes dy through it by a gather: no atomics.

import type { GpuContext } from '../gpu/context.ts';
import type { Kernel } from '../gpu/pipelines.ts';
import type { ComputeRecorder } from '../gpu/recorder.ts';
import type { ResolvedPool } from '../model/layers/spec.ts';
import { compileTemplate, createUniform, linearGroups } from './common.ts';

export type PoolKind = 'maxpool2d' | 'avgpool2d';

export interface Pool2dShape {
  batch: number;
  channels: number;
  height: number;
  width: number;
  kernel: [number, number];
  stride: [number, number];
}

const ENTRY = { MAXPOOL_FORWARD: false, MAXPOOL_BACKWARD: false, AVGPOOL_FORWARD: false, AVGPOOL_BACKWARD: false };

export function pool2dShapeOf(layer: ResolvedPool<PoolKind>, batch: number): Pool2dShape {
  const [c, h, w] = layer.inShape;
  return { batch, channels: c, height: h, width: w, kernel: [...layer.kernel], stride: [...layer.stride] };
}

/** [outH, outW] = ⌊(n − k)/s⌋ + 1 per dimension. */
export function pool2dOutputSize(s: Pool2dShape): [number, number] {
  return [Math.floor((s.height - s.kernel[0]) / s.stride[0]) + 1, Math.floor((s.width - s.kernel[1]) / s.stride[1]) + 1];
}

function validateShape(kind: PoolKind, s: Pool2dShape): void {
  for (const [name, v] of Object.entries({ batch: s.batch, channels: s.channels, height: s.height, width: s.width })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${kind} ${name} must be a positive integer, got ${v}`);
  }
  for (const [name, pair] of [['kernel', s.kernel], ['stride', s.stride]] as const) {
    if (!pair.every((v) => Number.isInteger(v) && v >= 1)) throw new Error(`${kind} ${name} must be two positive integers, got ${JSON.stringify(pair)}`);
  }
  if (s.kernel[0] > s.height || s.kernel[1] > s.width) {
    throw new Error(`${kind}: the ${s.kernel.join('×')} window does not fit the ${s.height}×${s.width} input`);
  }
}

export class Pool2dOp {
  readonly outHeight: number;
  readonly outWidth: number;

  private constructor(
    readonly kind: PoolKind,
    readonly shape: Pool2dShape,
    private readonly forwardKernel: Kernel,
    private readonly backwardKernel: Kernel,
    private readonly params: GPUBuffer,
  ) {
    [this.outHeight, this.outWidth] = pool2dOutputSize(shape);
  }

  static async create(ctx: GpuContext, kind: PoolKind, shape: Pool2dShape): Promise<Pool2dOp> {
    validateShape(kind, shape);
    const max = kind === 'maxpool2d';
    const [forward, backward] = await Promise.all([
      compileTemplate(ctx, `${kind}_forward`, 'pool', { ...ENTRY, [max ? 'MAXPOOL_FORWARD' : 'AVGPOOL_FORWARD']: true },
        max ? ['read', 'uniform', 'readwrite', 'readwrite'] : ['read', 'uniform', 'readwrite']),
      compileTemplate(ctx, `${kind}_backward`, 'pool', { ...ENTRY, [max ? 'MAXPOOL_BACKWARD' : 'AVGPOOL_BACKWARD']: true },
        max ? ['read', 'read', 'uniform', 'readwrite'] : ['read', 'uniform', 'readwrite']),
    ]);
    const [oh, ow] = pool2dOutputSize(shape);
    const s = shape;
    const params = createUniform(ctx, `${kind} params`, new Uint32Array([
      s.batch * s.channels, s.height, s.width, oh,
      ow, s.kernel[0], s.kernel[1], s.stride[0],
      s.stride[1], 0, 0, 0,
    ]));
    return new Pool2dOp(kind, shape, forward, backward, params);
  }

  get inputSize(): number {
    return this.shape.batch * this.shape.channels * this.shape.height * this.shape.width;
  }

  get outputSize(): number {
    return this.shape.batch * this.shape.channels * this.outHeight * this.outWidth;
  }

  /** y = the pooled x; max pooling also writes argmax (u32, outputSize of them), which its backward needs. */
  encodeForward(rec: ComputeRecorder, b: { x: GPUBufferBinding; y: GPUBufferBinding; argmax?: GPUBufferBinding }): void {
    const flops = this.outputSize * this.shape.kernel[0] * this.shape.kernel[1];
    const resources: GPUBufferBinding[] = [b.x, { buffer: this.params }, b.y];
    if (this.kind === 'maxpool2d') {
      if (!b.argmax) throw new Error('maxpool2d forward writes the argmax of each window: give an argmax buffer (one u32 per output)');
      resources.push(b.argmax);
    }
    rec.dispatch(this.forwardKernel, resources, linearGroups(this.outputSize), flops);
  }

  /** dx, overwritten (zero where no window reaches). Max pooling reads the forward's argmax. */
  encodeBackward(rec: ComputeRecorder, b: { dy: GPUBufferBinding; dx: GPUBufferBinding; argmax?: GPUBufferBinding }): void {
    const flops = this.outputSize * this.shape.kernel[0] * this.shape.kernel[1];
    let resources: GPUBufferBinding[];
    if (this.kind === 'maxpool2d') {
      if (!b.argmax) throw new Error('maxpool2d backward routes dy through the forward\'s argmax: give the argmax buffer');
      resources = [b.dy, b.argmax, { buffer: this.params }, b.dx];
    } else {
      resources = [b.dy, { buffer: this.params }, b.dx];
    }
    rec.dispatch(this.backwardKernel, resources, linearGroups(this.inputSize), flops);
  }

  destroy(): void {
    this.params.destroy();
  }
}
