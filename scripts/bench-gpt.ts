// GPT training throughput on one contributor's CPU backend against PyTorch CPU eager: the same
// model (src/model/layers/gpt.ts, nanoGPT's baby GPT by default), the same batch of Tiny
// Shakespeare windows, AdamW, one thread each (our threads are
// Web Workers, which Node lacks: the browser bench measures them). This machine's speed drifts
// (a shared host), so the two take turns: each of --rounds rounds times `steps` of ours, then
// `steps` of PyTorch (scripts/torch-gpt.py), and the ratio reported is the median of the rounds'
// ratios. Also reports where our step's time goes (forward + backward vs the optimizer). Without
// torch (or with SKIP_TORCH=1, to profile ours alone) the ratio is left out, never guessed.
//
//   node --import tsx scripts/bench-gpt.ts [--batch 12] [--steps 20] [--warmup 3] [--rounds 3] [--large] [--out file.json]

import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CpuModel } from '../src/cpu/cpuModel.ts';
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
const threads = 1;
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
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

const cpu = await CpuModel.create(model, { threads });
cpu.setParameters(initModelParameters(model, 1));
let step = 0;
let lastLoss = NaN;
/** `count` steps of ours: their gradient and optimizer milliseconds. */
async function ourSteps(count: number): Promise<{ gradientMs: number; optimizerMs: number }> {
  let [gradientMs, optimizerMs] = [0, 0];
  for (let i = 0; i < count; i++) {
    const { x, labels } = nextBatch();
    const t0 = performance.now();
    lastLoss = (await cpu.gradientOf(x, labels)).loss;
    const t1 = performance.now();
    await cpu.optimizerStep(hyper, ++step);
    gradientMs += t1 - t0;
    optimizerMs += performance.now() - t1;
  }
  return { gradientMs, optimizerMs };
}

function torchRun(): { tokensPerSecond: number; version: string } {
  const out = execFileSync('python3', ['scripts/torch-gpt.py', '--layers', String(shape.layers), '--heads', String(shape.heads), '--features', String(shape.features),
    '--context', String(shape.context), '--vocabulary', String(shape.vocabulary), '--batch', String(batch), '--steps', String(steps), '--warmup', String(warmup),
    '--threads', String(threads)], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!);
}

console.log(`model: ${model.parameterCount.toLocaleString('en-US')} parameters, ${shape.layers} layers, ${shape.heads} heads, ${shape.features} features, context ${shape.context}; batch ${batch}; ${plural(threads, 'thread')} each`);
await ourSteps(warmup);
const results: { ours: number; gradientMs: number; optimizerMs: number; torch: number | null }[] = [];
let torchVersion: string | null = null;
let torchError: string | null = process.env.SKIP_TORCH ? 'SKIP_TORCH is set' : null;
for (let round = 1; round <= rounds; round++) {
  const { gradientMs, optimizerMs } = await ourSteps(steps);
  const ours = tokens / ((gradientMs + optimizerMs) / 1000);
  let torch: number | null = null;
  if (!torchError) {
    try {
      const run = torchRun();
      [torch, torchVersion] = [run.tokensPerSecond, run.version];
    } catch (error) {
      torchError = (error as Error).message.split('\n')[0];
    }
  }
  results.push({ ours, gradientMs: gradientMs / steps, optimizerMs: optimizerMs / steps, torch });
  const vs = torch === null ? '' : `; PyTorch ${Math.round(torch)} tokens/s; ratio ${(ours / torch).toFixed(2)}×`;
  console.log(`round ${round}: ours ${Math.round(ours)} tokens/s (per step ${(gradientMs / steps).toFixed(0)} ms gradient + ${(optimizerMs / steps).toFixed(0)} ms AdamW)${vs}`);
}
cpu.dispose();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const ours = median(results.map((r) => r.ours));
console.log(`ours (CPU backend ${cpu.simd} SIMD, wasm + TypeScript, ${plural(threads, 'thread')}): median ${Math.round(ours)} tokens/s; last loss ${lastLoss.toFixed(3)}`);
const ratios = results.filter((r) => r.torch !== null).map((r) => r.ours / r.torch!);
if (ratios.length === rounds) {
  const torch = median(results.map((r) => r.torch!));
  console.log(`PyTorch ${torchVersion} (CPU eager, ${plural(threads, 'thread')}): median ${Math.round(torch)} tokens/s`);
  console.log(`ours / PyTorch: ${median(ratios).toFixed(2)}× (median of ${rounds} rounds' ratios ${ratios.map((r) => r.toFixed(2)).join(', ')}; bar ≥ 0.5×)`);
} else console.log(`PyTorch not measured: ${torchError}`);
if (values.out) writeFileSync(values.out, JSON.stringify({ shape, batch, steps, threads, simd: cpu.simd, rounds: results, ratio: ratios.length === rounds ? median(ratios) : null }, null, 2));
