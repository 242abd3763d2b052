import { describe, expect, it } from 'vitest';
import type { GradientResult, MicroBatch } from '../worker/api.ts';
import { DutyCycleController } from './throttle.ts';
import { ThrottledTrainer } from './throttledTrainer.ts';

/** A fake worker on a fake clock: 2 examples per ms; the gradient is the mean of the indices. */
function setup(usageLimit: number) {
  let now = 0;
  const calls: number[] = [];
  let busy = 0;
  const inner = {
    loadParameters: async () => {},
    computeGradient: async ({ indices }: MicroBatch): Promise<GradientResult> => {
      calls.push(indices.length);
      now += indices.length / 2;
      busy += indices.length / 2;
      const mean = indices.reduce((s, i) => s + i, 0) / indices.length;
      return { gradient: Float32Array.of(mean), loss: mean, correct: 0, exampleCount: indices.length, wallTimeMs: indices.length / 2, gpuTimeMs: null, flops: 0, submits: 1, readbacks: 1, recoveries: 0 } as GradientResult;
    },
  };
  const controller = new DutyCycleController({ usageLimit, rampPerSecond: 100, sliceBudgetMs: 8 });
  controller.advance(0);
  const clock = { now: () => now, sleep: async (ms: number) => void (now += ms) };
  const trainer = new ThrottledTrainer(inner, controller, { clock, mayCompute: async () => {}, initialExamplesPerMs: 2 });
  return { trainer, calls, elapsed: () => now, busy: () => busy };
}

describe('ThrottledTrainer', () => {
  it('computes a lease in slices of the time budget and gives the same mean gradient', async () => {
    const { trainer, calls } = setup(1);
    const indices = Uint32Array.from({ length: 100 }, (_, i) => i);
    const r = await trainer.computeGradient({ version: 1, indices });
    expect(Math.max(...calls)).toBe(16); // 8 ms at 2 examples/ms
    expect(calls.reduce((a, b) => a + b, 0)).toBe(100);
    expect(r.exampleCount).toBe(100);
    expect(r.gradient[0]).toBeCloseTo(49.5, 4);
  });

  it('rests so that it computes about the usage limit of the wall clock', async () => {
    const { trainer, elapsed, busy } = setup(0.25);
    await trainer.computeGradient({ version: 1, indices: new Uint32Array(1600) });
    expect(busy() / elapsed()).toBeGreaterThan(0.2);
    expect(busy() / elapsed()).toBeLessThanOrEqual(0.26);
  });
});
