// One contributor's conversation with the coordinator over one connection: hello, then
// parameters and leases in, results out, one lease at a time. The reconnecting link makes a
// new session after each drop; the trainer (a worker) outlives them.

import type { ProtocolConnection } from '../protocol/connection.ts';
import type { Capabilities, ContributorMessage, CoordinatorMessage, JobInfo } from '../protocol/messages.ts';
import { resultHashInput, resultStatement, toBase64Url, webSha256Hex, webSign, webVerify, welcomeStatement, type PublicKeyText, type WebKeyPair } from '../protocol/signing.ts';
import { applyDelta } from '../compression/index.ts';
import { encodeUpdate } from '../protocol/updates.ts';
import { MAX_MICRO_BATCH, type GradientResult, type MicroBatch } from '../worker/api.ts';
import type { LocalStepsLease, LocalStepsResult } from '../worker/localSteps.ts';

/** The part of the worker API a session needs. */
export interface SessionTrainer {
  loadParameters(version: number, params: Float32Array): Promise<void>;
  computeGradient(batch: MicroBatch): Promise<GradientResult>;
  /** A local-steps lease from the parameters last loaded (worker/localSteps.ts). */
  localSteps(lease: LocalStepsLease): Promise<LocalStepsResult>;
}

export type SessionEvent =
  | { kind: 'welcome'; contributorId: string; job: JobInfo }
  | { kind: 'parameters'; version: number }
  | { kind: 'computing'; leaseId: string; examples: number; round: number }
  | { kind: 'result'; leaseId: string; examples: number; loss: number; computeMs: number; resultHash: string }
  /** The coordinator's proof that a counted result is in its signed log (checked by the page, see ledger/receipt.ts). */
  | { kind: 'receipt'; receipt: Extract<CoordinatorMessage, { type: 'receipt' }>['body'] }
  | { kind: 'ack'; leaseId: string; outcome: string; reason?: string }
  | { kind: 'idle'; reason: string }
  | { kind: 'jobDone'; rounds: number; testAccuracy: number | null; message: string }
  | { kind: 'error'; message: string; fatal: boolean };

export interface SessionOptions {
  client: { name: string; version: string };
  capabilities: Capabilities;
  /** The id this contributor had before a reconnect, to keep its credit. */
  resumeContributorId?: string;
  /** The team the visitor named (checked with src/protocol/team.ts), if any. */
  team?: string;
  /** The job the page was set up for; a coordinator running another job is refused. */
  expectedJobId?: string;
  paused?: boolean;
  /** This contributor's key: it signs every result. */
  identity: WebKeyPair;
  /** The coordinator key this contributor trusts; a welcome not signed with it ends the session. */
  coordinatorKey: PublicKeyText;
}

type Conn = ProtocolConnection<CoordinatorMessage, ContributorMessage>;

/**
 * The gradient of the mean loss over a lease's examples, computed in chunks of at most
 * `chunk` (what one device call takes) and combined by example count, in order: the same
 * lease gives the same bits on the same device.
 */
export async function gradientOfLease(
  trainer: Pick<SessionTrainer, 'computeGradient'>,
  version: number,
  indices: Uint32Array,
  chunk = MAX_MICRO_BATCH,
  dropoutSeed?: number,
): Promise<GradientResult> {
  if (indices.length <= chunk) return trainer.computeGradient({ version, indices, dropoutSeed });
  let total: GradientResult | null = null;
  let loss = 0;
  for (let start = 0; start < indices.length; start += chunk) {
    const r = await trainer.computeGradient({ version, indices: indices.subarray(start, start + chunk), dropoutSeed });
    const weight = r.exampleCount / indices.length;
    loss += weight * r.loss;
    if (!total) {
      total = { ...r, gradient: r.gradient.map((g) => g * weight) };
    } else {
      for (let i = 0; i < total.gradient.length; i++) total.gradient[i] += weight * r.gradient[i];
      total.correct += r.correct;
      total.exampleCount += r.exampleCount;
      total.wallTimeMs += r.wallTimeMs;
      total.gpuTimeMs = total.gpuTimeMs === null || r.gpuTimeMs === null ? null : total.gpuTimeMs + r.gpuTimeMs;
      total.flops += r.flops;
      total.submits += r.submits;
      total.readbacks += r.readbacks;
      total.recoveries += r.recoveries;
    }
  }
  return { ...total!, loss };
}
type LeaseMessage = Extract<CoordinatorMessage, { type: 'lease' }>;

export class ContributorSession {
  contributorId: string | null = null;
  job: JobInfo | null = null;
  private loadedVersion: number | null = null;
  /** The parameters last received (θ̂ of the coordinator's broadcast): what the next delta applies to. */
  private held: { version: number; params: Float32Array } | null = null;
  /** Parameters are loaded in arrival order; leases wait for the load before them. */
  private parametersLoaded: Promise<void> = Promise.resolve();
  private readonly queue: LeaseMessage[] = [];
  private computing = false;
  private paused: boolean;
  private ended = false;
  private readonly nonce: string;
  /** Settles true once the welcome proved the coordinator holds the pinned key; no lease is computed before. */
  private trusted: Promise<boolean> = new Promise(() => {});

  constructor(
    private readonly conn: Conn,
    private readonly trainer: SessionTrainer,
    private readonly options: SessionOptions,
    private readonly emit: (event: SessionEvent) => void,
  ) {
    this.paused = options.paused ?? false;
    this.nonce = toBase64Url(crypto.getRandomValues(new Uint8Array(24)));
  }

  /** Route the connection's messages here and say hello. */
  start(): Promise<void> {
    return this.conn.send({
      type: 'hello',
      body: {
        client: this.options.client,
        capabilities: this.options.capabilities,
        ...(this.options.resumeContributorId ? { resumeContributorId: this.options.resumeContributorId } : {}),
        ...(this.options.team ? { team: this.options.team } : {}),
        identity: { publicKey: this.options.identity.publicKey, nonce: this.nonce },
      },
      tensors: {},
    });
  }

  handle(message: CoordinatorMessage): void {
    if (this.ended) return;
    switch (message.type) {
      case 'welcome': {
        const { job, contributorId } = message.body;
        if (this.options.expectedJobId && job.id !== this.options.expectedJobId) {
          this.emit({ kind: 'error', message: `The coordinator now runs another job (${job.name}); reload the page to join it`, fatal: true });
          this.end('job changed');
          return;
        }
        this.trusted = this.checkCoordinator(message.body);
        void this.trusted.then((ok) => {
          if (!ok || this.ended) return;
          this.contributorId = contributorId;
          this.job = job;
          this.emit({ kind: 'welcome', contributorId, job });
          if (this.paused) void this.sendAvailability();
        });
        return;
      }
      case 'parameters':
        this.load(message.body.version, () => message.tensors.params);
        return;
      case 'parameterDelta': {
        const { fromVersion, version, encoding } = message.body;
        this.load(version, () => {
          if (this.held?.version !== fromVersion) {
            // Deltas come in order after the parameters they apply to; a gap means this connection lost track.
            throw new Error(`a delta from version ${fromVersion} arrived, but this page holds ${this.held ? `version ${this.held.version}` : 'no parameters'}`);
          }
          return applyDelta(this.held.params, { header: encoding, payload: message.tensors.delta });
        });
        return;
      }
      case 'lease':
        this.queue.push(message);
        void this.computeNext();
        return;
      case 'receipt':
        this.emit({ kind: 'receipt', receipt: message.body });
        return;
      case 'ack':
        this.emit({ kind: 'ack', leaseId: message.body.leaseId, outcome: message.body.outcome, reason: message.body.reason });
        return;
      case 'idle':
        this.emit({ kind: 'idle', reason: message.body.reason });
        return;
      case 'jobDone':
        this.emit({ kind: 'jobDone', ...message.body });
        this.end('job done');
        return;
      case 'error':
        this.emit({ kind: 'error', message: `Coordinator: ${message.body.message}`, fatal: message.body.fatal });
        return;
    }
  }

  /**
   * Loads parameters in arrival order. Parameters that cannot be built (a delta that does not
   * apply to what this page holds) end the session: a reconnect starts from whole parameters.
   * A trainer that fails to load them is reported, and the leases that needed them are given back.
   */
  private load(version: number, build: () => Float32Array): void {
    this.parametersLoaded = this.parametersLoaded.then(async () => {
      if (this.ended) return;
      let params: Float32Array;
      try {
        params = build();
      } catch (error) {
        const message = `Could not rebuild parameters version ${version}: ${(error as Error).message}`;
        this.emit({ kind: 'error', message, fatal: true });
        await this.conn.send({ type: 'error', body: { code: 'stale-version', message: message.slice(0, 1000), fatal: true }, tensors: {} }).catch(() => {});
        this.end('parameters lost');
        return;
      }
      this.held = { version, params };
      try {
        await this.trainer.loadParameters(version, params);
        this.loadedVersion = version;
        this.emit({ kind: 'parameters', version });
      } catch (error) {
        this.emit({ kind: 'error', message: `Could not load parameters version ${version}: ${(error as Error).message}`, fatal: false });
      }
    });
  }

  /** Stop taking leases (the one being computed still finishes and is sent). */
  pause(): Promise<void> {
    this.paused = true;
    return this.sendAvailability();
  }

  resume(): Promise<void> {
    this.paused = false;
    void this.computeNext();
    return this.sendAvailability();
  }

  /** Leave politely. */
  async stop(reason = 'contributor stopped'): Promise<void> {
    if (this.ended) return;
    try {
      await this.conn.send({ type: 'bye', body: { reason }, tensors: {} });
    } finally {
      this.end(reason);
    }
  }

  get isComputing(): boolean {
    return this.computing;
  }

  /** Whether the welcome is signed by the pinned coordinator key over our nonce; if not, say why and end. */
  private async checkCoordinator(body: Extract<CoordinatorMessage, { type: 'welcome' }>['body']): Promise<boolean> {
    const { coordinatorKey, identity } = this.options;
    const { coordinator, contributorId, job } = body;
    let problem: string | null = null;
    if (coordinator.publicKey !== coordinatorKey) {
      problem = `The coordinator presented key ${coordinator.publicKey.slice(0, 24)}…, not the pinned ${coordinatorKey.slice(0, 24)}…; refusing it`;
    } else if (!(await webVerify(coordinatorKey, welcomeStatement({ jobId: job.id, contributorId, contributorKey: identity.publicKey, nonce: this.nonce }), coordinator.signature))) {
      problem = 'The coordinator could not prove it holds its key (bad welcome signature); refusing it';
    }
    if (problem === null) return true;
    this.emit({ kind: 'error', message: problem, fatal: true });
    await this.conn.send({ type: 'error', body: { code: 'not-welcome', message: problem, fatal: true }, tensors: {} }).catch(() => {});
    this.end('untrusted coordinator');
    return false;
  }

  private async computeNext(): Promise<void> {
    if (this.computing || this.paused || this.ended) return;
    // The coordinator has already given back the leases of a closed connection: drop them.
    if (!this.conn.isOpen) {
      this.end('connection closed');
      return;
    }
    const lease = this.queue.shift();
    if (!lease) return;
    this.computing = true;
    const { leaseId, version, round } = lease.body;
    const indices = lease.tensors.indices;
    try {
      if (!(await this.trusted)) return;
      await this.parametersLoaded;
      if (this.loadedVersion !== version) {
        // The coordinator sends parameters before any lease for a new version; if they are
        // not here, the lease is stale (a round closed meanwhile): say so and move on.
        await this.conn.send({ type: 'leaseFailed', body: { leaseId, reason: `have parameters version ${this.loadedVersion}, lease is for ${version}` }, tensors: {} });
        return;
      }
      this.emit({ kind: 'computing', leaseId, examples: indices.length, round });
      const job = this.job!;
      const r = await this.computeLease(job, version, indices, lease.body.innerLr, lease.body.round);
      if (this.ended) return;
      const { encoding, update } = encodeUpdate(r.values, job.compression.up);
      const resultHash = await webSha256Hex(resultHashInput({ exampleCount: r.exampleCount, loss: r.loss, correct: r.correct, encoding, update }));
      const signature = await webSign(this.options.identity, resultStatement({ jobId: job.id, leaseId, version, resultHash }));
      if (this.ended) return;
      await this.conn.send({
        type: 'result',
        body: { leaseId, version, loss: r.loss, correct: r.correct, exampleCount: r.exampleCount, computeMs: r.wallTimeMs, deviceTimeMs: r.gpuTimeMs, encoding, resultHash, signature },
        tensors: { update },
      });
      this.emit({ kind: 'result', leaseId, examples: r.exampleCount, loss: r.loss, computeMs: r.wallTimeMs, resultHash });
    } catch (error) {
      if (!this.ended) {
        const reason = (error as Error).message;
        this.emit({ kind: 'error', message: `Lease ${leaseId} failed: ${reason}`, fatal: false });
        await this.conn.send({ type: 'leaseFailed', body: { leaseId, reason: reason.slice(0, 500) }, tensors: {} }).catch(() => {});
      }
    } finally {
      this.computing = false;
      void this.computeNext();
    }
  }

  /** The job's kind of work on a lease: the gradient of its examples, or its local steps' Δ. */
  /** Dropout, where the model has it, is seeded by the lease's round: a replica of the same work draws the same masks. */
  private async computeLease(job: JobInfo, version: number, indices: Uint32Array, innerLr: number | undefined, round: number): Promise<{ values: Float32Array; loss: number; correct: number; exampleCount: number; wallTimeMs: number; gpuTimeMs: number | null }> {
    if (job.sync.mode === 'local-steps') {
      if (innerLr === undefined) throw new Error('a local-steps lease must name its inner learning rate (innerLr)');
      const r = await this.trainer.localSteps({ version, indices, innerBatch: job.sync.innerBatch, hyper: { ...job.sync.optimizer, lr: innerLr }, dropoutSeed: round });
      return { ...r, values: r.delta };
    }
    const r = await gradientOfLease(this.trainer, version, indices, MAX_MICRO_BATCH, round);
    return { ...r, values: r.gradient };
  }

  private sendAvailability(): Promise<void> {
    return this.conn.send({ type: 'availability', body: { paused: this.paused }, tensors: {} }).catch(() => {});
  }

  private end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.queue.length = 0;
    this.conn.close(reason);
  }
}
