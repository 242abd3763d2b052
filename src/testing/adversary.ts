// A malicious contributor for the adversarial end-to-end test: a Node process-side client
// that joins the real server through the relay over real WebRTC (node-datachannel), says a
// proper signed hello with its own key, checks the coordinator's welcome, computes honest
// gradients with the plain-TypeScript MLP, and then cheats in one mode (cheats.ts) after
// `honestFirst` honest results. It records everything the coordinator tells it, above all
// whether and when it was banned (an error 'banned', or a hello that gets no welcome).

import { CpuKinkModel } from '../coordinator/kinkModel.ts';
import type { ImageDataset } from '../data/dataset.ts';
import { resolveModel } from '../model/layers/spec.ts';
import { contributorSide, maxMessageBytesFor, type ProtocolConnection } from '../protocol/connection.ts';
import { applyDelta } from '../compression/index.ts';
import type { Capabilities, ContributorMessage, CoordinatorMessage, EncodingSpec } from '../protocol/messages.ts';
import { encodeUpdate, rawF32Update } from '../protocol/updates.ts';
import { generateWebKeyPair, resultHashInput, resultStatement, toBase64Url, webSha256Hex, webSign, webVerify, welcomeStatement, type WebKeyPair } from '../protocol/signing.ts';
import type { JobAnnouncement } from '../server/httpApi.ts';
import { cheatsOn, neighbourLeaseIds, parseLeaseId, pickReplay, poisonGradient, seededRandom, type CheatMode, type SentResult } from './cheats.ts';
import { connectNodeContributor } from './nodeContributorPeer.ts';

export interface AdversaryOptions {
  /** The server's origin, e.g. "http://127.0.0.1:8080". */
  origin: string;
  mode: CheatMode;
  /** Honest results before the first cheat (default 0). */
  honestFirst?: number;
  /** The training split (loaded once by the caller and shared between adversaries). */
  train: ImageDataset;
  /** Seeds the noise of mode 'noise'. */
  seed?: number;
  /**
   * What it claims to compute per second: it sizes the leases it is given, and the adversary
   * answers no faster than that (the plain MLP is much faster on this small model, and would
   * otherwise take most of every round instead of its share).
   */
  examplesPerSecond?: number;
  log?: (line: string) => void;
}

export interface AdversaryReport {
  mode: CheatMode;
  publicKey: string;
  contributorId: string | null;
  /** Results sent, honest and cheating (a steal counts the results sent for others' leases). */
  honestResults: number;
  cheats: number;
  acks: { leaseId: string; outcome: string; reason?: string }[];
  errors: { at: number; code: string; message: string; fatal: boolean }[];
  /** When and how it learnt it was banned; null while it was not. */
  banned: { at: number; how: 'error' | 'hello-refused'; message: string } | null;
  /** A second hello with the same key after the ban: refused (no welcome), or null if not tried. */
  rejoinRefused: boolean | null;
  firstCheatAt: number | null;
  /** Leases whose cheating result the coordinator acknowledged as accepted: poison that was counted. */
  cheatsAccepted: string[];
  closedReason: string | null;
}

type Conn = ProtocolConnection<CoordinatorMessage, ContributorMessage>;
type LeaseMessage = Extract<CoordinatorMessage, { type: 'lease' }>;

const CLIENT = { name: 'swarmgrad-adversary', version: '0.1.0' };
/** How long a hello may wait for its welcome before the coordinator counts as refusing it. */
const WELCOME_TIMEOUT_MS = 15_000;

export class Adversary {
  readonly report: AdversaryReport;
  private job!: JobAnnouncement;
  private identity!: WebKeyPair;
  private mlp!: CpuKinkModel;
  private conn: Conn | null = null;
  private params: Float32Array | null = null;
  private previousParams: Float32Array | null = null;
  /** The job's encoding of results, from the welcome. */
  private up: EncodingSpec = { scheme: 'f32' };
  private version = -1;
  private readonly queue: LeaseMessage[] = [];
  private computing = false;
  /** When the lease being answered was taken up: its results report the time since as computeMs, as a page would. */
  private leaseStartedAt = 0;
  private readonly history: SentResult[] = [];
  private readonly cheatLeases = new Set<string>();
  /** Every lease granted to us: a steal must guess ids that are not among them. */
  private readonly ownLeases = new Set<string>();
  private resultsSent = 0;
  private readonly random: () => number;
  private stopped = false;

  constructor(private readonly options: AdversaryOptions) {
    this.random = seededRandom(options.seed ?? 1);
    this.report = {
      mode: options.mode, publicKey: '', contributorId: null, honestResults: 0, cheats: 0, acks: [], errors: [],
      banned: null, rejoinRefused: null, firstCheatAt: null, cheatsAccepted: [], closedReason: null,
    };
  }

  /** Learns the job, makes its key, joins; resolves once welcomed (or refused). */
  async start(): Promise<void> {
    const response = await fetch(`${this.options.origin}/api/job`);
    if (!response.ok) throw new Error(`GET /api/job answered HTTP ${response.status}`);
    this.job = (await response.json()) as JobAnnouncement;
    this.mlp = await CpuKinkModel.create(resolveModel(this.job.model));
    this.identity = await generateWebKeyPair();
    this.report.publicKey = this.identity.publicKey;
    const welcomed = await this.join();
    if (!welcomed) this.markBanned('hello-refused', 'the coordinator did not welcome our hello');
  }

  /** After a ban: says hello again with the same key; records whether it is refused. */
  async tryRejoin(): Promise<boolean> {
    this.conn?.close('rejoining');
    const welcomed = await this.join();
    this.report.rejoinRefused = !welcomed;
    if (welcomed) this.conn?.close('rejoin test done');
    return !welcomed;
  }

  /**
   * Resolves with the report once banned; or, unbanned, once it has cheated `maxCheats` times
   * and heard the coordinator answer each (detection failed: the caller asserts on the report);
   * or when `hangLimitMs` passes with neither (the job ended, or the coordinator went quiet).
   * The end is what happened, not how fast: the limit only catches a hang.
   */
  async waitBanned({ maxCheats = 4, hangLimitMs = 60_000 }: { maxCheats?: number; hangLimitMs?: number } = {}): Promise<AdversaryReport> {
    const deadline = Date.now() + hangLimitMs;
    const answeredCheats = () => this.report.acks.filter((a) => this.cheatLeases.has(a.leaseId)).length;
    while (!this.report.banned && !this.stopped && answeredCheats() < maxCheats && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    return this.report;
  }

  stop(reason = 'adversary stopped'): void {
    this.stopped = true;
    this.queue.length = 0;
    this.conn?.close(reason);
    this.conn = null;
  }

  private log(line: string): void {
    const who = Number.isFinite(this.options.honestFirst ?? 0) ? this.options.mode : 'honest';
    this.options.log?.(`[adversary ${who}${this.report.contributorId ? ` ${this.report.contributorId}` : ''}] ${line}`);
  }

  /** A data channel to the coordinator; a failed negotiation is tried again (twice), as the pages' link would. */
  private async connect(attempts = 3) {
    for (let attempt = 1; ; attempt++) {
      try {
        return await connectNodeContributor({ origin: this.options.origin, relayPath: this.job.relayPath, coordinatorId: this.job.coordinatorId, timeoutMs: 10_000 });
      } catch (error) {
        if (attempt >= attempts) throw error;
        this.log(`connecting, attempt ${attempt}: ${(error as Error).message}; trying again`);
      }
    }
  }

  /** One connection: hello, and whether a welcome signed with the announced coordinator key came back. */
  private async join(): Promise<boolean> {
    const channel = await this.connect();
    const nonce = toBase64Url(crypto.getRandomValues(new Uint8Array(24)));
    let welcome: (ok: boolean) => void = () => {};
    const welcomed = new Promise<boolean>((resolve) => (welcome = resolve));
    const timer = setTimeout(() => welcome(false), WELCOME_TIMEOUT_MS);
    const conn: Conn = contributorSide(channel, maxMessageBytesFor(this.job.parameterCount), {
      onMessage: (message) => {
        if (message.type === 'welcome') {
          const { contributorId, job, coordinator } = message.body;
          this.up = job.compression.up;
          const statement = welcomeStatement({ jobId: job.id, contributorId, contributorKey: this.identity.publicKey, nonce });
          void webVerify(this.job.coordinatorKey, statement, coordinator.signature).then((ok) => {
            if (!ok || coordinator.publicKey !== this.job.coordinatorKey) this.log('the welcome is not signed with the announced coordinator key');
            this.report.contributorId = contributorId;
            clearTimeout(timer);
            welcome(true);
          });
        } else {
          this.handle(conn, message);
        }
      },
      onClose: (reason) => {
        clearTimeout(timer);
        welcome(false);
        if (this.conn === conn) this.report.closedReason = reason;
      },
    });
    this.conn = conn;
    const capabilities: Capabilities = {
      backend: 'cpu',
      device: 'Node adversary (plain TypeScript MLP)',
      fallbackAdapter: false,
      flopsPerMs: 1e5,
      examplesPerSecond: this.options.examplesPerSecond ?? 2000,
      maxBatch: 4096,
    };
    await conn.send({
      type: 'hello',
      body: { client: CLIENT, capabilities, ...(this.report.contributorId ? { resumeContributorId: this.report.contributorId } : {}), identity: { publicKey: this.identity.publicKey, nonce } },
      tensors: {},
    });
    return welcomed;
  }

  private handle(conn: Conn, message: CoordinatorMessage): void {
    switch (message.type) {
      case 'parameters':
        if (message.body.version !== this.version) {
          this.previousParams = this.params;
          this.params = message.tensors.params.slice();
          this.version = message.body.version;
        }
        return;
      case 'parameterDelta':
        this.previousParams = this.params;
        if (!this.params) return this.log("a parameter delta before any parameters; ignored");
        this.params = applyDelta(this.params, { header: message.body.encoding, payload: message.tensors.delta });
        this.version = message.body.version;
        return;
      case 'lease':
        this.ownLeases.add(message.body.leaseId);
        this.queue.push(message);
        void this.computeNext(conn);
        return;
      case 'ack':
        this.report.acks.push({ leaseId: message.body.leaseId, outcome: message.body.outcome, ...(message.body.reason ? { reason: message.body.reason } : {}) });
        if (message.body.outcome === 'accepted' && this.cheatLeases.has(message.body.leaseId)) this.report.cheatsAccepted.push(message.body.leaseId);
        if (message.body.outcome !== 'accepted') this.log(`ack ${message.body.leaseId}: ${message.body.outcome} (${message.body.reason ?? ''})`);
        return;
      case 'error': {
        const { code, message: text, fatal } = message.body;
        this.report.errors.push({ at: Date.now(), code, message: text, fatal });
        this.log(`error ${code}${fatal ? ' (fatal)' : ''}: ${text}`);
        if (code === 'banned') this.markBanned('error', text);
        return;
      }
      case 'jobDone':
        this.log('job done');
        return;
      default:
        return;
    }
  }

  private markBanned(how: 'error' | 'hello-refused', message: string): void {
    if (this.report.banned) return;
    this.report.banned = { at: Date.now(), how, message };
    this.log(`banned (${how}): ${message}`);
  }

  private async computeNext(conn: Conn): Promise<void> {
    if (this.computing || this.stopped) return;
    const lease = this.queue.shift();
    if (!lease) return;
    this.computing = true;
    this.leaseStartedAt = Date.now();
    const pace = new Promise((r) => setTimeout(r, (1000 * lease.tensors.indices.length) / (this.options.examplesPerSecond ?? 2000)));
    try {
      await pace;
      await this.answer(conn, lease);
    } catch (error) {
      if (conn.isOpen) this.log(`lease ${lease.body.leaseId}: ${(error as Error).message}`);
    } finally {
      this.computing = false;
      void this.computeNext(conn);
    }
  }

  private async answer(conn: Conn, lease: LeaseMessage): Promise<void> {
    const { leaseId, version } = lease.body;
    const indices = lease.tensors.indices;
    if (!this.params || version !== this.version) {
      await conn.send({ type: 'leaseFailed', body: { leaseId, reason: `have parameters version ${this.version}, lease is for ${version}` }, tensors: {} });
      return;
    }
    const cheat = cheatsOn(this.resultsSent, this.options.honestFirst ?? 0);
    const { mode } = this.options;
    if (!cheat) return this.send(conn, leaseId, version, this.compute(this.params, indices), false);
    this.report.firstCheatAt ??= Date.now();

    switch (mode) {
      case 'zeros':
      case 'noise':
      case 'scaled':
      case 'sign-flip': {
        const honest = this.compute(this.params, indices);
        return this.send(conn, leaseId, version, { ...honest, gradient: poisonGradient(mode, honest.gradient, this.random) }, true);
      }
      case 'stale':
        // Computed on the parameters before these, labelled with this lease's version.
        return this.send(conn, leaseId, version, this.compute(this.previousParams ?? this.params, indices), this.previousParams !== null);
      case 'replay':
      case 'replay-unsigned': {
        const earlier = pickReplay(this.history, indices.length, leaseId);
        if (!earlier) return this.send(conn, leaseId, version, this.compute(this.params, indices), false);
        const resign = mode === 'replay';
        return this.send(conn, leaseId, version, earlier, true, resign ? undefined : earlier.signature);
      }
      case 'steal': {
        // Answer leases that are probably someone else's with our own examples' gradient, then our own honestly.
        const honest = this.compute(this.params, indices);
        // Counters only grow, so lower ones of this round not granted to us are someone else's (higher ones may yet be ours).
        const ours = parseLeaseId(leaseId)?.counter ?? 0;
        const guesses = neighbourLeaseIds(leaseId, 8)
          .filter((id) => !this.ownLeases.has(id) && (parseLeaseId(id)?.counter ?? ours) < ours)
          .slice(0, 2);
        for (const guess of guesses) await this.send(conn, guess, version, honest, true);
        return this.send(conn, leaseId, version, honest, false);
      }
    }
  }

  private compute(params: Float32Array, indices: Uint32Array): { exampleCount: number; loss: number; correct: number; gradient: Float32Array } {
    const gradient = new Float32Array(this.mlp.total);
    const { loss, correct, count } = this.mlp.lossAndGradient(params, this.options.train, indices, gradient);
    return { exampleCount: count, loss, correct, gradient };
  }

  /** Hashes, signs (unless `signature` is given: a replay that reuses an old one) and sends one result. */
  private async send(
    conn: Conn,
    leaseId: string,
    version: number,
    r: { exampleCount: number; loss: number; correct: number; gradient: Float32Array },
    cheat: boolean,
    signature?: string,
  ): Promise<void> {
    // Encoded as the job says; f32 goes out as it is, NaN and all, as a hostile sender may.
    const { encoding, update } = this.up.scheme === 'f32' ? rawF32Update(r.gradient) : encodeUpdate(r.gradient, this.up);
    const resultHash = await webSha256Hex(resultHashInput({ ...r, encoding, update }));
    signature ??= await webSign(this.identity, resultStatement({ jobId: this.job.id, leaseId, version, resultHash }));
    await conn.send({
      type: 'result',
      body: { leaseId, version, loss: r.loss, correct: r.correct, exampleCount: r.exampleCount, computeMs: Math.max(1, Date.now() - this.leaseStartedAt), deviceTimeMs: null, encoding, resultHash, signature },
      tensors: { update },
    });
    this.resultsSent++;
    if (cheat) {
      this.report.cheats++;
      this.cheatLeases.add(leaseId);
    }
    else this.report.honestResults++;
    this.history.push({ leaseId, version, ...r, resultHash, signature });
    if (this.history.length > 32) this.history.shift();
  }
}
