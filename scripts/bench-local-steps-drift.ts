// Local-steps spot checks, calibrated: how far an honest contributor's Δ = θ_v − θ_after drifts
// from the coordinator's reference over H inner AdamW steps, and what the reference costs.
//  - honest: the CPU backend's CpuMlp (WebAssembly, 1 thread; Node runs its plain SIMD128
//    build, the browser its relaxed-SIMD FMA one) driven by the contributor's own runLocalSteps,
//    against the coordinator's spot checker in local-steps mode (cpuModelSpotChecker: the CPU
//    layer table + adamwStepRef or sgdMomentumStepRef),
//    as the coordinator calls it; relative L2 ‖Δ − ref‖/‖ref‖, in f32 and after int8 block
//    quantisation of both; inner AdamW at two learning rates, and SGD with momentum;
//  - from the initial parameters and from trained ones (plain AdamW, batch 32, lr 2e-3), where
//    many ReLUs sit near their kinks; on real Fashion-MNIST, the job's 784-256-128-10 model;
//  - kink resolution (resolveLocalStepsKinks, as the coordinator calls it on a failed check):
//    each int8 distance above RESOLVE_ABOVE, after resolution, and what it cost;
//  - cheats (Δ × 1.05, other examples, parameters 16 steps stale, half the steps) for contrast;
//  - the reference's cost: coordinator CPU per lease of H × innerBatch examples.
// The WebGPU backend and the browser's CPU build are measured by src/worker/localSteps.gpu.test.ts.
//
//   node --import tsx scripts/bench-local-steps-drift.ts [--leases 20] [--inner sgd:0.02,adamw:0.002] [--steps 1,4,16,64]
//        [--encoding int8|int4] [--inner-batch 32] [--out file.json]

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CpuMlp } from '../src/cpu/cpuMlp.ts';
import { CpuModel } from '../src/cpu/cpuModel.ts';
import { resolveModel } from '../src/model/layers/spec.ts';
import type { LocalStepsSync } from '../src/coordinator/job.ts';
import { cpuModelSpotChecker, relativeDistance } from '../src/coordinator/verification.ts';
import { loadFashionMnistFromDir } from '../src/data/fashionMnistNode.ts';
import { epochOrder } from '../src/data/order.ts';
import type { OptimizerHyper } from '../src/kernels/optimizer.ts';
import { DEFAULT_MLP, initParameters, mlpLayout } from '../src/model/mlp.ts';
import { roundTrip } from '../src/protocol/updates.ts';
import { runLocalSteps, type LocalStepsTrainer } from '../src/worker/localSteps.ts';

const { values } = parseArgs({
  options: {
    leases: { type: 'string', default: '20' },
    // The default job's inner SGD (momentum 0.9) at 0.02, at 0.05, and AdamW at two rates.
    inner: { type: 'string', default: 'sgd:0.02,sgd:0.05,adamw:0.002,adamw:0.001' },
    steps: { type: 'string', default: '1,4,16,64' },
    /** How both sides round Δ before comparing (the job's up encoding): int8 or int4. */
    encoding: { type: 'string', default: 'int8' },
    /** Examples per inner step (the job's sync.innerBatch). */
    'inner-batch': { type: 'string', default: '32' },
    out: { type: 'string' },
  },
});
const leases = Number(values.leases);
const INNER_BATCH = Number(values['inner-batch']);
if (!Number.isInteger(INNER_BATCH) || INNER_BATCH < 1) throw new Error(`--inner-batch must be a positive integer, got ${values['inner-batch']}`);
const INNER_STEPS = values.steps.split(',').map(Number);
/** Plain training steps before each starting point: none, 300, one epoch, three. */
const TRAINED_STEPS = [0, 300, 1875, 5625];
/** A stale result starts from the parameters this many steps earlier. */
const STALE_STEPS = 16;
if (values.encoding !== 'int8' && values.encoding !== 'int4') throw new Error(`--encoding is int8 or int4, got ${values.encoding}`);
/** The up encoding both sides round to (named INT8 in the fields below: int8 unless --encoding says otherwise). */
const INT8 = { scheme: values.encoding, blockSize: 128 } as const;
/** Distances counted above each of these: the false bans a tolerance there would cause. */
const THRESHOLDS = [1e-3, 1e-2, 5e-2];
/** Leases whose int8 distance exceeds this get their kinks resolved (the every-step tolerance: the strictest a job uses). */
const RESOLVE_ABOVE = 1e-3;

// The job's AdamW defaults (job.ts), spelled out: kernels/optimizer.ts imports WGSL, which tsx cannot load.
const adamw = (lr: number): OptimizerHyper => ({ kind: 'adamw', lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-4, maxGradNorm: 0 });
const sgd = (lr: number): OptimizerHyper => ({ kind: 'sgd', lr, momentum: 0.9, weightDecay: 0, maxGradNorm: 0 });
/** The inner optimizers measured, each at the learning rate of a lease. */
const INNER_OPTIMIZERS: OptimizerHyper[] = values.inner.split(',').map((spec) => {
  const [kind, lr] = spec.split(':');
  if ((kind !== 'sgd' && kind !== 'adamw') || !(Number(lr) > 0)) throw new Error(`--inner takes kind:lr pairs (sgd or adamw), got ${JSON.stringify(spec)}`);
  return kind === 'sgd' ? sgd(Number(lr)) : adamw(Number(lr));
});
const nameOf = (h: OptimizerHyper) => `${h.kind} ${h.lr}`;
const syncOf = (innerSteps: number): LocalStepsSync => ({ mode: 'local-steps', innerSteps, innerBatch: INNER_BATCH, outer: { lr: 0.7, momentum: 0.9, nesterov: true } });

const layout = mlpLayout(DEFAULT_MLP);
const { train } = await loadFashionMnistFromDir();
const cpu = await CpuMlp.create(layout, { threads: 1 });
/** The coordinator's reference: the CPU layer table on this thread. */
const referenceCpu = (await CpuModel.create(resolveModel(DEFAULT_MLP), { threads: 1 })).inline;
await cpu.setDatasets(train, null);
const zeros = new Float32Array(layout.total);

/** The CPU backend behind the worker API's three calls runLocalSteps makes (what Trainer does, without the worker). */
function cpuTrainer(): LocalStepsTrainer {
  let version = 0;
  let step = 0;
  return {
    async loadParameters(v, params) {
      cpu.setParameters(params);
      cpu.setOptimizerState(zeros, zeros);
      version = v;
      step = 0;
    },
    async trainStep(batch, hyper) {
      const r = await cpu.trainStep(batch.indices, hyper, ++step);
      version++;
      return { version, step, loss: r.loss, correct: r.correct, exampleCount: batch.indices.length, gpuTimeMs: null, wallTimeMs: 0, recoveries: 0 };
    },
    async getParameters() {
      return { version, params: cpu.readState().params };
    },
  };
}
const trainer = cpuTrainer();
const claimedDelta = async (start: Float32Array, indices: Uint32Array, hyper: OptimizerHyper) =>
  (await runLocalSteps(trainer, start, { version: 0, indices, innerBatch: INNER_BATCH, hyper })).delta;

// Starting points (and the stale parameters STALE_STEPS before each trained one).
const starts = new Map<number, Float32Array>();
const stale = new Map<number, Float32Array>();
cpu.setParameters(initParameters(layout, 1));
cpu.setOptimizerState(zeros, zeros);
for (let step = 0; ; step++) {
  if (TRAINED_STEPS.includes(step)) starts.set(step, cpu.readState().params);
  if (TRAINED_STEPS.includes(step + STALE_STEPS)) stale.set(step + STALE_STEPS, cpu.readState().params);
  if (step === Math.max(...TRAINED_STEPS)) break;
  const epochSteps = Math.floor(train.count / INNER_BATCH);
  const at = (step % epochSteps) * INNER_BATCH;
  await cpu.trainStep(epochOrder(3, Math.floor(step / epochSteps), train.count).subarray(at, at + INNER_BATCH), adamw(2e-3), step + 1);
}

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
const fmt = (x: number) => (x === 0 ? '0' : x.toExponential(1));
/** The lease's examples: H inner batches of distinct examples, a fresh draw per lease. */
const leaseIndices = (trained: number, lease: number, h: number) => epochOrder(100 + lease, trained, train.count).slice(0, h * INNER_BATCH);

interface Row {
  trained: number;
  optimizer: string;
  h: number;
  distances: number[];
  int8: number[];
  quantisation: number[];
  referenceMs: number[];
  /** int8 distances of the leases above RESOLVE_ABOVE, after kink resolution, and its milliseconds. */
  resolved: number[];
  resolveMs: number[];
}
const rows: Row[] = [];
const cheats: { trained: number; optimizer: string; h: number; cheat: string; distance: number; int8: number }[] = [];
for (const trained of TRAINED_STEPS) {
  const start = starts.get(trained)!;
  for (const hyper of INNER_OPTIMIZERS) {
    const optimizer = nameOf(hyper);
    for (const h of INNER_STEPS) {
      const reference = cpuModelSpotChecker(referenceCpu, train, syncOf(h));
      const row: Row = { trained, optimizer, h, distances: [], int8: [], quantisation: [], referenceMs: [], resolved: [], resolveMs: [] };
      for (let lease = 0; lease < leases; lease++) {
        const indices = leaseIndices(trained, lease, h);
        const t0 = performance.now();
        const ref = reference(start, indices, hyper);
        row.referenceMs.push(performance.now() - t0);
        const claimed = await claimedDelta(start, indices, hyper);
        const refInt8 = roundTrip(ref, INT8);
        row.distances.push(relativeDistance(claimed, ref));
        row.int8.push(relativeDistance(roundTrip(claimed, INT8), refInt8));
        row.quantisation.push(relativeDistance(refInt8, ref));
        if (row.int8.at(-1)! > RESOLVE_ABOVE) {
          const t1 = performance.now();
          const round = (v: Float32Array) => roundTrip(v, INT8);
          row.resolved.push(reference.resolveKinks!(start, indices, round(claimed), refInt8, { inner: hyper, round, tolerance: RESOLVE_ABOVE }).distance);
          row.resolveMs.push(performance.now() - t1);
        }
        if (lease > 0 || trained === 0) continue;
        // Cheats, on the first lease of each trained starting point.
        const claims: Record<string, Float32Array> = {
          'Δ × 1.05': claimed.map((x) => x * 1.05),
          'other examples': await claimedDelta(start, leaseIndices(trained, leases + 1, h), hyper),
          [`parameters ${STALE_STEPS} steps stale`]: await claimedDelta(stale.get(trained)!, indices, hyper),
        };
        if (h > 1) claims['half the steps'] = await claimedDelta(start, indices.subarray(0, (h / 2) * INNER_BATCH), hyper);
        for (const [cheat, c] of Object.entries(claims)) {
          cheats.push({ trained, optimizer, h, cheat, distance: relativeDistance(c, ref), int8: relativeDistance(roundTrip(c, INT8), refInt8) });
        }
      }
      rows.push(row);
      const r = row.distances;
      console.error(`trained ${trained}, ${optimizer}, H ${h}: median ${fmt(quantile(r, 0.5))}, max ${fmt(Math.max(...r))}, reference ${quantile(row.referenceMs, 0.5).toFixed(0)} ms`);
    }
  }
}

const above = (xs: number[]) => THRESHOLDS.map((t) => xs.filter((x) => x > t).length).join(' / ');
console.log(`\nHonest drift, CPU backend (Node, plain SIMD128) against the reference, ${leases} leases per row (relative L2 of Δ):\n`);
console.log(
  `| trained steps | inner optimizer | H | median | p90 | max | leases > ${THRESHOLDS.map(fmt).join(' / ')} | int8: median | int8: max | int8 error of ref | ` +
    `int8 > ${fmt(RESOLVE_ABOVE)} after kink resolution: leases > ${THRESHOLDS.map(fmt).join(' / ')}, max | resolution ms (max) | reference ms/lease |`,
);
console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) {
  console.log(
    `| ${r.trained} | ${r.optimizer} | ${r.h} | ${fmt(quantile(r.distances, 0.5))} | ${fmt(quantile(r.distances, 0.9))} | ${fmt(Math.max(...r.distances))} | ${above(r.distances)} | ` +
      `${fmt(quantile(r.int8, 0.5))} | ${fmt(Math.max(...r.int8))} | ${fmt(quantile(r.quantisation, 0.5))} | ` +
      (r.resolved.length ? `${above(r.resolved)} of ${r.resolved.length}, ${fmt(Math.max(...r.resolved))} | ${Math.max(...r.resolveMs).toFixed(0)} | ` : '– | – | ') +
      `${quantile(r.referenceMs, 0.5).toFixed(0)} |`,
  );
}
console.log('\nCheats (first lease of each trained starting point):\n');
console.log('| trained steps | inner optimizer | H | cheat | vs ref | int8 |');
console.log('| ---: | ---: | ---: | --- | ---: | ---: |');
for (const c of cheats) console.log(`| ${c.trained} | ${c.optimizer} | ${c.h} | ${c.cheat} | ${fmt(c.distance)} | ${fmt(c.int8)} |`);
const msPerExample = quantile(rows.flatMap((r) => r.referenceMs.map((ms) => ms / (r.h * INNER_BATCH))), 0.5);
console.log(`\nReference cost: ${msPerExample.toFixed(3)} ms of coordinator CPU per example (median), e.g. ${(64 * INNER_BATCH * msPerExample).toFixed(0)} ms for a lease of 64 × ${INNER_BATCH}.`);

if (values.out) writeFileSync(values.out, `${JSON.stringify({ leases, innerBatch: INNER_BATCH, rows, cheats, msPerExample }, null, 1)}\n`);
cpu.dispose();
