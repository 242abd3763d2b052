// Timings of the coordinator's CPU work on the default job (784-256-128-10, 235k parameters):
// test-set evaluation, one optimizer step, one round's aggregation, a checkpoint's bytes.
// Each is run several times; the median and the fastest are printed, in milliseconds.
//
//   npx tsx scripts/bench-coordinator.ts [--repeats 7]

import { parseArgs } from 'node:util';
import { loadFashionMnistFromDir } from '../src/data/fashionMnistNode.ts';
import { RoundAggregator } from '../src/coordinator/aggregator.ts';
import { deserializeCheckpoint, serializeCheckpoint } from '../src/coordinator/checkpoint.ts';
import { Coordinator } from '../src/coordinator/coordinator.ts';
import { CpuKinkModel } from '../src/coordinator/kinkModel.ts';
import { TestEvaluator } from '../src/coordinator/evaluator.ts';
import { resolveModel } from '../src/model/layers/spec.ts';
import { checkpointOptimizer, defaultJob, plannedRounds } from '../src/coordinator/job.ts';
import { OptimizerHost, freshOptimizerState } from '../src/coordinator/optimizerHost.ts';
import { Random } from '../src/util/random.ts';
import { testSigning } from '../src/coordinator/testSwarm.ts';

const { values } = parseArgs({ options: { repeats: { type: 'string', default: '7' } } });
const repeats = Number(values.repeats);
if (!Number.isInteger(repeats) || repeats < 1) throw new Error(`--repeats must be a positive integer, got ${values.repeats}`);

/** Runs `run` once to warm up, then `repeats` times; prints and returns the median milliseconds. */
function time(name: string, run: () => void): number {
  run(); // warm-up: JIT and caches
  const ms: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    run();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  const median = ms[Math.floor(ms.length / 2)];
  console.log(`${name.padEnd(52)} median ${median.toFixed(1).padStart(8)} ms   fastest ${ms[0].toFixed(1).padStart(8)} ms`);
  return median;
}

const job = defaultJob();
const { train, test } = await loadFashionMnistFromDir();
const coordinator = new Coordinator({ job, instance: 'bench', datasetUrl: '', ...testSigning });
const layout = coordinator.layout;
const rng = new Random(1);
const params = freshOptimizerState(layout, job.optimizer, job.seed).params;
console.log(`node ${process.version}, ${layout.total} floats per parameter vector, ${repeats} runs each\n`);

const evaluator = await TestEvaluator.create(resolveModel(job.model), test);
let accuracy = 0;
time(`evaluate the full test set (${test.count} examples)`, () => {
  accuracy = evaluator.evaluate(params).accuracy;
});
console.log(`  (accuracy of the initial parameters: ${(100 * accuracy).toFixed(2)}%)`);

const host = new OptimizerHost(layout, job.optimizer, plannedRounds(job), freshOptimizerState(layout, job.optimizer, job.seed));
const gradient = Float32Array.from({ length: layout.total }, () => rng.uniform(-1e-3, 1e-3));
time('one AdamW step (adamwStepRef, copy-on-write)', () => host.apply(gradient));

const aggregator = new RoundAggregator(layout.total);
time('aggregate a round of 16 leases (f64 weighted mean)', () => {
  aggregator.clear();
  for (let i = 0; i < 16; i++) {
    aggregator.add({ leaseId: `l${i}`, contributorId: 'c', exampleCount: 16, firstPosition: i * 16, gradient, loss: 1, correct: 1 });
  }
  aggregator.aggregate();
});

coordinator.start(0);
const state = coordinator.checkpointState(0);
let bytes = serializeCheckpoint(state);
time(`serialize a checkpoint (${(bytes.length / 2 ** 20).toFixed(1)} MiB, with SHA-256)`, () => {
  bytes = serializeCheckpoint(state);
});
time('deserialize and validate it', () => {
  deserializeCheckpoint(bytes, { jobId: coordinator.jobId, parameterCount: layout.total, optimizer: checkpointOptimizer(job) }, 'bench');
});

const mlp = await CpuKinkModel.create(resolveModel(job.model));
const indices = Uint32Array.from({ length: 256 }, () => rng.int(train.count));
const g = new Float32Array(layout.total);
const gradientMs = time('CPU gradient of 256 training examples (the CPU layer table, 1 thread)', () => mlp.lossAndGradient(params, train, indices, g));
console.log(`  (a CPU contributor on one core: ${Math.round((256 * 1000) / gradientMs)} examples/s)`);
