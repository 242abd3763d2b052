// Who is connected and what the coordinator knows of each contributor: capabilities,
// availability, which parameter version it holds, its measured speed and its credit.
// Credit survives disconnects (a contributor may resume by id) and checkpoints.

import type { Capabilities } from '../protocol/messages.ts';
import type { ContributorCredit } from './records.ts';

export interface Contributor {
  id: string;
  /** The connection it speaks through now; null while disconnected. */
  peer: string | null;
  capabilities: Capabilities;
  paused: boolean;
  /** Parameter version last sent to it on its current connection. */
  knownVersion: number | null;
  /**
   * Examples per second of its compute: from the computeMs its results report (lease granted →
   * result received for a result that reports none). Sizes leases to about targetSeconds of work.
   */
  speed: number;
  /**
   * Examples per second as the coordinator sees them: lease granted → result received, with the
   * transfers, queueing and any throttling. Only bounds a lease so that it ends well inside its
   * deadline: sizing by it would shrink leases on a slow link until the fixed cost of each result
   * (a whole gradient to upload) is all there is.
   */
  turnaround: number;
  /** It was told there is no work, and has not been given any since. */
  toldIdle: boolean;
  /**
   * A lease of it expired and it has not been heard from since: no new lease until it
   * speaks, so a peer that vanished without closing stalls one round, not every round.
   */
  silent: boolean;
  credit: ContributorCredit;
}

/** How fast a speed estimate follows new measurements. */
const SPEED_SMOOTHING = 0.5;
/** Below this, a lease of the job's minimum size would outlast any sensible deadline anyway. */
const MIN_SPEED = 1;

export class ContributorRegistry {
  private readonly byId = new Map<string, Contributor>();
  /** Credits of contributors not seen since the last restart, kept for resumes. */
  private readonly dormant = new Map<string, ContributorCredit>();
  private readonly peers = new Map<string, { contributorId: string | null }>();

  constructor(
    private readonly instance: string,
    private nextNumber: number,
    credits: readonly ContributorCredit[],
  ) {
    for (const c of credits) this.dormant.set(c.id, { ...c });
  }

  get nextContributorNumber(): number {
    return this.nextNumber;
  }

  hasPeer(peer: string): boolean {
    return this.peers.has(peer);
  }

  addPeer(peer: string): void {
    this.peers.set(peer, { contributorId: null });
  }

  /** The contributor speaking through this peer, or null before its hello. */
  ofPeer(peer: string): Contributor | null {
    const id = this.peers.get(peer)?.contributorId;
    return id ? (this.byId.get(id) ?? null) : null;
  }

  /**
   * Attach a contributor to a peer after its hello. A resume id that names a known contributor
   * with no live connection continues that contributor; otherwise a new id is issued and
   * `note` says why the resume was refused.
   */
  attach(peer: string, capabilities: Capabilities, resumeId: string | undefined, publicKey: string): { contributor: Contributor; resumed: boolean; note?: string } {
    let note: string | undefined;
    if (resumeId !== undefined) {
      const known = this.byId.get(resumeId);
      const credit = known?.credit ?? this.dormant.get(resumeId);
      if (known?.peer) note = `contributor ${resumeId} is connected on another peer; this peer gets a new id`;
      else if (!credit) note = `contributor ${resumeId} is unknown here; this peer gets a new id`;
      else if (credit.publicKey !== publicKey) note = `contributor ${resumeId} signs with another key; this peer gets a new id`;
      else {
        const contributor = this.connect(resumeId, peer, capabilities, credit);
        this.dormant.delete(resumeId);
        return { contributor, resumed: true };
      }
    }
    const id = `c${this.nextNumber++}-${this.instance}`;
    const credit: ContributorCredit = { id, leases: 0, examples: 0, uncounted: 0, device: '', backend: '', publicKey };
    return { contributor: this.connect(id, peer, capabilities, credit), resumed: false, ...(note ? { note } : {}) };
  }

  private connect(id: string, peer: string, capabilities: Capabilities, credit: ContributorCredit): Contributor {
    credit.device = capabilities.device;
    credit.backend = capabilities.backend;
    const contributor: Contributor = {
      id,
      peer,
      capabilities,
      paused: false,
      knownVersion: null,
      speed: Math.max(MIN_SPEED, capabilities.examplesPerSecond),
      turnaround: Math.max(MIN_SPEED, capabilities.examplesPerSecond),
      toldIdle: false,
      silent: false,
      credit,
    };
    this.byId.delete(id); // re-insert: join order is the order leases are handed out
    this.byId.set(id, contributor);
    this.peers.set(peer, { contributorId: id });
    return contributor;
  }

  /** The peer is gone; its contributor (if any) stays known, disconnected. */
  removePeer(peer: string): Contributor | null {
    const contributor = this.ofPeer(peer);
    this.peers.delete(peer);
    if (contributor) {
      contributor.peer = null;
      contributor.knownVersion = null;
    }
    return contributor;
  }

  /** Contributors that can take work: connected, welcomed, not paused, not silent; in join order. */
  available(): Contributor[] {
    return [...this.byId.values()].filter((c) => c.peer !== null && !c.paused && !c.silent);
  }

  connected(): Contributor[] {
    return [...this.byId.values()].filter((c) => c.peer !== null);
  }

  get(id: string): Contributor | undefined {
    return this.byId.get(id);
  }

  /** The credit record of any contributor ever seen, connected or not. */
  credit(id: string): ContributorCredit | undefined {
    return this.byId.get(id)?.credit ?? this.dormant.get(id);
  }

  /** A result of `examples` came back `elapsedMs` after its lease was granted; the contributor says it computed for `computeMs` (0: not said). */
  measured(contributor: Contributor, examples: number, computeMs: number, elapsedMs: number): void {
    const smooth = (previous: number, ms: number) => Math.max(MIN_SPEED, SPEED_SMOOTHING * ((examples * 1000) / Math.max(1, ms)) + (1 - SPEED_SMOOTHING) * previous);
    // Compute cannot take longer than the whole turnaround: a larger claim is a clock problem.
    contributor.speed = smooth(contributor.speed, computeMs > 0 ? Math.min(computeMs, elapsedMs) : elapsedMs);
    contributor.turnaround = smooth(contributor.turnaround, elapsedMs);
  }

  /** A lease ran out: assume it is half as fast as thought, so its next lease is smaller, and wait until it speaks. */
  leaseExpired(contributor: Contributor): void {
    contributor.speed = Math.max(MIN_SPEED, contributor.speed / 2);
    contributor.turnaround = Math.max(MIN_SPEED, contributor.turnaround / 2);
    contributor.silent = true;
  }

  credits(): ContributorCredit[] {
    return [...[...this.byId.values()].map((c) => c.credit), ...this.dormant.values()].map((c) => ({ ...c }));
  }
}
