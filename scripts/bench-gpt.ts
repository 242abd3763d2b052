// GPT training throughput on one contributor's CPU backend against PyTorch CPU eager, side by
// side in one run: the same model (src/model/layers/gpt.ts, nanoGPT's baby GPT by default), the
// same batch of Tiny Shakespeare windows, AdamW, one thread each. Reports tokens/s (batch·T per
// step), the ratio, and where our step's time goes (forward + backward vs the optimizer).
// PyTorch runs scripts/torch-gpt.py; without torch (or with SKIP_TORCH=1, to profile ours alone) the
// ratio is left out, never guessed.
//
//   node --import tsx scripts/bench-gpt.ts [--batch 12] [--steps 20] [--warmup 3] [--large] [--out file.json]

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
    large: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const batch = Number(values.batch);
const steps = Number(values.steps);
const warmup = Number(values.warmup);
for (const [name, v] of [['batch', batch], ['steps', steps], ['warmup', warmup]] as const) {
  if (!Number.isInteger(v) || v < (name === 'warmup' ? 0 : 1)) throw new Error(`--${name} must be a positive integer, got ${v}`);
}
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

const cpu = await CpuModel.create(model, { threads: 1 });
cpu.setParameters(initModelParameters(model, 1));
let gradientMs = 0;
let optimizerMs = 0;
let lastLoss = NaN;
for (let step = 1; step <= warmup + steps; step++) {
  const { x, labels } = nextBatch();
  const t0 = performance.now();
  lastLoss = (await cpu.gradientOf(x, labels)).loss;
  const t1 = performance.now();
  await cpu.optimizerStep(hyper, step);
  const t2 = performance.now();
  if (step > warmup) {
    gradientMs += t1 - t0;
    optimizerMs += t2 - t1;
  }
}
cpu.dispose();
const tokens = steps * batch * shape.context;
const ours = tokens / ((gradientMs + optimizerMs) / 1000);
console.log(`model: ${model.parameterCount.toLocaleString('en-US')} parameters, ${shape.layers} layers, ${shape.heads} heads, ${shape.features} features, context ${shape.context}; batch ${batch}`);
console.log(`ours (CPU backend, wasm + TypeScript, 1 thread): ${Math.round(ours)} tokens/s; per step ${(gradientMs / steps).toFixed(0)} ms gradient + ${(optimizerMs / steps).toFixed(0)} ms AdamW; last loss ${lastLoss.toFixed(3)}`);

let torch: { tokensPerSecond: number; version: string } | null = null;
try {
  if (process.env.SKIP_TORCH) throw new Error("SKIP_TORCH is set");
  const out = execFileSync('python3', ['scripts/torch-gpt.py', '--layers', String(shape.layers), '--heads', String(shape.heads), '--features', String(shape.features),
    '--context', String(shape.context), '--vocabulary', String(shape.vocabulary), '--batch', String(batch), '--steps', String(steps), '--warmup', String(warmup)], { encoding: 'utf8' });
  torch = JSON.parse(out.trim().split('\n').pop()!);
  console.log(`PyTorch ${torch!.version} (CPU eager, 1 thread): ${Math.round(torch!.tokensPerSecond)} tokens/s`);
  console.log(`ours / PyTorch: ${(ours / torch!.tokensPerSecond).toFixed(2)}× (bar ≥ 0.5×)`);
} catch (error) {
  console.log(`PyTorch not measured: ${(error as Error).message.split('\n')[0]}`);
}
if (values.out) writeFileSync(values.out, JSON.stringify({ shape, batch, steps, ours: { tokensPerSecond: ours, gradientMs: gradientMs / steps, optimizerMs: optimizerMs / steps }, torch }, null, 2));
