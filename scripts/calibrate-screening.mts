// Calibrates the screening thresholds (src/coordinator/screening.ts) on real Fashion-MNIST
// gradients of the default model (784-256-128-10), computed by the CPU reference (the CPU layer table, coordinator/kinkModel.ts).
// Trains `--rounds` rounds of `--batch` examples with the default AdamW; each round is cut
// into leases of random sizes (16 … batch, log-uniform), every honest lease is screened as
// the coordinator would, and so are four cheats per round (zeros, noise of the expected norm,
// ×100, sign flip) and a stale gradient (computed 5 rounds earlier). Prints the honest
// margins (how close an honest result came to a threshold) and the cheats caught.
//
//   node --import tsx scripts/calibrate-screening.mts [--rounds 200] [--batch 1024]

import { parseArgs } from 'node:util';
import { loadFashionMnistFromDir } from '../src/data/fashionMnistNode.ts';
import { exampleWeightedMean } from '../src/coordinator/robustRules.ts';
import { CpuKinkModel } from '../src/coordinator/kinkModel.ts';
import { defaultJob, jobResolved } from '../src/coordinator/job.ts';
import { OptimizerHost, freshOptimizerState } from '../src/coordinator/optimizerHost.ts';
import { ResultScreen, directionOutliers } from '../src/coordinator/screening.ts';
import { epochOrder } from '../src/data/order.ts';
import { Random } from '../src/util/random.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '200' }, batch: { type: 'string', default: '1024' } } });
const rounds = Number(values.rounds);
const batch = Number(values.batch);
const job = defaultJob();
const layout = jobResolved(job);
const { train } = await loadFashionMnistFromDir();
const mlp = await CpuKinkModel.create(layout);
const optimizer = new OptimizerHost(layout, job.optimizer, rounds, freshOptimizerState(layout, job.optimizer, job.seed));
const screen = new ResultScreen(job.verification.screening);
const rng = new Random(7);
const order = epochOrder(job.seed, 0, train.count);
const history: Float32Array[] = [];
let honest = 0;
let flagged = 0;
let minNormRatio = Infinity;
let maxNormRatio = 0;
const caught: Record<string, [number, number]> = { zeros: [0, 0], noise: [0, 0], x100: [0, 0], signFlip: [0, 0], stale5: [0, 0] };
let screenMs = 0;
const directionMs: { k: number; ms: number }[] = [];
let screens = 0;
const timedScreen = (g: Float32Array, n: number) => {
  const t0 = performance.now();
  const v = screen.screen(g, n);
  screenMs += performance.now() - t0;
  screens++;
  return v;
};

for (let r = 0; r < rounds; r++) {
  const params = optimizer.params;
  history.push(params);
  const start = (r * batch) % (train.count - batch);
  const leases: { leaseId: string; exampleCount: number; gradient: Float32Array; cheats: Record<string, Float32Array>; byNorm: Record<string, boolean> }[] = [];
  for (let at = 0; at < batch; ) {
    const size = Math.min(batch - at, Math.round(Math.exp(rng.uniform(Math.log(16), Math.log(batch)))));
    const g = new Float32Array(layout.total);
    mlp.lossAndGradient(params, train, order.subarray(start + at, start + at + size), g);
    const v = timedScreen(g, size);
    honest++;
    if (v.flag) {
      flagged++;
      console.log(`round ${r}: honest lease of ${size} flagged: ${v.reason}`);
    }
    if (v.expectedNorm) {
      minNormRatio = Math.min(minNormRatio, v.norm / v.expectedNorm);
      maxNormRatio = Math.max(maxNormRatio, v.norm / v.expectedNorm);
    }
    // The cheats, on a copy of this lease.
    const cheats: Record<string, Float32Array> = {
      zeros: new Float32Array(g.length),
      noise: Float32Array.from(g, () => (rng.normal() * (v.expectedNorm ?? v.norm)) / Math.sqrt(g.length)),
      x100: g.map((x) => x * 100),
      signFlip: g.map((x) => -x),
    };
    if (r >= 5) {
      const stale = new Float32Array(g.length);
      mlp.lossAndGradient(history[r - 5], train, order.subarray(start + at, start + at + size), stale);
      cheats.stale5 = stale;
    }
    const byNorm: Record<string, boolean> = {};
    if (r >= 1) for (const [kind, cg] of Object.entries(cheats)) byNorm[kind] = timedScreen(cg, size).flag !== null;
    if (!v.flag) {
      screen.observe(size, v.norm);
      leases.push({ leaseId: `L${leases.length}`, exampleCount: size, gradient: g, cheats, byNorm });
    }
    at += size;
  }
  if (leases.length === 0) throw new Error(`round ${r}: every lease was flagged`);
  const fraction = job.verification.screening.cosineFraction;
  const t0 = performance.now();
  const running = screen.estimates();
  const honestOutliers = directionOutliers(leases, fraction, running);
  directionMs.push({ k: leases.length, ms: performance.now() - t0 });
  for (const o of honestOutliers) console.log(`round ${r}: honest ${o.leaseId} flagged by direction: ${o.reason}`);
  flagged += honestOutliers.length;
  // One cheat per round and kind: lease L0 replaced by its cheat (caught by norm at arrival, or by direction at the close).
  if (r >= 1) {
    const target = leases[0];
    for (const [kind, cg] of Object.entries(target.cheats)) {
      caught[kind][1]++;
      if (target.byNorm[kind]) {
        caught[kind][0]++;
        continue;
      }
      const mixed = leases.map((l) => (l === target ? { ...l, gradient: cg } : l));
      const out = directionOutliers(mixed, fraction, running);
      if (out.some((o) => o.leaseId === target.leaseId)) caught[kind][0]++;
      else if (kind !== 'stale5' && kind !== 'noise') console.log(`round ${r}: ${kind} cheat of ${target.exampleCount} (of ${leases.length} leases) missed`);
    }
  }
  const aggregate = exampleWeightedMean(leases, layout.total);
  screen.roundClosed(aggregate);
  optimizer.apply(aggregate);
  if (r % 25 === 0) console.log(`round ${r}: honest ${honest}, flagged ${flagged}, norm/expected in [${minNormRatio.toFixed(3)}, ${maxNormRatio.toFixed(3)}]`, JSON.stringify(caught));
}
console.log(JSON.stringify({ rounds, batch, honest, honestFlagged: flagged, minNormRatio, maxNormRatio, caught, screenMsPerResult: screenMs / screens, directionMsPerLease: directionMs.reduce((a, x) => a + x.ms / x.k, 0) / directionMs.length }, null, 1));
