// The round scheduler: which examples a round covers, who holds which of them, and the
// exactly-once rule that decides whether a result counts. Pure: time comes in as `now`.
//
// Round r covers a contiguous window of its epoch's shuffled order (epochOrder(seed, epoch)):
// epoch = ⌊r / roundsPerEpoch⌋, positions [i·B, min((i+1)·B, N)) with i = r mod roundsPerEpoch.
// Every position of the window is in exactly one state: pending, held by one ACTIVE lease,
// or counted. Leases take pending positions; expiry, failure and departure give them back.
//
// Exactly-once rule. A result counts iff its lease belongs to the open round, the sender
// owns it, it was not answered before, its version is the lease's, and none of its
// positions is counted yet. An active lease always qualifies. An expired lease (deadline
// passed, or its contributor left) still qualifies while its positions are uncounted: it
// then takes them back from wherever they are, from pending or from the active leases that
// received them since, which are REVOKED (their other positions return to pending, and
// their own result will be a duplicate). So each position is aggregated exactly once.

import { epochOrder } from '../data/order.ts';
import { RangeSet, checkRanges, formatRanges, intersectRanges, rangeLength, subtractRanges, type PositionRange } from './ranges.ts';

export interface RoundPlan {
  seed: number;
  trainExamples: number;
  globalBatch: number;
  lease: { minExamples: number; maxExamples: number; targetSeconds: number; timeoutMs: number };
}

export interface RoundWindow {
  round: number;
  epoch: number;
  /** Positions [start, end) of the epoch's order. */
  start: number;
  end: number;
}

export function roundWindow(plan: RoundPlan, round: number): RoundWindow {
  if (!Number.isSafeInteger(round) || round < 0) throw new Error(`roundWindow: round must be an integer ≥ 0, got ${round}`);
  const perEpoch = Math.ceil(plan.trainExamples / plan.globalBatch);
  const epoch = Math.floor(round / perEpoch);
  const start = (round % perEpoch) * plan.globalBatch;
  return { round, epoch, start, end: Math.min(start + plan.globalBatch, plan.trainExamples) };
}

export type LeaseState = 'active' | 'expired' | 'revoked' | 'answered';

export interface LeaseRecord {
  id: string;
  contributorId: string;
  round: number;
  version: number;
  /** Positions of the epoch order this lease covers, sorted. */
  ranges: PositionRange[];
  count: number;
  grantedAt: number;
  deadline: number;
  state: LeaseState;
}

export interface LeaseGrant {
  lease: Readonly<LeaseRecord>;
  /** Training-set example indices, in position order. */
  indices: Uint32Array;
}

/** What the scheduler decided about a result or a failure report. */
export type LeaseVerdict =
  | { outcome: 'accepted'; lease: LeaseRecord; revoked: LeaseRecord[]; wasExpired: boolean }
  | { outcome: 'duplicate'; lease: LeaseRecord; reason: string }
  | { outcome: 'stale'; lease: LeaseRecord; reason: string }
  | { outcome: 'late'; leaseId: string; reason: string }
  | { outcome: 'unknown-lease'; leaseId: string; reason: string }
  | { outcome: 'not-your-lease'; leaseId: string; reason: string }
  | { outcome: 'released'; lease: LeaseRecord; returned: number };

export interface LeaseRequest {
  contributorId: string;
  /** Measured compute speed of this contributor. */
  examplesPerSecond: number;
  /** Measured speed from lease granted to result received (transfers and throttling included). */
  turnaroundExamplesPerSecond: number;
  /** The contributor's own limit (capabilities.maxBatch). */
  maxBatch: number;
  /** This contributor's part of the total speed of those present, in (0, 1]: sizes leases so a round's leases end together. */
  share: number;
}

/** Remembered leases of closed rounds, so a very late result is told 'late' rather than 'unknown'. */
const CLOSED_LEASE_MEMORY = 4096;
/** A lease is sized to come back, at the measured turnaround, within a third of its deadline. */
const DEADLINE_SHARE = 3;

/**
 * Lease size for a request, with `pending` positions left in a window of `windowSize`: the
 * round's share of this contributor, about targetSeconds of its work, back well inside the
 * deadline at its turnaround speed, within the job's bounds. Pure: `--plan` sizes leases with it too.
 */
export function leaseSizeFor(lease: RoundPlan['lease'], windowSize: number, pending: number, request: LeaseRequest): number {
  const { minExamples, maxExamples, targetSeconds, timeoutMs } = lease;
  // About targetSeconds of compute, and back well inside the deadline as results come back now.
  const bySpeed = Math.round(request.examplesPerSecond * targetSeconds);
  const byDeadline = Math.round((request.turnaroundExamplesPerSecond * timeoutMs) / 1000 / DEADLINE_SHARE);
  const byShare = Math.ceil(windowSize * Math.min(1, Math.max(0, request.share)));
  const limit = Math.min(maxExamples, request.maxBatch);
  let size = Math.max(minExamples, Math.min(bySpeed, byDeadline, byShare));
  size = Math.min(size, limit, pending);
  // A remainder smaller than a minimum lease would become a lease of its own: take it now.
  const left = pending - size;
  if (left > 0 && left < minExamples && pending <= limit) size = pending;
  return size;
}

export class RoundScheduler {
  private readonly leases = new Map<string, LeaseRecord>();
  /** The ACTIVE leases of the open round by contributor: assigning work asks for every contributor's after every result. */
  private readonly activeBy = new Map<string, Set<LeaseRecord>>();
  private readonly closedLeases = new Map<string, { contributorId: string; round: number }>();
  private pending = new RangeSet();
  private counted = new RangeSet();
  private accepted: LeaseRecord[] = [];
  private orderEpoch = -1;
  private order: Uint32Array = new Uint32Array(0);
  private window: RoundWindow;
  private nextLease = 1;

  constructor(
    private readonly plan: RoundPlan,
    round: number,
    private version: number,
    /** Makes lease ids unique across coordinator restarts. */
    private readonly instance: string,
  ) {
    this.window = roundWindow(plan, round);
    this.pending.add({ start: this.window.start, end: this.window.end });
  }

  get currentWindow(): Readonly<RoundWindow> {
    return this.window;
  }

  get currentVersion(): number {
    return this.version;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  get countedCount(): number {
    return this.counted.size;
  }

  get roundComplete(): boolean {
    return this.counted.size === this.window.end - this.window.start;
  }

  /** Leases of the open round, in the order they were granted. */
  roundLeases(): readonly LeaseRecord[] {
    return [...this.leases.values()];
  }

  lease(id: string): Readonly<LeaseRecord> | undefined {
    return this.leases.get(id);
  }

  activeLeasesOf(contributorId: string): LeaseRecord[] {
    return [...(this.activeBy.get(contributorId) ?? [])];
  }

  /** How many active leases the contributor holds, without building a list. */
  activeCount(contributorId: string): number {
    return this.activeBy.get(contributorId)?.size ?? 0;
  }

  /** The earliest deadline of an active lease of the open round, or null when none is active. */
  earliestActiveDeadline(): number | null {
    let earliest: number | null = null;
    for (const held of this.activeBy.values()) for (const l of held) if (earliest === null || l.deadline < earliest) earliest = l.deadline;
    return earliest;
  }

  /** Example indices of sorted positions of the current epoch. */
  indicesOf(ranges: readonly PositionRange[]): Uint32Array {
    if (this.orderEpoch !== this.window.epoch) {
      this.order = epochOrder(this.plan.seed, this.window.epoch, this.plan.trainExamples);
      this.orderEpoch = this.window.epoch;
    }
    const out = new Uint32Array(rangeLength(ranges));
    let k = 0;
    for (const r of ranges) for (let p = r.start; p < r.end; p++) out[k++] = this.order[p];
    return out;
  }

  /** Lease size for a request: see leaseSizeFor. */
  leaseSize(request: LeaseRequest): number {
    return leaseSizeFor(this.plan.lease, this.window.end - this.window.start, this.pending.size, request);
  }

  /**
   * Lease the next pending positions to a contributor, or null when nothing is pending. Positions
   * in `avoid` are not given to it (a suspect's examples it computed itself must be recomputed by
   * another key): null too when they are all that is pending.
   */
  leaseMicroBatch(request: LeaseRequest, now: number, avoid: readonly PositionRange[] = []): LeaseGrant | null {
    if (this.pending.isEmpty) return null;
    const open = avoid.length ? new RangeSet(subtractRanges(this.pending.toArray(), avoid)) : this.pending;
    if (open.isEmpty) return null;
    const size = leaseSizeFor(this.plan.lease, this.window.end - this.window.start, open.size, request);
    if (size < 1) return null;
    const ranges = open.takeFront(size);
    if (open !== this.pending) this.pending.removeAll(ranges);
    const lease: LeaseRecord = {
      id: `${this.instance}-r${this.window.round}-${this.nextLease++}`,
      contributorId: request.contributorId,
      round: this.window.round,
      version: this.version,
      ranges,
      count: size,
      grantedAt: now,
      deadline: now + this.plan.lease.timeoutMs,
      state: 'active',
    };
    this.leases.set(lease.id, lease);
    const held = this.activeBy.get(lease.contributorId);
    if (held) held.add(lease);
    else this.activeBy.set(lease.contributorId, new Set([lease]));
    return { lease, indices: this.indicesOf(ranges) };
  }

  /** Apply the exactly-once rule to a result (see the header); counts its positions when accepted. */
  acceptResult(contributorId: string, leaseId: string, version: number): LeaseVerdict {
    const found = this.find(contributorId, leaseId);
    if ('outcome' in found) return found;
    const lease = found;
    if (lease.state === 'answered') {
      return { outcome: 'duplicate', lease, reason: `lease ${leaseId} was already answered` };
    }
    if (version !== lease.version) {
      const returned = this.release(lease);
      return {
        outcome: 'stale',
        lease,
        reason: `lease ${leaseId} is for parameter version ${lease.version}, the result was computed on version ${version}${returned ? '; its examples go to someone else' : ''}`,
      };
    }
    if (this.counted.intersects(lease.ranges)) {
      this.settle(lease, 'answered');
      return { outcome: 'duplicate', lease, reason: `the examples of lease ${leaseId} were already counted from another lease` };
    }
    const wasExpired = lease.state !== 'active';
    const revoked: LeaseRecord[] = [];
    if (wasExpired) {
      this.pending.removeAll(lease.ranges);
      for (const other of this.leases.values()) {
        if (other === lease || other.state !== 'active' || intersectRanges(other.ranges, lease.ranges).length === 0) continue;
        this.settle(other, 'revoked');
        this.pending.addAll(subtractRanges(other.ranges, lease.ranges));
        revoked.push(other);
      }
    }
    this.settle(lease, 'answered');
    this.counted.addAll(lease.ranges);
    this.accepted.push(lease);
    return { outcome: 'accepted', lease, revoked, wasExpired };
  }

  /**
   * An accepted result was found bad before its round closed (its contributor was banned):
   * it no longer counts, and its positions go back to pending for someone else. The lease
   * stays answered, so it can never count again.
   */
  uncount(leaseId: string): boolean {
    const i = this.accepted.findIndex((l) => l.id === leaseId);
    if (i < 0) return false;
    const [lease] = this.accepted.splice(i, 1);
    this.counted.removeAll(lease.ranges);
    this.pending.addAll(lease.ranges);
    return true;
  }

  /** The contributor gave a lease up (it failed, or sent an unusable result): its positions go back to pending. */
  failLease(contributorId: string, leaseId: string): LeaseVerdict {
    const found = this.find(contributorId, leaseId);
    if ('outcome' in found) return found;
    if (found.state === 'answered') return { outcome: 'duplicate', lease: found, reason: `lease ${leaseId} was already answered` };
    return { outcome: 'released', lease: found, returned: this.release(found) };
  }

  /** Active leases past their deadline become expired: their positions go back to pending. */
  expireLeases(now: number): LeaseRecord[] {
    const expired: LeaseRecord[] = [];
    for (const lease of this.leases.values()) {
      if (lease.state === 'active' && lease.deadline <= now) {
        this.settle(lease, 'expired');
        this.pending.addAll(lease.ranges);
        expired.push(lease);
      }
    }
    return expired;
  }

  /** A contributor left: its active leases expire now (a resumed contributor may still answer them). */
  contributorLeft(contributorId: string): LeaseRecord[] {
    const returned = this.activeLeasesOf(contributorId);
    for (const lease of returned) {
      this.settle(lease, 'expired');
      this.pending.addAll(lease.ranges);
    }
    return returned;
  }

  /** Accepted leases of the open round, sorted by position: the order the aggregator sums in. */
  acceptedLeases(): LeaseRecord[] {
    return [...this.accepted].sort((a, b) => a.ranges[0].start - b.ranges[0].start);
  }

  /** Close the complete round and open the next one, for parameter version `nextVersion`. */
  advance(nextVersion: number): void {
    if (!this.roundComplete) {
      throw new Error(`Round ${this.window.round} cannot close: ${this.counted.size} of ${this.window.end - this.window.start} examples are counted`);
    }
    for (const lease of this.leases.values()) {
      this.closedLeases.set(lease.id, { contributorId: lease.contributorId, round: lease.round });
      if (this.closedLeases.size > CLOSED_LEASE_MEMORY) this.closedLeases.delete(this.closedLeases.keys().next().value!);
    }
    this.leases.clear();
    this.activeBy.clear();
    this.accepted = [];
    this.counted = new RangeSet();
    this.window = roundWindow(this.plan, this.window.round + 1);
    this.version = nextVersion;
    this.pending = new RangeSet([{ start: this.window.start, end: this.window.end }]);
  }

  /**
   * Throws if the state breaks the partition invariant: pending, active leases and counted
   * positions are disjoint and together make up the window. Tests call it after every step.
   */
  checkInvariants(): void {
    const { start, end, round } = this.window;
    const where = `round ${round}`;
    const parts: PositionRange[][] = [this.pending.toArray(), this.counted.toArray()];
    for (const lease of this.leases.values()) {
      checkRanges(lease.ranges, start, end, `${where}, lease ${lease.id}`);
      if (lease.state === 'active') parts.push(lease.ranges);
    }
    const indexed = [...this.activeBy.values()].reduce((n, held) => n + held.size, 0);
    const active = [...this.leases.values()].filter((l) => l.state === 'active');
    if (indexed !== active.length || active.some((l) => !this.activeBy.get(l.contributorId)?.has(l))) {
      throw new Error(`${where}: the index of active leases holds ${indexed}, but ${active.length} leases are active`);
    }
    const all = new RangeSet();
    for (const part of parts) {
      for (const r of part) {
        try {
          all.add(r);
        } catch {
          throw new Error(`${where}: position range [${r.start}, ${r.end}) is in two states at once (pending ${formatRanges(this.pending.toArray())}, counted ${formatRanges(this.counted.toArray())})`);
        }
      }
    }
    const covered = all.toArray();
    if (covered.length !== 1 || covered[0].start !== start || covered[0].end !== end) {
      throw new Error(`${where}: pending, leased and counted positions ${formatRanges(covered)} do not make up the window [${start}, ${end})`);
    }
  }

  private find(contributorId: string, leaseId: string): LeaseRecord | Extract<LeaseVerdict, { leaseId: string }> {
    const lease = this.leases.get(leaseId);
    if (!lease) {
      const closed = this.closedLeases.get(leaseId);
      if (closed && closed.contributorId === contributorId) {
        return { outcome: 'late', leaseId, reason: `round ${closed.round} of lease ${leaseId} closed before its result arrived` };
      }
      if (closed) return { outcome: 'not-your-lease', leaseId, reason: `lease ${leaseId} belongs to another contributor` };
      return { outcome: 'unknown-lease', leaseId, reason: `no lease ${leaseId} was granted by this coordinator (or it is too old to remember)` };
    }
    if (lease.contributorId !== contributorId) {
      return { outcome: 'not-your-lease', leaseId, reason: `lease ${leaseId} belongs to another contributor` };
    }
    return lease;
  }

  /** Give an unanswered lease's positions back to pending if it still holds them; it will not count. */
  private release(lease: LeaseRecord): number {
    const returned = lease.state === 'active' ? lease.count : 0;
    if (returned) this.pending.addAll(lease.ranges);
    this.settle(lease, 'answered');
    return returned;
  }

  /** Every change of a lease's state goes through here, so the index of active leases stays true. */
  private settle(lease: LeaseRecord, state: Exclude<LeaseState, 'active'>): void {
    if (lease.state === 'active') {
      const held = this.activeBy.get(lease.contributorId)!;
      held.delete(lease);
      if (held.size === 0) this.activeBy.delete(lease.contributorId);
    }
    lease.state = state;
  }
}
