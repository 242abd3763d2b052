// The CPU bars judged on hand-made rows: same thread count only, the backend's own build,
// the 1.5× training bar, and a clear failure when a side was not measured.
import { describe, expect, it } from 'vitest';
import { CPU_MATMUL_SUITE_ID, CPU_MLP_SUITE_ID, cpuMatmulChecks, cpuMlpChecks, ortMatmulName, oursMatmulName, oursMlpName, tfjsMlpName } from './cpuChecks.ts';
import type { BenchRow } from './suite.ts';

const row = (suite: string, name: string, value: number, threads: number, skipped?: string): BenchRow => ({ suite, name, value, unit: 'x', details: { threads }, skipped });

describe('cpuMatmulChecks', () => {
  it('compares our relaxed build with onnxruntime at each thread count', () => {
    const checks = cpuMatmulChecks([
      row(CPU_MATMUL_SUITE_ID, oursMatmulName('relaxed', 1), 45, 1),
      row(CPU_MATMUL_SUITE_ID, oursMatmulName('plain', 1), 39, 1),
      row(CPU_MATMUL_SUITE_ID, ortMatmulName(1), 34, 1),
      row(CPU_MATMUL_SUITE_ID, oursMatmulName('relaxed', 2), 60, 2),
      row(CPU_MATMUL_SUITE_ID, ortMatmulName(2), 64, 2),
    ]);
    expect(checks.map((c) => c.pass)).toEqual([true, false]);
    expect(checks[0].detail).toBe('ours wasm relaxed-SIMD, 1 thread 45.0 GFLOP/s vs onnxruntime-web wasm, 1 thread 34.0 GFLOP/s: 1.32×');
    expect(checks[1].bar).toMatch(/same thread count \(2 threads\)/);
  });

  it('uses the plain build where the browser has no relaxed SIMD, and fails when ours is missing', () => {
    const plainOnly = cpuMatmulChecks([row(CPU_MATMUL_SUITE_ID, oursMatmulName('plain', 1), 39, 1), row(CPU_MATMUL_SUITE_ID, ortMatmulName(1), 34, 1)]);
    expect(plainOnly[0].pass).toBe(true);
    const missing = cpuMatmulChecks([row(CPU_MATMUL_SUITE_ID, oursMatmulName('relaxed', 1), NaN, 1, 'crashed'), row(CPU_MATMUL_SUITE_ID, ortMatmulName(1), 34, 1)]);
    expect(missing).toEqual([expect.objectContaining({ pass: false, detail: 'ours was not measured at 1 thread' })]);
    expect(cpuMatmulChecks([])).toEqual([expect.objectContaining({ pass: false, detail: 'onnxruntime-web wasm was not measured' })]);
  });
});

describe('cpuMlpChecks', () => {
  it('needs 1.5× tfjs-backend-wasm at the same thread count', () => {
    const checks = cpuMlpChecks([
      row(CPU_MLP_SUITE_ID, oursMlpName(1), 9000, 1),
      row(CPU_MLP_SUITE_ID, tfjsMlpName(1), 6000, 1),
      row(CPU_MLP_SUITE_ID, oursMlpName(2), 8999, 2),
      row(CPU_MLP_SUITE_ID, tfjsMlpName(2), 6000, 2),
    ]);
    expect(checks.map((c) => c.pass)).toEqual([true, false]);
    expect(checks[0].detail).toBe('ours CPU backend, 1 thread 9,000 examples/s vs tfjs-backend-wasm, 1 thread 6,000 examples/s: 1.50×');
  });

  it('judges only thread counts tfjs really ran, and says which it could not', () => {
    const checks = cpuMlpChecks([
      row(CPU_MLP_SUITE_ID, oursMlpName(1), 40000, 1),
      row(CPU_MLP_SUITE_ID, tfjsMlpName(1), 3700, 1),
      row(CPU_MLP_SUITE_ID, oursMlpName(2), 57000, 2),
      row(CPU_MLP_SUITE_ID, tfjsMlpName(2), NaN, 2, 'tfjs-backend-wasm started 1 thread when 2 were asked for'),
    ]);
    expect(checks).toHaveLength(1);
    expect(checks[0].pass).toBe(true);
    expect(checks[0].detail).toMatch(/10\.81×; tfjs-backend-wasm, 2 threads not measured: tfjs-backend-wasm started 1 thread when 2 were asked for$/);
  });
});
