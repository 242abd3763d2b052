// Micro-batch assembly on the GPU from the resident dataset (shaders/gather.wgsl).

import type { GpuContext } from '../gpu/context.ts';
import type { Kernel } from '../gpu/pipelines.ts';
import type { ComputeRecorder } from '../gpu/recorder.ts';
import { compileTemplate, createUniform, linearGroups } from './common.ts';

export class GatherExamplesOp {
  private constructor(
    readonly rows: number,
    readonly features: number,
    private readonly kernel: Kernel,
    private readonly params: GPUBuffer,
  ) {}

  /** Pixel rows (x = byte/255, a label each), or token windows (x = the id, labelsPerExample labels each). */
  static async create(ctx: GpuContext, rows: number, features: number, examples: number, tokens: { labelsPerExample: number } | null = null): Promise<GatherExamplesOp> {
    const labelsPer = tokens?.labelsPerExample ?? 1;
    if (labelsPer > features) throw new Error(`gather: ${labelsPer} labels per example is more than its ${features} features`);
    const kernel = await compileTemplate(ctx, tokens ? 'gather_tokens' : 'gather_examples', 'gather', { TOKENS: tokens !== null }, ['read', 'read', 'read', 'uniform', 'readwrite', 'readwrite']);
    const params = createUniform(ctx, 'gather params', new Uint32Array([rows, features, examples, labelsPer]));
    return new GatherExamplesOp(rows, features, kernel, params);
  }

  encode(
    rec: ComputeRecorder,
    b: { images: GPUBufferBinding; labels: GPUBufferBinding; indices: GPUBufferBinding; x: GPUBufferBinding; y: GPUBufferBinding },
  ): void {
    rec.dispatch(this.kernel, [b.images, b.labels, b.indices, { buffer: this.params }, b.x, b.y], linearGroups(this.rows * this.features), 0);
  }

  destroy(): void {
    this.params.destroy();
  }
}

/** Pack bytes four to a u32 word (little-endian), padded to a whole word, for upload. */
export function packBytes(bytes: Uint8Array): Uint32Array {
  const words = new Uint32Array(Math.ceil(bytes.length / 4) || 1);
  new Uint8Array(words.buffer).set(bytes);
  return words;
}
