// Simulate a job end to end in one Node process: the real Coordinator, real Fashion-MNIST,
// and simulated contributors that compute real gradients on the CPU (the CPU layer table, coordinator/kinkModel.ts)
// at simulated speeds, on a virtual clock. It checks a recipe (does the default job reach
// its target, after how many examples?) with the exact round and lease structure of a run.
//
//   npx tsx scripts/simulate-job.ts [--job FILE] [--speeds 3000,1200,500] [--chaos]
//                                   [--restart-at ROUND] [--down-mbps N --up-mbps N] [--out FILE.json]
//
// Local-steps jobs run each lease's inner steps with the coordinator's reference
// (localStepsReference.ts); compressed jobs encode results and apply parameter deltas as a
// browser does. Every message is encoded by the real codec and counted (bytes per example);
// with --down-mbps/--up-mbps each contributor's link carries its messages one at a time at
// that rate (no delay emulation beyond LATENCY_MS), so the virtual clock includes transfers.
//
// --chaos: the last contributor vanishes mid-lease at 30% of the planned rounds (its lease
// expires), one more joins at 40%, and every 50th lease fails. --restart-at: at that round,
// serialize a checkpoint, throw the coordinator away, restore into a fresh one, and go on.

import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadFashionMnistFromDir } from '../src/data/fashionMnistNode.ts';
import { deserializeCheckpoint, serializeCheckpoint } from '../src/coordinator/checkpoint.ts';
import { Coordinator } from '../src/coordinator/coordinator.ts';
import { CpuKinkModel } from '../src/coordinator/kinkModel.ts';
import { hello, result as signedResult, testKey, testSigning } from '../src/coordinator/testSwarm.ts';
import type { SyncSigner } from '../src/protocol/signing.ts';
import type { Decisions } from '../src/coordinator/decisions.ts';
import { TestEvaluator } from '../src/coordinator/evaluator.ts';
import { checkpointOptimizer, defaultJob, innerHyper, jobResolved, parseJob, plannedRounds, roundsPerEpoch } from '../src/coordinator/job.ts';
import type { ContributorMessage } from '../src/protocol/messages.ts';
import { encodeMessage } from '../src/protocol/codec.ts';
import { applyDelta } from '../src/compression/index.ts';
import { localStepsReference } from '../src/coordinator/localStepsReference.ts';

const { values: args } = parseArgs({
  options: {
    job: { type: 'string' },
    speeds: { type: 'string', default: '3000,1200,500' },
    chaos: { type: 'boolean', default: false },
    'restart-at': { type: 'string' },
    'down-mbps': { type: 'string' },
    'up-mbps': { type: 'string' },
    out: { type: 'string' },
  },
});

const job = args.job ? parseJob(await readFile(args.job, 'utf8'), args.job) : defaultJob();
const speeds = args.speeds!.split(',').map(Number);
if (speeds.some((s) => !(s > 0))) throw new Error(`--speeds must be positive examples per second, got ${args.speeds}`);
const restartAt = args['restart-at'] === undefined ? null : Number(args['restart-at']);
const { train, test } = await loadFashionMnistFromDir();
const evaluator = await TestEvaluator.create(jobResolved(job), test, job.data.testExamples);
/** Every simulated contributor's gradients, one after the other. */
const simulatedModel = await CpuKinkModel.create(jobResolved(job));
const planned = plannedRounds(job) ?? Infinity;
const LATENCY_MS = 20; // one way, per message
/** Bytes per millisecond of each contributor's link, or Infinity when not shaped. */
const downBytesPerMs = args['down-mbps'] ? (Number(args['down-mbps']) * 1e6) / 8 / 1000 : Infinity;
const upBytesPerMs = args['up-mbps'] ? (Number(args['up-mbps']) * 1e6) / 8 / 1000 : Infinity;
if (!(downBytesPerMs > 0 && upBytesPerMs > 0)) throw new Error('--down-mbps and --up-mbps must be positive numbers');
const bytes = { down: 0, up: 0 };

interface SimContributor {
  peer: string;
  speed: number;
  mlp: CpuKinkModel;
  params: Float32Array | null;
  busyUntil: number;
  /** When each direction of its link is free again. */
  downFreeAt: number;
  upFreeAt: number;
  leases: number;
  vanished: boolean;
  /** Each contributor signs with its own key, as in a real swarm (a ban hits one key). */
  key: SyncSigner;
}

type Pending = { at: number; peer: string; message: ContributorMessage } | { at: number; tick: true };
let queue: Pending[] = [];
const schedule = (p: Pending) => {
  queue.push(p);
  queue.sort((a, b) => a.at - b.at);
};

let coordinator = new Coordinator({ job, instance: 'sim0', datasetUrl: '/data/fashion-mnist/', ...testSigning });
const contributors = new Map<string, SimContributor>();
const curve: Array<Record<string, number>> = [];
const leaseSizes: number[] = [];
let now = 0;
let done: Extract<Decisions['events'][number], { type: 'jobDone' }> | null = null;
let lastTrainLoss = NaN;
let lastLr = NaN;
const wall0 = performance.now();

function addContributor(speed: number): void {
  const peer = `sim${contributors.size + 1}`;
  const c: SimContributor = { peer, speed, mlp: simulatedModel, params: null, busyUntil: now, downFreeAt: now, upFreeAt: now, leases: 0, vanished: false, key: testKey() };
  contributors.set(peer, c);
  apply(coordinator.join(peer, now));
  const capabilities = { backend: 'cpu' as const, device: `simulated ${speed} ex/s`, fallbackAdapter: false, flopsPerMs: 1e6, examplesPerSecond: speed, maxBatch: 8192 };
  const greeting = hello(speed, 8192, undefined, c.key);
  if (greeting.type === 'hello') greeting.body.capabilities = capabilities;
  apply(coordinator.receive(peer, greeting, now));
}

/** Carry out the coordinator's decisions: messages reach simulated contributors, requests are served at once. */
function apply(d: Decisions): void {
  for (const { to, message } of d.send) {
    const c = contributors.get(to);
    if (!c || c.vanished) continue;
    // Messages to one contributor share its down link, in order.
    const size = encodeMessage(message).byteLength;
    bytes.down += size;
    c.downFreeAt = Math.max(now, c.downFreeAt) + size / downBytesPerMs;
    const arrives = c.downFreeAt + LATENCY_MS;
    if (message.type === 'parameters') c.params = message.tensors.params;
    if (message.type === 'parameterDelta') c.params = applyDelta(c.params!, { header: message.body.encoding, payload: message.tensors.delta });
    if (message.type === 'lease') {
      const { leaseId, version } = message.body;
      const indices = message.tensors.indices;
      c.leases++;
      leaseSizes.push(indices.length);
      const start = Math.max(arrives, c.busyUntil);
      c.busyUntil = start + (indices.length / c.speed) * 1000;
      const send = (answer: ContributorMessage) => {
        const up = encodeMessage(answer).byteLength;
        bytes.up += up;
        c.upFreeAt = Math.max(c.busyUntil, c.upFreeAt) + up / upBytesPerMs;
        schedule({ at: c.upFreeAt + LATENCY_MS, peer: c.peer, message: answer });
      };
      if (args.chaos && c.leases % 50 === 0) {
        send({ type: 'leaseFailed', body: { leaseId, reason: 'simulated device loss' }, tensors: {} });
        continue;
      }
      let values: Float32Array;
      let r: { loss: number; correct: number };
      if (job.sync.mode === 'local-steps') {
        const hyper = { ...innerHyper(job, message.body.round), lr: message.body.innerLr! };
        const ls = localStepsReference(c.mlp, train, c.params!, { indices, innerBatch: job.sync.innerBatch, hyper });
        values = ls.delta;
        r = ls;
      } else {
        values = new Float32Array(coordinator.layout.total);
        r = c.mlp.lossAndGradient(c.params!, train, indices, values);
      }
      const answer = signedResult(coordinator.jobId, leaseId, version, indices.length, values, r.correct, c.key, r.loss, job.compression.up);
      answer.body.computeMs = c.busyUntil - start;
      send(answer);
    }
  }
  for (const e of d.events) {
    if (e.type === 'roundClosed') {
      lastTrainLoss = e.record.loss;
      lastLr = e.record.lr;
      if (!e.record.exact) throw new Error(`Round ${e.record.round} did not cover its window exactly once`);
    } else if (e.type === 'evaluate') {
      const ev = evaluator.evaluate(e.params);
      const examples = coordinator.coverage().examples;
      const point = { version: e.version, epoch: e.version / roundsPerEpoch(job), examples, testAccuracy: ev.accuracy, testLoss: ev.loss, trainLoss: lastTrainLoss, lr: lastLr, virtualSeconds: now / 1000, bytesPerExample: (bytes.down + bytes.up) / Math.max(1, examples) };
      curve.push(point);
      console.log(
        `round ${String(e.version).padStart(5)}  epoch ${point.epoch.toFixed(2)}  examples ${String(point.examples).padStart(7)}  ` +
          `test acc ${(100 * ev.accuracy).toFixed(2)}%  test loss ${ev.loss.toFixed(4)}  train loss ${lastTrainLoss.toFixed(4)}  lr ${lastLr.toExponential(2)}  t=${point.virtualSeconds.toFixed(0)}s  ${point.bytesPerExample.toFixed(0)} B/example`,
      );
      apply(coordinator.recordEvaluation(e.version, ev, now));
    } else if (e.type === 'checkpoint') {
      deserializeCheckpoint(serializeCheckpoint(e.state), { jobId: coordinator.jobId, parameterCount: coordinator.layout.total, optimizer: checkpointOptimizer(job) }, 'round trip');
    } else if (e.type === 'jobDone') {
      done = e;
    } else if (e.type === 'internalError' || e.type === 'peerError') {
      throw new Error(`${e.type}: ${e.message}`);
    }
  }
}

function restart(): void {
  const bytes = serializeCheckpoint(coordinator.checkpointState(now));
  const state = deserializeCheckpoint(bytes, { jobId: coordinator.jobId, parameterCount: coordinator.layout.total, optimizer: checkpointOptimizer(job) }, 'restart');
  console.log(`-- restart at round ${coordinator.round}: ${bytes.length} checkpoint bytes; every contributor reconnects`);
  coordinator = new Coordinator({ job, instance: 'sim1', datasetUrl: '/data/fashion-mnist/', checkpoint: state, ...testSigning });
  apply(coordinator.start(now));
  queue = queue.filter((p) => 'tick' in p); // in-flight results die with the old process
  const alive = [...contributors.values()].filter((c) => !c.vanished);
  contributors.clear();
  for (const c of alive) addContributor(c.speed);
}

apply(coordinator.start(now));
for (const s of speeds) addContributor(s);
schedule({ at: 500, tick: true });
let chaosLeft = false;
let chaosJoined = false;
let restarted = false;
while (!done) {
  const next = queue.shift();
  if (!next) throw new Error(`Nothing left to simulate at round ${coordinator.round} before the job finished`);
  now = next.at;
  if ('tick' in next) {
    apply(coordinator.tick(now));
    schedule({ at: now + 500, tick: true });
  } else if (!contributors.get(next.peer)?.vanished) {
    apply(coordinator.receive(next.peer, next.message, now));
  }
  const round = coordinator.round;
  if (args.chaos && !chaosLeft && round >= 0.3 * planned) {
    chaosLeft = true;
    const last = [...contributors.values()].at(-1)!;
    last.vanished = true; // no bye, no close: its lease has to expire
    console.log(`-- ${last.peer} vanished at round ${round}`);
  }
  if (args.chaos && !chaosJoined && round >= 0.4 * planned) {
    chaosJoined = true;
    addContributor(speeds[0]);
    console.log(`-- a contributor joined at round ${round}`);
  }
  if (restartAt !== null && !restarted && round >= restartAt) {
    restarted = true;
    restart();
  }
}

const summary = coordinator.summary(now);
const histogram = new Map<number, number>();
for (const s of leaseSizes) histogram.set(s, (histogram.get(s) ?? 0) + 1);
const result = {
  job: job.name,
  jobId: coordinator.jobId,
  stopReason: summary.stopReason,
  finalVersion: summary.finalVersion,
  finalTestAccuracy: summary.finalTestAccuracy,
  rounds: summary.rounds,
  examples: summary.examples,
  epochs: summary.epochs,
  coverageExact: summary.coverage.exact,
  coverageProblems: summary.coverage.problems,
  restarts: summary.restarts,
  virtualSeconds: now / 1000,
  bytes,
  bytesPerExample: (bytes.down + bytes.up) / Math.max(1, summary.examples),
  wallSeconds: (performance.now() - wall0) / 1000,
  leases: leaseSizes.length,
  commonLeaseSizes: [...histogram].sort((a, b) => b[1] - a[1]).slice(0, 8),
  contributors: summary.contributors,
  curve,
};
console.log(JSON.stringify({ ...result, curve: `${curve.length} points` }, null, 2));
if (args.out) await writeFile(args.out, JSON.stringify(result, null, 2));
process.exit(summary.coverage.exact && (job.stop.targetAccuracy === undefined || (summary.finalTestAccuracy ?? 0) >= job.stop.targetAccuracy) ? 0 : 1);
