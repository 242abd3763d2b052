// Token and position embeddings (shaders/embedding.wgsl): the token table's gather and its
// deterministic scatter-add backward, and the position table's broadcast add (its backward is
// ColumnSumOp over the batch, src/kernels/reduce.ts).

import type { GpuContext } from '../gpu/context.ts';
import type { Kernel } from '../gpu/pipelines.ts';
import type { ComputeRecorder } from '../gpu/recorder.ts';
import { compileTemplate, createUniform, linearGroups } from './common.ts';

const ENTRY = { TOKEN_FORWARD: false, TOKEN_BACKWARD: false, POSITION_FORWARD: false };

const positive = (name: string, v: number) => {
  if (!Number.isInteger(v) || v < 1) throw new Error(`embedding ${name} must be a positive integer, got ${v}`);
};

export class TokenEmbeddingOp {
  private constructor(
    readonly rows: number,
    readonly features: number,
    readonly vocabulary: number,
    private readonly kernels: { forward: Kernel; backward: Kernel | null },
    private readonly params: GPUBuffer,
  ) {}

  /**
   * rows token ids (batch·T) into rows × features; accumulate: the backward adds to dE (a tied
   * head's backward wrote it first) instead of overwriting it.
   */
  static async create(ctx: GpuContext, s: { rows: number; features: number; vocabulary: number; training: boolean; accumulate: boolean }): Promise<TokenEmbeddingOp> {
    positive('rows', s.rows);
    positive('features', s.features);
    positive('vocabulary', s.vocabulary);
    const [forward, backward] = await Promise.all([
      compileTemplate(ctx, 'embedding_token_forward', 'embedding', { ...ENTRY, TOKEN_FORWARD: true }, ['read', 'read', 'uniform', 'readwrite']),
      s.training ? compileTemplate(ctx, 'embedding_token_backward', 'embedding', { ...ENTRY, TOKEN_BACKWARD: true }, ['read', 'read', 'uniform', 'readwrite']) : null,
    ]);
    const params = createUniform(ctx, 'token embedding shape', new Uint32Array([s.rows, s.features, s.vocabulary, s.accumulate ? 1 : 0]));
    return new TokenEmbeddingOp(s.rows, s.features, s.vocabulary, { forward, backward }, params);
  }

  encodeForward(rec: ComputeRecorder, b: { tokens: GPUBufferBinding; table: GPUBufferBinding; y: GPUBufferBinding }): void {
    rec.dispatch(this.kernels.forward, [b.tokens, b.table, { buffer: this.params }, b.y], linearGroups(this.rows * this.features), 0);
  }

  /** dTable [vocabulary × features]: every entry written (or added to). */
  encodeBackward(rec: ComputeRecorder, b: { tokens: GPUBufferBinding; dy: GPUBufferBinding; dTable: GPUBufferBinding }): void {
    if (!this.kernels.backward) throw new Error('token embedding: this op was made for evaluation; its backward needs training = true');
    rec.dispatch(this.kernels.backward, [b.tokens, b.dy, { buffer: this.params }, b.dTable], linearGroups(this.vocabulary * this.features), this.rows * this.features);
  }

  destroy(): void {
    this.params.destroy();
  }
}

export class PositionEmbeddingOp {
  private constructor(
    readonly batch: number,
    readonly perExample: number,
    private readonly kernel: Kernel,
    private readonly params: GPUBuffer,
  ) {}

  /** y = x + P over batch examples of perExample = T·C values. */
  static async create(ctx: GpuContext, batch: number, perExample: number): Promise<PositionEmbeddingOp> {
    positive('batch', batch);
    positive('positions × features', perExample);
    const kernel = await compileTemplate(ctx, 'embedding_position_forward', 'embedding', { ...ENTRY, POSITION_FORWARD: true }, ['read', 'read', 'uniform', 'readwrite']);
    return new PositionEmbeddingOp(batch, perExample, kernel, createUniform(ctx, 'position embedding shape', new Uint32Array([batch, perExample, 0, 0])));
  }

  encodeForward(rec: ComputeRecorder, b: { x: GPUBufferBinding; table: GPUBufferBinding; y: GPUBufferBinding }): void {
    const count = this.batch * this.perExample;
    rec.dispatch(this.kernel, [b.x, b.table, { buffer: this.params }, b.y], linearGroups(count), count);
  }

  destroy(): void {
    this.params.destroy();
  }
}
