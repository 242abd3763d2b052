// The CNN benchmarks' bars (issue 11), judged on the rows of one session: on each of the
// CNN's conv shapes, our forward is not slower than onnxruntime-web's Conv on the same
// provider (WebGPU; wasm at each thread count). The training bar against PyTorch (≥ 0.5×)
// is judged by scripts/bench.mjs, which runs PyTorch beside the page.

import { threadsText } from '../cpuChecks.ts';
import type { BenchCheck, BenchRow } from '../suite.ts';
import { benchCnn, benchConvs, CNN_BATCH, CNN_CPU_SUITE_ID, CNN_GPU_SUITE_ID, ortCpuConvName, ortGpuConvName, oursCpuConvName, oursGpuConvName } from './model.ts';

export const CONV_BAR = 1;

const usable = (r: BenchRow | undefined): r is BenchRow => !!r && !r.skipped && Number.isFinite(r.value) && r.value > 0;
const find = (rows: BenchRow[], suite: string, name: string) => rows.find((r) => r.suite === suite && r.name === name);
const ms = (x: number) => `${x >= 100 ? x.toFixed(0) : x.toFixed(2)} ms`;

/** Our forward's speed over theirs (their ms / ours), with our forward+backward beside it. */
function convCheck(bar: string, ours: BenchRow | undefined, oursFb: BenchRow | undefined, theirs: BenchRow | undefined): BenchCheck {
  if (!usable(ours) || !usable(theirs)) return { bar, pass: false, detail: `${usable(ours) ? 'theirs' : 'ours'} was not measured` };
  const ratio = theirs.value / ours.value;
  const fb = usable(oursFb) ? `; ours forward+backward ${ms(oursFb.value)} (${(theirs.value / oursFb.value).toFixed(2)}× their forward)` : '';
  return { bar, pass: ratio >= CONV_BAR, detail: `ours forward ${ms(ours.value)} vs onnxruntime-web ${ms(theirs.value)}: ${ratio.toFixed(2)}× as fast${fb}` };
}

export function cnnGpuChecks(rows: BenchRow[]): BenchCheck[] {
  return benchConvs(benchCnn().model).map((conv) =>
    convCheck(
      `WebGPU conv ${conv.label} at batch ${CNN_BATCH}: our forward ≥ ${CONV_BAR}× onnxruntime-web WebGPU Conv's speed`,
      find(rows, CNN_GPU_SUITE_ID, oursGpuConvName(conv, 'forward')),
      find(rows, CNN_GPU_SUITE_ID, oursGpuConvName(conv, 'forward+backward')),
      find(rows, CNN_GPU_SUITE_ID, ortGpuConvName(conv)),
    ));
}

export function cnnCpuChecks(rows: BenchRow[]): BenchCheck[] {
  const threads = [...new Set(rows.filter((r) => r.suite === CNN_CPU_SUITE_ID && r.unit === 'ms').map((r) => Number(r.details?.threads)))].sort((a, b) => a - b);
  const convs = benchConvs(benchCnn().model);
  if (threads.length === 0) return [{ bar: `CPU conv at batch ${CNN_BATCH}: ours ≥ ${CONV_BAR}× onnxruntime-web wasm Conv's speed`, pass: false, detail: 'not measured' }];
  return threads.flatMap((t) =>
    convs.map((conv) =>
      convCheck(
        `CPU conv ${conv.label} at batch ${CNN_BATCH}: our forward ≥ ${CONV_BAR}× onnxruntime-web wasm Conv's speed (${threadsText(t)})`,
        find(rows, CNN_CPU_SUITE_ID, oursCpuConvName(conv, 'forward', t)),
        find(rows, CNN_CPU_SUITE_ID, oursCpuConvName(conv, 'forward+backward', t)),
        find(rows, CNN_CPU_SUITE_ID, ortCpuConvName(conv, t)),
      )));
}

/** Ours and theirs computed the same conv: probes within 1e-3 + 1e-3·|theirs|. */
export function probesAgree(ours: number[], theirs: number[]): { ok: boolean; detail: string } {
  const bad = ours.findIndex((v, i) => !(Math.abs(v - theirs[i]) <= 1e-3 + 1e-3 * Math.abs(theirs[i])));
  return bad < 0 ? { ok: true, detail: '' } : { ok: false, detail: `probe ${bad}: ours ${ours[bad]}, theirs ${theirs[bad]} (probes ours ${ours.join(', ')}; theirs ${theirs.join(', ')})` };
}
