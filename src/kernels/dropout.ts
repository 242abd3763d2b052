// Inverted dropout by the hashed mask of src/model/layers/dropout.ts (shaders/dropout.wgsl):
// the same kernel is the forward (y = x ⊙ m/(1 − p)) and the backward (dx = dy ⊙ m/(1 − p)),
// the mask recomputed from (seed, position, ordinal, unit) instead of stored.

import type { GpuContext } from '../gpu/context.ts';
import type { Kernel } from '../gpu/pipelines.ts';
import type { ComputeRecorder } from '../gpu/recorder.ts';
import { dropoutThreshold } from '../model/layers/dropout.ts';
import { compileTemplate, createUniform, linearGroups } from './common.ts';

export interface DropoutShape {
  rows: number;
  /** Units per example: the mask index u runs over them. */
  features: number;
  /** The layer's pre-order ordinal in the model (ResolvedDropout.ordinal). */
  ordinal: number;
  p: number;
}

/** The randomness buffer's words: [seed, position of example 0, …], as the kernel reads it. */
export function dropoutWords(seed: number, positions: ArrayLike<number>): Uint32Array {
  const words = new Uint32Array(1 + positions.length);
  words[0] = seed;
  for (let i = 0; i < positions.length; i++) words[1 + i] = positions[i];
  return words;
}

export class DropoutOp {
  private constructor(
    readonly shape: DropoutShape,
    private readonly kernel: Kernel,
    private readonly params: GPUBuffer,
  ) {}

  static async create(ctx: GpuContext, shape: DropoutShape): Promise<DropoutOp> {
    const { rows, features, ordinal, p } = shape;
    for (const [name, v] of Object.entries({ rows, features })) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`dropout ${name} must be a positive integer, got ${v}`);
    }
    if (!Number.isInteger(ordinal) || ordinal < 0 || ordinal >= 2 ** 32) throw new Error(`dropout ordinal must be a u32, got ${ordinal}`);
    if (rows * features >= 2 ** 32) throw new Error(`dropout over ${rows}×${features} values overflows the kernel's u32 index`);
    const threshold = dropoutThreshold(p);
    const kernel = await compileTemplate(ctx, 'dropout', 'dropout', {}, ['read', 'read', 'uniform', 'readwrite']);
    const words = new ArrayBuffer(32);
    new Uint32Array(words, 0, 4).set([rows, features, ordinal, threshold]);
    new Float32Array(words, 16, 1)[0] = 1 / (1 - p);
    return new DropoutOp(shape, kernel, createUniform(ctx, 'dropout params', words));
  }

  get count(): number {
    return this.shape.rows * this.shape.features;
  }

  /**
   * y = x ⊙ m/(1 − p); randomness holds dropoutWords(seed, positions) (1 + rows u32). The
   * backward is the same call with x = dy and y = dx.
   */
  encode(rec: ComputeRecorder, b: { x: GPUBufferBinding; randomness: GPUBufferBinding; y: GPUBufferBinding }): void {
    rec.dispatch(this.kernel, [b.x, b.randomness, { buffer: this.params }, b.y], linearGroups(this.count), 20 * this.count);
  }

  destroy(): void {
    this.params.destroy();
  }
}
