// A contributor's session driven over a real in-memory channel pair, with the real codec and
// protocol connections on both ends: the test plays the coordinator by sending protocol
// messages and reading what the session sends back (decoded and validated, as the
// coordinator would). The trainer is a small pure-TS stand-in for the worker: it computes a
// gradient from the parameters it holds, refuses a batch for a version it does not hold (as
// the real worker does), and can hold its calls open so the test decides when they finish.

import { describe, expect, it } from 'vitest';
import { createFrameChannelPair } from '../net/memoryFrameChannel.ts';
import { contributorSide, coordinatorSide, maxMessageBytesFor, type ProtocolConnection } from '../protocol/connection.ts';
import type { Capabilities, ContributorMessage, CoordinatorMessage, JobInfo } from '../protocol/messages.ts';
import { MAX_MICRO_BATCH, type GradientResult, type MicroBatch } from '../worker/api.ts';
import { generateKeyPairSync } from 'node:crypto';
import { generateWebKeyPair, resultHashInput, resultStatement, welcomeStatement } from '../protocol/signing.ts';
import { nodeSigner, nodeVerifier } from '../server/nodeSigning.ts';
import { decodeUpdate } from '../protocol/updates.ts';
import { encodeDelta } from '../compression/index.ts';
import type { LocalStepsLease, LocalStepsResult } from '../worker/localSteps.ts';
import { ContributorSession, type SessionEvent, type SessionOptions, type SessionTrainer } from './session.ts';
import { eventually } from '../testing/eventually.ts';

const P = 6;
/** Polls often: the in-memory channel delivers within a few macrotasks. */
const CAPABILITIES: Capabilities = { backend: 'cpu', device: 'test CPU', fallbackAdapter: false, flopsPerMs: 2e5, examplesPerSecond: 120, maxBatch: 16384 };
/** This contributor's key (WebCrypto, as in a browser) and the coordinator's (node:crypto, as in the server). */
const IDENTITY = await generateWebKeyPair();
const COORDINATOR = nodeSigner(generateKeyPairSync('ed25519').privateKey);
const JOB: JobInfo = {
  id: 'job-1', name: 'tiny', model: { widths: [2, 2, 2], activation: 'relu' }, dataset: { format: 'fashion-mnist-idx-gz', url: '/data/' }, parameterCount: P,
  sync: { mode: 'every-step' }, compression: { up: { scheme: 'f32' }, down: { scheme: 'f32' } },
};
/** The update a result carries, decoded as the coordinator does. */
const updateOf = (m: ContributorMessage, job: JobInfo = JOB): Float32Array => {
  if (m.type !== 'result') throw new Error(`updateOf: a ${m.type} message carries no update`);
  return decodeUpdate({ encoding: m.body.encoding, update: m.tensors.update }, job.compression.up, job.parameterCount);
};

/** The worker stand-in: gradient[j] = n·params[j] + Σ indices, loss = n / 10. */
class FakeTrainer implements SessionTrainer {
  readonly log: string[] = [];
  loaded: { version: number; params: Float32Array } | null = null;
  holdLoads = false;
  holdComputes = false;
  loadError: Error | null = null;
  computeError: Error | null = null;
  private readonly heldLoads: (() => void)[] = [];
  private readonly heldComputes: (() => void)[] = [];

  async loadParameters(version: number, params: Float32Array): Promise<void> {
    this.log.push(`load v${version}`);
    if (this.holdLoads) await new Promise<void>((ok) => this.heldLoads.push(ok));
    if (this.loadError) throw this.loadError;
    this.loaded = { version, params: params.slice() };
    this.log.push(`loaded v${version}`);
  }

  async computeGradient(batch: MicroBatch): Promise<GradientResult> {
    const n = batch.indices.length;
    this.log.push(`compute v${batch.version} ×${n} from ${batch.indices[0]}`);
    if (this.holdComputes) await new Promise<void>((ok) => this.heldComputes.push(ok));
    if (this.computeError) throw this.computeError;
    if (this.loaded?.version !== batch.version) throw new Error(`parameters version ${batch.version} are not loaded`);
    const sum = batch.indices.reduce((a, b) => a + b, 0);
    const gradient = this.loaded.params.map((p) => n * p + sum);
    this.log.push(`computed v${batch.version} ×${n}`);
    return {
      version: batch.version, loss: n / 10, correct: Math.floor(n / 2), exampleCount: n, gradient,
      gpuTimeMs: null, wallTimeMs: 5, flops: 100 * n, submits: 1, readbacks: 1, recoveries: 0,
    };
  }

  get heldCount(): { loads: number; computes: number } {
    return { loads: this.heldLoads.length, computes: this.heldComputes.length };
  }

  /** Δ[j] = steps·params[j] + Σ indices / 100 (steps = ⌈n / innerBatch⌉), loss = steps / 10. */
  async localSteps(lease: LocalStepsLease): Promise<LocalStepsResult> {
    const n = lease.indices.length;
    this.log.push(`local steps v${lease.version} ×${n} by ${lease.innerBatch} at lr ${lease.hyper.lr}`);
    if (this.loaded?.version !== lease.version) throw new Error(`parameters version ${lease.version} are not loaded`);
    const steps = Math.ceil(n / lease.innerBatch);
    const sum = lease.indices.reduce((a, b) => a + b, 0);
    const delta = this.loaded.params.map((p) => steps * p + sum / 100);
    return { version: lease.version, steps, loss: steps / 10, correct: 1, exampleCount: n, delta, gpuTimeMs: null, wallTimeMs: 7, recoveries: 0 };
  }

  releaseLoad(): void {
    this.heldLoads.shift()!();
  }

  releaseCompute(): void {
    this.heldComputes.shift()!();
  }
}

interface Harness {
  session: ContributorSession;
  trainer: FakeTrainer;
  coordinator: ProtocolConnection<ContributorMessage, CoordinatorMessage>;
  /** What the session sent, decoded by the coordinator's side. */
  received: ContributorMessage[];
  events: SessionEvent[];
  coordinatorClosed: string[];
  send(message: CoordinatorMessage): Promise<void>;
  /** Resolves once the session has handled everything sent before, and its microtasks ran. */
  barrier(): Promise<void>;
}

function connect(options: Partial<SessionOptions> = {}, trainer = new FakeTrainer()): Harness {
  const [coordinatorChannel, contributorChannel] = createFrameChannelPair({ peerIds: ['contributor-1', 'coordinator'] });
  const maxBytes = maxMessageBytesFor(64 * 1024);
  const received: ContributorMessage[] = [];
  const coordinatorClosed: string[] = [];
  const coordinator = coordinatorSide(coordinatorChannel, maxBytes, {
    onMessage: (m) => received.push(m),
    onClose: (reason) => coordinatorClosed.push(reason),
  });
  const events: SessionEvent[] = [];
  let session: ContributorSession | null = null;
  const conn = contributorSide(contributorChannel, maxBytes, { onMessage: (m) => session!.handle(m) });
  session = new ContributorSession(conn, trainer, { client: { name: 'test', version: '1' }, capabilities: CAPABILITIES, identity: IDENTITY, coordinatorKey: COORDINATOR.publicKey, ...options }, (e) => events.push(e));
  let barriers = 0;
  return {
    session, trainer, coordinator, received, events, coordinatorClosed,
    send: (message) => coordinator.send(message),
    async barrier() {
      const reason = `barrier ${++barriers}`;
      await coordinator.send({ type: 'idle', body: { reason, retryMs: 0 }, tensors: {} });
      await eventually(() => expect(events.some((e) => e.kind === 'idle' && e.reason === reason)).toBe(true));
      for (let i = 0; i < 5; i++) await new Promise((ok) => setTimeout(ok, 0));
    },
  };
}

/** A welcome answering the session's hello, signed with `key` (the pinned coordinator key by default). */
const welcome = async (h: Harness, jobId = JOB.id, contributorId = 'c0-T', key = COORDINATOR, job = JOB): Promise<CoordinatorMessage> => {
  await eventually(() => expect(h.received.some((m) => m.type === 'hello')).toBe(true));
  const hello = h.received.find((m) => m.type === 'hello');
  if (hello?.type !== 'hello') throw new Error('welcome: the session has not said hello');
  const signature = key.sign(welcomeStatement({ jobId, contributorId, contributorKey: hello.body.identity.publicKey, nonce: hello.body.identity.nonce }));
  return {
    type: 'welcome',
    body: { contributorId, job: { ...job, id: jobId, name: jobId === JOB.id ? job.name : 'another job' }, serverTime: 1, coordinator: { publicKey: key.publicKey, signature } },
    tensors: {},
  };
};
const parameters = (version: number, fill = version + 1): CoordinatorMessage => ({
  type: 'parameters', body: { version }, tensors: { params: new Float32Array(P).fill(fill) },
});
const lease = (leaseId: string, version: number, indices: number[] | Uint32Array, round = 0): CoordinatorMessage => ({
  type: 'lease', body: { leaseId, version, round, deadlineMs: 60_000 }, tensors: { indices: Uint32Array.from(indices) },
});

const sentOf = <T extends ContributorMessage['type']>(h: Harness, type: T) =>
  h.received.filter((m): m is Extract<ContributorMessage, { type: T }> => m.type === type);
const eventsOf = <K extends SessionEvent['kind']>(h: Harness, kind: K) => h.events.filter((e): e is Extract<SessionEvent, { kind: K }> => e.kind === kind);

/** Hello, welcome and parameters `version` loaded: ready for leases. */
async function ready(h: Harness, version = 1): Promise<void> {
  await h.session.start();
  await h.send(await welcome(h));
  await h.send(parameters(version));
  await eventually(() => expect(eventsOf(h, 'parameters').map((e) => e.version)).toContain(version));
}

describe('ContributorSession: joining', () => {
  it('says hello with its client, capabilities and the id to resume', async () => {
    const h = connect({ resumeContributorId: 'c3-T' });
    await h.session.start();
    await eventually(() => expect(h.received).toHaveLength(1));
    expect(h.received[0]).toEqual({
      type: 'hello',
      body: { client: { name: 'test', version: '1' }, capabilities: CAPABILITIES, resumeContributorId: 'c3-T', identity: { publicKey: IDENTITY.publicKey, nonce: expect.stringMatching(/^[A-Za-z0-9_-]{32}$/) } },
      tensors: {},
    });
  });

  it('names no resume id on a first connection', async () => {
    const h = connect();
    await h.session.start();
    await eventually(() => expect(h.received).toHaveLength(1));
    expect(h.received[0].type).toBe('hello');
    expect('resumeContributorId' in h.received[0].body).toBe(false);
  });

  it('takes the id and job of the welcome', async () => {
    const h = connect({ expectedJobId: JOB.id });
    await h.session.start();
    await h.send(await welcome(h, JOB.id, 'c7-T'));
    await eventually(() => expect(eventsOf(h, 'welcome')).toHaveLength(1));
    expect(eventsOf(h, 'welcome')[0]).toEqual({ kind: 'welcome', contributorId: 'c7-T', job: JOB });
    expect(h.session.contributorId).toBe('c7-T');
    expect(h.session.job).toEqual(JOB);
  });

  it('joins any job when the page expects none', async () => {
    const h = connect();
    await h.session.start();
    await h.send(await welcome(h, 'job-other'));
    await eventually(() => expect(eventsOf(h, 'welcome')).toHaveLength(1));
    expect(h.session.job?.id).toBe('job-other');
  });

  it('refuses a welcome to another job: a fatal error, the connection closed, nothing more handled', async () => {
    const h = connect({ expectedJobId: JOB.id });
    await h.session.start();
    await h.send(await welcome(h, 'job-other'));
    await eventually(() => expect(h.coordinatorClosed).toHaveLength(1));
    expect(h.events).toEqual([
      { kind: 'error', message: 'The coordinator now runs another job (another job); reload the page to join it', fatal: true },
    ]);
    expect(h.session.contributorId).toBeNull();
    expect(h.session.job).toBeNull();
    // Anything that still reaches the session is ignored.
    h.session.handle(parameters(1));
    h.session.handle(lease('L1', 1, [0, 1]));
    await new Promise((ok) => setTimeout(ok, 10));
    expect(h.trainer.log).toEqual([]);
    expect(h.events).toHaveLength(1);
  });

  /** A welcome the session must refuse: it answers not-welcome, closes, and computes nothing that follows. */
  async function expectRefused(h: Harness, message: CoordinatorMessage, why: RegExp): Promise<void> {
    await h.send(message);
    await eventually(() => expect(h.coordinatorClosed).toHaveLength(1));
    expect(h.events).toEqual([{ kind: 'error', message: expect.stringMatching(why), fatal: true }]);
    expect(sentOf(h, 'error')).toEqual([{ type: 'error', body: { code: 'not-welcome', message: expect.stringMatching(why), fatal: true }, tensors: {} }]);
    expect(h.session.contributorId).toBeNull();
    h.session.handle(parameters(1));
    h.session.handle(lease('L1', 1, [0, 1]));
    await new Promise((ok) => setTimeout(ok, 10));
    expect(h.trainer.log).toEqual([]);
    expect(sentOf(h, 'result')).toEqual([]);
  }

  it('refuses a coordinator presenting a key other than the pinned one, even with a valid signature of that key', async () => {
    const h = connect();
    await h.session.start();
    const impostor = nodeSigner(generateKeyPairSync('ed25519').privateKey);
    await expectRefused(h, await welcome(h, JOB.id, 'c0-T', impostor), /not the pinned .*refusing it/);
  });

  it('refuses a welcome naming the pinned key but signed with another', async () => {
    const h = connect();
    await h.session.start();
    const impostor = nodeSigner(generateKeyPairSync('ed25519').privateKey);
    const message = await welcome(h, JOB.id, 'c0-T', impostor);
    if (message.type !== 'welcome') throw new Error('unreachable');
    message.body.coordinator.publicKey = COORDINATOR.publicKey;
    await expectRefused(h, message, /could not prove it holds its key/);
  });

  it('refuses a welcome signed over another nonce (a replayed proof)', async () => {
    const h = connect();
    await h.session.start();
    await eventually(() => expect(h.received.some((m) => m.type === 'hello')).toBe(true));
    const hello = sentOf(h, 'hello')[0];
    const signature = COORDINATOR.sign(welcomeStatement({ jobId: JOB.id, contributorId: 'c0-T', contributorKey: hello.body.identity.publicKey, nonce: 'A'.repeat(32) }));
    await expectRefused(
      h,
      { type: 'welcome', body: { contributorId: 'c0-T', job: JOB, serverTime: 1, coordinator: { publicKey: COORDINATOR.publicKey, signature } }, tensors: {} },
      /bad welcome signature/,
    );
  });

  it('refuses a welcome whose signature names another contributor id than the one it gives', async () => {
    const h = connect();
    await h.session.start();
    const message = await welcome(h, JOB.id, 'c0-T');
    if (message.type !== 'welcome') throw new Error('unreachable');
    message.body.contributorId = 'c9-T';
    await expectRefused(h, message, /bad welcome signature/);
  });

  it('tells a coordinator it is paused as soon as it is welcomed', async () => {
    const h = connect({ paused: true });
    await h.session.start();
    await h.send(await welcome(h));
    await eventually(() => expect(sentOf(h, 'availability')).toHaveLength(1));
    expect(sentOf(h, 'availability')[0].body).toEqual({ paused: true });
  });

  it('sends no availability after a welcome when not paused', async () => {
    const h = connect();
    await ready(h);
    await h.barrier();
    expect(h.received.map((m) => m.type)).toEqual(['hello']);
  });
});

describe('ContributorSession: parameters and leases', () => {
  it('loads parameters before computing a lease that follows them', async () => {
    const h = connect();
    h.trainer.holdLoads = true;
    await h.session.start();
    await h.send(await welcome(h));
    await h.send(parameters(1));
    await h.send(lease('L1', 1, [4, 5, 6]));
    await h.barrier();
    expect(h.trainer.log).toEqual(['load v1']); // the lease waits for the load
    expect(h.session.isComputing).toBe(true);
    h.trainer.releaseLoad();
    await eventually(() => expect(sentOf(h, 'result')).toHaveLength(1));
    expect(h.trainer.log).toEqual(['load v1', 'loaded v1', 'compute v1 ×3 from 4', 'computed v1 ×3']);
    expect(eventsOf(h, 'parameters')).toEqual([{ kind: 'parameters', version: 1 }]);
  });

  it('loads parameters in arrival order, one at a time', async () => {
    const h = connect();
    h.trainer.holdLoads = true;
    await h.session.start();
    await h.send(await welcome(h));
    await h.send(parameters(1));
    await h.send(parameters(2));
    await h.barrier();
    expect(h.trainer.log).toEqual(['load v1']);
    h.trainer.releaseLoad();
    await eventually(() => expect(h.trainer.heldCount.loads).toBe(1));
    expect(h.trainer.log).toEqual(['load v1', 'loaded v1', 'load v2']);
    h.trainer.releaseLoad();
    await eventually(() => expect(eventsOf(h, 'parameters').map((e) => e.version)).toEqual([1, 2]));
    expect(h.trainer.loaded?.version).toBe(2);
  });

  it('answers a lease with a result that carries its id, version, counts and the gradient', async () => {
    const h = connect();
    await ready(h, 3); // parameters all 4
    await h.send(lease('L-abc', 3, [1, 2, 3, 10], 7));
    await eventually(() => expect(sentOf(h, 'result')).toHaveLength(1));
    const result = sentOf(h, 'result')[0];
    if (result.type !== 'result') throw new Error('not a result');
    const { resultHash, signature, encoding, ...figures } = result.body;
    expect(figures).toEqual({ leaseId: 'L-abc', version: 3, loss: 0.4, correct: 2, exampleCount: 4, computeMs: 5, deviceTimeMs: null });
    expect(encoding).toEqual({ scheme: 'f32', length: P, blockSize: null, k: null });
    // n·p + Σ indices = 4·4 + 16
    expect(updateOf(result)).toEqual(new Float32Array(P).fill(32));
    // Hashed and signed as the coordinator checks it.
    expect(resultHash).toBe(nodeVerifier.sha256Hex(resultHashInput({ exampleCount: 4, loss: 0.4, correct: 2, encoding, update: result.tensors.update })));
    expect(nodeVerifier.verify(IDENTITY.publicKey, resultStatement({ jobId: JOB.id, leaseId: 'L-abc', version: 3, resultHash }), signature)).toBe(true);
    expect(eventsOf(h, 'computing')).toEqual([{ kind: 'computing', leaseId: 'L-abc', examples: 4, round: 7 }]);
    expect(eventsOf(h, 'result')).toEqual([{ kind: 'result', leaseId: 'L-abc', examples: 4, loss: 0.4, computeMs: 5, resultHash }]);
  });

  it('computes a lease larger than one device call in chunks and sends one result', async () => {
    const h = connect();
    await ready(h, 1); // parameters all 2
    const n = MAX_MICRO_BATCH + 100;
    await h.send(lease('big', 1, Uint32Array.from({ length: n }, () => 1)));
    await eventually(() => expect(sentOf(h, 'result')).toHaveLength(1));
    expect(h.trainer.log.filter((l) => l.startsWith('compute '))).toEqual([`compute v1 ×${MAX_MICRO_BATCH} from 1`, 'compute v1 ×100 from 1']);
    const result = sentOf(h, 'result')[0];
    expect(result.body.exampleCount).toBe(n);
    // A chunk of k ones gives k·2 + k = 3k; the chunks are weighted by k/n and summed.
    const expected = (3 * (MAX_MICRO_BATCH ** 2 + 100 ** 2)) / n;
    for (const g of updateOf(result)) expect(g).toBeCloseTo(expected, 0);
  });

  it('computes one lease at a time, in the order they came', async () => {
    const h = connect();
    await ready(h);
    h.trainer.holdComputes = true;
    await h.send(lease('A', 1, [0]));
    await h.send(lease('B', 1, [1, 1]));
    await h.send(lease('C', 1, [2, 2, 2]));
    await h.barrier();
    expect(h.trainer.heldCount.computes).toBe(1);
    expect(h.trainer.log.filter((l) => l.startsWith('compute '))).toEqual(['compute v1 ×1 from 0']);
    h.trainer.releaseCompute();
    await eventually(() => expect(h.trainer.heldCount.computes).toBe(1));
    await eventually(() => expect(sentOf(h, 'result').map((m) => m.body.leaseId)).toEqual(['A']));
    h.trainer.releaseCompute();
    await eventually(() => expect(h.trainer.heldCount.computes).toBe(1));
    h.trainer.releaseCompute();
    await eventually(() => expect(sentOf(h, 'result').map((m) => m.body.leaseId)).toEqual(['A', 'B', 'C']));
    expect(h.trainer.log.filter((l) => l.startsWith('compute '))).toEqual(['compute v1 ×1 from 0', 'compute v1 ×2 from 1', 'compute v1 ×3 from 2']);
    expect(h.session.isComputing).toBe(false);
  });

  it('gives back a lease for parameters it does not have, without computing it', async () => {
    const h = connect();
    await ready(h, 1);
    await h.send(lease('stale', 2, [0, 1]));
    await h.send(lease('fine', 1, [0, 1]));
    await eventually(() => expect(sentOf(h, 'result')).toHaveLength(1));
    expect(sentOf(h, 'leaseFailed').map((m) => m.body)).toEqual([{ leaseId: 'stale', reason: 'have parameters version 1, lease is for 2' }]);
    expect(sentOf(h, 'result')[0].body.leaseId).toBe('fine');
    expect(h.trainer.log.filter((l) => l.startsWith('compute '))).toEqual(['compute v1 ×2 from 0']);
    expect(eventsOf(h, 'computing').map((e) => e.leaseId)).toEqual(['fine']);
  });

  it('computes a lease on the newer parameters that arrived before it', async () => {
    const h = connect();
    await ready(h, 1);
    await h.send(parameters(2, 10));
    await h.send(lease('L2', 2, [0]));
    await eventually(() => expect(sentOf(h, 'result')).toHaveLength(1));
    expect(sentOf(h, 'result')[0].body.version).toBe(2);
    expect(updateOf(sentOf(h, 'result')[0])).toEqual(new Float32Array(P).fill(10));
  });
});

describe('ContributorSession: local steps and compressed vectors', () => {
  const LOCAL: JobInfo = {
    ...JOB,
    sync: { mode: 'local-steps', innerBatch: 2, optimizer: { kind: 'adamw', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, maxGradNorm: 0 } },
    compression: { up: { scheme: 'int8', blockSize: 64 }, down: { scheme: 'int8', blockSize: 64 } },
  };
  const readyLocal = async (h: Harness) => {
    await h.session.start();
    await h.send(await welcome(h, JOB.id, 'c0-T', COORDINATOR, LOCAL));
    await h.send(parameters(1));
  };
  const delta = (fromVersion: number, previous: Float32Array, next: Float32Array): { message: CoordinatorMessage; reconstruction: Float32Array } => {
    const { delta: d, reconstruction } = encodeDelta(previous, next, { scheme: 'int8', blockSize: 64 });
    const words = new Uint32Array(d.payload.buffer, d.payload.byteOffset, d.payload.byteLength / 4);
    return { message: { type: 'parameterDelta', body: { fromVersion, version: fromVersion + 1, encoding: d.header }, tensors: { delta: words } }, reconstruction };
  };

  it("answers a lease with its local steps' Δ, encoded as the job says", async () => {
    const h = connect();
    await readyLocal(h);
    await h.send({ ...lease('L1', 1, [1, 2, 3, 4, 5]), body: { leaseId: 'L1', version: 1, round: 0, deadlineMs: 60_000, innerLr: 0.01 } } as CoordinatorMessage);
    await eventually(() => expect(sentOf(h, 'result')).toHaveLength(1));
    expect(h.trainer.log).toContain('local steps v1 ×5 by 2 at lr 0.01');
    const result = sentOf(h, 'result')[0];
    expect(result.body.encoding).toEqual({ scheme: 'int8', length: P, blockSize: 64, k: null });
    expect(result.body).toMatchObject({ exampleCount: 5, loss: 0.3, computeMs: 7 });
    // 3 steps · 2 + 15 / 100, within int8's rounding of a block whose largest value is itself.
    for (const v of updateOf(result, LOCAL)) expect(v).toBeCloseTo(6.15, 1);
    expect(result.body.resultHash).toBe(nodeVerifier.sha256Hex(resultHashInput({ exampleCount: 5, loss: 0.3, correct: 1, encoding: result.body.encoding, update: result.tensors.update })));
  });

  it('applies parameter deltas to what it holds, bit for bit as the coordinator reconstructs them', async () => {
    const h = connect();
    await readyLocal(h);
    const v1 = new Float32Array(P).fill(2);
    const step = delta(1, v1, Float32Array.from({ length: P }, (_, i) => 2 + 0.01 * i));
    await h.send(step.message);
    await eventually(() => expect(h.trainer.loaded?.version).toBe(2));
    expect(h.trainer.loaded!.params).toEqual(step.reconstruction);
    const next = delta(2, step.reconstruction, Float32Array.from({ length: P }, (_, i) => 2 - 0.02 * i));
    await h.send(next.message);
    await eventually(() => expect(h.trainer.loaded?.version).toBe(3));
    expect(h.trainer.loaded!.params).toEqual(next.reconstruction);
  });

  it('ends the session, saying why, on a delta for parameters it does not hold', async () => {
    const h = connect();
    await readyLocal(h);
    await eventually(() => expect(h.trainer.loaded?.version).toBe(1));
    await h.send(delta(4, new Float32Array(P), new Float32Array(P).fill(1)).message);
    await eventually(() => expect(eventsOf(h, 'error')).toHaveLength(1));
    expect(eventsOf(h, 'error')[0]).toEqual({ kind: 'error', message: 'Could not rebuild parameters version 5: a delta from version 4 arrived, but this page holds version 1', fatal: true });
    await eventually(() => expect(sentOf(h, 'error').map((m) => m.body.code)).toEqual(['stale-version']));
    expect(h.trainer.loaded?.version).toBe(1);
    await eventually(() => expect(h.coordinatorClosed).toHaveLength(1));
  });
});

describe('ContributorSession: failures', () => {
  it('reports a failed lease to the page and the coordinator, then takes the next one', async () => {
    const h = connect();
    await ready(h);
    h.trainer.computeError = new Error('device lost');
    await h.send(lease('A', 1, [0]));
    await eventually(() => expect(sentOf(h, 'leaseFailed')).toHaveLength(1));
    expect(sentOf(h, 'leaseFailed')[0].body).toEqual({ leaseId: 'A', reason: 'device lost' });
    expect(eventsOf(h, 'error')).toEqual([{ kind: 'error', message: 'Lease A failed: device lost', fatal: false }]);
    expect(h.session.isComputing).toBe(false);
    h.trainer.computeError = null;
    await h.send(lease('B', 1, [0]));
    await eventually(() => expect(sentOf(h, 'result').map((m) => m.body.leaseId)).toEqual(['B']));
    expect(sentOf(h, 'result')).toHaveLength(1);
  });

  it('cuts a long failure reason to what the protocol allows, so the coordinator accepts it', async () => {
    const h = connect();
    await ready(h);
    h.trainer.computeError = new Error('x'.repeat(2000));
    await h.send(lease('A', 1, [0]));
    await eventually(() => expect(sentOf(h, 'leaseFailed')).toHaveLength(1));
    expect(sentOf(h, 'leaseFailed')[0].body.reason).toBe('x'.repeat(500));
    expect(h.coordinatorClosed).toEqual([]);
  });

  it('reports parameters it could not load, and gives back the leases that needed them', async () => {
    const h = connect();
    h.trainer.loadError = new Error('bad parameters');
    await h.session.start();
    await h.send(await welcome(h));
    await h.send(parameters(1));
    await h.send(lease('L1', 1, [0]));
    await eventually(() => expect(sentOf(h, 'leaseFailed')).toHaveLength(1));
    expect(eventsOf(h, 'error')).toEqual([{ kind: 'error', message: 'Could not load parameters version 1: bad parameters', fatal: false }]);
    expect(eventsOf(h, 'parameters')).toEqual([]);
    expect(sentOf(h, 'leaseFailed')[0].body).toEqual({ leaseId: 'L1', reason: 'have parameters version null, lease is for 1' });
    // A later good load is still taken.
    h.trainer.loadError = null;
    await h.send(parameters(2));
    await h.send(lease('L2', 2, [0]));
    await eventually(() => expect(sentOf(h, 'result').map((m) => m.body.leaseId)).toEqual(['L2']));
  });

  // Leases queued on a connection that has closed were given back by the coordinator; the
  // shared trainer must not spend time on them while a reconnected session uses it.
  it('computes no queued lease once the connection has closed under it', async () => {
    const h = connect();
    await ready(h);
    h.trainer.holdComputes = true;
    await h.send(lease('A', 1, [0]));
    await h.send(lease('B', 1, [1]));
    await h.send(lease('C', 1, [2]));
    await h.barrier();
    h.coordinator.close('the coordinator went away');
    await new Promise((ok) => setTimeout(ok, 10));
    h.trainer.holdComputes = false;
    h.trainer.releaseCompute(); // A, in hand when the connection closed, may finish
    await new Promise((ok) => setTimeout(ok, 20));
    expect(h.trainer.log.filter((l) => l.startsWith('compute '))).toEqual(['compute v1 ×1 from 0']);
  });

  it('passes the coordinator’s errors, acks and idle notices to the page', async () => {
    const h = connect();
    await ready(h);
    await h.send({ type: 'ack', body: { leaseId: 'A', outcome: 'late', reason: 'the round closed' }, tensors: {} });
    await h.send({ type: 'ack', body: { leaseId: 'B', outcome: 'accepted' }, tensors: {} });
    await h.send({ type: 'idle', body: { reason: 'the round is fully leased', retryMs: 500 }, tensors: {} });
    await h.send({ type: 'error', body: { code: 'stale-version', message: 'too old', fatal: false }, tensors: {} });
    await eventually(() => expect(eventsOf(h, 'error')).toHaveLength(1));
    expect(h.events.filter((e) => e.kind !== 'welcome' && e.kind !== 'parameters')).toEqual([
      { kind: 'ack', leaseId: 'A', outcome: 'late', reason: 'the round closed' },
      { kind: 'ack', leaseId: 'B', outcome: 'accepted', reason: undefined },
      { kind: 'idle', reason: 'the round is fully leased' },
      { kind: 'error', message: 'Coordinator: too old', fatal: false },
    ]);
  });
});

describe('ContributorSession: pause, stop and the end of the job', () => {
  it('pause stops taking new leases, lets the running one finish, and resume takes them again', async () => {
    const h = connect();
    await ready(h);
    h.trainer.holdComputes = true;
    await h.send(lease('A', 1, [0]));
    await h.send(lease('B', 1, [1]));
    await h.barrier();
    await h.session.pause();
    await eventually(() => expect(sentOf(h, 'availability').map((m) => m.body.paused)).toEqual([true]));
    h.trainer.releaseCompute();
    await eventually(() => expect(sentOf(h, 'result').map((m) => m.body.leaseId)).toEqual(['A']));
    await h.send(lease('C', 1, [2]));
    await h.barrier();
    expect(h.trainer.log.filter((l) => l.startsWith('compute '))).toEqual(['compute v1 ×1 from 0']);
    expect(h.session.isComputing).toBe(false);

    h.trainer.holdComputes = false;
    await h.session.resume();
    await eventually(() => expect(sentOf(h, 'result').map((m) => m.body.leaseId)).toEqual(['A', 'B', 'C']));
    expect(sentOf(h, 'availability').map((m) => m.body.paused)).toEqual([true, false]);
  });

  it('starting paused computes nothing until resumed', async () => {
    const h = connect({ paused: true });
    await ready(h);
    await h.send(lease('A', 1, [0]));
    await h.barrier();
    expect(h.trainer.log.filter((l) => l.startsWith('compute '))).toEqual([]);
    await h.session.resume();
    await eventually(() => expect(sentOf(h, 'result').map((m) => m.body.leaseId)).toEqual(['A']));
  });

  it('ends on jobDone: tells the page, closes the connection and drops the lease in hand', async () => {
    const h = connect();
    await ready(h);
    h.trainer.holdComputes = true;
    await h.send(lease('A', 1, [0]));
    await h.send(lease('B', 1, [1]));
    await h.barrier();
    await h.send({ type: 'jobDone', body: { rounds: 42, testAccuracy: 0.881, message: 'target reached' }, tensors: {} });
    await eventually(() => expect(h.coordinatorClosed).toHaveLength(1));
    expect(eventsOf(h, 'jobDone')).toEqual([{ kind: 'jobDone', rounds: 42, testAccuracy: 0.881, message: 'target reached' }]);
    // A is held in the trainer (under load it may get there after the close): release it, let it finish.
    await eventually(() => expect(h.trainer.heldCount.computes).toBe(1));
    h.trainer.releaseCompute();
    await eventually(() => expect(h.trainer.log).toContain('computed v1 ×1'));
    await new Promise((ok) => setTimeout(ok, 10));
    // A finished after the end: no result, no error, and B was never started.
    expect(h.trainer.log.filter((l) => l.startsWith('compute '))).toEqual(['compute v1 ×1 from 0']);
    expect(eventsOf(h, 'result')).toEqual([]);
    expect(eventsOf(h, 'error')).toEqual([]);
    expect(h.received.map((m) => m.type)).toEqual(['hello']);
  });

  it('stop says bye with the reason and closes; a second stop does nothing', async () => {
    const h = connect();
    await ready(h);
    await h.session.stop('the visitor left');
    await eventually(() => expect(h.coordinatorClosed).toHaveLength(1));
    expect(sentOf(h, 'bye').map((m) => m.body)).toEqual([{ reason: 'the visitor left' }]);
    await h.session.stop('again');
    expect(sentOf(h, 'bye')).toHaveLength(1);
  });
});
