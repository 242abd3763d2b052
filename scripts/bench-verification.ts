// Verification overhead on the default job (784-256-128-10, 235,200 floats), for `npm run bench`:
//  - extra contributor compute from replication on suspicion (direction suspects recomputed by
//    another key), measured on real Fashion-MNIST rounds of 1,024 examples in random leases;
//  - coordinator CPU per result: norm screening, the direction check, spot checks (at the job's
//    default fraction and lease-size cap);
//  - per-round cost of each aggregation rule for 4, 16 and 64 contributions.
//
//   node --import tsx scripts/bench-verification.ts [--rounds 20] [--out file.json]

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { RoundAggregator, type AggregationRule } from '../src/coordinator/aggregator.ts';
import { Coordinator } from '../src/coordinator/coordinator.ts';
import type { Decisions } from '../src/coordinator/decisions.ts';
import { CpuKinkModel } from '../src/coordinator/kinkModel.ts';
import { CpuModel } from '../src/cpu/cpuModel.ts';
import type { Job } from '../src/coordinator/job.ts';
import { hello, result, testKey, testSigning } from '../src/coordinator/testSwarm.ts';
import { cpuModelSpotChecker } from '../src/coordinator/verification.ts';
import type { CoordinatorMessage } from '../src/protocol/messages.ts';
import { defaultJob, jobResolved } from '../src/coordinator/job.ts';
import { OptimizerHost, freshOptimizerState } from '../src/coordinator/optimizerHost.ts';
import { exampleWeightedMean } from '../src/coordinator/robustRules.ts';
import { ResultScreen, directionOutliers } from '../src/coordinator/screening.ts';
import { loadFashionMnistFromDir } from '../src/data/fashionMnistNode.ts';
import { epochOrder } from '../src/data/order.ts';
import { Random } from '../src/util/random.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '20' }, out: { type: 'string' } } });
const rounds = Number(values.rounds);
const job = defaultJob();
const layout = jobResolved(job);
const { train } = await loadFashionMnistFromDir();
const mlp = await CpuKinkModel.create(layout);
/** The coordinator's spot checker's CPU backend (the server's, src/server/main.ts). */
const referenceCpu = (await CpuModel.create(layout, { threads: 1 })).inline;
const rng = new Random(11);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

// 1. Real rounds: honest leases, how many examples the direction check sends for recomputation.
const optimizer = new OptimizerHost(layout, job.optimizer, rounds, freshOptimizerState(layout, job.optimizer, job.seed));
const screen = new ResultScreen(job.verification.screening);
const order = epochOrder(job.seed, 0, train.count);
const batch = 1024;
let examples = 0;
let suspectExamples = 0;
let leasesSeen = 0;
let suspects = 0;
const screenMs: number[] = [];
const directionMsPerLease: number[] = [];
const gradientMsPerExample: number[] = [];
for (let r = 0; r < rounds; r++) {
  const start = (r * batch) % (train.count - batch);
  const leases: { leaseId: string; exampleCount: number; gradient: Float32Array }[] = [];
  for (let at = 0; at < batch; ) {
    const size = Math.min(batch - at, Math.round(Math.exp(rng.uniform(Math.log(16), Math.log(512)))));
    const g = new Float32Array(layout.total);
    const t0 = performance.now();
    mlp.lossAndGradient(optimizer.params, train, order.subarray(start + at, start + at + size), g);
    gradientMsPerExample.push((performance.now() - t0) / size);
    const t1 = performance.now();
    const v = screen.screen(g, size);
    screenMs.push(performance.now() - t1);
    if (v.flag) throw new Error(`an honest lease of ${size} was flagged by its norm: ${v.reason}`);
    screen.observe(size, v.norm);
    leases.push({ leaseId: `L${leases.length}`, exampleCount: size, gradient: g });
    at += size;
  }
  const t2 = performance.now();
  const out = directionOutliers(leases, job.verification.screening.cosineFraction, screen.estimates());
  directionMsPerLease.push((performance.now() - t2) / leases.length);
  examples += batch;
  leasesSeen += leases.length;
  suspects += out.length;
  suspectExamples += out.reduce((s, o) => s + leases.find((l) => l.leaseId === o.leaseId)!.exampleCount, 0);
  const aggregate = exampleWeightedMean(leases, layout.total);
  screen.roundClosed(aggregate);
  optimizer.apply(aggregate);
}
const spot = job.verification.spotChecks;
const cpuMsPerExample = median(gradientMsPerExample);
// Random spot checks recompute `fraction` of the results of ≤ maxExamples examples; for leases of the cap's size that is the most it costs.
const spotMsPerResult = spot.fraction * spot.maxExamples * cpuMsPerExample;
const figures = {
  rounds,
  examplesPerRound: batch,
  replicationExtraComputePercent: (100 * suspectExamples) / examples,
  directionSuspectsPercentOfLeases: (100 * suspects) / leasesSeen,
  normScreeningMsPerResult: median(screenMs),
  directionCheckMsPerResult: median(directionMsPerLease),
  cpuReferenceMsPerExample: cpuMsPerExample,
  spotCheckMsPerResultAtDefaults: spotMsPerResult,
  spotCheckDefaults: spot,
  aggregationMsPerRound: {} as Record<string, Record<number, number>>,
  endToEnd: null as null | Record<string, number>,
};

// 2. Aggregation rules.
const gradients = Array.from({ length: 64 }, () => Float32Array.from({ length: layout.total }, () => rng.uniform(-1e-2, 1e-2)));
for (const rule of ['mean', 'trimmed-mean', 'median', 'centered-clipping'] as AggregationRule[]) {
  figures.aggregationMsPerRound[rule] = {};
  for (const n of [4, 16, 64]) {
    const a = new RoundAggregator(layout.total, { ...job.verification.aggregation, rule });
    const ms: number[] = [];
    for (let rep = 0; rep < 3; rep++) {
      a.clear();
      for (let i = 0; i < n; i++) a.add({ leaseId: `l${i}`, contributorId: 'c', exampleCount: 16 + i, firstPosition: i * 100, gradient: gradients[i], loss: 1, correct: 0 });
      const t0 = performance.now();
      a.aggregate();
      ms.push(performance.now() - t0);
    }
    figures.aggregationMsPerRound[rule][n] = median(ms);
  }
}

// 3. The real coordinator, side by side: the default verification (10% replication, screening,
// spot checks with the CPU reference) against none, with four honest contributors computing
// real gradients. Extra compute = examples computed / examples counted − 1; coordinator CPU =
// time inside receive() per result (signature and hash checks, screening, spot checks,
// aggregation and the optimizer step at round close).
function driveCoordinator(verified: boolean, roundsToRun: number): { computed: number; counted: number; results: number; receiveMs: number; bans: number } {
  const base = defaultJob();
  const v = base.verification;
  const jobRun: Job = {
    ...base,
    globalBatch: batch,
    stop: { rounds: roundsToRun },
    evaluateEvery: 1_000_000,
    checkpointEvery: 1_000_000,
    verification: verified ? v : { ...v, replication: { fraction: 0 }, screening: { ...v.screening, enabled: false } },
  };
  const c = new Coordinator({ job: jobRun, instance: verified ? 'on' : 'off', datasetUrl: '', ...testSigning, ...(verified ? { spotChecker: cpuModelSpotChecker(referenceCpu, train) } : {}) });
  const peers = ['p1', 'p2', 'p3', 'p4'];
  const keys = new Map(peers.map((p) => [p, testKey()]));
  const params = new Map<string, Float32Array>();
  const queue: { peer: string; lease: Extract<CoordinatorMessage, { type: 'lease' }> }[] = [];
  let computed = 0;
  let counted = 0;
  let results = 0;
  let receiveMs = 0;
  let bans = 0;
  const apply = (d: Decisions) => {
    for (const { to, message } of d.send) {
      if (message.type === 'parameters') params.set(to, message.tensors.params.slice());
      if (message.type === 'lease') queue.push({ peer: to, lease: message });
    }
    for (const e of d.events) {
      if (e.type === 'roundClosed') counted += e.record.examples;
      if (e.type === 'contributorBanned') bans++;
    }
  };
  apply(c.start(0));
  let now = 0;
  for (const p of peers) {
    apply(c.join(p, now));
    apply(c.receive(p, hello(4000, 8192, undefined, keys.get(p)), now));
  }
  while (c.state === 'running' && queue.length) {
    const { peer, lease } = queue.shift()!;
    now += 50;
    const indices = lease.tensors.indices;
    const g = new Float32Array(layout.total);
    const r = mlp.lossAndGradient(params.get(peer)!, train, indices, g);
    computed += indices.length;
    const message = result(c.jobId, lease.body.leaseId, lease.body.version, indices.length, g, r.correct, keys.get(peer), r.loss);
    const t0 = performance.now();
    const d = c.receive(peer, message, now);
    receiveMs += performance.now() - t0;
    results++;
    apply(d);
  }
  return { computed, counted, results, receiveMs, bans };
}
const coordinatorRounds = Math.max(4, Math.round(rounds / 2));
const off = driveCoordinator(false, coordinatorRounds);
const on = driveCoordinator(true, coordinatorRounds);
if (on.bans || off.bans) throw new Error(`honest contributors were banned (${on.bans} with verification, ${off.bans} without)`);
const endToEnd = {
  rounds: coordinatorRounds,
  extraComputePercent: 100 * (on.computed / on.counted - 1),
  extraComputePercentWithout: 100 * (off.computed / off.counted - 1),
  coordinatorMsPerResult: on.receiveMs / on.results,
  coordinatorMsPerResultWithout: off.receiveMs / off.results,
};

console.log(`Verification overhead (default job, ${layout.total} floats; ${rounds} real rounds of ${batch} examples in leases of 16–512)`);
console.log(`  extra contributor compute from replication on suspicion: ${figures.replicationExtraComputePercent.toFixed(2)}% of examples (${figures.directionSuspectsPercentOfLeases.toFixed(1)}% of leases are direction suspects)`);
console.log(`  coordinator CPU per result: norm screening ${figures.normScreeningMsPerResult.toFixed(2)} ms, direction check ${figures.directionCheckMsPerResult.toFixed(2)} ms, spot checks ${spotMsPerResult.toFixed(2)} ms on average (${(100 * spot.fraction).toFixed(0)}% of leases ≤ ${spot.maxExamples} examples at ${cpuMsPerExample.toFixed(3)} ms/example)`);
console.log('  aggregation per round (ms):            4        16        64 contributions');
for (const [rule, row] of Object.entries(figures.aggregationMsPerRound)) {
  console.log(`    ${rule.padEnd(34)}${[4, 16, 64].map((n) => row[n].toFixed(1).padStart(10)).join('')}`);
}
figures.endToEnd = endToEnd;
console.log(
  `  the real coordinator, ${endToEnd.rounds} rounds of ${batch} with 4 honest contributors, default verification vs none: ` +
    `extra contributor compute ${endToEnd.extraComputePercent.toFixed(1)}% (vs ${endToEnd.extraComputePercentWithout.toFixed(1)}%), ` +
    `coordinator CPU ${endToEnd.coordinatorMsPerResult.toFixed(2)} vs ${endToEnd.coordinatorMsPerResultWithout.toFixed(2)} ms per result`,
);
if (values.out) writeFileSync(values.out, JSON.stringify(figures, null, 2) + '\n');
