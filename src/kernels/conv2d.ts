// Conv2d forward and backward (shaders/conv2d.wgsl): implicit GEMM over NCHW activations,
// weights [inC·kH·kW × outC] as in src/model/layers/spec.ts. One op per layer shape; its
// three encodes are the forward, the input gradient and the weight + bias gradient.

import { STORAGE } from '../gpu/buffers.ts';
import type { GpuContext } from '../gpu/context.ts';
import type { Kernel } from '../gpu/pipelines.ts';
import type { ComputeRecorder } from '../gpu/recorder.ts';
import type { ResolvedConv2d } from '../model/layers/spec.ts';
import { compileTemplate, createUniform, linearGroups } from './common.ts';

export interface Conv2dShape {
  batch: number;
  inChannels: number;
  height: number;
  width: number;
  outChannels: number;
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
}

/** Rows (n, oy, ox) per weight-gradient chunk: fixed, so the summation order depends on the shape alone. */
export const WEIGHT_CHUNK_ROWS = 256;
/** Output channels per invocation in the forward; input channels in the input gradient (fewer when the layer has fewer). */
const CHANNELS_PER_INVOCATION = 4;
const inputChannelsPerInvocation = (s: Conv2dShape) => Math.min(CHANNELS_PER_INVOCATION, s.inChannels);

const ENTRY = { FORWARD: false, BACKWARD_INPUT: false, WEIGHT_PARTIAL: false, WEIGHT_FINAL: false };

/** A resolved conv2d layer at a batch size. */
export function conv2dShapeOf(layer: ResolvedConv2d, batch: number): Conv2dShape {
  const [c, h, w] = layer.inShape;
  return {
    batch, inChannels: c, height: h, width: w, outChannels: layer.outChannels,
    kernel: [...layer.kernel], stride: [...layer.stride], padding: [...layer.padding],
  };
}

/** [outH, outW] = ⌊(n + 2p − k)/s⌋ + 1 per dimension. */
export function conv2dOutputSize(s: Conv2dShape): [number, number] {
  return [
    Math.floor((s.height + 2 * s.padding[0] - s.kernel[0]) / s.stride[0]) + 1,
    Math.floor((s.width + 2 * s.padding[1] - s.kernel[1]) / s.stride[1]) + 1,
  ];
}

function validateShape(s: Conv2dShape): void {
  const positive = { batch: s.batch, inChannels: s.inChannels, height: s.height, width: s.width, outChannels: s.outChannels };
  for (const [name, v] of Object.entries(positive)) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`conv2d ${name} must be a positive integer, got ${v}`);
  }
  for (const [name, pair, min] of [['kernel', s.kernel, 1], ['stride', s.stride, 1], ['padding', s.padding, 0]] as const) {
    if (!pair.every((v) => Number.isInteger(v) && v >= min)) throw new Error(`conv2d ${name} must be two integers ≥ ${min}, got ${JSON.stringify(pair)}`);
  }
  const [oh, ow] = conv2dOutputSize(s);
  if (oh < 1 || ow < 1) {
    throw new Error(`conv2d: the ${s.kernel.join('×')} kernel does not fit the ${s.height}×${s.width} input padded by ${s.padding.join('×')}`);
  }
}

export class Conv2dOp {
  readonly outHeight: number;
  readonly outWidth: number;
  /** Weight-gradient chunks: partial sums per chunk, then one ordered sum over them. */
  readonly chunks: number;

  private constructor(
    readonly shape: Conv2dShape,
    private readonly kernels: { forward: Kernel; backwardInput: Kernel; weightPartial: Kernel; weightFinal: Kernel },
    private readonly params: GPUBuffer,
    private readonly partials: GPUBuffer,
  ) {
    [this.outHeight, this.outWidth] = conv2dOutputSize(shape);
    this.chunks = Math.ceil(this.rows / WEIGHT_CHUNK_ROWS);
  }

  static async create(ctx: GpuContext, shape: Conv2dShape): Promise<Conv2dOp> {
    validateShape(shape);
    const compile = (name: string, entry: keyof typeof ENTRY, bindings: ('read' | 'readwrite' | 'uniform')[], tc = CHANNELS_PER_INVOCATION) =>
      compileTemplate(ctx, `conv2d_${name}`, 'conv2d', { ...ENTRY, [entry]: true, TC: tc }, bindings);
    const [forward, backwardInput, weightPartial, weightFinal] = await Promise.all([
      compile('forward', 'FORWARD', ['read', 'read', 'read', 'uniform', 'readwrite']),
      compile('backward_input', 'BACKWARD_INPUT', ['read', 'read', 'uniform', 'readwrite'], inputChannelsPerInvocation(shape)),
      compile('weight_partial', 'WEIGHT_PARTIAL', ['read', 'read', 'uniform', 'readwrite']),
      compile('weight_final', 'WEIGHT_FINAL', ['read', 'uniform', 'readwrite', 'readwrite']),
    ]);
    const [oh, ow] = conv2dOutputSize(shape);
    const rows = shape.batch * oh * ow;
    const chunks = Math.ceil(rows / WEIGHT_CHUNK_ROWS);
    const s = shape;
    const params = createUniform(ctx, 'conv2d params', new Uint32Array([
      s.batch, s.inChannels, s.height, s.width,
      s.outChannels, oh, ow, s.kernel[0],
      s.kernel[1], s.stride[0], s.stride[1], s.padding[0],
      s.padding[1], WEIGHT_CHUNK_ROWS, chunks, 0,
    ]));
    const partialFloats = chunks * (s.inChannels * s.kernel[0] * s.kernel[1] + 1) * s.outChannels;
    const partials = ctx.device.createBuffer({ label: 'conv2d weight partials', size: Math.max(16, partialFloats * 4), usage: STORAGE });
    return new Conv2dOp(shape, { forward, backwardInput, weightPartial, weightFinal }, params, partials);
  }

  /** Rows of the implicit GEMM: batch · outH · outW. */
  get rows(): number {
    return this.shape.batch * this.outHeight * this.outWidth;
  }

  /** Depth of the implicit GEMM: inC · kH · kW. */
  get depth(): number {
    return this.shape.inChannels * this.shape.kernel[0] * this.shape.kernel[1];
  }

  /** Multiply-adds of one pass, counted as 2 FLOPs each. */
  get flops(): number {
    return 2 * this.rows * this.depth * this.shape.outChannels;
  }

  /** y (batch × outC × outH × outW) = conv(x, weight) + bias. */
  encodeForward(rec: ComputeRecorder, b: { x: GPUBufferBinding; weight: GPUBufferBinding; bias: GPUBufferBinding; y: GPUBufferBinding }): void {
    const s = this.shape;
    const items = Math.ceil((this.outHeight * this.outWidth) / 4) * s.batch * Math.ceil(s.outChannels / CHANNELS_PER_INVOCATION);
    rec.dispatch(this.kernels.forward, [b.x, b.weight, b.bias, { buffer: this.params }, b.y], linearGroups(items), this.flops);
  }

  /** dx (batch × inC × H × W), overwritten: the input gradient of dy. */
  encodeBackwardInput(rec: ComputeRecorder, b: { dy: GPUBufferBinding; weight: GPUBufferBinding; dx: GPUBufferBinding }): void {
    const s = this.shape;
    const items = Math.ceil((s.height * s.width) / 4) * s.batch * Math.ceil(s.inChannels / inputChannelsPerInvocation(s));
    rec.dispatch(this.kernels.backwardInput, [b.dy, b.weight, { buffer: this.params }, b.dx], linearGroups(items), this.flops);
  }

  /** dWeight ([inC·kH·kW × outC]) and dBias (outC), overwritten: the gradients summed over the batch. */
  encodeBackwardWeight(rec: ComputeRecorder, b: { x: GPUBufferBinding; dy: GPUBufferBinding; dWeight: GPUBufferBinding; dBias: GPUBufferBinding }): void {
    const s = this.shape;
    const depthRows = this.depth + 1;
    const partialItems = Math.ceil(depthRows / 4) * Math.ceil(s.outChannels / 4) * this.chunks;
    rec.dispatch(this.kernels.weightPartial, [b.x, b.dy, { buffer: this.params }, { buffer: this.partials }], linearGroups(partialItems), this.flops);
    rec.dispatch(this.kernels.weightFinal, [{ buffer: this.partials }, { buffer: this.params }, b.dWeight, b.dBias], linearGroups(depthRows * s.outChannels), this.chunks * depthRows * s.outChannels);
  }

  destroy(): void {
    this.params.destroy();
    this.partials.destroy();
  }
}
