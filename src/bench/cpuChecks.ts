// The CPU backend's bars, judged on the rows of one session:
//   matmul N=1024: ours ≥ onnxruntime-web wasm at the same thread count;
//   MLP training (784-256-128-10, batch 128): ours ≥ 1.5× tfjs-backend-wasm at the same thread count.

import type { BenchCheck, BenchRow } from './suite.ts';

export const CPU_MATMUL_SUITE_ID = 'cpu-matmul';
export const CPU_MLP_SUITE_ID = 'cpu-mlp';
export const CPU_MATMUL_N = 1024;
export const CPU_MLP_BATCH = 128;
export const TFJS_BAR = 1.5;

export const oursMatmulName = (simd: 'relaxed' | 'plain', threads: number) =>
  `ours wasm ${simd === 'relaxed' ? 'relaxed-SIMD' : 'SIMD128'}, ${threadsText(threads)}`;
export const ortMatmulName = (threads: number) => `onnxruntime-web wasm, ${threadsText(threads)}`;
export const oursMlpName = (threads: number) => `ours CPU backend, ${threadsText(threads)}`;
export const tfjsMlpName = (threads: number) => `tfjs-backend-wasm, ${threadsText(threads)}`;
export const threadsText = (threads: number) => `${threads} thread${threads === 1 ? '' : 's'}`;

const usable = (r: BenchRow | undefined): r is BenchRow => !!r && !r.skipped && Number.isFinite(r.value) && r.value > 0;
const threadsOf = (r: BenchRow) => Number(r.details?.threads);
const fmt = (x: number) => (x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1));

/** Thread counts at which `suite` has a usable row named by `name(threads)`. */
function measuredThreads(rows: BenchRow[], suite: string, name: (t: number) => string): number[] {
  return [...new Set(rows.filter((r) => r.suite === suite && usable(r) && r.name === name(threadsOf(r))).map(threadsOf))].sort((a, b) => a - b);
}

function find(rows: BenchRow[], suite: string, name: string): BenchRow | undefined {
  return rows.find((r) => r.suite === suite && r.name === name);
}

export function cpuMatmulChecks(rows: BenchRow[]): BenchCheck[] {
  const bar = (t: number) => `our CPU matmul at N=${CPU_MATMUL_N} ≥ onnxruntime-web wasm with the same thread count (${threadsText(t)})`;
  const threads = measuredThreads(rows, CPU_MATMUL_SUITE_ID, ortMatmulName);
  if (threads.length === 0) return [{ bar: bar(1), pass: false, detail: 'onnxruntime-web wasm was not measured' }];
  return threads.map((t) => {
    const ort = find(rows, CPU_MATMUL_SUITE_ID, ortMatmulName(t))!;
    // The build the backend itself runs: relaxed SIMD where this browser has it.
    const ours = [oursMatmulName('relaxed', t), oursMatmulName('plain', t)].map((n) => find(rows, CPU_MATMUL_SUITE_ID, n)).find(usable);
    if (!ours) return { bar: bar(t), pass: false, detail: `ours was not measured at ${threadsText(t)}` };
    const ratio = ours.value / ort.value;
    return { bar: bar(t), pass: ratio >= 1, detail: `${ours.name} ${fmt(ours.value)} GFLOP/s vs ${ort.name} ${fmt(ort.value)} GFLOP/s: ${ratio.toFixed(2)}×` };
  });
}

export function cpuMlpChecks(rows: BenchRow[]): BenchCheck[] {
  const bar = (t: number) => `CPU backend MLP training (784-256-128-10, batch ${CPU_MLP_BATCH}) ≥ ${TFJS_BAR}× tfjs-backend-wasm's examples/s (${threadsText(t)})`;
  const threads = measuredThreads(rows, CPU_MLP_SUITE_ID, tfjsMlpName);
  const unmeasured = rows
    .filter((r) => r.suite === CPU_MLP_SUITE_ID && r.skipped && r.name === tfjsMlpName(threadsOf(r)))
    .map((r) => `; ${r.name} not measured: ${r.skipped}`)
    .join('');
  if (threads.length === 0) return [{ bar: bar(1), pass: false, detail: `tfjs-backend-wasm was not measured${unmeasured}` }];
  return threads.map((t) => {
    const tfjs = find(rows, CPU_MLP_SUITE_ID, tfjsMlpName(t))!;
    const ours = find(rows, CPU_MLP_SUITE_ID, oursMlpName(t));
    if (!usable(ours)) return { bar: bar(t), pass: false, detail: `ours was not measured at ${threadsText(t)}` };
    const ratio = ours.value / tfjs.value;
    return {
      bar: bar(t),
      pass: ratio >= TFJS_BAR,
      detail: `${ours.name} ${fmt(ours.value)} examples/s vs ${tfjs.name} ${fmt(tfjs.value)} examples/s: ${ratio.toFixed(2)}×${unmeasured}`,
    };
  });
}
