// The README's sweep table: the examples each configuration took to 88% (from the PyTorch
// re-implementation, scripts/sweep-local-steps.py --out FILE.json) beside what our own codec
// and `--plan` say its bytes and rounds cost: the default job with that H and encoding, 2
// contributors of --speed examples/s on 20/5 Mbit/s links. Modelled, not measured: the
// measured runs are bench-swarm's.
//
//   node --import tsx scripts/sweep-table.ts FILE.json [--speed 20000] [--every-step EXAMPLES]

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { defaultJob, parseJob, type Job } from '../src/coordinator/job.ts';
import { planJob } from '../src/server/plan.ts';

interface SweepRow {
  H: number;
  scheme: string;
  K: number;
  reached: boolean;
  examples: number;
  rounds: number;
  accuracy: number;
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { speed: { type: 'string', default: '20000' }, 'every-step': { type: 'string' } },
});
if (positionals.length !== 1) throw new Error('usage: sweep-table.ts FILE.json [--speed N] [--every-step EXAMPLES]');
const speed = Number(values.speed);
const rows = JSON.parse(readFileSync(positionals[0], 'utf8')) as SweepRow[];

const seconds = (s: number) => (s >= 60 ? `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`);
const n = (x: number) => Math.round(x).toLocaleString('en-US');

/** bytes per example (both contributors, up + down) and the planned round, for a job. */
function priced(job: Job): { bytesPerExample: number; roundSeconds: number } {
  const plan = planJob({ job, speed, downMbps: 20, upMbps: 5, contributors: [2], spotCheckMsPerExample: 0, dataset: { trainCount: 60_000, testCount: 10_000 } });
  const r = plan.swarm[0];
  return { bytesPerExample: (2 * (r.bytesDown + r.bytesUp)) / job.globalBatch, roundSeconds: r.roundSeconds };
}

function variant(h: number, up: string, down: string, leases: number): Job {
  const base = defaultJob();
  if (base.sync.mode !== 'local-steps') throw new Error('the default job is expected to run local steps');
  const size = h * base.sync.innerBatch;
  return parseJob(
    {
      ...base,
      sync: { ...base.sync, innerSteps: h },
      compression: {
        up: up === 'f32' ? { scheme: 'f32' } : { scheme: up, blockSize: 128 },
        down: down === 'f32' ? { scheme: 'f32' } : { scheme: down, blockSize: 128 },
        keepVersions: base.compression.keepVersions,
      },
      globalBatch: leases * size,
      lease: { ...base.lease, minExamples: Math.min(size, base.lease.minExamples), maxExamples: size },
    },
    `H = ${h}, ${up}/${down}`,
  );
}

const lines = [
  '| H (inner steps) | encoding (up/down) | examples to 88% | rounds | final or reached accuracy | bytes per example (2 contributors, up + down) | round on 20/5 Mbit/s links (plan) | time to 88% (rounds × round) |',
  '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
];
for (const r of rows) {
  const [up, down] = r.scheme.includes('/') ? r.scheme.split('/') : [r.scheme, r.scheme];
  const p = priced(variant(r.H, up, down, r.K));
  lines.push(
    `| ${r.H} | ${up === down ? up : `${up}/${down}`} | ${r.reached ? n(r.examples) : 'not in 8 epochs'} | ${n(r.rounds)} | ${(100 * r.accuracy).toFixed(2)}% | ${n(p.bytesPerExample)} | ${n(p.roundSeconds * 1000)} ms | ${r.reached ? seconds(r.rounds * p.roundSeconds) : '—'} |`,
  );
}
if (values['every-step']) {
  const everyStep = parseJob(JSON.parse(readFileSync('src/coordinator/jobs/fashion-mnist-mlp-every-step.json', 'utf8')), 'every-step');
  const p = priced(everyStep);
  const examples = Number(values['every-step']);
  const rounds = Math.ceil(examples / everyStep.globalBatch);
  lines.push(`| every step (AdamW, batch ${everyStep.globalBatch}) | f32 | ${n(examples)} | ${n(rounds)} | — | ${n(p.bytesPerExample)} | ${n(p.roundSeconds * 1000)} ms | ${seconds(rounds * p.roundSeconds)} |`);
}
console.log(lines.join('\n'));
