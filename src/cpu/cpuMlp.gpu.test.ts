// The CPU MLP in Chromium, cross-origin isolated: the shared tests on 1, 2 and 3 worker
// threads, and the same bits whatever the thread count; a crashed thread fails the job
// with its message and marks the backend lost.

import { describe, expect, it } from 'vitest';
import { defineCpuMlpTests, pick, setupCpuMlp } from './cpuMlp.testSuite.ts';
import { defineCpuMatmulTests, multiplyRandom } from './cpuMatmul.testSuite.ts';

defineCpuMatmulTests(1, ['plain', 'relaxed']);
defineCpuMatmulTests(3, ['plain', 'relaxed']);
defineCpuMlpTests(1);
defineCpuMlpTests(2);
defineCpuMlpTests(3);

describe('CPU threads', () => {
  it('give bit-identical gradients and AdamW steps for 1, 2, 3 and 5 threads', async () => {
    const spec = { widths: [784, 256, 128, 10], activation: 'gelu' as const };
    const hyper = { kind: 'adamw' as const, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1 };
    const results: Uint32Array[] = [];
    for (const threads of [1, 2, 3, 5]) {
      const { rng, ds, mlp } = await setupCpuMlp(spec, 400, 31, threads);
      expect(mlp.threads).toBe(threads);
      const indices = pick(rng, 131, ds.count);
      const { gradient } = await mlp.gradient(indices);
      await mlp.trainStep(pick(rng, 77, ds.count), hyper, 1);
      const bits = new Uint32Array([...new Uint32Array(gradient.buffer), ...new Uint32Array(mlp.readState().params.buffer)]);
      results.push(bits);
      mlp.dispose();
    }
    for (const r of results.slice(1)) expect(r).toEqual(results[0]);
  });

  it('give the same matmul bits for 1 and 4 threads', async () => {
    for (const layout of ['nn', 'nt', 'tn'] as const) {
      const one = await multiplyRandom(layout, 97, 75, 131, 1, 7);
      const four = await multiplyRandom(layout, 97, 75, 131, 4, 7);
      expect(new Uint32Array(four.c.buffer)).toEqual(new Uint32Array(one.c.buffer));
    }
  });

  it('a killed pool fails the running job with a clear error and is lost', async () => {
    const { rng, ds, mlp } = await setupCpuMlp({ widths: [784, 256, 128, 10], activation: 'relu' }, 300, 37, 2);
    const running = mlp.gradient(pick(rng, 256, ds.count));
    mlp.kill();
    await expect(running).rejects.toThrow(/CPU job did not finish: killed on request/);
    expect(mlp.lost).toBe(true);
    await expect(mlp.gradient(pick(rng, 8, ds.count))).rejects.toThrow(/CPU threads are gone.*create a new backend/);
  });
});
