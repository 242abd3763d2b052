// The pure parts of the CPU backend: how work is shared among threads, the memory plan,
// and the job encoding every thread decodes.
import { describe, expect, it } from 'vitest';
import { DEFAULT_MLP, mlpLayout } from '../model/mlp.ts';
import { decodeJob, encodeJob, type CpuJob } from './jobs.ts';
import { JOB_SLOTS } from './control.ts';
import { MR, NR, headerRegions, packedColsBytes, packedRowsBytes, planMemory, type Region } from './memoryPlan.ts';
import { share } from './program.ts';

describe('share', () => {
  it('splits items into contiguous slices that cover everything once, sizes within one', () => {
    for (const [total, count] of [[0, 1], [1, 3], [7, 2], [32, 3], [196, 16], [5, 5]]) {
      const slices = Array.from({ length: count }, (_, i) => share(total, i, count));
      expect(slices[0][0]).toBe(0);
      expect(slices[count - 1][1]).toBe(total);
      slices.slice(1).forEach(([start], i) => expect(start).toBe(slices[i][1]));
      const sizes = slices.map(([a, b]) => b - a);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
  });
});

describe('planMemory', () => {
  const inputs = { spec: DEFAULT_MLP, trainCount: 60000, testCount: 10000, batchCapacity: 256 };

  function regionsOf(value: unknown, out: Region[] = []): Region[] {
    if (value && typeof value === 'object') {
      if ('offset' in value && 'bytes' in value) out.push(value as Region);
      else Object.values(value).forEach((v) => regionsOf(v, out));
    }
    return out;
  }

  it('lays out every region 64-byte aligned, without overlap, inside `end`', () => {
    const plan = planMemory(inputs, 1234);
    const regions = regionsOf({ ...plan, inputs: null, layout: null }).sort((a, b) => a.offset - b.offset);
    expect(regions[0].offset).toBeGreaterThanOrEqual(1234);
    for (const [i, r] of regions.entries()) {
      expect(r.offset % 64).toBe(0);
      if (i > 0) expect(r.offset).toBeGreaterThanOrEqual(regions[i - 1].offset + regions[i - 1].bytes);
    }
    const last = regions[regions.length - 1];
    expect(plan.end).toBeGreaterThanOrEqual(last.offset + last.bytes);
    expect(plan.train.images.bytes).toBe(60000 * 784);
    expect(plan.model.packedW[0].bytes).toBe(packedColsBytes(784, 256));
    expect(plan.batch.inputRows[0].bytes).toBe(packedRowsBytes(256, 784));
    expect(plan.model.packedWT[0]).toBeNull();
  });

  it('keeps the model where it is when the datasets or the batch capacity change', () => {
    const a = planMemory(inputs, 1024);
    const b = planMemory({ ...inputs, trainCount: 5, testCount: 0, batchCapacity: 4096 }, 1024);
    expect(b.model).toEqual(a.model);
    expect(headerRegions(1024)).toEqual({ control: a.control, tiles: a.tiles });
  });

  it('sizes packed panels to whole tiles', () => {
    expect(packedRowsBytes(5, 3)).toBe(2 * MR * 3 * 4);
    expect(packedColsBytes(3, 9)).toBe(2 * NR * 3 * 4);
  });

  it('refuses impossible inputs with what was wrong', () => {
    expect(() => planMemory({ ...inputs, batchCapacity: 0 }, 0)).toThrow('Memory plan: batchCapacity must be an integer ≥ 1, got 0');
    expect(() => planMemory({ ...inputs, trainCount: 1.5 }, 0)).toThrow(/trainCount must be an integer/);
  });
});

describe('job encoding', () => {
  const jobs: CpuJob[] = [
    { kind: 'configure', inputs: { spec: { widths: [784, 256, 128, 10], activation: 'gelu' }, trainCount: 60000, testCount: 10000, batchCapacity: 1024 } },
    { kind: 'gradient', batch: 128, repack: true, optimizer: null },
    {
      kind: 'gradient', batch: 7, repack: false,
      optimizer: { kind: 'adamw', lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-4, bc1: 0.1, bc2: 0.001, maxGradNorm: 1 },
    },
    { kind: 'forward', batch: 1000, repack: true, source: 'test' },
    { kind: 'forward', batch: 3, repack: false, source: 'raw' },
    { kind: 'optimizer', optimizer: { kind: 'sgd', lr: 0.1, beta1: 0.9, beta2: 0, eps: 0, weightDecay: 0, bc1: 1, bc2: 1, maxGradNorm: 0 } },
    { kind: 'matmul', matmul: { layout: 'tn', m: 5, n: 6, k: 7, a: 64, b: 128, c: 256, packedA: 512, packedB: 1024 } },
  ];
  it('round-trips every kind of job through the f64 slots', () => {
    const slots = new Float64Array(JOB_SLOTS);
    for (const job of jobs) {
      encodeJob(job, slots);
      expect(decodeJob(slots)).toEqual(job);
    }
  });

  it('refuses what it cannot carry', () => {
    const slots = new Float64Array(JOB_SLOTS);
    const deep = { kind: 'configure' as const, inputs: { spec: { widths: Array(60).fill(4), activation: 'relu' as const }, trainCount: 0, testCount: 0, batchCapacity: 1 } };
    expect(() => encodeJob(deep, slots)).toThrow(/at most 55 layers, got 59/);
    slots[0] = 99;
    expect(() => decodeJob(slots)).toThrow('internal error: unknown CPU job kind 99');
  });
});
