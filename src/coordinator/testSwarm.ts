// Test support: a tiny job, message builders, and a deterministic gradient whose lease means
// are exact in f32 when leases hold a power-of-two number of examples, so runs with
// different lease splits can be compared bit for bit.

import { generateKeyPairSync } from 'node:crypto';
import type { Capabilities, ContributorMessage, CoordinatorMessage } from '../protocol/messages.ts';
import { resultHashInput, resultStatement, type SyncSigner } from '../protocol/signing.ts';
import type { EncodingSpec } from '../protocol/messages.ts';
import { encodeUpdate, rawF32Update } from '../protocol/updates.ts';
import { nodeSigner, nodeVerifier } from '../server/nodeSigning.ts';
import type { Decisions } from './decisions.ts';
import { parseJob, type Job, type JobInput } from './job.ts';

/** A contributor's key, as tests sign with it (browsers use WebCrypto; the bytes are the same). */
export function testKey(): SyncSigner {
  return nodeSigner(generateKeyPairSync('ed25519').privateKey);
}

/** The key test contributors sign with unless a test gives them their own. */
export const TEST_KEY = testKey();
/** The coordinator's key in tests. */
export const COORDINATOR_KEY = testKey();
/** What a Coordinator needs to sign and verify, for tests. */
export const testSigning = { signer: COORDINATOR_KEY, verifier: nodeVerifier } as const;

export function tinyJob(overrides: Partial<JobInput> = {}): Job {
  return parseJob(
    {
      name: 'tiny',
      model: { widths: [784, 4, 10], activation: 'relu' },
      data: { dataset: 'fashion-mnist', trainExamples: 200, testExamples: 100 },
      optimizer: { kind: 'adamw', lr: 0.01, weightDecay: 0.01, schedule: { warmupSteps: 2, decay: 'cosine' } },
      globalBatch: 64,
      lease: { minExamples: 4, maxExamples: 64, targetSeconds: 0.5, timeoutMs: 2000 },
      stop: { rounds: 6 },
      evaluateEvery: 2,
      checkpointEvery: 2,
      seed: 5,
      ...overrides,
    },
    'the test job',
  );
}

export function capabilities(examplesPerSecond = 32, maxBatch = 8192): Capabilities {
  return { backend: 'webgpu', device: 'test adapter', fallbackAdapter: false, flopsPerMs: 1e6, examplesPerSecond, maxBatch };
}

let nonces = 0;

export function hello(examplesPerSecond = 32, maxBatch = 8192, resumeContributorId?: string, key: SyncSigner = TEST_KEY): ContributorMessage {
  return {
    type: 'hello',
    body: {
      client: { name: 'test', version: '1' },
      capabilities: capabilities(examplesPerSecond, maxBatch),
      ...(resumeContributorId ? { resumeContributorId } : {}),
      identity: { publicKey: key.publicKey, nonce: `test-nonce-${String(nonces++).padStart(12, '0')}` },
    },
    tensors: {},
  };
}

/** A result for a lease of job `jobId`, hashed and signed with `key` as a contributor does. */
export function result(
  jobId: string,
  leaseId: string,
  version: number,
  exampleCount: number,
  gradient: Float32Array,
  correct = 0,
  key: SyncSigner = TEST_KEY,
  loss = 1.5,
  /** The job's compression.up; f32 sends the values as they are, NaN included. */
  up: EncodingSpec = { scheme: 'f32' },
): Extract<ContributorMessage, { type: 'result' }> {
  const { encoding, update } = up.scheme === 'f32' ? rawF32Update(gradient) : encodeUpdate(gradient, up);
  const resultHash = nodeVerifier.sha256Hex(resultHashInput({ exampleCount, loss, correct, encoding, update }));
  const signature = key.sign(resultStatement({ jobId, leaseId, version, resultHash }));
  return { type: 'result', body: { leaseId, version, loss, correct, exampleCount, computeMs: 3, deviceTimeMs: null, encoding, resultHash, signature }, tensors: { update } };
}

/** Per-example gradient entries: small integers over 64, so sums of up to 2^k of them are exact. */
function exampleTerm(e: number, j: number): number {
  return ((e * 7 + j * 13) % 17) - 8;
}

function paramTerm(p: number): number {
  return Math.max(-64, Math.min(64, Math.round(p * 64)));
}

/**
 * The gradient a contributor sends: the mean over its examples, depending on examples and
 * parameters. Over a whole window it is also what the round's aggregate must equal.
 */
export function leaseGradient(params: Float32Array, indices: ArrayLike<number>): Float32Array {
  const out = new Float32Array(params.length);
  for (let j = 0; j < params.length; j++) {
    let sum = 0;
    for (let i = 0; i < indices.length; i++) sum += exampleTerm(indices[i], j);
    out[j] = (sum / indices.length + paramTerm(params[j])) / 64;
  }
  return out;
}

/** Messages of one type sent to one peer. */
export function sentTo<T extends CoordinatorMessage['type']>(d: Decisions, peer: string, type: T): Extract<CoordinatorMessage, { type: T }>[] {
  return d.send.filter((s) => s.to === peer && s.message.type === type).map((s) => s.message as Extract<CoordinatorMessage, { type: T }>);
}

export function eventsOf<T extends Decisions['events'][number]['type']>(d: Decisions, type: T): Extract<Decisions['events'][number], { type: T }>[] {
  return d.events.filter((e) => e.type === type) as Extract<Decisions['events'][number], { type: T }>[];
}

/** Decisions of several calls, in order. */
export function merge(...ds: Decisions[]): Decisions {
  return { send: ds.flatMap((d) => d.send), disconnect: ds.flatMap((d) => d.disconnect), events: ds.flatMap((d) => d.events) };
}
