// A contributor: the worker that computes, the link to the coordinator that reconnects by
// itself, and a session per connection. No DOM: the page renders its state.

import { connectToCoordinator } from '../net/browserPeer.ts';
import { ReconnectingCoordinatorLink, type CoordinatorLinkState } from '../net/coordinatorLink.ts';
import { contributorSide, maxMessageBytesFor } from '../protocol/connection.ts';
import { MAX_LEASE_EXAMPLES, type Capabilities } from '../protocol/messages.ts';
import { generateWebKeyPair, webVerify, type PublicKeyText, type WebKeyPair } from '../protocol/signing.ts';
import { receiptProblem } from '../ledger/receipt.ts';
import type { ReceiptBody } from '../ledger/writer.ts';
import type { JobAnnouncement } from '../server/httpApi.ts';
import { adapterName } from '../gpu/context.ts';
import type { BackendChoice, BackendReport } from '../worker/api.ts';
import { startTrainerWorker, type TrainerWorker } from '../worker/client.ts';
import type { UseStore } from 'idb-keyval';
import { checkCoordinatorPin, fingerprint, identityStore, loadContributorId, loadOrCreateIdentity, saveContributorId, type PinCheck } from './identity.ts';
import { ContributorSession, type SessionEvent, type SessionTrainer } from './session.ts';
import { handCreditOn, type LinkTaken } from './keyLink.ts';
import { describeRoute, type LinkRoute } from '../net/route.ts';
import type { LocalStepsTrainer } from '../worker/localSteps.ts';
import { resolveModel } from '../model/layers/spec.ts';

export type ContributorPhase = 'starting' | 'connecting' | 'contributing' | 'paused' | 'retrying' | 'stopped' | 'done' | 'failed';

export interface ContributorState {
  phase: ContributorPhase;
  message: string;
  backend: BackendReport | null;
  /** Gradient throughput measured on this device for this job's model. */
  measuredExamplesPerSecond: number | null;
  contributorId: string | null;
  tasks: number;
  examples: number;
  /** Over the last minute of results. */
  examplesPerSecond: number;
  lastLoss: number | null;
  parametersVersion: number | null;
  computing: boolean;
  /** This browser's key, as a short fingerprint (see identity.ts). */
  keyFingerprint: string | null;
  /** Which way the link to the coordinator goes (direct, or through the job's TURN relay), once open. */
  route: LinkRoute | null;
  /** This browser's public key in full: the code another browser of the visitor's pastes to hand its credit here. */
  publicKey: PublicKeyText | null;
  /** The coordinator key this browser pinned for the job. */
  coordinatorFingerprint: string | null;
  /** Set when the coordinator announces a key other than the pinned one: nothing runs until the visitor decides. */
  keyConflict: { pinned: PublicKeyText; presented: PublicKeyText; message: string } | null;
  /** Results counted in closed rounds, each proven by a receipt this page verified (signed head + inclusion proof). */
  credit: { receipts: number; examples: number; failed: number; lastHead: { size: number; rootHash: string } | null };
}

export interface ContributorOptions {
  job: JobAnnouncement;
  backend?: BackendChoice;
  onState: (state: ContributorState) => void;
  /** Log lines for the page's activity list. */
  onLog?: (line: string) => void;
  /** CPU backend threads (the embedded widget asks for 1, to leave the host page a core). */
  cpuThreads?: number;
  /** Never start a software WebGPU adapter (the embedded widget: see TrainerOptions.hardwareGpuOnly). */
  hardwareGpuOnly?: boolean;
  /** The team the visitor named (already checked with parseTeamName), sent with each hello. */
  team?: string | null;
  /**
   * Where this browser's key, its contributor ids and the coordinator pins are kept: by default
   * the page's own IndexedDB; the widget frame passes the one its browser granted it (a storage
   * access handle's), or null where it was granted none (a key for this visit only).
   */
  identityStore?: UseStore | null;
  /** What the session computes with instead of the worker itself (the widget's throttle). */
  wrapTrainer?: (trainer: SessionTrainer & LocalStepsTrainer) => SessionTrainer;
}

const CLIENT = { name: 'swarmgrad-web', version: '0.1.0' };
const MEASURE_BATCH = 128;
const WINDOW_MS = 60_000;
/** Receipts kept for download (a long session's are a few MB at most). */
const MAX_RECEIPTS = 20_000;

export class Contributor {
  private worker: TrainerWorker | null = null;
  private link: ReconnectingCoordinatorLink | null = null;
  private session: ContributorSession | null = null;
  private capabilities: Capabilities | null = null;
  private identity: WebKeyPair | null = null;
  private paused = false;
  private readonly recent: { at: number; examples: number }[] = [];
  private readonly state: ContributorState = {
    phase: 'starting',
    message: 'Starting…',
    backend: null,
    measuredExamplesPerSecond: null,
    contributorId: null,
    tasks: 0,
    examples: 0,
    examplesPerSecond: 0,
    lastLoss: null,
    parametersVersion: null,
    computing: false,
    keyFingerprint: null,
    publicKey: null,
    route: null,
    coordinatorFingerprint: null,
    keyConflict: null,
    credit: { receipts: 0, examples: 0, failed: 0, lastHead: null },
  };
  /** Result hashes sent, by lease, until their receipt arrives (a receipt must name the result this page sent). */
  private readonly sentHashes = new Map<string, string>();
  private readonly receipts: ReceiptBody[] = [];
  /** The id this key had in the job before a reload, to resume its credit. */
  private storedContributorId: string | undefined;
  private pinnedCoordinatorKey: PublicKeyText | null = null;
  /** False when this browser gives the page no storage (the key is then for this visit only). */
  private rememberIds = true;

  constructor(private readonly options: ContributorOptions) {}

  /** Set up the device (only after the visitor's consent) and join the job. */
  async start(): Promise<void> {
    const { job } = this.options;
    try {
      if (!(await this.establishTrust())) return;
      this.worker = startTrainerWorker();
      const api = this.worker.api;
      this.update({ phase: 'starting', message: 'Choosing the fastest way to compute on this device…' });
      const backend = await api.init({ spec: job.model, backend: this.options.backend ?? 'auto', cpuThreads: this.options.cpuThreads, hardwareGpuOnly: this.options.hardwareGpuOnly });
      this.update({ backend, message: 'Loading the training data…' });
      await api.loadDataset({ kind: 'url', baseUrl: job.dataset.url, format: job.dataset.format });
      this.update({ message: 'Measuring this device on the job…' });
      const examplesPerSecond = await this.measure();
      const a = backend.adapter;
      this.capabilities = {
        backend: backend.backend,
        device: (a ? adapterName(a) : backend.kernel).slice(0, 300) || 'unknown',
        fallbackAdapter: a?.isFallbackAdapter ?? false,
        flopsPerMs: Math.max(backend.flopsPerMs, 1),
        examplesPerSecond,
        maxBatch: MAX_LEASE_EXAMPLES,
      };
      this.update({ measuredExamplesPerSecond: examplesPerSecond });
      this.connect();
    } catch (error) {
      this.fail(`This device cannot contribute: ${(error as Error).message}`);
    }
  }

  /** The identity store this contributor was given; it throws where the browser granted none, which establishTrust handles. */
  private store(): UseStore {
    const given = this.options.identityStore;
    if (given === null) throw new Error('the browser granted this frame no storage');
    return given ?? identityStore();
  }

  /**
   * Load this browser's key and the job's pinned coordinator key (pinning the announced one on
   * first use). A coordinator announcing another key is refused before anything runs.
   */
  private async establishTrust(): Promise<boolean> {
    const { job } = this.options;
    this.update({ message: 'Loading this browser’s contributor key…' });
    let pin: PinCheck;
    try {
      const store = this.store();
      this.identity = await loadOrCreateIdentity(store);
      this.storedContributorId = await loadContributorId(job.id, store);
      pin = await checkCoordinatorPin(location.origin, job.id, job.coordinatorKey, store);
    } catch (error) {
      // Some browsers keep no storage for a frame inside another site (third-party storage
      // blocking): then this visit has a key of its own, as safe but not remembered.
      this.log(`This browser keeps no data here (${(error as Error).message}): using a key for this visit only; credit will not carry over a reload.`);
      this.identity = await generateWebKeyPair();
      this.rememberIds = false;
      pin = { status: 'pinned-now', pinned: job.coordinatorKey };
    }
    this.update({ keyFingerprint: await fingerprint(this.identity.publicKey), publicKey: this.identity.publicKey, coordinatorFingerprint: await fingerprint(pin.pinned) });
    if (pin.status === 'mismatch') {
      this.update({ phase: 'failed', message: pin.message, keyConflict: { pinned: pin.pinned, presented: pin.presented, message: pin.message } });
      return false;
    }
    if (pin.status === 'pinned-now') this.log(`Pinned the coordinator's key ${this.state.coordinatorFingerprint} for this job.`);
    this.pinnedCoordinatorKey = pin.pinned;
    return true;
  }

  async pause(): Promise<void> {
    this.paused = true;
    await this.session?.pause();
    this.update({ phase: 'paused', message: 'Paused: no new work is taken. The current task, if any, finishes.' });
  }

  async resume(): Promise<void> {
    this.paused = false;
    await this.session?.resume();
    this.update({ phase: this.session ? 'contributing' : 'connecting', message: this.session ? 'Contributing.' : 'Connecting…' });
  }

  /** Leave the job and release the device. */
  async stop(reason = 'stopped by the visitor'): Promise<void> {
    await this.session?.stop(reason).catch(() => {});
    this.shutdown();
    this.update({ phase: 'stopped', message: 'Stopped. Thank you for helping!' });
  }

  private async measure(): Promise<number> {
    const api = this.worker!.api;
    const { version } = await api.initParameters(0);
    // A next-token model's example is a window of T positions: measure 128 positions' worth.
    const batch = Math.max(1, Math.floor(MEASURE_BATCH / resolveModel(this.options.job.model).labelsPerExample));
    const indices = Uint32Array.from({ length: batch }, (_, i) => i);
    await api.computeGradient({ version, indices, dropoutSeed: 0 });
    let ms = 0;
    const runs = 3;
    for (let i = 0; i < runs; i++) ms += (await api.computeGradient({ version, indices, dropoutSeed: 0 })).wallTimeMs;
    return (runs * batch * 1000) / Math.max(ms, 1e-3);
  }

  private connect(): void {
    const { job } = this.options;
    const secure = location.protocol === 'https:';
    const port = Number(location.port) || (secure ? 443 : 80);
    this.link = new ReconnectingCoordinatorLink(() =>
      connectToCoordinator({ host: location.hostname, port, path: job.relayPath, secure, coordinatorId: job.coordinatorId, iceServers: job.iceServers ?? [], onRoute: (route) => this.onRoute(route) }),
    );
    this.link.onState = (s) => this.onLinkState(s);
    this.link.onChannel = (channel) => {
      const previousId = this.session?.contributorId ?? this.state.contributorId ?? this.storedContributorId;
      let session: ContributorSession;
      const conn = contributorSide(channel, maxMessageBytesFor(job.parameterCount), {
        onMessage: (message) => session.handle(message),
        onClose: (reason) => this.log(`Connection closed: ${reason}`),
      });
      session = new ContributorSession(
        conn,
        this.options.wrapTrainer ? this.options.wrapTrainer(this.worker!.api) : this.worker!.api,
        {
          client: CLIENT,
          capabilities: this.capabilities!,
          resumeContributorId: previousId,
          ...(this.options.team ? { team: this.options.team } : {}),
          expectedJobId: job.id,
          paused: this.paused,
          identity: this.identity!,
          coordinatorKey: this.pinnedCoordinatorKey!,
        },
        (event) => this.onSessionEvent(event),
      );
      this.session = session;
      session.start().catch((error) => this.log(`Could not say hello: ${(error as Error).message}`));
    };
    this.link.start();
  }

  private onLinkState(s: CoordinatorLinkState): void {
    if (this.state.phase === 'stopped' || this.state.phase === 'done' || this.state.phase === 'failed') return;
    switch (s.kind) {
      case 'connecting':
        this.update({ phase: 'connecting', message: s.attempt > 1 ? `Reconnecting (attempt ${s.attempt})…` : 'Connecting to the coordinator…' });
        return;
      case 'open':
        this.update({ phase: this.paused ? 'paused' : 'contributing', message: this.paused ? 'Connected, paused.' : 'Connected: waiting for work.' });
        return;
      case 'retrying':
        this.update({ phase: 'retrying', message: `Lost the coordinator (${s.reason}); retrying in ${Math.round(s.delayMs / 1000)} s.` });
        return;
      case 'closed':
        this.log(`Disconnected: ${s.reason}`);
        return;
      default:
        return;
    }
  }

  private onSessionEvent(event: SessionEvent): void {
    switch (event.kind) {
      case 'welcome':
        if (this.rememberIds) saveContributorId(this.options.job.id, event.contributorId, this.store()).catch((error) => this.log(`Could not remember the contributor id: ${(error as Error).message}`));
        this.update({ contributorId: event.contributorId, message: `Joined "${event.job.name}" as ${event.contributorId}.` });
        return;
      case 'parameters':
        this.update({ parametersVersion: event.version });
        return;
      case 'computing':
        this.update({ computing: true, message: `Computing ${event.examples} examples for round ${event.round}.` });
        return;
      case 'receipt':
        void this.checkReceipt(event.receipt);
        return;
      case 'result': {
        this.sentHashes.set(event.leaseId, event.resultHash);
        if (this.sentHashes.size > MAX_RECEIPTS) this.sentHashes.delete(this.sentHashes.keys().next().value!);
        const now = Date.now();
        this.recent.push({ at: now, examples: event.examples });
        while (this.recent[0].at < now - WINDOW_MS) this.recent.shift();
        const span = Math.max(1, Math.min(WINDOW_MS, now - this.recent[0].at + event.computeMs)) / 1000;
        this.update({
          computing: false,
          tasks: this.state.tasks + 1,
          examples: this.state.examples + event.examples,
          examplesPerSecond: this.recent.reduce((n, r) => n + r.examples, 0) / span,
          lastLoss: event.loss,
        });
        return;
      }
      case 'ack':
        if (event.outcome !== 'accepted') this.log(`Task ${event.leaseId} not counted (${event.outcome}${event.reason ? `: ${event.reason}` : ''}).`);
        return;
      case 'idle':
        this.update({ computing: false, message: `Waiting: ${event.reason}.` });
        return;
      case 'jobDone':
        this.shutdown();
        this.update({
          phase: 'done',
          computing: false,
          message: `The job is done${event.testAccuracy !== null ? `: test accuracy ${(100 * event.testAccuracy).toFixed(2)}%` : ''}. Thank you!`,
        });
        return;
      case 'error':
        this.log(event.message);
        // A fatal error (an untrusted coordinator, a ban, another job) does not heal by reconnecting: stop.
        if (event.fatal) this.fail(event.message);
        return;
    }
  }

  /** Everything needed to check this contributor's credit offline (`npm run ledger -- receipts LOG FILE`). */
  private onRoute(route: LinkRoute | null): void {
    const said = this.state.route ? describeRoute(this.state.route) : null;
    this.update({ route });
    if (route && describeRoute(route) !== said) this.log(`Connected to the coordinator ${describeRoute(route)}.`);
  }

  /** Hand this key's credit in the job to the key whose code was pasted (another browser of the visitor's): signed here, recorded by the coordinator. */
  async handCreditTo(pastedCode: string): Promise<{ toKey: PublicKeyText; taken: LinkTaken }> {
    if (!this.identity) throw new Error('this browser has no contributor key yet: it is made when contributing starts');
    return handCreditOn(this.identity, this.options.job.id, pastedCode);
  }

  receiptsFile(): { jobId: string; contributorId: string | null; coordinatorKey: string | null; receipts: ReceiptBody[] } {
    return { jobId: this.options.job.id, contributorId: this.state.contributorId, coordinatorKey: this.pinnedCoordinatorKey, receipts: [...this.receipts] };
  }

  private async checkReceipt(receipt: ReceiptBody): Promise<void> {
    const sent = this.sentHashes.get(receipt.leaseId);
    const problem = await receiptProblem(
      receipt,
      { jobId: this.options.job.id, coordinatorKey: this.pinnedCoordinatorKey!, contributorId: this.state.contributorId ?? undefined, resultHash: sent },
      { hash: async (d) => new Uint8Array(await crypto.subtle.digest('SHA-256', d as BufferSource)), verify: webVerify },
    );
    const credit = { ...this.state.credit };
    if (problem) {
      credit.failed++;
      this.log(`The receipt for task ${receipt.leaseId} does not verify: ${problem}.`);
    } else {
      this.sentHashes.delete(receipt.leaseId);
      if (this.receipts.length < MAX_RECEIPTS) this.receipts.push(receipt);
      credit.receipts++;
      credit.examples += receipt.examples;
      credit.lastHead = { size: receipt.treeHead.size, rootHash: receipt.treeHead.rootHash };
    }
    this.update({ credit });
  }

  private shutdown(): void {
    this.link?.stop('contributor stopped');
    this.link = null;
    this.session = null;
    this.worker?.terminate();
    this.worker = null;
  }

  private fail(message: string): void {
    this.shutdown();
    this.update({ phase: 'failed', message, computing: false });
  }

  private log(line: string): void {
    this.options.onLog?.(line);
  }

  private update(patch: Partial<ContributorState>): void {
    Object.assign(this.state, patch);
    this.options.onState({ ...this.state });
  }
}
