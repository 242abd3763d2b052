// The I/O around the coordinator's state machine: contributor connections in, decisions
// out (messages, disconnects), evaluations in a worker thread, checkpoints to disk, a tick
// for lease deadlines. Nothing here decides anything about training.

import type { Coordinator } from '../coordinator/coordinator.ts';
import { serializeCheckpoint } from '../coordinator/checkpoint.ts';
import { writeCheckpoint } from '../coordinator/checkpointStore.ts';
import type { CoordinatorEvent, Decisions } from '../coordinator/decisions.ts';
import type { FrameChannel } from '../net/frameChannel.ts';
import { coordinatorSide, maxMessageBytesFor, type ProtocolConnection } from '../protocol/connection.ts';
import type { ContributorMessage, CoordinatorMessage } from '../protocol/messages.ts';
import type { EvaluationThread } from './evaluationThread.ts';
import type { LedgerFile } from './ledgerFile.ts';
import type { ResultCheckPool } from './resultCheckPool.ts';

export interface HostOptions {
  coordinator: Coordinator;
  evaluation: EvaluationThread;
  checkpointDir: string;
  /** Every event, after the coordinator made it (status, console, ledger). */
  onEvent: (event: CoordinatorEvent) => void;
  onEvaluation?: (version: number, accuracy: number, loss: number) => void;
  /** A next-token job's text sample of an evaluated version (asked with the evaluation; skipped while one is being written). */
  onSample?: (version: number, text: string) => void;
  /** The transparency log: every event is recorded, and each closed round's receipts are sent to the contributors counted in it. */
  ledger?: Pick<LedgerFile, 'record'>;
  tickMs?: number;
  log?: (line: string) => void;
  /** Worker threads for results' hash, signature and decode checks; without them the coordinator's thread checks. */
  resultChecks?: Pick<ResultCheckPool, 'check'>;
}

type Connection = ProtocolConnection<ContributorMessage, CoordinatorMessage>;

export class CoordinatorHost {
  private readonly connections = new Map<string, Connection>();
  /** A peer's inputs queued behind a result whose checks are out in a thread: each peer's messages reach the coordinator in order. */
  private readonly queues = new Map<string, Promise<void>>();
  /** Which peer each connected contributor speaks through (from joined/left events): where receipts go. */
  private readonly peerOfContributor = new Map<string, string>();
  /** Protocol bytes of connections already closed; live ones are summed on demand. */
  private readonly closedTraffic = { bytesSent: 0, bytesReceived: 0 };
  private readonly timer: ReturnType<typeof setInterval>;
  /** Checkpoints are written one at a time, in order. */
  private checkpointWrites: Promise<unknown> = Promise.resolve();
  /** Whether the evaluation thread is busy; the newest request waiting for it; requests that could not be skipped. */
  private evaluating = false;
  private queuedEvaluation: Extract<CoordinatorEvent, { type: 'evaluate' }> | null = null;
  private readonly extraEvaluations: Extract<CoordinatorEvent, { type: 'evaluate' }>[] = [];
  /** The text sample being written (one at a time), or the last one written, with its version. */
  private sample: { version: number; text: Promise<string>; pending: boolean } | null = null;
  private readonly log: (line: string) => void;
  readonly done: Promise<Extract<CoordinatorEvent, { type: 'jobDone' }>>;
  private resolveDone!: (event: Extract<CoordinatorEvent, { type: 'jobDone' }>) => void;
  private rejectDone!: (error: Error) => void;

  constructor(private readonly options: HostOptions) {
    this.log = options.log ?? ((line) => console.log(line));
    this.done = new Promise((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    this.apply(options.coordinator.start(Date.now()));
    this.timer = setInterval(() => this.apply(this.options.coordinator.tick(Date.now())), options.tickMs ?? 200);
  }

  /** The text of `version`'s sample when one was asked for with its evaluation (written, or being written), else null. */
  sampleOf(version: number): Promise<string> | null {
    return this.sample?.version === version ? this.sample.text : null;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** A contributor's data channel opened. */
  attach(channel: FrameChannel): void {
    const peer = channel.peerId;
    const { coordinator } = this.options;
    const conn = coordinatorSide(channel, maxMessageBytesFor(coordinator.layout.total), {
      onMessage: (message) => this.inOrder(peer, () => this.deliver(peer, message)),
      onClose: (reason) => {
        if (this.connections.get(peer) === conn) this.connections.delete(peer);
        this.closedTraffic.bytesSent += conn.bytesSent;
        this.closedTraffic.bytesReceived += conn.bytesReceived;
        this.inOrder(peer, () => this.apply(coordinator.leave(peer, reason, Date.now())));
      },
    });
    this.connections.get(peer)?.close('replaced by a new connection');
    this.connections.set(peer, conn);
    this.inOrder(peer, () => this.apply(coordinator.join(peer, Date.now())));
  }

  /** A message to the coordinator; a result goes through the check threads first, when there are some. */
  private deliver(peer: string, message: ContributorMessage): Promise<void> | void {
    const { coordinator, resultChecks } = this.options;
    const input = resultChecks ? coordinator.resultCheckInput(peer, message) : null;
    if (!resultChecks || !input) return this.apply(coordinator.receive(peer, message, Date.now()));
    return resultChecks.check(input).then(
      (checked) => this.apply(coordinator.receive(peer, message, Date.now(), checked)),
      (error) => {
        this.log(`result check thread failed (${(error as Error).message}); checking on the coordinator's thread`);
        this.apply(coordinator.receive(peer, message, Date.now()));
      },
    );
  }

  /** Runs `step` now when nothing of this peer's is waiting, else after what is. */
  private inOrder(peer: string, step: () => Promise<void> | void): void {
    const queued = this.queues.get(peer);
    const next = queued ? queued.then(step) : step();
    if (!next) return;
    const tail: Promise<void> = next
      .catch((error) => this.log(`could not handle a message of ${peer}: ${(error as Error).message}`))
      .then(() => {
        if (this.queues.get(peer) === tail) this.queues.delete(peer);
      });
    this.queues.set(peer, tail);
  }

  /** Message bytes sent to and received from contributors since this process started. */
  traffic(): { bytesSent: number; bytesReceived: number } {
    let { bytesSent, bytesReceived } = this.closedTraffic;
    for (const conn of this.connections.values()) {
      bytesSent += conn.bytesSent;
      bytesReceived += conn.bytesReceived;
    }
    return { bytesSent, bytesReceived };
  }

  /** Wait for checkpoint writes in flight, then stop ticking and close every connection once what was sent on it has gone out. */
  async close(reason: string): Promise<void> {
    clearInterval(this.timer);
    await Promise.all(this.queues.values());
    await this.checkpointWrites;
    await Promise.all([...this.connections.values()].map((conn) => conn.closeWhenSent(reason)));
  }

  /** Carry out decisions in order: per-peer message order is the coordinator's order. */
  private apply(d: Decisions): void {
    for (const { to, message } of d.send) {
      const conn = this.connections.get(to);
      conn?.send(message).catch((error) => this.log(`could not send ${message.type} to ${to}: ${(error as Error).message}`));
    }
    for (const { peer, code, reason } of d.disconnect) {
      void this.connections.get(peer)?.closeWhenSent(code ? `${code}: ${reason}` : reason);
    }
    for (const event of d.events) this.handle(event);
  }

  private runEvaluation(event: Extract<CoordinatorEvent, { type: 'evaluate' }>): void {
    this.evaluating = true;
    const { evaluation, onSample } = this.options;
    // The thread copies the parameters now and answers in order: the sample waits behind this evaluation, never in front of it.
    const evaluated = evaluation.evaluate(event.params);
    if (onSample && evaluation.samples && !this.sample?.pending) {
      const sample = { version: event.version, text: evaluation.sample(event.params), pending: true };
      this.sample = sample;
      sample.text
        .then((text) => onSample(event.version, text), (error) => this.log(`could not sample text at version ${event.version}: ${(error as Error).message}`))
        .finally(() => (sample.pending = false));
    }
    evaluated.then(
      (r) => {
        this.evaluating = false;
        this.options.onEvaluation?.(event.version, r.accuracy, r.loss);
        this.apply(this.options.coordinator.recordEvaluation(event.version, r, Date.now()));
        const next = this.queuedEvaluation ?? this.extraEvaluations.shift() ?? null;
        if (next === this.queuedEvaluation) this.queuedEvaluation = null;
        if (next && !this.evaluating) this.runEvaluation(next);
      },
      // Without evaluations the run can never decide to stop: fail it loudly instead.
      (error) => this.rejectDone(new Error(`evaluation of version ${event.version} failed: ${(error as Error).message}`)),
    );
  }

  private handle(event: CoordinatorEvent): void {
    this.options.onEvent(event);
    this.recordInLedger(event);
    switch (event.type) {
      case 'evaluate':
        // One evaluation at a time, and only the newest waits: when rounds close faster than
        // the test set is evaluated, the versions in between are skipped, not queued.
        if (this.evaluating) {
          if (this.queuedEvaluation && this.options.coordinator.skipEvaluation(this.queuedEvaluation.version)) this.queuedEvaluation = null;
          if (this.queuedEvaluation === null) this.queuedEvaluation = event;
          else this.extraEvaluations.push(event); // a final evaluation behind one that cannot be skipped
          return;
        }
        this.runEvaluation(event);
        return;
      case 'checkpoint': {
        const bytes = serializeCheckpoint(event.state);
        this.checkpointWrites = this.checkpointWrites
          .then(() => writeCheckpoint(this.options.checkpointDir, event.round, bytes))
          .catch((error) => this.log(`checkpoint of round ${event.round} failed: ${(error as Error).message}`));
        return;
      }
      case 'joined':
        this.peerOfContributor.set(event.contributorId, event.peer);
        return;
      case 'left':
        if (event.contributorId && this.peerOfContributor.get(event.contributorId) === event.peer) this.peerOfContributor.delete(event.contributorId);
        return;
      case 'internalError':
        this.log(`coordinator bug (peer ${event.peer}): ${event.message}\n${event.stack ?? ''}`);
        return;
      case 'jobDone':
        this.resolveDone(event);
        return;
      default:
        return;
    }
  }

  private recordInLedger(event: CoordinatorEvent): void {
    const { ledger } = this.options;
    if (!ledger) return;
    let receipts;
    try {
      receipts = ledger.record(event);
    } catch (error) {
      // The log is the record of who did what: without it the run must not go on.
      this.rejectDone(new Error(`the ledger could not record a ${event.type} event: ${(error as Error).message}`));
      return;
    }
    for (const { contributorId, receipt } of receipts) {
      const conn = this.connections.get(this.peerOfContributor.get(contributorId) ?? '');
      conn?.send({ type: 'receipt', body: receipt, tensors: {} }).catch((error) => this.log(`could not send a receipt to ${contributorId}: ${(error as Error).message}`));
    }
  }
}
