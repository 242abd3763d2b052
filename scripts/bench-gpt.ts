// GPT training throughput on one contributor's CPU backend against PyTorch CPU eager: the same
// model (src/model/layers/gpt.ts, nanoGPT's baby GPT by default), the same batch of Tiny
// Shakespeare windows, AdamW, one thread each (our threads are Web Workers, which Node lacks).
// Ours runs twice: the plain SIMD build (what Node 20 runs by default) and the relaxed SIMD
// build with fused multiply-adds (what Chromium runs for a contributor; Node 20 has it behind
// --experimental-wasm-relaxed-simd, which this script sets). This machine's speed drifts (a
// shared host), so they take turns: each of --rounds rounds times `steps` of each build on the
// same batches, then `steps` of PyTorch (scripts/torch-gpt.py), and each ratio reported is the
// median of the rounds' ratios. Without torch (or with SKIP_TORCH=1, to profile ours alone)
// the ratio is left out, never guessed.
//
//   node --import tsx scripts/bench-gpt.ts [--batch 12] [--steps 20] [--warmup 3] [--rounds 3] [--large] [--out file.json]

import { execFileSync } from 'node:child_process';
import v8 from 'node:v8';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { buildTextCorpus, textBatch } from '../src/data/text.ts';
import type { AdamWHyper } from '../src/kernels/optimizer.ts';
import { BABY_GPT, SHAKESPEARE_CHAR_GPT, gptSpec } from '../src/model/layers/gpt.ts';
import { initModelParameters, resolveModel } from '../src/model/layers/spec.ts';
import { Random } from '../src/util/random.ts';

const { values } = parseArgs({
  options: {
    batch: { type: 'string', default: '12' },
    steps: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    large: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const [batch, steps, warmup, rounds] = (['batch', 'steps', 'warmup', 'rounds'] as const).map((name) => {
  const v = Number(values[name]);
  if (!Number.isInteger(v) || v < (name === 'warmup' ? 0 : 1)) throw new Error(`--${name} must be a ${name === 'warmup' ? 'non-negative' : 'positive'} integer, got ${values[name]}`);
  return v;
});
const shape = values.large ? { ...SHAKESPEARE_CHAR_GPT, dropout: 0 } : BABY_GPT;
const model = resolveModel(gptSpec(shape));
const corpus = buildTextCorpus(new Uint8Array(readFileSync(new URL('../datasets/tinyshakespeare/input.txt', import.meta.url))), {
  context: shape.context, maxVocabulary: shape.vocabulary, source: 'Tiny Shakespeare',
});
const hyper: AdamWHyper = { kind: 'adamw', lr: 1e-3, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, maxGradNorm: 1 };
const rng = new Random(1);
const nextBatch = () => {
  const positions = Array.from({ length: batch }, () => rng.int(corpus.train.sequences));
  const { inputs, targets } = textBatch(corpus.train, positions);
  return { x: Float32Array.from(inputs), labels: Array.from(targets) };
};
const tokens = steps * batch * shape.context;

// Before the kernels compile (src/cpu/kernels.ts picks the relaxed build where it validates).
v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
const { CpuModel } = await import('../src/cpu/cpuModel.ts');
type Build = 'plain' | 'relaxed';
const BUILDS: Build[] = ['plain', 'relaxed'];
const cpus = new Map<Build, Awaited<ReturnType<typeof CpuModel.create>>>();
for (const simd of BUILDS) {
  const cpu = await CpuModel.create(model, { threads: 1, simd });
  cpu.setParameters(initModelParameters(model, 1));
  cpus.set(simd, cpu);
}
/** AdamW steps taken by each build (the optimizer's step count). */
const stepsTaken = new Map<Build, number>(BUILDS.map((b) => [b, 0]));
const lastLoss = new Map<Build, number>();
/** Our steps on these batches: their gradient and optimizer milliseconds. */
async function ourSteps(simd: Build, batches: ReturnType<typeof nextBatch>[]): Promise<{ gradientMs: number; optimizerMs: number }> {
  const cpu = cpus.get(simd)!;
  let [gradientMs, optimizerMs] = [0, 0];
  for (const { x, labels } of batches) {
    const t0 = performance.now();
    lastLoss.set(simd, (await cpu.gradientOf(x, labels)).loss);
    const t1 = performance.now();
    const step = stepsTaken.get(simd)! + 1;
    stepsTaken.set(simd, step);
    await cpu.optimizerStep(hyper, step);
    gradientMs += t1 - t0;
    optimizerMs += performance.now() - t1;
  }
  return { gradientMs, optimizerMs };
}
const batchesOf = (count: number) => Array.from({ length: count }, nextBatch);

function torchRun(): { tokensPerSecond: number; version: string } {
  const out = execFileSync('python3', ['scripts/torch-gpt.py', '--layers', String(shape.layers), '--heads', String(shape.heads), '--features', String(shape.features),
    '--context', String(shape.context), '--vocabulary', String(shape.vocabulary), '--batch', String(batch), '--steps', String(steps), '--warmup', String(warmup),
    '--threads', '1'], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!);
}

console.log(`model: ${model.parameterCount.toLocaleString('en-US')} parameters, ${shape.layers} layers, ${shape.heads} heads, ${shape.features} features, context ${shape.context}; batch ${batch}; 1 thread each`);
const warm = batchesOf(warmup);
for (const simd of BUILDS) await ourSteps(simd, warm);
type Round = Record<Build, { tokensPerSecond: number; gradientMs: number; optimizerMs: number }> & { torch: number | null };
const results: Round[] = [];
let torchVersion: string | null = null;
let torchError: string | null = process.env.SKIP_TORCH ? 'SKIP_TORCH is set' : null;
for (let round = 1; round <= rounds; round++) {
  const batches = batchesOf(steps);
  const r = { torch: null } as Round;
  for (const simd of BUILDS) {
    const { gradientMs, optimizerMs } = await ourSteps(simd, batches);
    r[simd] = { tokensPerSecond: tokens / ((gradientMs + optimizerMs) / 1000), gradientMs: gradientMs / steps, optimizerMs: optimizerMs / steps };
  }
  if (!torchError) {
    try {
      const run = torchRun();
      [r.torch, torchVersion] = [run.tokensPerSecond, run.version];
    } catch (error) {
      torchError = (error as Error).message.split('\n')[0];
    }
  }
  results.push(r);
  const ours = BUILDS.map((b) => `${b} ${Math.round(r[b].tokensPerSecond)} tokens/s (${r[b].gradientMs.toFixed(0)} ms gradient + ${r[b].optimizerMs.toFixed(0)} ms AdamW per step)`).join(', ');
  const vs = r.torch === null ? '' : `; PyTorch ${Math.round(r.torch)} tokens/s; ratios ${BUILDS.map((b) => `${(r[b].tokensPerSecond / r.torch!).toFixed(2)}×`).join(', ')}`;
  console.log(`round ${round}: ours ${ours}${vs}`);
}
for (const cpu of cpus.values()) cpu.dispose();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const measured = results.every((r) => r.torch !== null);
const summary: Record<string, unknown> = {};
if (measured) console.log(`PyTorch ${torchVersion} (CPU eager, 1 thread): median ${Math.round(median(results.map((r) => r.torch!)))} tokens/s`);
for (const simd of BUILDS) {
  const ours = median(results.map((r) => r[simd].tokensPerSecond));
  const ratios = measured ? results.map((r) => r[simd].tokensPerSecond / r.torch!) : [];
  summary[simd] = { tokensPerSecond: ours, ratio: measured ? median(ratios) : null };
  const vs = measured ? `; ours / PyTorch ${median(ratios).toFixed(2)}× (median of ${ratios.map((x) => x.toFixed(2)).join(', ')}; bar ≥ 0.5×)` : '';
  console.log(`ours, ${simd} SIMD (wasm + TypeScript, 1 thread): median ${Math.round(ours)} tokens/s, last loss ${lastLoss.get(simd)!.toFixed(3)}${vs}`);
}
if (!measured) console.log(`PyTorch not measured: ${torchError}`);
if (values.out) writeFileSync(values.out, JSON.stringify({ shape, batch, steps, threads: 1, rounds: results, summary }, null, 2));
