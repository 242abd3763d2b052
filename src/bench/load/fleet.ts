// Simulated contributors for the load simulation (scripts/bench-load.ts), run in a thread of
// their own: each is a real ContributorSession (the browser's protocol code: hello, welcome
// check, parameter deltas, leases, results hashed and signed with its own WebCrypto key)
// over a ThreadDataChannel to the coordinator's thread. Their gradients are real (the CPU
// backend on Fashion-MNIST, so spot checks and replication pass as they would for a browser);
// only the time a lease takes is simulated, from the contributor's speed.

import type { MessagePort } from 'node:worker_threads';
import { ContributorSession, type SessionTrainer } from '../../contributor/session.ts';
import type { InlineCpuModel } from '../../cpu/cpuModel.ts';
import { PortFrameChannel } from '../../net/portFrameChannel.ts';
import { contributorSide, maxMessageBytesFor } from '../../protocol/connection.ts';
import { generateWebKeyPair, type PublicKeyText } from '../../protocol/signing.ts';
import type { GradientResult, MicroBatch } from '../../worker/api.ts';
import { ThreadDataChannel } from './threadChannel.ts';

/** What the fleet reports: result-to-ack times (ms, on the coordinator's side of the channel) and counts. */
export interface FleetStats {
  ackMs: number[];
  resultsSent: number;
  acks: Record<string, number>;
  /** Examples of results the coordinator acked as accepted. */
  acceptedExamples: number;
  errors: string[];
  /** Milliseconds the fleet thread spent computing real gradients. */
  computeMs: number;
}

interface Member {
  session: ContributorSession;
  channel: ThreadDataChannel;
  /** Set when it vanished: its leases are never finished. */
  vanished: boolean;
  sentAt: Map<string, { at: number; examples: number }>;
}

export class Fleet {
  private readonly members = new Map<string, Member>();
  private stats: FleetStats = { ackMs: [], resultsSent: 0, acks: {}, acceptedExamples: 0, errors: [], computeMs: 0 };
  /** The version whose parameters the CPU model holds (every contributor holds the same bits of a version). */
  private loadedVersion = -1;

  constructor(
    private readonly cpu: InlineCpuModel,
    private readonly coordinatorKey: PublicKeyText,
  ) {}

  /** A contributor whose connection's far end is `port`, computing `speed` examples per second. */
  async connect(id: string, port: MessagePort, speed: number): Promise<void> {
    const identity = await generateWebKeyPair();
    const channel = new ThreadDataChannel(port);
    const frames = new PortFrameChannel('coordinator', channel);
    const conn = contributorSide(frames, maxMessageBytesFor(this.cpu.model.total), { onMessage: (m) => member.session.handle(m) });
    const held = new Map<number, Float32Array>();
    const trainer: SessionTrainer = {
      loadParameters: async (version, params) => {
        held.clear();
        held.set(version, params);
      },
      computeGradient: (batch) => this.compute(member, held, batch, speed),
      localSteps: () => Promise.reject(new Error('the load simulation runs every-step jobs only')),
    };
    const capabilities = { backend: 'cpu' as const, device: 'simulated CPU', fallbackAdapter: false, flopsPerMs: 1e5, examplesPerSecond: speed, maxBatch: 8192 };
    const session: ContributorSession = new ContributorSession(conn, trainer, { client: { name: 'load-simulation', version: '1' }, capabilities, identity, coordinatorKey: this.coordinatorKey }, (event) => {
      if (event.kind === 'result') {
        member.sentAt.set(event.leaseId, { at: channel.lastSentAt, examples: event.examples });
        this.stats.resultsSent++;
      } else if (event.kind === 'ack') {
        const sent = member.sentAt.get(event.leaseId);
        member.sentAt.delete(event.leaseId);
        // The ack's frame was handed over by the coordinator's thread at lastReceivedSentAt.
        if (sent) this.stats.ackMs.push(channel.lastReceivedSentAt - sent.at);
        this.stats.acks[event.outcome] = (this.stats.acks[event.outcome] ?? 0) + 1;
        if (event.outcome === 'accepted' && sent) this.stats.acceptedExamples += sent.examples;
      } else if (event.kind === 'error' && this.members.has(id) && this.stats.errors.length < 20) {
        // A closed tab's unfinished lease failing to send is the tab closing, not a fault.
        this.stats.errors.push(`${id}: ${event.message}`);
      }
    });
    const member: Member = { session, channel, vanished: false, sentAt: new Map() };
    this.members.set(id, member);
    await session.start();
  }

  /** Its tab closed: the channel closes (no bye). */
  close(id: string): void {
    const m = this.members.get(id);
    if (!m) return;
    this.members.delete(id);
    m.channel.close('the tab was closed');
  }

  /** Its network dropped: nothing more is sent or answered; the coordinator's side finds out when its channel times out. */
  vanish(id: string): void {
    const m = this.members.get(id);
    if (m) m.vanished = true;
  }

  /** The figures since the last take, and a fresh start. */
  take(): FleetStats {
    const s = this.stats;
    this.stats = { ackMs: [], resultsSent: 0, acks: {}, acceptedExamples: 0, errors: [], computeMs: 0 };
    return s;
  }

  private async compute(member: Member, held: Map<number, Float32Array>, batch: MicroBatch, speed: number): Promise<GradientResult> {
    const started = performance.now();
    const params = held.get(batch.version);
    if (!params) throw new Error(`no parameters of version ${batch.version}`);
    if (this.loadedVersion !== batch.version) {
      this.cpu.setParameters(params);
      this.loadedVersion = batch.version;
    }
    const g = this.cpu.gradient(batch.indices);
    const gradient = g.gradient.slice();
    const computeMs = performance.now() - started;
    this.stats.computeMs += computeMs;
    const simulatedMs = (1000 * batch.indices.length) / speed;
    await new Promise((ok) => setTimeout(ok, Math.max(0, simulatedMs - computeMs)));
    if (member.vanished) await new Promise(() => {}); // never answers
    return { version: batch.version, loss: g.loss, correct: g.correct, exampleCount: batch.indices.length, gradient, gpuTimeMs: null, wallTimeMs: simulatedMs, flops: 0, submits: 0, readbacks: 0, recoveries: 0 };
  }
}
