// The CPU layer-table model in Chromium, cross-origin isolated: the shared tests on 1, 2 and
// 3 worker threads (bit-identical to CpuMlp on each), and the same bits whatever the thread
// count for a CNN and a dropout model; a killed pool fails the job and marks the model lost.

import { describe, expect, it } from 'vitest';
import type { AdamWHyper } from '../kernels/optimizer.ts';
import { assertBitIdentical } from '../testing/layerCases.ts';
import { cnnSpec, defineCpuModelTests, normResidualSpec, pick, setupCpuModel } from './cpuModel.testSuite.ts';
import { defineCpuGptTests } from './cpuGpt.testSuite.ts';
import { GPT_CASES, gptBatch, gptParameters } from '../testing/gptCases.ts';
import { resolveModel } from '../model/layers/spec.ts';
import { Random } from '../util/random.ts';
import { CpuModel } from './cpuModel.ts';

defineCpuModelTests(1);
defineCpuModelTests(2);
defineCpuModelTests(3);
defineCpuGptTests(1);
defineCpuGptTests(3);

describe('CPU GPT layers across threads', () => {
  it('give the same bits for 1, 2 and 4 threads (a GPT block with dropout, batch 9)', async () => {
    const model = resolveModel(GPT_CASES[2][1]);
    const params = gptParameters(model, 3);
    const { x, labels, dropout } = gptBatch(model, new Random(4), 9);
    const results: Float32Array[] = [];
    for (const threads of [1, 2, 4]) {
      const cpu = await CpuModel.create(model, { threads });
      try {
        cpu.setParameters(params);
        results.push((await cpu.gradientOf(x, labels, dropout)).gradient);
      } finally {
        cpu.dispose();
      }
    }
    assertBitIdentical(results[1], results[0], 'gradient, 2 threads against 1');
    assertBitIdentical(results[2], results[0], 'gradient, 4 threads against 1');
  });
});

describe('CPU layer-table model threads', () => {
  it('give bit-identical gradients, AdamW steps, evaluations and logits for 1, 2, 3 and 5 threads', async () => {
    const hyper: AdamWHyper = { kind: 'adamw', lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1 };
    for (const spec of [cnnSpec(3, 12, 13), normResidualSpec, { widths: [784, 256, 128, 10], activation: 'gelu' as const }]) {
      const results: Float32Array[] = [];
      for (const threads of [1, 2, 3, 5]) {
        const { rng, ds, cpu } = await setupCpuModel(spec, 300, 31, threads);
        expect(cpu.threads).toBe(threads);
        const positions = Uint32Array.from({ length: 45 }, (_, i) => i * 7919);
        const dropout = { seed: 12345, positions };
        const indices = pick(rng, 45, ds.count);
        const { gradient, loss } = await cpu.gradient(indices, dropout);
        await cpu.trainStep(indices, hyper, 1, dropout);
        const evaluation = await cpu.evaluate('test', pick(rng, 21, ds.count));
        const logits = await cpu.logits(new Float32Array(3 * ds.features).fill(0.5), 3);
        results.push(Float32Array.from([loss, evaluation.lossSum, evaluation.correct, ...gradient, ...cpu.readState().params, ...logits]));
        cpu.dispose();
      }
      for (const [i, r] of results.slice(1).entries()) assertBitIdentical(r, results[0], `${JSON.stringify(spec).slice(0, 40)}…, ${[2, 3, 5][i]} threads vs 1`);
    }
  });

  it('a killed pool fails the running job with a clear error and is lost', async () => {
    const { rng, ds, cpu } = await setupCpuModel(cnnSpec(1, 28, 28), 300, 37, 2);
    const running = cpu.gradient(pick(rng, 256, ds.count));
    cpu.kill();
    await expect(running).rejects.toThrow(/CPU job did not finish: killed on request/);
    expect(cpu.lost).toBe(true);
    await expect(cpu.gradient(pick(rng, 8, ds.count))).rejects.toThrow(/CPU threads are gone.*create a new backend/);
  });
});
