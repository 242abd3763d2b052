import { describe, expect, it } from 'vitest';
import { epochOrder } from '../data/order.ts';
import { RoundScheduler, roundWindow, type LeaseRequest, type RoundPlan } from './rounds.ts';

const plan: RoundPlan = {
  seed: 3,
  trainExamples: 250,
  globalBatch: 100,
  lease: { minExamples: 10, maxExamples: 60, targetSeconds: 1, timeoutMs: 1000 },
};

const ask = (contributorId: string, examplesPerSecond = 40, share = 1, maxBatch = 8192, turnaroundExamplesPerSecond = Number.POSITIVE_INFINITY): LeaseRequest => ({
  contributorId,
  examplesPerSecond,
  turnaroundExamplesPerSecond,
  maxBatch,
  share,
});

describe('roundWindow', () => {
  it('walks each epoch in global batches, the last one short', () => {
    expect(roundWindow(plan, 0)).toEqual({ round: 0, epoch: 0, start: 0, end: 100 });
    expect(roundWindow(plan, 2)).toEqual({ round: 2, epoch: 0, start: 200, end: 250 });
    expect(roundWindow(plan, 3)).toEqual({ round: 3, epoch: 1, start: 0, end: 100 });
    expect(() => roundWindow(plan, -1)).toThrow(/round must be an integer/);
  });
});

describe('RoundScheduler', () => {
  it('leases around positions to avoid, and gives nothing when they are all that is pending', () => {
    const s = new RoundScheduler(plan, 0, 0, 'x');
    const a = s.leaseMicroBatch(ask('a', 40), 0)!.lease; // [0, 40)
    s.acceptResult('a', a.id, 0);
    s.uncount(a.id); // [0, 40) pending again, before [40, 100)
    const b = s.leaseMicroBatch(ask('a', 30), 1, [{ start: 0, end: 40 }])!.lease;
    expect(b.ranges).toEqual([{ start: 40, end: 70 }]);
    const c = s.leaseMicroBatch(ask('a', 60), 1, [{ start: 0, end: 40 }])!.lease;
    expect(c.ranges).toEqual([{ start: 70, end: 100 }]);
    expect(s.leaseMicroBatch(ask('a', 60), 1, [{ start: 0, end: 40 }])).toBeNull();
    expect(s.leaseMicroBatch(ask('b', 60), 1)!.lease.ranges).toEqual([{ start: 0, end: 40 }]);
    s.checkInvariants();
  });

  it('uncounts an accepted lease found bad: its positions are pending again and it can never count again', () => {
    const s = new RoundScheduler(plan, 0, 0, 'x');
    const a = s.leaseMicroBatch(ask('a', 40), 0)!.lease;
    expect(s.acceptResult('a', a.id, 0).outcome).toBe('accepted');
    expect(s.countedCount).toBe(40);
    expect(s.uncount(a.id)).toBe(true);
    expect(s.countedCount).toBe(0);
    expect(s.pendingCount).toBe(100);
    expect(s.acceptedLeases()).toEqual([]);
    expect(s.acceptResult('a', a.id, 0).outcome).toBe('duplicate');
    expect(s.uncount(a.id)).toBe(false);
    s.checkInvariants();
    expect(s.leaseMicroBatch(ask('b', 40), 1)!.lease.ranges).toEqual([{ start: 0, end: 40 }]);
  });

  it('leases pending positions sized to speed, clamped, with a deadline and the epoch order', () => {
    const s = new RoundScheduler(plan, 0, 0, 'x');
    const a = s.leaseMicroBatch(ask('a', 40), 5)!;
    expect(a.lease.count).toBe(40);
    expect(a.lease.ranges).toEqual([{ start: 0, end: 40 }]);
    expect(a.lease.deadline).toBe(1005);
    expect([...a.indices]).toEqual([...epochOrder(3, 0, 250).subarray(0, 40)]);
    expect(s.leaseMicroBatch(ask('b', 1), 5)!.lease.count).toBe(10); // min
    expect(s.leaseMicroBatch(ask('c', 1000), 5)!.lease.count).toBe(50); // what is left (max 60)
    expect(s.leaseMicroBatch(ask('d'), 5)).toBeNull();
    expect(s.pendingCount).toBe(0);
    s.checkInvariants();
  });

  it('sizes a lease to the contributor share of the round, its maxBatch, and swallows a tiny remainder', () => {
    const s = new RoundScheduler(plan, 0, 0, 'x');
    expect(s.leaseSize(ask('a', 1000, 0.25))).toBe(25);
    expect(s.leaseSize(ask('a', 1000, 1, 7))).toBe(7);
    s.leaseMicroBatch(ask('a', 45), 0); // 55 left
    s.leaseMicroBatch(ask('b', 50), 0); // 5 left < min 10: taken too
    expect(s.pendingCount).toBe(0);
  });

  it('sizes by compute speed, not by a slow turnaround, unless the lease would not be back within a third of its deadline', () => {
    const s = new RoundScheduler(plan, 0, 0, 'x');
    // Fast compute, results back at 120 examples/s (a whole gradient to upload each time): a full share; 120 × 1 s / 3 = 40 bounds it.
    expect(s.leaseSize(ask('a', 1000, 1, 8192, 120))).toBe(40);
    expect(s.leaseSize(ask('a', 1000, 1, 8192, 1000))).toBe(60); // the job's max
    expect(s.leaseSize(ask('a', 20, 1, 8192, 1000))).toBe(20); // compute-bound
  });

  it('counts a result once; a second one is a duplicate', () => {
    const s = new RoundScheduler(plan, 0, 0, 'x');
    const a = s.leaseMicroBatch(ask('a', 60), 0)!;
    const v1 = s.acceptResult('a', a.lease.id, 0);
    expect(v1.outcome).toBe('accepted');
    expect(s.acceptResult('a', a.lease.id, 0).outcome).toBe('duplicate');
    expect(s.countedCount).toBe(60);
    s.checkInvariants();
  });

  it('rejects unknown leases, leases of others, and stale versions (giving the examples back)', () => {
    const s = new RoundScheduler(plan, 0, 7, 'x');
    const a = s.leaseMicroBatch(ask('a', 60), 0)!;
    expect(s.acceptResult('a', 'nope', 7).outcome).toBe('unknown-lease');
    expect(s.acceptResult('b', a.lease.id, 7).outcome).toBe('not-your-lease');
    const stale = s.acceptResult('a', a.lease.id, 6);
    expect(stale.outcome).toBe('stale');
    expect(s.pendingCount).toBe(100);
    expect(s.countedCount).toBe(0);
    expect(s.acceptResult('a', a.lease.id, 7).outcome).toBe('duplicate'); // answered already
    s.checkInvariants();
  });

  it('expires leases past the deadline and re-leases their positions', () => {
    const s = new RoundScheduler(plan, 0, 0, 'x');
    const a = s.leaseMicroBatch(ask('a', 60), 0)!;
    expect(s.expireLeases(999)).toEqual([]);
    expect(s.expireLeases(1000).map((l) => l.id)).toEqual([a.lease.id]);
    expect(s.pendingCount).toBe(100);
    const b = s.leaseMicroBatch(ask('b', 60), 1000)!;
    expect(b.lease.ranges).toEqual([{ start: 0, end: 60 }]);
    s.checkInvariants();
  });

  it('accepts a late result whose examples are uncounted, revokes the re-lease, and makes it a duplicate', () => {
    const s = new RoundScheduler(plan, 0, 0, 'x');
    const a = s.leaseMicroBatch(ask('a', 30), 0)!; // [0, 30)
    s.leaseMicroBatch(ask('z', 30), 0); // [30, 60)
    s.expireLeases(1000);
    // Pending is [0, 30) + [60, 100) + [30, 60) after z expired too: b gets [0, 50).
    const b = s.leaseMicroBatch(ask('b', 50), 1000)!;
    expect(b.lease.ranges).toEqual([{ start: 0, end: 50 }]);
    const late = s.acceptResult('a', a.lease.id, 0);
    expect(late.outcome).toBe('accepted');
    if (late.outcome !== 'accepted') return;
    expect(late.wasExpired).toBe(true);
    expect(late.revoked.map((l) => l.id)).toEqual([b.lease.id]);
    // b's positions outside a's go back to pending.
    expect(s.pendingCount).toBe(70);
    s.checkInvariants();
    expect(s.acceptResult('b', b.lease.id, 0).outcome).toBe('duplicate');
  });

  it('makes a late result a duplicate once any of its examples were counted from another lease', () => {
    const s = new RoundScheduler(plan, 0, 0, 'x');
    const a = s.leaseMicroBatch(ask('a', 60), 0)!;
    s.expireLeases(1000);
    const b = s.leaseMicroBatch(ask('b', 20), 1000)!; // [0, 20)
    expect(s.acceptResult('b', b.lease.id, 0).outcome).toBe('accepted');
    expect(s.acceptResult('a', a.lease.id, 0).outcome).toBe('duplicate');
    s.checkInvariants();
  });

  it('returns a departed contributor\'s leases, and still takes its result if it resumes in time', () => {
    const s = new RoundScheduler(plan, 0, 0, 'x');
    const a = s.leaseMicroBatch(ask('a', 60), 0)!;
    expect(s.contributorLeft('a').map((l) => l.id)).toEqual([a.lease.id]);
    expect(s.pendingCount).toBe(100);
    expect(s.acceptResult('a', a.lease.id, 0).outcome).toBe('accepted');
    s.checkInvariants();
  });

  it('failLease gives the examples back once; closed rounds answer late', () => {
    const s = new RoundScheduler(plan, 0, 0, 'x');
    const a = s.leaseMicroBatch(ask('a', 60), 0)!;
    const failed = s.failLease('a', a.lease.id);
    expect(failed).toMatchObject({ outcome: 'released', returned: 60 });
    expect(s.failLease('a', a.lease.id).outcome).toBe('duplicate');
    expect(s.failLease('b', a.lease.id).outcome).toBe('not-your-lease');
    const b = s.leaseMicroBatch(ask('b', 60), 0)!;
    const c = s.leaseMicroBatch(ask('c', 60), 0)!;
    expect(s.acceptResult('b', b.lease.id, 0).outcome).toBe('accepted');
    expect(s.acceptResult('c', c.lease.id, 0).outcome).toBe('accepted');
    expect(s.roundComplete).toBe(true);
    expect(s.acceptedLeases().map((l) => l.ranges[0].start)).toEqual([0, 60]);
    s.advance(1);
    expect(s.currentWindow).toEqual({ round: 1, epoch: 0, start: 100, end: 200 });
    expect(s.currentVersion).toBe(1);
    expect(s.acceptResult('b', b.lease.id, 0).outcome).toBe('late');
    expect(s.acceptResult('c', b.lease.id, 0).outcome).toBe('not-your-lease');
    expect(s.failLease('a', a.lease.id).outcome).toBe('late');
  });

  it('refuses to close an incomplete round', () => {
    const s = new RoundScheduler(plan, 0, 0, 'x');
    expect(() => s.advance(1)).toThrow(/cannot close: 0 of 100/);
  });

  it('gives lease ids that differ between instances', () => {
    const a = new RoundScheduler(plan, 0, 0, 'one').leaseMicroBatch(ask('a'), 0)!;
    const b = new RoundScheduler(plan, 0, 0, 'two').leaseMicroBatch(ask('a'), 0)!;
    expect(a.lease.id).not.toBe(b.lease.id);
    expect(a.lease.id).toMatch(/^[A-Za-z0-9._:-]+$/);
  });
});
