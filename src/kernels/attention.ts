// The causal attention core (shaders/attention.wgsl) for `batch` sequences of T positions,
// H heads of size d: softmax(q·kᵀ/√d, masked)·v forward, saving P [batch·H, T, T] for the
// backward, which writes dS [batch·H, T, T] and then dq, dk, dv into dQKV (every entry).

import type { GpuContext } from '../gpu/context.ts';
import type { Kernel } from '../gpu/pipelines.ts';
import type { ComputeRecorder } from '../gpu/recorder.ts';
import { compileTemplate, createUniform, linearGroups } from './common.ts';

const ENTRY = { FORWARD: false, BACKWARD_ROWS: false, BACKWARD_KEYS: false };

export interface AttentionShape { batch: number; context: number; features: number; heads: number }

export class AttentionCoreOp {
  private constructor(
    readonly shape: AttentionShape,
    private readonly kernels: { forward: Kernel; rows: Kernel; keys: Kernel | null },
    private readonly params: GPUBuffer,
  ) {}

  /** P and dS hold this many floats: batch·H·T². */
  get scoreCount(): number {
    const { batch, heads, context } = this.shape;
    return batch * heads * context * context;
  }

  static async create(ctx: GpuContext, shape: AttentionShape, training: boolean): Promise<AttentionCoreOp> {
    const { batch, context, features, heads } = shape;
    for (const [name, v] of Object.entries(shape)) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`attention ${name} must be a positive integer, got ${v}`);
    }
    if (features % heads !== 0) throw new Error(`attention: ${heads} heads do not divide ${features} features`);
    const headSize = features / heads;
    const [forward, rows, keys] = await Promise.all([
      compileTemplate(ctx, 'attention_forward', 'attention', { ...ENTRY, FORWARD: true }, ['read', 'uniform', 'readwrite', 'readwrite']),
      training ? compileTemplate(ctx, 'attention_backward_rows', 'attention', { ...ENTRY, BACKWARD_ROWS: true }, ['read', 'read', 'read', 'uniform', 'readwrite', 'readwrite']) : null,
      training ? compileTemplate(ctx, 'attention_backward_keys', 'attention', { ...ENTRY, BACKWARD_KEYS: true }, ['read', 'read', 'read', 'read', 'uniform', 'readwrite']) : null,
    ]);
    const words = new ArrayBuffer(32);
    new Uint32Array(words, 0, 5).set([batch, context, features, heads, headSize]);
    new Float32Array(words, 20, 1)[0] = 1 / Math.sqrt(headSize);
    return new AttentionCoreOp(shape, { forward, rows: rows!, keys }, createUniform(ctx, 'attention shape', words));
  }

  private get groups(): [number, number] {
    const { batch, heads, context } = this.shape;
    return linearGroups(batch * heads * context);
  }

  /** o [batch·T, C] from qkv [batch·T, 3C]; P saved. */
  encodeForward(rec: ComputeRecorder, b: { qkv: GPUBufferBinding; probs: GPUBufferBinding; o: GPUBufferBinding }): void {
    // Per score: q·k and P·v (2d each, the mask not subtracted) and the softmax's 4.
    const d = this.shape.features / this.shape.heads;
    rec.dispatch(this.kernels.forward, [b.qkv, { buffer: this.params }, b.probs, b.o], this.groups, this.scoreCount * (4 * d + 4));
  }

  /** dQKV [batch·T, 3C], every entry overwritten, from dO and the forward's qkv and P; dS is scratch. */
  encodeBackward(rec: ComputeRecorder, b: { qkv: GPUBufferBinding; probs: GPUBufferBinding; dO: GPUBufferBinding; dScores: GPUBufferBinding; dQkv: GPUBufferBinding }): void {
    if (!this.kernels.keys) throw new Error('attention: this op was made for evaluation; its backward needs training = true');
    const d = this.shape.features / this.shape.heads;
    rec.dispatch(this.kernels.rows, [b.qkv, b.probs, b.dO, { buffer: this.params }, b.dScores, b.dQkv], this.groups, this.scoreCount * (4 * d + 3));
    rec.dispatch(this.kernels.keys, [b.qkv, b.probs, b.dO, b.dScores, { buffer: this.params }, b.dQkv], this.groups, this.scoreCount * 4 * d);
  }

  destroy(): void {
    this.params.destroy();
  }
}
