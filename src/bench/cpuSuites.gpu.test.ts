// The CPU benchmark suites run end to end in Chromium in quick mode: every row is measured
// (ours, onnxruntime-web wasm, tfjs-backend-wasm, both backends through selection) and every
// bar is judged. Figures are not asserted here: `npm run bench` reports them.

import { expect, it } from 'vitest';
import { createCpuMatmulSuite } from './cpuMatmulSuite.ts';
import { createCpuMlpSuite } from './cpuMlpSuite.ts';
import type { BenchRow } from './suite.ts';

const quick = { quick: true, trainWarmupSteps: 1, trainTimedSteps: 3 };

it('the CPU suites measure every row and judge their bars', async () => {
  const rows: BenchRow[] = [];
  const log: string[] = [];
  const ctx = { log: (m: string) => log.push(m) };
  for (const suite of [createCpuMatmulSuite(quick), createCpuMlpSuite(quick)]) await suite.run(ctx, (r) => rows.push(r));
  console.log(log.join('\n'));
  const names = rows.map((r) => r.name);
  expect(names).toEqual([
    'ours wasm relaxed-SIMD, 1 thread', 'ours wasm SIMD128, 1 thread', 'onnxruntime-web wasm, 1 thread',
    'ours wasm relaxed-SIMD, 2 threads', 'ours wasm SIMD128, 2 threads', 'onnxruntime-web wasm, 2 threads',
    'ours CPU backend, 1 thread', 'tfjs-backend-wasm, 1 thread', 'ours CPU backend, 2 threads', 'tfjs-backend-wasm, 2 threads',
    'selection: CPU backend gradient', 'selection: WebGPU backend gradient',
  ].filter((n) => navigator.hardwareConcurrency > 1 || !n.includes('2 threads')));
  // tfjs-backend-wasm may start fewer threads than asked: that row is skipped, saying so; every other row is measured.
  for (const r of rows) {
    if (r.skipped) expect(`${r.name}: ${r.skipped}`).toMatch(/^tfjs-backend-wasm, \d+ threads: tfjs-backend-wasm started \d+ threads? when \d+ were asked for$/);
    else expect(r.value, r.name).toBeGreaterThan(0);
  }
  const checks = [...createCpuMatmulSuite(quick).checks!(rows), ...createCpuMlpSuite(quick).checks!(rows)];
  console.log(checks.map((c) => `${c.pass ? 'PASS' : 'FAIL'} ${c.bar}: ${c.detail}`).join('\n'));
  expect(checks.map((c) => c.detail).join('\n')).not.toMatch(/was not measured/);
  const tfjsMeasured = rows.filter((r) => r.name.startsWith('tfjs') && !r.skipped).length;
  expect(checks).toHaveLength((navigator.hardwareConcurrency > 1 ? 2 : 1) + tfjsMeasured);
});
