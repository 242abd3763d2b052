// One coordinator, many contributors: the load simulation of issue 16. The real Coordinator
// and CoordinatorHost (verification with the CPU reference's spot checks, replication,
// screening, the ledger with its signed heads, checkpoints, evaluations in their thread) on
// this thread; N simulated contributors in a thread of their own (src/bench/load/fleet.ts:
// the browser's ContributorSession, WebCrypto keys, real gradients, simulated lease times),
// speaking the real protocol codec over in-memory channels between the threads. They join
// over the first seconds, then churn: 10% of them leave per minute (half close their tab,
// half vanish and are noticed when their channel times out after 30 s) and as many new ones
// (new keys) join.
//
//   node --import tsx scripts/bench-load.ts [--contributors 10,100,1000] [--check-threads 0,1,2]
//        [--seconds 60] [--warmup 15] [--widths 784,32,10] [--json FILE]
//
// Per run it prints results/s the coordinator held (acked), p50/p99/max of the time from a
// result's arrival (its last frame handed over by the contributor) to its ack (handed over
// by the coordinator), the coordinator thread's busy time per result (event-loop
// utilisation), the check threads' and the fleet thread's busy fractions, memory, rounds per
// minute, and whether coverage stayed exact (no example lost or counted twice) with every
// accepted result acked once.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { MessageChannel, Worker } from 'node:worker_threads';
import { writeFile } from 'node:fs/promises';
import { Coordinator } from '../src/coordinator/coordinator.ts';
import { jobModel, jobResolved, parseJob, type Job } from '../src/coordinator/job.ts';
import { cpuModelSpotChecker } from '../src/coordinator/verification.ts';
import { CpuModel } from '../src/cpu/cpuModel.ts';
import { loadFashionMnistFromDir } from '../src/data/fashionMnistNode.ts';
import { PortFrameChannel } from '../src/net/portFrameChannel.ts';
import { CoordinatorHost } from '../src/server/coordinatorHost.ts';
import { EvaluationThread } from '../src/server/evaluationThread.ts';
import { LedgerFile } from '../src/server/ledgerFile.ts';
import { nodeVerifier, nodeSigner } from '../src/server/nodeSigning.ts';
import { ResultCheckPool } from '../src/server/resultCheckPool.ts';
import { ThreadDataChannel } from '../src/bench/load/threadChannel.ts';
import type { FleetReply, FleetRequest } from '../src/bench/load/fleetWorker.ts';
import type { FleetStats } from '../src/bench/load/fleet.ts';
import { Random } from '../src/util/random.ts';
import { generateKeyPairSync } from 'node:crypto';

const { values: args } = parseArgs({
  options: {
    contributors: { type: 'string', default: '10,100,1000' },
    'check-threads': { type: 'string', default: '0,1,2' },
    seconds: { type: 'string', default: '60' },
    warmup: { type: 'string', default: '15' },
    widths: { type: 'string', default: '784,32,10' },
    json: { type: 'string' },
  },
});
const list = (name: string, text: string, min: number) => {
  const xs = text.split(',').map(Number);
  if (xs.some((x) => !Number.isInteger(x) || x < min)) throw new Error(`--${name} must be whole numbers ≥ ${min}, comma-separated, got ${text}`);
  return xs;
};
const counts = list('contributors', args.contributors!, 1);
const threadCounts = list('check-threads', args['check-threads']!, 0);
const [seconds, warmup] = [Number(args.seconds), Number(args.warmup)];
if (!(seconds > 0 && warmup >= 0)) throw new Error('--seconds must be positive and --warmup not negative');
const widths = list('widths', args.widths!, 1);

/** Simulated speeds: log-normal around 8 examples/s (×/÷ 2): slow devices send the most results per example, the coordinator's worst case. */
const MEDIAN_SPEED = 8;
const CHURN_PER_MINUTE = 0.1;
const VANISH_TIMEOUT_MS = 30_000;

function loadJob(n: number): Job {
  return parseJob(
    {
      name: `load simulation, ${n} contributors`,
      model: { widths, activation: 'relu' },
      data: { dataset: 'fashion-mnist' },
      optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 0, maxGradNorm: 0, schedule: { warmupSteps: 0, decay: 'constant' } },
      compression: { up: { scheme: 'int8', blockSize: 128 }, down: { scheme: 'int8', blockSize: 128 } },
      // About one lease of 32 examples per contributor per round.
      globalBatch: 32 * n,
      lease: { minExamples: 8, maxExamples: 64, targetSeconds: 4, timeoutMs: 20_000 },
      stop: { epochs: 1000 },
      evaluateEvery: 10,
      checkpointEvery: 20,
      seed: 1,
    },
    'the load job',
  );
}

const { train, test } = await loadFashionMnistFromDir();

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

interface RunFigures {
  contributors: number;
  checkThreads: number;
  parameters: number;
  seconds: number;
  resultsPerSecond: number;
  acceptedPerSecond: number;
  ackMs: { p50: number; p99: number; max: number; samples: number };
  coordinatorBusy: number;
  coordinatorMsPerResult: number;
  checkThreadsBusy: number[];
  fleetBusy: number;
  fleetComputeShare: number;
  rssMiB: number;
  heapMiB: number;
  roundsPerMinute: number;
  joins: number;
  leaves: number;
  bans: number;
  coverageExact: boolean;
  acceptedEvents: number;
  acceptedAcks: number;
  /** Internal errors, contributors' errors and coverage problems: any fails the run. */
  errors: string[];
  /** The host's log lines (a peer that failed, a channel that timed out): shown, not judged. */
  logged: string[];
}

async function runOnce(n: number, checkThreads: number): Promise<RunFigures> {
  const job = loadJob(n);
  const dir = await mkdtemp(join(tmpdir(), 'swarmgrad-load-'));
  const signer = nodeSigner(generateKeyPairSync('ed25519').privateKey);
  const checker = cpuModelSpotChecker((await CpuModel.create(jobResolved(job), { threads: 1 })).inline, train, job.sync);
  const coordinator = new Coordinator({ job, instance: Date.now().toString(36), datasetUrl: '/data/', signer, verifier: nodeVerifier, spotChecker: checker });
  const ledger = await LedgerFile.open(dir, { genesis: { kind: 'log', jobId: coordinator.jobId, jobName: job.name, coordinatorKey: signer.publicKey }, signer, fresh: true, log: () => {} });
  const evaluation = new EvaluationThread({ spec: jobModel(job), test, testExamples: job.data.testExamples });
  const pool = checkThreads > 0 ? new ResultCheckPool(checkThreads) : undefined;
  const counters = { accepted: 0, joins: 0, leaves: 0, bans: 0, internal: [] as string[], log: [] as string[] };
  const host = new CoordinatorHost({
    coordinator,
    evaluation,
    checkpointDir: dir,
    ledger,
    resultChecks: pool,
    log: (line) => counters.log.length < 20 && counters.log.push(line),
    onEvent: (e) => {
      if (e.type === 'resultAccepted') counters.accepted++;
      else if (e.type === 'contributorBanned') counters.bans++;
      else if (e.type === 'internalError') counters.internal.push(e.message);
    },
  });

  const entry = JSON.stringify(new URL('../src/bench/load/fleetWorker.ts', import.meta.url).href);
  const fleet = new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${entry}); })`, { eval: true, workerData: { spec: jobModel(job), coordinatorKey: signer.publicKey } });
  const replies: FleetReply[] = [];
  let wake: (() => void) | null = null;
  fleet.on('message', (r: FleetReply) => {
    if (r.type === 'failed') counters.internal.push(`fleet: ${r.message}`);
    else replies.push(r);
    wake?.();
  });
  fleet.on('error', (e) => counters.internal.push(`fleet thread: ${e.message}`));
  const reply = async (type: FleetReply['type']) => {
    for (;;) {
      const i = replies.findIndex((r) => r.type === type);
      if (i >= 0) return replies.splice(i, 1)[0];
      await new Promise<void>((ok) => (wake = ok));
    }
  };
  await reply('ready');
  const ask = (r: FleetRequest, transfer: readonly import('node:worker_threads').TransferListItem[] = []) => fleet.postMessage(r, transfer);

  const random = new Random(n * 31 + checkThreads);
  const live = new Map<string, PortFrameChannel>();
  let nextId = 0;
  const joinOne = () => {
    const id = `sim-${nextId++}`;
    const { port1, port2 } = new MessageChannel();
    const channel = new PortFrameChannel(id, new ThreadDataChannel(port1));
    live.set(id, channel);
    counters.joins++;
    const speed = MEDIAN_SPEED * Math.exp(Math.LN2 * (2 * random.next() - 1));
    ask({ type: 'connect', id, port: port2, speed }, [port2]);
    host.attach(channel);
  };
  const leave = () => {
    const ids = [...live.keys()];
    const id = ids[Math.floor(random.next() * ids.length)];
    const channel = live.get(id)!;
    live.delete(id);
    counters.leaves++;
    if (random.next() < 0.5) ask({ type: 'close', id });
    else {
      ask({ type: 'vanish', id });
      setTimeout(() => channel.close('ICE consent timed out'), VANISH_TIMEOUT_MS);
    }
  };

  // Joins spread over the first seconds (a game site's visitors arriving), then churn.
  const rampMs = Math.min(10_000, 10 * n);
  const started = Date.now();
  await new Promise<void>((done) => {
    const t = setInterval(() => {
      const due = Math.min(n, Math.ceil((n * (Date.now() - started)) / rampMs));
      while (nextId < due) joinOne();
      if (nextId >= n) {
        clearInterval(t);
        done();
      }
    }, 50);
  });
  let churnCarry = 0;
  const churn = setInterval(() => {
    churnCarry += (live.size * CHURN_PER_MINUTE) / 60 / 4;
    for (; churnCarry >= 1; churnCarry--) {
      leave();
      joinOne();
    }
  }, 250);
  let peak = { rss: 0, heap: 0 };
  const memory = setInterval(() => {
    const m = process.memoryUsage();
    peak = { rss: Math.max(peak.rss, m.rss), heap: Math.max(peak.heap, m.heapUsed) };
  }, 500);

  await new Promise((ok) => setTimeout(ok, warmup * 1000));
  ask({ type: 'take' });
  await reply('stats');
  const elu0 = performance.eventLoopUtilization();
  const pool0 = pool?.utilizationDetail();
  const round0 = coordinator.round;
  const accepted0 = counters.accepted;
  peak = { rss: 0, heap: 0 };
  const t0 = performance.now();
  await new Promise((ok) => setTimeout(ok, seconds * 1000));
  ask({ type: 'take' });
  const window = (await reply('stats')) as Extract<FleetReply, { type: 'stats' }>;
  const elapsed = (performance.now() - t0) / 1000;
  const elu = performance.eventLoopUtilization(elu0);
  const poolBusy = pool ? pool.utilizationSince(pool0!) : [];
  const rounds = coordinator.round - round0;
  const acceptedInWindow = counters.accepted - accepted0;
  clearInterval(churn);
  clearInterval(memory);
  // What came after (sends to channels closed by the shutdown) is not the run's.
  const internal = counters.internal.slice();
  const logged = counters.log.slice();

  // Drain: no new leases matter now; every result sent must have been acked.
  await new Promise((ok) => setTimeout(ok, 1000));
  coordinator.checkInvariants();
  const coverage = coordinator.coverage();
  await host.close('the simulation is over');
  await evaluation.close();
  await pool?.close();
  await fleet.terminate();
  ledger.close();
  await rm(dir, { recursive: true, force: true });

  const s: FleetStats = window.stats;
  const sorted = s.ackMs.slice().sort((a, b) => a - b);
  const results = s.ackMs.length;
  return {
    contributors: n,
    checkThreads,
    parameters: coordinator.layout.total,
    seconds: elapsed,
    resultsPerSecond: results / elapsed,
    acceptedPerSecond: acceptedInWindow / elapsed,
    ackMs: { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted.at(-1) ?? NaN, samples: results },
    coordinatorBusy: elu.utilization,
    coordinatorMsPerResult: (elu.active / Math.max(1, results)),
    checkThreadsBusy: poolBusy,
    fleetBusy: window.utilization,
    fleetComputeShare: s.computeMs / (elapsed * 1000),
    rssMiB: peak.rss / 2 ** 20,
    heapMiB: peak.heap / 2 ** 20,
    roundsPerMinute: (60 * rounds) / elapsed,
    joins: counters.joins,
    leaves: counters.leaves,
    bans: counters.bans,
    coverageExact: coverage.exact,
    acceptedEvents: acceptedInWindow,
    acceptedAcks: s.acks.accepted ?? 0,
    errors: [...internal, ...s.errors, ...coverage.problems],
    logged,
  };
}

const all: RunFigures[] = [];
console.log(`load simulation: model ${widths.join('-')}, int8 both ways, speeds ~${MEDIAN_SPEED} examples/s ×/÷ 2, churn ${100 * CHURN_PER_MINUTE}%/min, ${warmup} s warm-up, ${seconds} s measured`);
console.log('contributors  check threads  results/s  ack p50 / p99 / max (ms)  coordinator busy  ms/result  check threads busy  fleet busy  RSS MiB  rounds/min  exact  bans');
for (const n of counts) {
  for (const threads of threadCounts) {
    const f = await runOnce(n, threads);
    all.push(f);
    console.log(
      `${String(f.contributors).padStart(12)}  ${String(f.checkThreads).padStart(13)}  ${f.resultsPerSecond.toFixed(1).padStart(9)}  ${`${f.ackMs.p50.toFixed(1)} / ${f.ackMs.p99.toFixed(1)} / ${f.ackMs.max.toFixed(0)}`.padStart(24)}  ${(100 * f.coordinatorBusy).toFixed(0).padStart(15)}%  ${f.coordinatorMsPerResult.toFixed(2).padStart(9)}  ${(f.checkThreadsBusy.map((u) => `${(100 * u).toFixed(0)}%`).join(' ') || '—').padStart(18)}  ${(100 * f.fleetBusy).toFixed(0).padStart(9)}%  ${f.rssMiB.toFixed(0).padStart(7)}  ${f.roundsPerMinute.toFixed(1).padStart(10)}  ${f.coverageExact ? 'yes' : 'NO'}  ${f.bans}`,
    );
    if (f.errors.length) console.log(`    errors: ${f.errors.slice(0, 5).join(' | ')}`);
    if (f.logged.length) console.log(`    log: ${f.logged.slice(0, 3).join(' | ')}`);
  }
}
if (args.json) await writeFile(args.json, `${JSON.stringify(all, null, 2)}\n`);
const bad = all.filter((f) => !f.coverageExact || f.errors.length > 0);
if (bad.length) {
  console.error(`load simulation: ${bad.length} run(s) lost or double-counted work or failed inside: see above`);
  process.exitCode = 1;
}
