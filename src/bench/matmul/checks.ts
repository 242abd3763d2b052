// The matmul bars, judged on the rows of one session.

import { BAR_SIZE } from '../settings.ts';
import type { BenchCheck, BenchRow } from '../suite.ts';
import { MATMUL_SUITE_ID, ORT_WEBGPU_NAME, OURS_PREFIX, REFERENCE_NAME } from './names.ts';

export const REFERENCE_BAR = 5;
export const ORT_WEBGPU_BAR = 1.5;

const measured = (r: BenchRow) => r.suite === MATMUL_SUITE_ID && r.size === BAR_SIZE && !r.skipped && r.value > 0 && r.ms !== undefined && r.ms > 0;

/** The wall-clock of a run, from the row details; kernel time for rows timed by wall-clock alone. */
function wallMs(r: BenchRow): number {
  const w = r.details?.wallMs;
  return typeof w === 'number' && w > 0 ? w : r.ms!;
}

function missing(what: string, rows: BenchRow[], name: (r: BenchRow) => boolean): string {
  const skipped = rows.find((r) => r.suite === MATMUL_SUITE_ID && r.size === BAR_SIZE && name(r) && r.skipped);
  return `no measurement of ${what} at N=${BAR_SIZE}` + (skipped ? ` (${skipped.skipped})` : ' (is 1024 in the sizes?)');
}

export function matmulChecks(rows: BenchRow[]): BenchCheck[] {
  const isOurs = (r: BenchRow) => r.name.startsWith(OURS_PREFIX);
  const ours = rows.filter((r) => measured(r) && isOurs(r));
  const reference = rows.find((r) => measured(r) && r.name === REFERENCE_NAME);
  const ort = rows.find((r) => measured(r) && r.name === ORT_WEBGPU_NAME);
  const referenceBar = `our best matmul at N=${BAR_SIZE} ≥ ${REFERENCE_BAR}× the plain 16×16 tiled reference`;
  const ortBar = `our best matmul at N=${BAR_SIZE} ≥ ${ORT_WEBGPU_BAR}× onnxruntime-web's WebGPU MatMul`;
  if (ours.length === 0) {
    const detail = missing('any of our kernels', rows, isOurs);
    return [
      { bar: referenceBar, pass: false, detail },
      { bar: ortBar, pass: false, detail },
    ];
  }
  const checks: BenchCheck[] = [];
  // Kernel time against kernel time: both are timed the same way.
  const bestByRate = ours.reduce((a, b) => (b.value > a.value ? b : a));
  if (!reference) {
    checks.push({ bar: referenceBar, pass: false, detail: missing('the reference', rows, (r) => r.name === REFERENCE_NAME) });
  } else {
    const ratio = bestByRate.value / reference.value;
    checks.push({
      bar: referenceBar,
      pass: ratio >= REFERENCE_BAR,
      detail: `${bestByRate.name} ${fmt(bestByRate.value)} GFLOP/s vs ${reference.name} ${fmt(reference.value)} GFLOP/s: ${ratio.toFixed(2)}×`,
    });
  }
  // ORT is only timed by wall-clock, so ours is compared by wall-clock too.
  if (!ort) {
    checks.push({ bar: ortBar, pass: false, detail: missing(ORT_WEBGPU_NAME, rows, (r) => r.name === ORT_WEBGPU_NAME) });
  } else {
    const bestByWall = ours.reduce((a, b) => (wallMs(b) < wallMs(a) ? b : a));
    const ratio = ort.ms! / wallMs(bestByWall);
    checks.push({
      bar: ortBar,
      pass: ratio >= ORT_WEBGPU_BAR,
      detail:
        `${bestByWall.name} ${fmt(wallMs(bestByWall))} ms vs ${ort.name} ${fmt(ort.ms!)} ms per run, ` +
        `both wall-clock with inputs already on the GPU: ${ratio.toFixed(2)}×`,
    });
  }
  return checks;
}

function fmt(x: number): string {
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(3);
}
