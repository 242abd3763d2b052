// A lease larger than one device call is computed in chunks and combined by example count:
// the result must be the mean over the whole lease, exactly as one call over all of it
// would give (up to float rounding), with counts and timings summed.

import { describe, expect, it } from 'vitest';
import type { GradientResult, MicroBatch } from '../worker/api.ts';
import { gradientOfLease } from './session.ts';

/** A trainer whose "gradient" of example i is [i, 1] and loss i: means are easy to check. */
function arithmeticTrainer(calls: number[]) {
  return {
    async computeGradient(batch: MicroBatch): Promise<GradientResult> {
      const idx = Array.from(batch.indices);
      calls.push(idx.length);
      const mean = idx.reduce((a, b) => a + b, 0) / idx.length;
      return {
        version: batch.version, loss: mean, correct: idx.filter((i) => i % 2 === 0).length, exampleCount: idx.length,
        gradient: Float32Array.of(mean, 1), gpuTimeMs: 1, wallTimeMs: 2, flops: 10 * idx.length, submits: 1, readbacks: 1, recoveries: 0,
      };
    },
  };
}

describe('gradientOfLease', () => {
  it('makes one call for a lease that fits', async () => {
    const calls: number[] = [];
    const r = await gradientOfLease(arithmeticTrainer(calls), 3, Uint32Array.from({ length: 10 }, (_, i) => i), 16);
    expect(calls).toEqual([10]);
    expect(r.gradient).toEqual(Float32Array.of(4.5, 1));
  });

  it('combines uneven chunks into the mean over the whole lease', async () => {
    const calls: number[] = [];
    const indices = Uint32Array.from({ length: 10 }, (_, i) => i);
    const r = await gradientOfLease(arithmeticTrainer(calls), 3, indices, 4);
    expect(calls).toEqual([4, 4, 2]);
    expect(r.version).toBe(3);
    expect(r.exampleCount).toBe(10);
    expect(r.correct).toBe(5);
    expect(r.loss).toBeCloseTo(4.5, 12);
    expect(r.gradient[0]).toBeCloseTo(4.5, 5);
    expect(r.gradient[1]).toBeCloseTo(1, 6);
    expect(r.wallTimeMs).toBe(6);
    expect(r.gpuTimeMs).toBe(3);
    expect(r.flops).toBe(100);
    expect(r.submits).toBe(3);
  });

  it('passes a failing chunk on, so that the lease is reported failed', async () => {
    const trainer = {
      computeGradient: async (b: MicroBatch) => {
        if (b.indices[0] >= 4) throw new Error('device lost');
        return arithmeticTrainer([]).computeGradient(b);
      },
    };
    await expect(gradientOfLease(trainer, 1, Uint32Array.from({ length: 8 }, (_, i) => i), 4)).rejects.toThrow('device lost');
  });
});
