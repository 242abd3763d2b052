// Our CPU matmul against onnxruntime-web's WASM MatMul at N=1024, each at 1 thread and at
// one per core, every measurement in a fresh worker, the implementations interleaved over
// repeats (the machine may be shared: the best repeat counts, medians are kept).

import { loadKernelModule, type SimdLevel } from '../cpu/kernels.ts';
import type { BenchSettings } from './settings.ts';
import type { BenchSuite } from './suite.ts';
import { benchThreadCounts, measureInWorker, type CpuMeasureRequest, type MatmulFigures } from './cpuBaselines.ts';
import { CPU_MATMUL_N, CPU_MATMUL_SUITE_ID, cpuMatmulChecks, ortMatmulName, oursMatmulName } from './cpuChecks.ts';

/** The relaxed build only where this engine has relaxed SIMD (the backend's own choice). */
async function simdLevels(): Promise<SimdLevel[]> {
  const best = await loadKernelModule({ shared: false });
  return best.simd === 'relaxed' ? ['relaxed', 'plain'] : ['plain'];
}

export function createCpuMatmulSuite(settings: Pick<BenchSettings, 'quick'>): BenchSuite {
  return {
    id: CPU_MATMUL_SUITE_ID,
    title: `CPU matmul N=${CPU_MATMUL_N}: ours (WebAssembly SIMD) vs onnxruntime-web wasm, same thread counts`,
    sizeLabel: 'N',
    async run(ctx, emit) {
      const n = CPU_MATMUL_N;
      const repeats = settings.quick ? 1 : 3;
      const budgetMs = settings.quick ? 300 : 1000;
      const levels = await simdLevels();
      const plan: { name: string; request: CpuMeasureRequest }[] = [];
      for (const threads of benchThreadCounts()) {
        for (const simd of levels) plan.push({ name: oursMatmulName(simd, threads), request: { kind: 'ours-matmul', n, threads, simd, budgetMs } });
        plan.push({ name: ortMatmulName(threads), request: { kind: 'ort-matmul', n, threads, budgetMs } });
      }
      const results = new Map<string, MatmulFigures[]>();
      for (let rep = 1; rep <= repeats; rep++) {
        for (const { name, request } of plan) {
          ctx.signal?.throwIfAborted();
          const f = (await measureInWorker(request, ctx.signal)) as MatmulFigures;
          ctx.log(`${name}, repeat ${rep}/${repeats}: ${((2 * n ** 3) / f.bestMs / 1e6).toFixed(1)} GFLOP/s (best of ${f.runs})`);
          results.set(name, [...(results.get(name) ?? []), f]);
        }
      }
      const reference = results.get(ortMatmulName(1))![0].probe;
      for (const { name, request } of plan) {
        const all = results.get(name)!;
        const best = all.reduce((a, b) => (b.bestMs < a.bestMs ? b : a));
        // Every implementation multiplies the same A and B: a wrong C is not a result.
        const off = best.probe.findIndex((v, i) => !(Math.abs(v - reference[i]) <= 1e-3 * Math.max(1, Math.abs(reference[i]))));
        if (off >= 0) throw new Error(`${name} computed C differently from onnxruntime-web (probe ${off}: ${best.probe[off]} vs ${reference[off]})`);
        emit({
          suite: CPU_MATMUL_SUITE_ID,
          name,
          size: n,
          value: (2 * n ** 3) / best.bestMs / 1e6,
          unit: 'GFLOP/s',
          ms: best.bestMs,
          details: {
            ...best.details,
            threads: request.threads,
            medianGflops: all.map((f) => (2 * n ** 3) / f.medianMs / 1e6),
            runsPerRepeat: all.map((f) => f.runs),
            repeats,
            counted: 'the fastest run of all repeats; each repeat in a fresh worker, implementations interleaved',
          },
        });
      }
    },
    checks: cpuMatmulChecks,
  };
}
