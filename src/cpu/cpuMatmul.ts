// A standalone matmul on the CPU backend's kernels and threads: for the kernel tests and
// the benchmark's comparison with onnxruntime-web at N = 1024.

import type { MatmulLayout } from '../model/reference.ts';
import { createExecutor, type CpuExecutor, type ExecutorOptions } from './executor.ts';
import { headerRegions, packedColsBytes, packedRowsBytes } from './memoryPlan.ts';

export interface MatmulShape {
  layout: MatmulLayout;
  m: number;
  n: number;
  k: number;
}

export class CpuMatmul {
  private constructor(
    readonly shape: MatmulShape,
    private readonly executor: CpuExecutor,
    private readonly offsets: { a: number; b: number; c: number; packedA: number; packedB: number },
  ) {}

  static async create(shape: MatmulShape, options: ExecutorOptions = {}): Promise<CpuMatmul> {
    const { m, n, k, layout } = shape;
    for (const [name, v] of [['m', m], ['n', n], ['k', k]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`Matmul ${name} must be a positive integer, got ${v}`);
    }
    if (layout !== 'nn' && layout !== 'nt' && layout !== 'tn') throw new Error(`Matmul layout must be 'nn', 'nt' or 'tn', got ${JSON.stringify(layout)}`);
    const executor = await createExecutor(options);
    let next = headerRegions(executor.heapBase).tiles;
    const take = (bytes: number) => {
      const offset = Math.ceil((next.offset + next.bytes) / 64) * 64;
      next = { offset, bytes };
      return offset;
    };
    const offsets = {
      a: take(m * k * 4),
      b: take(k * n * 4),
      c: take(m * n * 4),
      packedA: take(packedRowsBytes(m, k)),
      packedB: take(packedColsBytes(k, n)),
    };
    try {
      executor.ensureBytes(next.offset + next.bytes);
    } catch (error) {
      executor.dispose();
      throw error;
    }
    return new CpuMatmul(shape, executor, offsets);
  }

  get threads(): number {
    return this.executor.threads;
  }

  get simd() {
    return this.executor.simd;
  }

  /** op(A) as stored: m×k, or k×m for 'tn'. Write inputs here. */
  get a(): Float32Array {
    return new Float32Array(this.executor.memory.buffer, this.offsets.a, this.shape.m * this.shape.k);
  }

  /** op(B) as stored: k×n, or n×k for 'nt'. */
  get b(): Float32Array {
    return new Float32Array(this.executor.memory.buffer, this.offsets.b, this.shape.k * this.shape.n);
  }

  /** C, m×n, after multiply(). */
  get c(): Float32Array {
    return new Float32Array(this.executor.memory.buffer, this.offsets.c, this.shape.m * this.shape.n);
  }

  /** C = op(A)·op(B), packing included (as a real caller pays it). */
  multiply(): Promise<void> {
    return this.executor.run({ kind: 'matmul', matmul: { ...this.shape, ...this.offsets } });
  }

  dispose(): void {
    this.executor.dispose();
  }
}
