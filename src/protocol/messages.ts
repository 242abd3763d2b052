// Every message between a contributor and the coordinator: one schema, shared by both ends,
// validated at the boundary. Bodies are strict JSON objects (unknown keys are rejected);
// tensors travel beside them as binary, never as JSON number arrays.

import { z } from 'zod';
import { BLOCK_SCHEMES, MAX_BLOCK_SIZE, MIN_BLOCK_SIZE, SCHEMES } from '../compression/header.ts';
import { HASH_HEX_PATTERN, PUBLIC_KEY_PATTERN, SIGNATURE_PATTERN } from './signing.ts';
import { modelSpecSchema } from '../model/layers/spec.ts';
import { teamNameProblem } from './team.ts';
import { DATASET_FORMATS } from '../data/dataset.ts';

/** Bumped on any incompatible change; both ends refuse a peer that speaks another. */
export const PROTOCOL_VERSION = 4;
/**
 * The most examples one lease may name (its indices are 4 bytes each, 256 KiB at most). A
 * contributor computes a large lease in chunks its device holds and answers with one
 * gradient, so that a large global batch costs one upload per contributor, not one per chunk.
 */
export const MAX_LEASE_EXAMPLES = 65536;

export type TensorDtype = 'f32' | 'u32';
export type TensorArray<D extends TensorDtype> = D extends 'f32' ? Float32Array : Uint32Array;

const id = z.string().min(1).max(128).regex(/^[A-Za-z0-9._:-]+$/, 'letters, digits and . _ : - only');
const count = z.number().int().nonnegative().max(2 ** 31);
const finite = z.number().finite();
const text = (max = 500) => z.string().max(max);
/** Public keys, signatures and hashes as src/protocol/signing.ts writes them. */
const publicKey = z.string().regex(PUBLIC_KEY_PATTERN, 'a public key: "ed25519:" or "p256:" then base64url');
const signature = z.string().regex(SIGNATURE_PATTERN, 'a signature: 86 base64url characters');
const sha256Hex = z.string().regex(HASH_HEX_PATTERN, 'a SHA-256 hash: 64 lowercase hex digits');
/** A team name as src/protocol/team.ts checks it; the issue's message is the refusal's. */
export const TeamName = z.string().superRefine((name, ctx) => {
  const problem = teamNameProblem(name);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const ErrorCode = z.enum([
  'malformed',
  'unknown-type',
  'version-mismatch',
  'oversized',
  'bad-shape',
  'non-finite',
  'stale-version',
  'unknown-lease',
  'not-your-lease',
  'not-welcome',
  'job-mismatch',
  'banned',
  /** A result's signature does not verify with the contributor's key, or its hash does not match its data. */
  'bad-signature',
  /** A result already seen (same hash) sent again, for this lease or another. */
  'replayed',
  'internal',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const Capabilities = z.strictObject({
  backend: z.enum(['webgpu', 'cpu']),
  /** Human-readable device, e.g. the adapter description. */
  device: text(300),
  fallbackAdapter: z.boolean(),
  /** Measured matmul throughput, FLOP per ms. */
  flopsPerMs: finite.positive(),
  /** Measured gradient throughput on the job's model, examples per second. */
  examplesPerSecond: finite.positive(),
  /** The most examples this contributor takes in one lease (it computes them in chunks its device can hold). */
  maxBatch: z.number().int().min(1).max(MAX_LEASE_EXAMPLES),
});
export type Capabilities = z.infer<typeof Capabilities>;


/** How a direction's vectors are encoded (src/compression); f32 has no blocks. */
export const EncodingSpec = z.discriminatedUnion('scheme', [
  z.strictObject({ scheme: z.literal('f32') }),
  z.strictObject({ scheme: z.enum(BLOCK_SCHEMES), blockSize: z.number().int().min(MIN_BLOCK_SIZE).max(MAX_BLOCK_SIZE) }),
]);
export type EncodingSpec = z.infer<typeof EncodingSpec>;

/** The header beside an encoded vector (compression/header.ts parses it again before decoding). */
export const EncodedHeader = z.strictObject({
  scheme: z.enum(SCHEMES),
  length: count,
  blockSize: z.number().int().min(MIN_BLOCK_SIZE).max(MAX_BLOCK_SIZE).nullable(),
  k: count.nullable(),
});

/** every-step: a lease returns the gradient of its examples. local-steps: it runs the inner optimizer over them, innerBatch at a time, and returns Δ = θ_v − θ_after. */
export const SyncSpec = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('every-step') }),
  z.strictObject({
    mode: z.literal('local-steps'),
    innerBatch: z.number().int().min(1).max(MAX_LEASE_EXAMPLES),
    /** The inner optimizer, less its learning rate: each lease names that (Lease.innerLr), as the schedule has it at its round. */
    optimizer: z.discriminatedUnion('kind', [
      z.strictObject({ kind: z.literal('adamw'), beta1: finite.min(0).lt(1), beta2: finite.min(0).lt(1), eps: finite.positive(), weightDecay: finite.min(0), maxGradNorm: finite.min(0) }),
      z.strictObject({ kind: z.literal('sgd'), momentum: finite.min(0).max(1), weightDecay: finite.min(0), maxGradNorm: finite.min(0) }),
    ]),
  }),
]);
export type SyncSpec = z.infer<typeof SyncSpec>;

/** The job's dataset: its format (src/data/dataset.ts, DATASET_FORMATS) and the folder URL of its files. */
export const DatasetLocation = z.strictObject({ format: z.enum(DATASET_FORMATS), url: text(500) });
export type DatasetLocation = z.infer<typeof DatasetLocation>;

export const JobInfo = z.strictObject({
  id,
  name: text(200),
  /** The model, either form of src/model/layers/spec.ts, checked through to its shapes. */
  model: modelSpecSchema,
  /** How and where contributors fetch the dataset (same origin as the page). */
  dataset: DatasetLocation,
  /** Number of parameters in the flat vector (padding included). */
  parameterCount: count,
  sync: SyncSpec,
  /** up: how results are encoded; down: how parameter deltas are (full parameters are always f32). */
  compression: z.strictObject({ up: EncodingSpec, down: EncodingSpec }),
});
export type JobInfo = z.infer<typeof JobInfo>;

/** A message type: its body schema and the tensors it carries, by name and dtype. */
interface MessageDef<T extends string, B extends z.ZodType, Tn extends Record<string, TensorDtype>> {
  type: T;
  body: B;
  tensors: Tn;
}

function message<T extends string, B extends z.ZodType, Tn extends Record<string, TensorDtype> = Record<never, TensorDtype>>(
  type: T,
  body: B,
  tensors: Tn = {} as Tn,
): MessageDef<T, B, Tn> {
  return { type, body, tensors };
}

// ── contributor → coordinator ─────────────────────────────────────────────────────────
export const Hello = message(
  'hello',
  z.strictObject({
    client: z.strictObject({ name: text(100), version: text(50) }),
    capabilities: Capabilities,
    /** A contributor reconnecting after a drop names itself, to keep its credit and leases (only with the same key). */
    resumeContributorId: id.optional(),
    /** Its key (the private half never leaves its browser) and a fresh nonce the coordinator must sign. */
    identity: z.strictObject({ publicKey, nonce: z.string().regex(/^[A-Za-z0-9_-]{22,64}$/, '22–64 base64url characters') }),
    /** The team the visitor named, if any: recorded in the ledger, ranked on the leaderboard. */
    team: TeamName.optional(),
  }),
);
export const Result = message(
  'result',
  z.strictObject({
    leaseId: id,
    version: count,
    /** Mean loss over the lease's examples. */
    loss: finite.nonnegative(),
    correct: count,
    exampleCount: z.number().int().min(1).max(MAX_LEASE_EXAMPLES),
    computeMs: finite.nonnegative(),
    deviceTimeMs: finite.nonnegative().nullable(),
    /** How `update` is encoded: the job's compression.up scheme over the model's parameter count. */
    encoding: EncodedHeader,
    /** SHA-256 of resultHashInput(exampleCount, loss, correct, encoding, update), hex. */
    resultHash: sha256Hex,
    /** The contributor's signature over resultStatement(job, lease, version, resultHash). */
    signature,
  }),
  /** The gradient (every-step) or Δ (local-steps), encoded. */
  { update: 'u32' },
);
export const LeaseFailed = message('leaseFailed', z.strictObject({ leaseId: id, reason: text() }));
export const Availability = message(
  'availability',
  /** Paused contributors get no new leases; their running lease may still finish. */
  z.strictObject({ paused: z.boolean() }),
);
export const Bye = message('bye', z.strictObject({ reason: text() }));

// ── coordinator → contributor ─────────────────────────────────────────────────────────
export const Welcome = message(
  'welcome',
  z.strictObject({
    contributorId: id,
    job: JobInfo,
    serverTime: finite,
    /** The coordinator's key and its signature over welcomeStatement(job, contributorId, contributor key, nonce). */
    coordinator: z.strictObject({ publicKey, signature }),
  }),
);
export const Parameters = message('parameters', z.strictObject({ version: count }), { params: 'f32' });
/** The step from parameters `fromVersion` (which the contributor holds) to `version`, encoded with the job's compression.down. */
export const ParameterDelta = message(
  'parameterDelta',
  z.strictObject({ fromVersion: count, version: count, encoding: EncodedHeader }),
  { delta: 'u32' },
);
export const Lease = message(
  'lease',
  z.strictObject({
    leaseId: id,
    version: count,
    round: count,
    /** Milliseconds the contributor has before the lease is given to someone else. */
    deadlineMs: z.number().int().min(1).max(3_600_000),
    /** Local steps: the inner optimizer's learning rate for every step of this lease. */
    innerLr: finite.positive().max(10).optional(),
  }),
  { indices: 'u32' },
);
export const Ack = message(
  'ack',
  z.strictObject({
    leaseId: id,
    outcome: z.enum(['accepted', 'rejected', 'duplicate', 'late', 'stale']),
    reason: text().optional(),
  }),
);
/** A signed tree head of the ledger (src/ledger): the log had `size` entries with root `rootHash` at `timestamp`. */
export const SignedTreeHead = z.strictObject({
  size: count,
  rootHash: sha256Hex,
  timestamp: finite,
  /** The coordinator's signature over treeHeadStatement(job, size, rootHash, timestamp). */
  signature,
});
export type SignedTreeHead = z.infer<typeof SignedTreeHead>;

/**
 * A key link (POST /api/key-link, then a `keyLinked` ledger entry): the holder of `fromKey`
 * says that its credit in this job belongs with `toKey` from now on, signed with `fromKey`
 * over keyLinkStatement. The private key never leaves the browser that made it.
 */
export const KeyLink = z.strictObject({
  jobId: id,
  fromKey: publicKey,
  toKey: publicKey,
  /** When it was signed, ms since the epoch. */
  issuedAt: z.number().int().nonnegative(),
  signature,
});
export type KeyLink = z.infer<typeof KeyLink>;

/**
 * A receipt for a counted result, sent when its round closed: the ledger entry that records
 * it (the exact leaf bytes, as text), a signed tree head, and the RFC 6962 inclusion proof
 * of the entry in that tree. Anyone holding the coordinator's key can check it.
 */
export const Receipt = message(
  'receipt',
  z.strictObject({
    leaseId: id,
    round: count,
    examples: count,
    /** Index of the entry in the log, and its exact bytes (UTF-8 JSON). */
    index: count,
    entry: text(8000),
    treeHead: SignedTreeHead,
    /** Sibling hashes from the leaf up, hex. */
    proof: z.array(sha256Hex).max(64),
  }),
);
export const Idle = message('idle', z.strictObject({ reason: text(), retryMs: z.number().int().min(0).max(600_000) }));
export const JobDone = message(
  'jobDone',
  z.strictObject({ rounds: count, testAccuracy: finite.min(0).max(1).nullable(), message: text() }),
);

// ── either way ───────────────────────────────────────────────────────────────────────
export const ErrorMessage = message(
  'error',
  z.strictObject({ code: ErrorCode, message: text(1000), fatal: z.boolean() }),
);

export const CONTRIBUTOR_MESSAGES = [Hello, Result, LeaseFailed, Availability, Bye, ErrorMessage] as const;
export const COORDINATOR_MESSAGES = [Welcome, Parameters, ParameterDelta, Lease, Ack, Receipt, Idle, JobDone, ErrorMessage] as const;

type Def = MessageDef<string, z.ZodType, Record<string, TensorDtype>>;
/** The decoded form of a message type: its type tag, typed body and typed tensors. */
export type MessageOf<D> =
  D extends MessageDef<infer T, infer B, infer Tn>
    ? { type: T; body: z.infer<B>; tensors: { [K in keyof Tn]: TensorArray<Tn[K]> } }
    : never;

export type ContributorMessage = MessageOf<(typeof CONTRIBUTOR_MESSAGES)[number]>;
export type CoordinatorMessage = MessageOf<(typeof COORDINATOR_MESSAGES)[number]>;
export type AnyMessage = ContributorMessage | CoordinatorMessage;

/** Message definitions by type, for one direction. */
export function messageTable(defs: readonly Def[]): Map<string, Def> {
  return new Map(defs.map((d) => [d.type, d]));
}

export type { Def as MessageDefinition };
