// `npm start -- --plan`: what a job will do, before anything starts. Pure: the job, a
// contributor's speed and links, and what the caller measured (the coordinator's spot-check
// cost, the dataset's size) in; figures and their text out. Message sizes come from the real
// codec on messages shaped like the real ones, lease sizes from the scheduler's own rule.

import { jobId, jobResolved, leaseBounds, plannedRounds, roundsPerEpoch, type Job } from '../coordinator/job.ts';
import { encodedByteSize, type CompressedHeader } from '../compression/index.ts';
import { leaseSizeFor } from '../coordinator/rounds.ts';
import { cpuModelMemoryBytes } from '../cpu/cpuModelPlan.ts';
import { describeModel, gradientFlops, resolveModel } from '../model/layers/spec.ts';
import { encodeMessage } from '../protocol/codec.ts';
import { MAX_LEASE_EXAMPLES, type AnyMessage } from '../protocol/messages.ts';
import { MAX_MICRO_BATCH } from '../worker/api.ts';
import { duration } from './runStatus.ts';

/**
 * The default contributor: our CPU backend on one core of the 2-core development machine
 * (`npm run bench`, 2026-12-01: 39,842 examples/s on the 784-256-128-10 MLP, batch 128),
 * as floating-point operations per second, so that it scales to other models.
 */
export const DEFAULT_CONTRIBUTOR_FLOPS = 39_842 * gradientFlops(resolveModel({ widths: [784, 256, 128, 10], activation: 'relu' }), 1);

export interface PlanInputs {
  job: Job;
  /** One contributor's training examples per second on this job's model; null: DEFAULT_CONTRIBUTOR_FLOPS. */
  speed: number | null;
  downMbps: number;
  upMbps: number;
  /** Swarm sizes to plan for. */
  contributors: readonly number[];
  /** Measured by the caller: the coordinator's CPU reference, milliseconds per example of a spot check. */
  spotCheckMsPerExample: number;
  /** The dataset as contributors load it. */
  dataset: { trainCount: number; testCount: number };
}

export interface SwarmRow {
  contributors: number;
  leaseExamples: number;
  leasesPerContributor: number;
  /** Per contributor and round. */
  bytesDown: number;
  bytesUp: number;
  computeSeconds: number;
  transferSeconds: number;
  roundSeconds: number;
  examplesPerSecond: number;
  /** The planned rounds at this pace, or null without a round limit. */
  jobSeconds: number | null;
}

export interface JobPlan {
  name: string;
  id: string;
  /** describeModel's line; parameters without padding; gradientFlops of one example. */
  model: { description: string; parameters: number; flopsPerExample: number };
  rounds: { globalBatch: number; perEpoch: number; planned: number | null; epochs: number | null; targetAccuracy: number | null };
  speed: { examplesPerSecond: number; source: string; downMbps: number; upMbps: number };
  /** The CPU backend's memory plan (src/cpu/cpuModelPlan.ts) for the dataset and the largest micro-batch. */
  memory: { cpuBackendBytes: number; batchCapacity: number };
  swarm: SwarmRow[];
  /** lease.inFlight: leases a contributor may hold at once (uploads overlap compute when ≥ 2). */
  inFlight: number;
  verification: {
    replication: number;
    spotFraction: number;
    spotMaxExamples: number;
    probationResults: number;
    /** The coordinator's CPU per round on spot checks once keys are past probation (one contributor's leases). */
    coordinatorMsPerRound: number;
    /** The same for each result of a key in probation. */
    probationMsPerResult: number;
  };
}

const HASH = '0'.repeat(64);
const SIGNATURE = 'A'.repeat(86);
const LEASE_ID = 'mx57c9du-r12345-123456';
/** Receipts carry an inclusion proof: about log2 of the ledger's size (a million entries). */
const PROOF_HASHES = 20;

const bytesOf = (m: AnyMessage) => encodeMessage(m).byteLength;

/** Bytes of each message of a round, from the real codec. */
export function messageBytes(parameters: number, leaseExamples: number, compression: Job['compression'] = { up: { scheme: 'f32', blockSize: 128 }, down: { scheme: 'f32', blockSize: 128 }, keepVersions: 8 }) {
  const encoded = (spec: Job['compression']['up']) => {
    const encoding: CompressedHeader = { scheme: spec.scheme, length: parameters, blockSize: spec.scheme === 'f32' ? null : spec.blockSize, k: null };
    return { encoding, words: new Uint32Array(encodedByteSize(encoding) / 4) };
  };
  const up = encoded(compression.up);
  const down = encoded(compression.down);
  return {
    /** What a contributor that holds the previous version gets: the parameters whole, or a delta. */
    parameters:
      compression.down.scheme === 'f32'
        ? bytesOf({ type: 'parameters', body: { version: 12345 }, tensors: { params: new Float32Array(parameters) } })
        : bytesOf({ type: 'parameterDelta', body: { fromVersion: 12344, version: 12345, encoding: down.encoding }, tensors: { delta: down.words } }),
    lease: bytesOf({ type: 'lease', body: { leaseId: LEASE_ID, version: 12345, round: 12345, deadlineMs: 15_000 }, tensors: { indices: new Uint32Array(leaseExamples) } }),
    result: bytesOf({
      type: 'result',
      body: { leaseId: LEASE_ID, version: 12345, loss: 0.123456789, correct: leaseExamples, exampleCount: leaseExamples, computeMs: 123.456, deviceTimeMs: null, encoding: up.encoding, resultHash: HASH, signature: SIGNATURE },
      tensors: { update: up.words },
    }),
    ack: bytesOf({ type: 'ack', body: { leaseId: LEASE_ID, outcome: 'accepted' }, tensors: {} }),
    receipt: bytesOf({
      type: 'receipt',
      body: {
        leaseId: LEASE_ID, round: 12345, examples: leaseExamples, index: 1_234_567,
        // A ledger entry of an accepted result, as the ledger writes it.
        entry: JSON.stringify({ kind: 'resultAccepted', contributorId: 'c12-mx57c9du', leaseId: LEASE_ID, round: 12345, version: 12345, count: leaseExamples, resultHash: HASH, signature: SIGNATURE }),
        treeHead: { size: 1_234_567, rootHash: HASH, timestamp: 1_764_600_000_000, signature: SIGNATURE },
        proof: Array(PROOF_HASHES).fill(HASH),
      },
      tensors: {},
    }),
  };
}

/** Leases of one round when `n` equally fast contributors ask in turn. */
function leasesOfRound(job: Job, n: number, speed: number, turnaroundSpeed: number): number[] {
  const window = job.globalBatch;
  const sizes: number[] = [];
  let pending = window;
  while (pending > 0) {
    const size = leaseSizeFor(leaseBounds(job), window, pending, { contributorId: 'c', examplesPerSecond: speed, turnaroundExamplesPerSecond: turnaroundSpeed, maxBatch: MAX_LEASE_EXAMPLES, share: 1 / n });
    sizes.push(size);
    pending -= size;
  }
  return sizes;
}

export function planJob(inputs: PlanInputs): JobPlan {
  const { job } = inputs;
  const layout = jobResolved(job);
  const flopsPerExample = gradientFlops(layout, 1);
  const speed = inputs.speed ?? DEFAULT_CONTRIBUTOR_FLOPS / flopsPerExample;
  const bytesPerSecondDown = (inputs.downMbps * 1e6) / 8;
  const bytesPerSecondUp = (inputs.upMbps * 1e6) / 8;
  const planned = plannedRounds(job);
  const swarm = inputs.contributors.map((n): SwarmRow => {
    // A lease comes back after its compute and its result's upload: the scheduler's turnaround speed.
    const resultSeconds = messageBytes(layout.total, 1, job.compression).result / bytesPerSecondUp;
    const firstGuess = leasesOfRound(job, n, speed, speed)[0];
    const turnaround = firstGuess / (firstGuess / speed + resultSeconds);
    const sizes = leasesOfRound(job, n, speed, turnaround);
    const leasesPerContributor = sizes.length / n;
    const leaseExamples = sizes[0];
    const m = messageBytes(layout.total, leaseExamples, job.compression);
    const bytesDown = m.parameters + leasesPerContributor * (m.lease + m.ack + m.receipt);
    const bytesUp = leasesPerContributor * m.result;
    const computeSeconds = job.globalBatch / n / speed;
    // With lease.inFlight ≥ 2 a result uploads while the next lease computes: of a contributor's L
    // leases (c seconds of compute, u of upload each) only the slower of the two is paid between
    // the first compute and the last upload, c + (L − 1)·max(c, u) + u, instead of L·(c + u).
    const leaseCompute = computeSeconds / leasesPerContributor;
    const leaseUp = m.result / bytesPerSecondUp;
    const workSeconds =
      job.lease.inFlight > 1 && leasesPerContributor > 1
        ? leaseCompute + (leasesPerContributor - 1) * Math.max(leaseCompute, leaseUp) + leaseUp
        : computeSeconds + bytesUp / bytesPerSecondUp;
    const roundSeconds = workSeconds + bytesDown / bytesPerSecondDown;
    const transferSeconds = roundSeconds - computeSeconds;
    return {
      contributors: n, leaseExamples, leasesPerContributor, bytesDown, bytesUp, computeSeconds, transferSeconds, roundSeconds,
      examplesPerSecond: job.globalBatch / roundSeconds,
      jobSeconds: planned === null ? null : planned * roundSeconds,
    };
  });
  const spot = job.verification.spotChecks;
  const oneLease = swarm[0]?.leaseExamples ?? job.globalBatch;
  const leasesPerRound = swarm[0] ? swarm[0].leasesPerContributor * swarm[0].contributors : 1;
  const batchCapacity = Math.min(MAX_MICRO_BATCH, Math.max(...swarm.map((r) => r.leaseExamples), 1));
  return {
    name: job.name,
    id: jobId(job),
    model: { description: describeModel(layout), parameters: layout.parameterCount, flopsPerExample },
    rounds: { globalBatch: job.globalBatch, perEpoch: roundsPerEpoch(job), planned, epochs: planned === null ? null : planned / roundsPerEpoch(job), targetAccuracy: job.stop.targetAccuracy ?? null },
    speed: {
      examplesPerSecond: speed,
      source: inputs.speed === null ? `our CPU backend on one core of the development machine, scaled by FLOPs (--speed to change)` : 'given with --speed',
      downMbps: inputs.downMbps,
      upMbps: inputs.upMbps,
    },
    memory: { cpuBackendBytes: cpuModelMemoryBytes(layout, { trainCount: inputs.dataset.trainCount, testCount: inputs.dataset.testCount, batchCapacity }), batchCapacity },
    swarm,
    inFlight: job.lease.inFlight,
    verification: {
      replication: job.verification.replication.fraction,
      spotFraction: spot.fraction,
      spotMaxExamples: spot.maxExamples,
      probationResults: spot.probationResults,
      coordinatorMsPerRound: oneLease <= spot.maxExamples ? spot.fraction * leasesPerRound * oneLease * inputs.spotCheckMsPerExample : 0,
      probationMsPerResult: Math.min(oneLease, spot.probationMaxExamples) * inputs.spotCheckMsPerExample,
    },
  };
}

const n = (x: number) => Math.round(x).toLocaleString('en-US');
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(bytes < 10 * 2 ** 20 ? 2 : 0)} MiB`;
const pct = (x: number) => `${(100 * x).toFixed(x < 0.1 ? 1 : 0)}%`;

export function planText(p: JobPlan): string {
  const r = p.rounds;
  const stop = [r.planned !== null ? `${n(r.planned)} rounds (${r.epochs!.toFixed(2)} epochs)` : null, r.targetAccuracy !== null ? `${pct(r.targetAccuracy)} test accuracy` : null]
    .filter(Boolean)
    .join(', or earlier at ');
  const lines = [
    `plan for "${p.name}" (${p.id}); nothing is started`,
    `  model       ${p.model.description}: ${n(p.model.parameters)} parameters, ${(p.model.flopsPerExample / 1e6).toFixed(2)} MFLOP per example (forward + backward)`,
    `  rounds      ${n(r.globalBatch)} examples each, ${n(r.perEpoch)} per epoch; stops at ${stop || 'no stop condition'}`,
    `  contributor ${n(p.speed.examplesPerSecond)} examples/s (${p.speed.source}); links ${p.speed.downMbps} Mbit/s down, ${p.speed.upMbps} Mbit/s up`,
    `  memory      CPU backend: ${mib(p.memory.cpuBackendBytes)} of WebAssembly memory (model, optimizer state, the dataset, micro-batches of ${n(p.memory.batchCapacity)})`,
    '',
    '  contributors | lease | leases each | down per round | up per round | compute | transfer | round | examples/s | all planned rounds',
    ...p.swarm.map(
      (s) =>
        `  ${String(s.contributors).padStart(12)} | ${n(s.leaseExamples).padStart(5)} | ${s.leasesPerContributor.toFixed(2).padStart(11)} | ${mib(s.bytesDown).padStart(14)} | ${mib(s.bytesUp).padStart(12)} | ` +
        `${(s.computeSeconds * 1000).toFixed(0).padStart(5)} ms | ${(s.transferSeconds * 1000).toFixed(0).padStart(6)} ms | ${(s.roundSeconds * 1000).toFixed(0).padStart(5)} ms | ${n(s.examplesPerSecond).padStart(10)} | ${s.jobSeconds === null ? '–' : duration(s.jobSeconds)}`,
    ),
    '  (bytes per contributor and round: parameters, leases, acks and receipts down, one gradient per lease up; the coordinator\'s own link is not counted;',
    `   transfer: the network time not hidden behind compute${p.inFlight > 1 ? `, with ${p.inFlight} leases in flight` : ''})`,
    '',
    `  verification  replication ${pct(p.verification.replication)} of results recomputed by another contributor (with 2 or more): contributors compute and send ${pct(p.verification.replication)} more;`,
    `                spot checks ${pct(p.verification.spotFraction)} of results up to ${n(p.verification.spotMaxExamples)} examples, recomputed by the coordinator: about ${p.verification.coordinatorMsPerRound.toFixed(1)} ms of its CPU per round,`,
    `                and every one of a new key's first ${p.verification.probationResults} results (about ${p.verification.probationMsPerResult.toFixed(0)} ms each)`,
  ];
  return lines.join('\n');
}
