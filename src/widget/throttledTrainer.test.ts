import { describe, expect, it } from 'vitest';
import type { GradientResult, MicroBatch, TrainStepResult } from '../worker/api.ts';
import { DutyCycleController } from './throttle.ts';
import { ThrottledTrainer } from './throttledTrainer.ts';

/** A fake worker on a fake clock: 2 examples per ms; the gradient is the mean of the indices. */
function setup(usageLimit: number) {
  let now = 0;
  const calls: number[] = [];
  let busy = 0;
  let params = new Float32Array(1);
  let step = 0;
  const inner = {
    loadParameters: async (_version: number, p: Float32Array) => {
      params = p.slice();
      step = 0;
    },
    /** An inner step: 2 examples per ms; params[0] goes down by the batch's first index. */
    trainStep: async ({ version, indices }: MicroBatch): Promise<TrainStepResult> => {
      calls.push(indices.length);
      now += indices.length / 2;
      busy += indices.length / 2;
      params[0] -= indices[0];
      step++;
      return { version: version + 1, step, loss: 1, correct: 0, exampleCount: indices.length, wallTimeMs: indices.length / 2, gpuTimeMs: null, recoveries: 0 };
    },
    getParameters: async () => ({ version: step, params: params.slice() }),
    localSteps: async () => {
      throw new Error('the throttled trainer runs local steps itself, step by step');
    },
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
    // Its compute time counts the slices, not the rests.
    expect(trainer.computeMs).toBe(busy());
  });

  it('runs a local-steps lease one inner step per slice, resting between steps', async () => {
    const { trainer, calls, elapsed, busy } = setup(0.25);
    await trainer.loadParameters(3, Float32Array.of(100));
    const indices = Uint32Array.from({ length: 640 }, (_, i) => i);
    const hyper = { kind: 'adamw' as const, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, maxGradNorm: 0 };
    const r = await trainer.localSteps({ version: 3, indices, innerBatch: 64, hyper });
    expect(calls).toEqual(Array(10).fill(64));
    expect(r.steps).toBe(10);
    // Δ = θ_v − θ_after = the sum of each batch's first index: 0 + 64 + … + 576.
    expect(r.delta[0]).toBe(2880);
    expect(busy() / elapsed()).toBeLessThanOrEqual(0.26);
    await expect(trainer.localSteps({ version: 4, indices, innerBatch: 64, hyper })).rejects.toThrow(/version 3 is loaded/);
  });
});

