// The attention benchmark's figures as checks. Issue 12 asks for the ratios side by side and
// sets no bar, so a check passes when both sides were measured (and agreed: the suite refuses
// to emit rows otherwise). Its detail reports our forward against onnxruntime-web's forward of
// the same graph, with our forward + backward beside it.

import { threadsText } from '../cpuChecks.ts';
import type { BenchCheck, BenchRow } from '../suite.ts';
import { ATTENTION_BATCH, ATTENTION_CPU_SUITE_ID, ATTENTION_GPU_SUITE_ID, oursName, ortName } from './model.ts';

const usable = (r: BenchRow | undefined): r is BenchRow => !!r && !r.skipped && Number.isFinite(r.value) && r.value > 0;
const ms = (x: number) => `${x >= 100 ? x.toFixed(0) : x.toFixed(2)} ms`;

function check(bar: string, rows: BenchRow[], suite: string, threads?: number): BenchCheck {
  const find = (name: string) => rows.find((r) => r.suite === suite && r.name === name);
  const ours = find(oursName('forward', threads));
  const fb = find(oursName('forward+backward', threads));
  const theirs = find(ortName(threads));
  if (!usable(ours) || !usable(theirs)) return { bar, pass: false, detail: `${usable(ours) ? 'theirs' : 'ours'} was not measured` };
  const ratio = theirs.value / ours.value;
  const backward = usable(fb) ? `; ours forward+backward ${ms(fb.value)}, ${(fb.value / theirs.value).toFixed(2)}× their forward's time` : '';
  return { bar, pass: true, detail: `ours forward ${ms(ours.value)} vs onnxruntime-web ${ms(theirs.value)}: ${ratio.toFixed(2)}× as fast${backward}` };
}

export function attentionGpuChecks(rows: BenchRow[]): BenchCheck[] {
  return [check(`WebGPU GPT attention block at batch ${ATTENTION_BATCH}: our forward and forward+backward beside onnxruntime-web WebGPU's forward of the same graph (no bar)`, rows, ATTENTION_GPU_SUITE_ID)];
}

export function attentionCpuChecks(rows: BenchRow[]): BenchCheck[] {
  const threads = [...new Set(rows.filter((r) => r.suite === ATTENTION_CPU_SUITE_ID).map((r) => Number(r.details?.threads)))].sort((a, b) => a - b);
  if (threads.length === 0) return [{ bar: `CPU GPT attention block at batch ${ATTENTION_BATCH}: ours beside onnxruntime-web wasm (no bar)`, pass: false, detail: 'not measured' }];
  return threads.map((t) => check(`CPU GPT attention block at batch ${ATTENTION_BATCH}: our forward and forward+backward beside onnxruntime-web wasm's forward of the same graph (${threadsText(t)}, no bar)`, rows, ATTENTION_CPU_SUITE_ID, t));
}
