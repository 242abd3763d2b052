import { describe, expect, it } from 'vitest';
import type { CoordinatorMessage } from '../protocol/messages.ts';
import { deserializeCheckpoint, serializeCheckpoint } from './checkpoint.ts';
import { Coordinator } from './coordinator.ts';
import type { Decisions } from './decisions.ts';
import { eventsOf, hello, leaseGradient, merge, result, sentTo, testKey, testSigning, tinyJob } from './testSwarm.ts';
import type { Job } from './job.ts';

type Lease = Extract<CoordinatorMessage, { type: 'lease' }>;

function started(job: Job = tinyJob(), instance = 'T'): Coordinator {
  const c = new Coordinator({ job, instance, datasetUrl: '/data/fashion-mnist/', ...testSigning });
  c.start(0);
  return c;
}

function welcome(c: Coordinator, peer: string, examplesPerSecond = 32, now = 0): Decisions {
  c.join(peer, now);
  return c.receive(peer, hello(examplesPerSecond), now);
}

/** The lease a decision set gives a peer (exactly one). */
function leaseOf(d: Decisions, peer: string): Lease {
  const leases = sentTo(d, peer, 'lease');
  expect(leases, `one lease for ${peer}`).toHaveLength(1);
  return leases[0];
}

/** The last lease given to a peer, e.g. the first of the next round after finishRound. */
function lastLeaseOf(d: Decisions, peer: string): Lease {
  const leases = sentTo(d, peer, 'lease');
  expect(leases.length, `a lease for ${peer}`).toBeGreaterThan(0);
  return leases[leases.length - 1];
}

/** A correct result for a lease, computed on the coordinator's current parameters. */
function answer(c: Coordinator, peer: string, lease: Lease, now = 1): Decisions {
  return c.receive(peer, result(c.jobId, lease.body.leaseId, lease.body.version, lease.tensors.indices.length, leaseGradient(c.params, lease.tensors.indices)), now);
}

/** Answer leases as they come until the round closes; returns everything decided. */
function finishRound(c: Coordinator, peer: string, first: Lease): Decisions {
  const all: Decisions[] = [];
  let lease: Lease | undefined = first;
  const round = c.round;
  while (lease && c.round === round) {
    const d = answer(c, peer, lease);
    all.push(d);
    lease = sentTo(d, peer, 'lease')[0];
  }
  return merge(...all);
}

function ackOf(d: Decisions, peer: string) {
  const acks = sentTo(d, peer, 'ack');
  expect(acks).toHaveLength(1);
  return acks[0].body;
}

describe('Coordinator: joining', () => {
  it('welcomes a hello with the job, then sends parameters and a lease', () => {
    const c = started();
    const d = welcome(c, 'p1', 32);
    const w = sentTo(d, 'p1', 'welcome')[0].body;
    expect(w.contributorId).toMatch(/^c1-T$/);
    expect(w.job).toEqual({ id: c.jobId, name: 'tiny', model: { widths: [784, 4, 10], activation: 'relu' }, dataset: { format: 'fashion-mnist-idx-gz', url: '/data/fashion-mnist/' }, parameterCount: c.layout.total,
      sync: { mode: 'every-step' }, compression: { up: { scheme: 'f32' }, down: { scheme: 'f32' } },
    });
    expect(d.send.map((s) => s.message.type)).toEqual(['welcome', 'parameters', 'lease']);
    const p = sentTo(d, 'p1', 'parameters')[0];
    expect(p.body.version).toBe(0);
    expect(p.tensors.params).toEqual(c.params);
    const lease = leaseOf(d, 'p1');
    expect(lease.body).toMatchObject({ version: 0, round: 0, deadlineMs: 2000 });
    expect(lease.tensors.indices).toHaveLength(16); // 32 ex/s × 0.5 s
    expect(eventsOf(d, 'joined')[0]).toMatchObject({ peer: 'p1', contributorId: 'c1-T', resumed: false });
    expect(eventsOf(d, 'leaseGranted')[0]).toMatchObject({ contributorId: 'c1-T', count: 16, deadline: 2000 });
  });

  it('records the team a hello names with its join, and none when it names none', () => {
    const c = started();
    const h = hello(32);
    c.join('p1', 1);
    c.join('p2', 2);
    const named = c.receive('p1', { ...h, body: { ...h.body, team: 'Lab 1' } } as typeof h, 1);
    expect(eventsOf(named, 'joined')[0]).toMatchObject({ contributorId: 'c1-T', team: 'Lab 1' });
    expect(eventsOf(c.receive('p2', hello(32, 8192, undefined, testKey()), 2), 'joined')[0]).not.toHaveProperty('team');
  });

  it('answers anything before hello with an error and a disconnect, then ignores the peer', () => {
    const c = started();
    c.join('p1', 0);
    const d = c.receive('p1', result(c.jobId, 'x', 0, 1, new Float32Array(c.layout.total)), 0);
    expect(sentTo(d, 'p1', 'error')[0].body).toMatchObject({ code: 'not-welcome', fatal: true });
    expect(sentTo(d, 'p1', 'error')[0].body.message).toMatch(/before hello; say hello first/);
    expect(d.disconnect).toEqual([{ peer: 'p1', code: 'not-welcome', reason: expect.stringMatching(/before hello/) }]);
    expect(c.receive('p1', hello(), 1)).toEqual({ send: [], disconnect: [], events: [] });
    expect(c.leave('p1', 'closed', 2)).toEqual({ send: [], disconnect: [], events: [] });
    c.checkInvariants();
  });

  it('disconnects a second hello and gives its lease to someone else', () => {
    const c = started();
    welcome(c, 'p1', 200);
    welcome(c, 'p2', 200);
    const d = c.receive('p1', hello(), 1);
    expect(sentTo(d, 'p1', 'error')[0].body).toMatchObject({ code: 'malformed', fatal: true });
    expect(d.disconnect[0]).toMatchObject({ peer: 'p1', code: 'malformed' });
    expect(eventsOf(d, 'left')[0].returnedLeases).toHaveLength(1);
    c.checkInvariants();
  });

  it('lets a contributor resume by id when its old connection is gone, not while it is live', () => {
    const c = started();
    welcome(c, 'p1');
    c.join('p2', 0);
    const refused = c.receive('p2', hello(32, 8192, 'c1-T'), 0);
    expect(eventsOf(refused, 'joined')[0]).toMatchObject({ contributorId: 'c2-T', resumed: false, note: expect.stringMatching(/connected on another peer/) });
    c.leave('p1', 'network', 1);
    c.join('p3', 2);
    const resumed = c.receive('p3', hello(32, 8192, 'c1-T'), 2);
    expect(eventsOf(resumed, 'joined')[0]).toMatchObject({ contributorId: 'c1-T', resumed: true });
    c.join('p4', 3);
    expect(eventsOf(c.receive('p4', hello(32, 8192, 'c99-T'), 3), 'joined')[0].note).toMatch(/unknown here/);
  });

  it('replaces a connection that joins again under the same peer id', () => {
    const c = started();
    welcome(c, 'p1');
    const d = c.join('p1', 5);
    expect(eventsOf(d, 'left')[0]).toMatchObject({ peer: 'p1', contributorId: 'c1-T', reason: expect.stringMatching(/replaced/) });
    c.checkInvariants();
  });

  it('requires start, and join before receive', () => {
    const c = new Coordinator({ job: tinyJob(), instance: 'T', datasetUrl: '/d', ...testSigning });
    expect(() => c.join('p1', 0)).toThrow(/call start\(now\) first/);
    c.start(0);
    expect(() => c.start(0)).toThrow(/already started/);
    expect(() => c.receive('ghost', hello(), 0)).toThrow(/peer ghost never joined/);
    expect(() => new Coordinator({ job: tinyJob(), instance: 'a-b', datasetUrl: '/d', ...testSigning })).toThrow(/instance must be 1–32 letters or digits/);
  });
});

describe('Coordinator: results', () => {
  it('accepts a valid result, acks it, and leases more without resending unchanged parameters', () => {
    const c = started();
    const lease = leaseOf(welcome(c, 'p1'), 'p1');
    const before = c.params;
    const d = answer(c, 'p1', lease);
    expect(ackOf(d, 'p1')).toEqual({ leaseId: lease.body.leaseId, outcome: 'accepted' });
    expect(eventsOf(d, 'resultAccepted')[0]).toMatchObject({ leaseId: lease.body.leaseId, count: 16, afterExpiry: false });
    expect(sentTo(d, 'p1', 'parameters')).toHaveLength(0);
    expect(sentTo(d, 'p1', 'lease')).toHaveLength(1);
    expect(c.params).toBe(before); // the round is not over
    c.checkInvariants();
  });

  const bad: Array<[string, (c: Coordinator, l: Lease) => ReturnType<typeof result>, string, RegExp]> = [
    ['a gradient of the wrong length', (c, l) => result(c.jobId, l.body.leaseId, 0, 16, new Float32Array(c.layout.total - 1)), 'bad-shape', /the update has \d+ values, the model needs \d+/],
    ['a NaN gradient', (c, l) => result(c.jobId, l.body.leaseId, 0, 16, new Float32Array(c.layout.total).fill(NaN, 7, 8)), 'non-finite', /value at index 7 is NaN/],
    ['an infinite gradient', (c, l) => result(c.jobId, l.body.leaseId, 0, 16, new Float32Array(c.layout.total).fill(-Infinity, 3, 4)), 'non-finite', /value at index 3 is -Infinity/],
    ['the wrong example count', (c, l) => result(c.jobId, l.body.leaseId, 0, 15, new Float32Array(c.layout.total)), 'bad-shape', /for 15 examples, lease .* has 16/],
    ['more correct than examples', (c, l) => result(c.jobId, l.body.leaseId, 0, 16, new Float32Array(c.layout.total), 17), 'bad-shape', /claims 17 correct of 16/],
    ['an unknown lease', (c) => result(c.jobId, 'nope', 0, 16, new Float32Array(c.layout.total)), 'unknown-lease', /no lease nope was granted/],
  ];
  it.each(bad)('rejects %s with an error, leaves the model alone and re-leases the examples', (_what, build, code, pattern) => {
    const c = started();
    const lease = leaseOf(welcome(c, 'p1'), 'p1');
    const params = c.params.slice();
    const d = c.receive('p1', build(c, lease), 1);
    expect(ackOf(d, 'p1').outcome).toBe('rejected');
    const error = sentTo(d, 'p1', 'error')[0].body;
    expect(error).toMatchObject({ code, fatal: false });
    expect(error.message).toMatch(pattern);
    expect(eventsOf(d, 'resultRejected')[0]).toMatchObject({ outcome: 'rejected', code });
    expect(d.disconnect).toEqual([]);
    expect(c.params).toEqual(params);
    c.checkInvariants();
    if (code !== 'unknown-lease') {
      // The examples went back to pending, and the now-free contributor got them again.
      expect(leaseOf(d, 'p1').tensors.indices).toEqual(lease.tensors.indices);
    }
  });

  it('bans a key that answers another contributor\'s lease; the owner can still answer it', () => {
    const c = started();
    const l1 = leaseOf(welcome(c, 'p1'), 'p1');
    const thief = testKey();
    c.join('p2', 0);
    c.receive('p2', hello(32, 8192, undefined, thief), 0);
    const d = c.receive('p2', result(c.jobId, l1.body.leaseId, 0, 16, leaseGradient(c.params, l1.tensors.indices), 0, thief), 1);
    expect(ackOf(d, 'p2').outcome).toBe('rejected');
    expect(sentTo(d, 'p2', 'error').map((e) => e.body)).toEqual([
      expect.objectContaining({ code: 'not-your-lease', fatal: false }),
      expect.objectContaining({ code: 'banned', fatal: true }),
    ]);
    expect(eventsOf(d, 'contributorBanned')[0]).toMatchObject({ publicKey: thief.publicKey, check: 'not-your-lease', discardedLeases: [] });
    expect(d.disconnect).toEqual([expect.objectContaining({ peer: 'p2', code: 'banned' })]);
    expect(ackOf(answer(c, 'p1', l1), 'p1').outcome).toBe('accepted');
    // The banned key cannot come back, not even after a restart.
    c.leave('p2', 'closed', 2);
    c.join('p3', 3);
    const again = c.receive('p3', hello(32, 8192, undefined, thief), 3);
    expect(sentTo(again, 'p3', 'error')[0].body).toMatchObject({ code: 'banned', fatal: true });
    const restored = new Coordinator({ job: c.job, instance: 'U', datasetUrl: '/d', checkpoint: deserializeCheckpoint(serializeCheckpoint(c.checkpointState(4)), { jobId: c.jobId, parameterCount: c.layout.total, optimizer: c.job.optimizer.kind }, 'ck'), ...testSigning });
    restored.start(5);
    restored.join('p4', 5);
    expect(sentTo(restored.receive('p4', hello(32, 8192, undefined, thief), 5), 'p4', 'error')[0].body.code).toBe('banned');
  });

  it('bans a result labelled with another version than its lease\'s, and re-leases its examples', () => {
    const c = started();
    const lease = leaseOf(welcome(c, 'p1'), 'p1');
    const d = c.receive('p1', result(c.jobId, lease.body.leaseId, 3, 16, new Float32Array(c.layout.total)), 1);
    expect(ackOf(d, 'p1')).toMatchObject({ outcome: 'rejected', reason: expect.stringMatching(/version 0, the result was computed on version 3/) });
    expect(eventsOf(d, 'contributorBanned')[0]).toMatchObject({ check: 'wrong-version' });
    expect(d.disconnect.map((x) => x.peer)).toEqual(['p1']);
    c.leave('p1', 'closed', 1);
    c.join('p2', 2);
    expect(leaseOf(c.receive('p2', hello(32, 8192, undefined, testKey()), 2), 'p2').tensors.indices).toEqual(lease.tensors.indices);
    c.checkInvariants();
  });

  it('bans a result sent twice (a replay) and discards the accepted copy: its examples are pending again', () => {
    const c = started();
    const lease = leaseOf(welcome(c, 'p1'), 'p1');
    expect(ackOf(answer(c, 'p1', lease), 'p1').outcome).toBe('accepted');
    const again = answer(c, 'p1', lease);
    expect(eventsOf(again, 'resultRejected')[0]).toMatchObject({ check: 'replayed', code: 'replayed' });
    expect(eventsOf(again, 'contributorBanned')[0]).toMatchObject({ check: 'replayed', discardedLeases: [lease.body.leaseId] });
    c.checkInvariants();
    c.join('p2', 2);
    const d = c.receive('p2', hello(1000, 8192, undefined, testKey()), 2);
    expect(leaseOf(d, 'p2').tensors.indices).toEqual(lease.tensors.indices.constructor === Uint32Array ? expect.any(Uint32Array) : lease.tensors.indices);
    expect(leaseOf(d, 'p2').tensors.indices.length).toBe(64);
  });

  it('answers a result for a closed round as late', () => {
    const c = started();
    const l1 = leaseOf(welcome(c, 'p1', 100), 'p1'); // 50 of 64
    const l2 = leaseOf(welcome(c, 'p2', 100), 'p2'); // the other 14
    c.tick(2000); // both expire; p1 and p2 get nothing new until they speak
    const l3 = leaseOf(welcome(c, 'p3', 1000), 'p3'); // all 64
    answer(c, 'p3', l3);
    expect(c.round).toBe(1);
    expect(ackOf(answer(c, 'p1', l1), 'p1')).toMatchObject({ outcome: 'late', reason: expect.stringMatching(/round 0 .* closed before its result arrived/) });
    expect(ackOf(answer(c, 'p2', l2), 'p2').outcome).toBe('late');
  });
});

describe('Coordinator: leases come back', () => {
  it('re-leases examples of a failed lease, a departed contributor and an expired lease', () => {
    const c = started();
    const l1 = leaseOf(welcome(c, 'p1', 64), 'p1'); // 32
    const l2 = leaseOf(welcome(c, 'p2', 64), 'p2'); // 32: the round is fully leased
    const idle = welcome(c, 'p3', 64);
    expect(sentTo(idle, 'p3', 'idle')[0].body).toMatchObject({ retryMs: 2000 });

    const sorted = (a: ArrayLike<number>) => Array.from(a).sort((x, y) => x - y);
    const leased = (d: Decisions) => sorted(d.send.flatMap((s) => (s.message.type === 'lease' ? [...s.message.tensors.indices] : [])));

    const failed = c.receive('p1', { type: 'leaseFailed', body: { leaseId: l1.body.leaseId, reason: 'device lost' }, tensors: {} }, 10);
    expect(eventsOf(failed, 'leaseFailed')[0]).toMatchObject({ returned: 32, reason: 'device lost' });
    // p1 and p3 are free: they share the returned examples by speed (a third each of the round, 22 + 10).
    expect(eventsOf(failed, 'leaseGranted').map((e) => [e.contributorId, e.count])).toEqual([['c1-T', 22], ['c3-T', 10]]);
    expect(leased(failed)).toEqual(sorted(l1.tensors.indices));
    const l3 = leaseOf(failed, 'p3');

    const left = c.leave('p2', 'closed', 20);
    expect(eventsOf(left, 'left')[0].returnedLeases).toEqual([l2.body.leaseId]);
    expect(leased(left)).toEqual([]); // everyone still holds a lease
    c.checkInvariants();

    const expired = c.tick(10 + 2000);
    expect(eventsOf(expired, 'leaseExpired').map((e) => e.contributorId)).toEqual(['c1-T', 'c3-T']);
    // Silent since their leases expired: no new work for them until they speak.
    expect(eventsOf(expired, 'leaseGranted')).toEqual([]);
    c.checkInvariants();
    // p3 is alive after all: its late result counts, and it gets work sized to its halved speed (32 ex/s).
    const late = answer(c, 'p3', l3, 2100);
    expect(eventsOf(late, 'resultAccepted')[0]).toMatchObject({ contributorId: 'c3-T', afterExpiry: true });
    expect(eventsOf(late, 'leaseGranted').map((e) => [e.contributorId, e.count])).toEqual([['c3-T', 16]]);
    c.checkInvariants();
  });

  it('takes a late result of an expired lease once, revoking the re-lease', () => {
    const c = started();
    const l1 = leaseOf(welcome(c, 'p1', 128), 'p1'); // all 64
    c.receive('p1', { type: 'availability', body: { paused: true }, tensors: {} }, 1); // still computing, but no new work
    c.tick(2000);
    const l2 = leaseOf(welcome(c, 'p2', 128), 'p2');
    expect(l2.tensors.indices).toEqual(l1.tensors.indices);
    const d = answer(c, 'p1', l1, 2100);
    expect(eventsOf(d, 'resultAccepted')[0].afterExpiry).toBe(true);
    expect(eventsOf(d, 'leaseRevoked')[0]).toMatchObject({ leaseId: l2.body.leaseId, byLease: l1.body.leaseId });
    expect(eventsOf(d, 'roundClosed')).toHaveLength(1);
    expect(ackOf(answer(c, 'p2', l2, 2200), 'p2').outcome).toBe('late');
  });

  it('answers a failure report for an unknown lease or another contributor\'s with an error, changing nothing', () => {
    const c = started();
    const l1 = leaseOf(welcome(c, 'p1'), 'p1');
    welcome(c, 'p2');
    const unknown = c.receive('p2', { type: 'leaseFailed', body: { leaseId: 'nope', reason: 'x' }, tensors: {} }, 1);
    expect(sentTo(unknown, 'p2', 'error')[0].body).toMatchObject({ code: 'unknown-lease', fatal: false });
    const theirs = c.receive('p2', { type: 'leaseFailed', body: { leaseId: l1.body.leaseId, reason: 'x' }, tensors: {} }, 1);
    expect(sentTo(theirs, 'p2', 'error')[0].body).toMatchObject({ code: 'not-your-lease', fatal: false });
    expect(ackOf(answer(c, 'p1', l1), 'p1').outcome).toBe('accepted');
    c.checkInvariants();
  });

  it('gives a paused contributor no new lease until it resumes', () => {
    const c = started();
    const lease = leaseOf(welcome(c, 'p1'), 'p1');
    c.receive('p1', { type: 'availability', body: { paused: true }, tensors: {} }, 1);
    const d = answer(c, 'p1', lease, 2);
    expect(ackOf(d, 'p1').outcome).toBe('accepted');
    expect(sentTo(d, 'p1', 'lease')).toHaveLength(0);
    const resumed = c.receive('p1', { type: 'availability', body: { paused: false }, tensors: {} }, 3);
    expect(eventsOf(resumed, 'availability')[0].paused).toBe(false);
    expect(sentTo(resumed, 'p1', 'lease')).toHaveLength(1);
  });

  it('closes on bye and on a fatal error from the peer, and records a non-fatal one', () => {
    const c = started();
    welcome(c, 'p1');
    welcome(c, 'p2');
    const bye = c.receive('p1', { type: 'bye', body: { reason: 'tab closed' }, tensors: {} }, 1);
    expect(bye.disconnect).toEqual([{ peer: 'p1', code: null, reason: 'said bye: tab closed' }]);
    const note = c.receive('p2', { type: 'error', body: { code: 'internal', message: 'hiccup', fatal: false }, tensors: {} }, 2);
    expect(eventsOf(note, 'peerError')[0]).toMatchObject({ fromPeer: true, code: 'internal' });
    expect(note.disconnect).toEqual([]);
    const fatal = c.receive('p2', { type: 'error', body: { code: 'internal', message: 'out of memory', fatal: true }, tensors: {} }, 3);
    expect(fatal.disconnect[0]).toMatchObject({ peer: 'p2', code: null });
    c.checkInvariants();
  });
});

describe('Coordinator: rounds, evaluation, checkpoints and the end', () => {
  it('closes a round: one optimizer step, version + 1, parameters to everyone, requests on schedule', () => {
    const c = started();
    const l1 = leaseOf(welcome(c, 'p1', 1000), 'p1');
    welcome(c, 'p2', 1000);
    const before = c.params;
    const d = finishRound(c, 'p1', l1);
    const closed = eventsOf(d, 'roundClosed')[0];
    expect(closed.record).toMatchObject({ round: 0, epoch: 0, start: 0, end: 64, version: 0, exact: true, examples: 64 });
    expect(closed.newVersion).toBe(1);
    expect(c.version).toBe(1);
    expect(c.params).not.toEqual(before);
    expect(sentTo(d, 'p2', 'parameters')[0].body.version).toBe(1);
    expect(eventsOf(d, 'evaluate')).toHaveLength(0); // evaluateEvery 2
    const second = finishRound(c, 'p1', lastLeaseOf(d, 'p1'));
    expect(eventsOf(second, 'evaluate')[0]).toMatchObject({ version: 2, final: false });
    expect(eventsOf(second, 'checkpoint')[0]).toMatchObject({ round: 2 });
    expect(eventsOf(second, 'checkpoint')[0].state.round).toBe(2);
  });

  it('stops after the planned rounds: final evaluation, then jobDone to everyone', () => {
    const c = started(tinyJob({ stop: { rounds: 2 } }));
    let d = welcome(c, 'p1', 1000);
    welcome(c, 'p2', 1000);
    c.receive('p2', { type: 'availability', body: { paused: true }, tensors: {} }, 0);
    d = finishRound(c, 'p1', lastLeaseOf(d, 'p1'));
    d = finishRound(c, 'p1', lastLeaseOf(d, 'p1'));
    expect(c.state).toBe('finishing');
    const final = eventsOf(d, 'evaluate')[0];
    expect(final).toMatchObject({ version: 2, final: true });
    expect(sentTo(d, 'p2', 'idle')[0].body.reason).toMatch(/final evaluation/);
    const done = c.recordEvaluation(2, { loss: 0.5, accuracy: 0.75, count: 100 }, 10);
    expect(sentTo(done, 'p1', 'jobDone')[0].body).toMatchObject({ rounds: 2, testAccuracy: 0.75 });
    expect(sentTo(done, 'p2', 'jobDone')).toHaveLength(1);
    expect(eventsOf(done, 'jobDone')[0]).toMatchObject({ reason: 'rounds', version: 2, testAccuracy: 0.75 });
    expect(eventsOf(done, 'jobDone')[0].params).toBe(final.params);
    const late = welcome(c, 'p3');
    expect(late.send.map((s) => s.message.type)).toEqual(['welcome', 'jobDone']);
    expect(() => c.recordEvaluation(2, { loss: 0.5, accuracy: 0.75, count: 100 }, 11)).toThrow(/no evaluation of version 2 was requested/);
    const s = c.summary(20);
    expect(s).toMatchObject({ status: 'done', stopReason: 'rounds', rounds: 2, examples: 128, finalVersion: 2, finalTestAccuracy: 0.75, restarts: 0 });
    expect(s.coverage).toMatchObject({ exact: true, rounds: 2, problems: [] });
    expect(s.contributors.find((x) => x.id === 'c1-T')).toMatchObject({ leases: expect.any(Number), examples: 128 });
  });

  it('stops at the target accuracy with the evaluated parameters, even if training moved on', () => {
    const c = started(tinyJob({ stop: { rounds: 20, targetAccuracy: 0.9 } }));
    let d = welcome(c, 'p1', 1000);
    d = finishRound(c, 'p1', lastLeaseOf(d, 'p1'));
    d = finishRound(c, 'p1', lastLeaseOf(d, 'p1'));
    const asked = eventsOf(d, 'evaluate')[0];
    d = finishRound(c, 'p1', lastLeaseOf(d, 'p1')); // training continues meanwhile
    expect(c.recordEvaluation(asked.version, { loss: 1, accuracy: 0.5, count: 100 }, 5).events).toEqual([]);
    d = finishRound(c, 'p1', lastLeaseOf(d, 'p1'));
    const again = eventsOf(d, 'evaluate')[0];
    d = finishRound(c, 'p1', lastLeaseOf(d, 'p1'));
    const done = c.recordEvaluation(again.version, { loss: 0.3, accuracy: 0.93, count: 100 }, 6);
    const event = eventsOf(done, 'jobDone')[0];
    expect(event).toMatchObject({ reason: 'target-accuracy', version: 4, testAccuracy: 0.93 });
    expect(event.params).toBe(again.params);
    expect(c.version).toBe(5);
    const lateResult = answer(c, 'p1', lastLeaseOf(d, 'p1'));
    expect(ackOf(lateResult, 'p1').outcome).toBe('late');
  });

  it('stops at the target loss (a next-token model\'s validation loss), with that loss in the event', () => {
    const c = started(tinyJob({ stop: { rounds: 20, targetLoss: 1.88 } }));
    let d = welcome(c, 'p1', 1000);
    d = finishRound(c, 'p1', lastLeaseOf(d, 'p1'));
    d = finishRound(c, 'p1', lastLeaseOf(d, 'p1'));
    const asked = eventsOf(d, 'evaluate')[0];
    expect(c.recordEvaluation(asked.version, { loss: 2.1, accuracy: 0.4, count: 100 }, 5).events).toEqual([]);
    d = finishRound(c, 'p1', lastLeaseOf(d, 'p1'));
    d = finishRound(c, 'p1', lastLeaseOf(d, 'p1'));
    const again = eventsOf(d, 'evaluate')[0];
    const event = eventsOf(c.recordEvaluation(again.version, { loss: 1.87, accuracy: 0.45, count: 100 }, 6), 'jobDone')[0];
    expect(event).toMatchObject({ reason: 'target-loss', version: again.version, testAccuracy: 0.45, testLoss: 1.87 });
    expect(event.message).toMatch(/Reached a test loss of 1\.8700 \(target 1\.88\)/);
  });

  it('ends as diverged, model untouched, when a step would blow up', () => {
    const c = started(tinyJob({ optimizer: { kind: 'sgd', lr: 10, momentum: 0 } }));
    const lease = leaseOf(welcome(c, 'p1', 1000), 'p1');
    const before = c.params.slice();
    const d = c.receive('p1', result(c.jobId, lease.body.leaseId, 0, 64, new Float32Array(c.layout.total).fill(3e38)), 1);
    expect(eventsOf(d, 'jobDone')[0]).toMatchObject({ reason: 'diverged', version: 0, testAccuracy: null });
    expect(eventsOf(d, 'jobDone')[0].message).toMatch(/diverged in round 0.*Lower optimizer\.lr/);
    expect(c.params).toEqual(before);
    expect(c.state).toBe('done');
  });

  it('refuses a malformed evaluation result', () => {
    const c = started(tinyJob({ stop: { rounds: 1 } }));
    finishRound(c, 'p1', leaseOf(welcome(c, 'p1', 1000), 'p1'));
    expect(() => c.recordEvaluation(1, { loss: NaN, accuracy: 0.5, count: 1 }, 1)).toThrow(/invalid result/);
    expect(() => c.recordEvaluation(1, { loss: 1, accuracy: 1.5, count: 1 }, 1)).toThrow(/accuracy must be in \[0, 1\]/);
  });
});

describe('Coordinator: a bug of its own', () => {
  it('is reported as an internalError event, and the peer is told and disconnected instead of the coordinator crashing', () => {
    const c = started();
    const lease = leaseOf(welcome(c, 'p1'), 'p1');
    (c as unknown as { scheduler: { acceptResult: () => never } }).scheduler.acceptResult = () => {
      throw new Error('boom');
    };
    const d = answer(c, 'p1', lease);
    expect(eventsOf(d, 'internalError')[0]).toMatchObject({ peer: 'p1', message: 'boom', stack: expect.stringContaining('boom') });
    expect(sentTo(d, 'p1', 'error')[0].body).toMatchObject({ code: 'internal', fatal: true });
    expect(d.disconnect[0]).toMatchObject({ peer: 'p1', code: 'internal' });
  });
});

describe('Coordinator: restore', () => {
  it('continues from a checkpoint: same round, parameters and credit; new lease ids', () => {
    const job = tinyJob();
    const a = started(job, 'A');
    let d = welcome(a, 'p1', 1000);
    d = finishRound(a, 'p1', leaseOf(d, 'p1'));
    const bytes = serializeCheckpoint(a.checkpointState(50));
    const state = deserializeCheckpoint(bytes, { jobId: a.jobId, parameterCount: a.layout.total, optimizer: 'adamw' }, 'mem');
    const b = new Coordinator({ job, instance: 'B', datasetUrl: '/d', checkpoint: state, ...testSigning });
    b.start(100);
    expect(b.round).toBe(1);
    expect(b.version).toBe(1);
    expect(b.params).toEqual(a.params);
    b.join('q1', 100);
    const resumed = b.receive('q1', hello(1000, 8192, 'c1-A'), 100);
    expect(eventsOf(resumed, 'joined')[0]).toMatchObject({ contributorId: 'c1-A', resumed: true });
    expect(leaseOf(resumed, 'q1').body.leaseId).toMatch(/^B-r1-/);
    expect(b.summary(200)).toMatchObject({ restarts: 1, rounds: 1, durationMs: 150 });
    expect(b.summary(200).contributors[0]).toMatchObject({ id: 'c1-A', examples: 64 });
  });

  it('refuses a checkpoint of another job or an inconsistent one', () => {
    const a = started(tinyJob(), 'A');
    const state = a.checkpointState(0);
    expect(() => new Coordinator({ job: tinyJob({ seed: 6 }), instance: 'B', datasetUrl: '/d', checkpoint: state, ...testSigning })).toThrow(/Cannot resume .* it is for job/);
    expect(() => new Coordinator({ job: tinyJob(), instance: 'B', datasetUrl: '/d', checkpoint: { ...state, version: 3 }, ...testSigning })).toThrow(/version 3 and round 0 disagree/);
  });

  it('asks for the final evaluation at once when restored after the last round', () => {
    const job = tinyJob({ stop: { rounds: 1 } });
    const a = started(job, 'A');
    const d = finishRound(a, 'p1', leaseOf(welcome(a, 'p1', 1000), 'p1'));
    const state = eventsOf(d, 'checkpoint')[0].state;
    const b = new Coordinator({ job, instance: 'B', datasetUrl: '/d', checkpoint: state, ...testSigning });
    const start = b.start(10);
    expect(eventsOf(start, 'evaluate')[0]).toMatchObject({ version: 1, final: true });
    expect(b.state).toBe('finishing');
  });
});

describe('Coordinator: local steps and compressed vectors', () => {
  // 4 inner steps of 8 examples per lease, 2 leases per round; int8 both ways.
  const localJob = () =>
    tinyJob({
      optimizer: { kind: 'sgd', lr: 0.1, momentum: 0.9, schedule: { decay: 'cosine' } },
      sync: { mode: 'local-steps', innerSteps: 4, innerBatch: 8, outer: { lr: 1, momentum: 0.5 } },
      compression: { up: { scheme: 'int8', blockSize: 64 }, down: { scheme: 'int8', blockSize: 64 } },
      verification: { screening: { enabled: false }, replication: { fraction: 0 } },
    });
  const up = { scheme: 'int8', blockSize: 64 } as const;
  /** A Δ that is easy to check: 0.01 × (position of the lease's first example + 1) everywhere, in the model's padding too. */
  const deltaFor = (c: Coordinator, lease: Lease) => new Float32Array(c.layout.total).fill(0.001 * ((lease.tensors.indices[0] % 50) + 1));
  const answerLocal = (c: Coordinator, peer: string, lease: Lease, delta = deltaFor(c, lease)) =>
    c.receive(peer, result(c.jobId, lease.body.leaseId, lease.body.version, lease.tensors.indices.length, delta, 0, undefined, 1.5, up), 1);

  it('tells contributors the sync and encodings, leases innerSteps × innerBatch with the round\'s inner rate', () => {
    const c = started(localJob());
    const d = welcome(c, 'p1');
    const w = sentTo(d, 'p1', 'welcome')[0].body;
    expect(w.job.sync).toEqual({ mode: 'local-steps', innerBatch: 8, optimizer: { kind: 'sgd', momentum: 0.9, weightDecay: 0, maxGradNorm: 0 } });
    expect(w.job.compression).toEqual({ up: { scheme: 'int8', blockSize: 64 }, down: { scheme: 'int8', blockSize: 64 } });
    const lease = leaseOf(d, 'p1');
    expect(lease.tensors.indices).toHaveLength(32);
    // The job stops after 6 rounds: round 0 is step 1 of a cosine over 7.
    expect(lease.body.innerLr).toBeCloseTo(0.1 * 0.5 * (1 + Math.cos(Math.PI / 7)), 12);
    // The first parameters go whole, in f32.
    expect(sentTo(d, 'p1', 'parameters')[0].tensors.params).toEqual(c.params);
  });

  it('closes a round with one outer Nesterov step on the mean decoded Δ, and sends the next version as an int8 delta', () => {
    const c = started(localJob());
    const first = leaseOf(welcome(c, 'p1'), 'p1');
    const before = c.params.slice();
    const d1 = answerLocal(c, 'p1', first);
    expect(ackOf(d1, 'p1'), JSON.stringify(sentTo(d1, 'p1', 'error'))).toMatchObject({ outcome: 'accepted' });
    const second = leaseOf(d1, 'p1');
    expect(second.body.version).toBe(0);
    const d2 = answerLocal(c, 'p1', second);
    expect(eventsOf(d2, 'roundClosed')).toHaveLength(1);
    // Both Δ are constant vectors, exact in int8; their mean m takes θ ← θ − 1·(m + 0.5·m) on the first outer step.
    const m = (deltaFor(c, first)[0] + deltaFor(c, second)[0]) / 2;
    const padded = new Set(paddingIndices(c));
    for (let i = 0; i < before.length; i += 997) {
      if (padded.has(i)) continue;
      expect(c.params[i]).toBeCloseTo(before[i] - 1.5 * m, 6);
    }
    const delta = sentTo(d2, 'p1', 'parameterDelta');
    expect(delta).toHaveLength(1);
    expect(delta[0].body).toMatchObject({ fromVersion: 0, version: 1, encoding: { scheme: 'int8', length: c.layout.total, blockSize: 64, k: null } });
    expect(sentTo(d2, 'p1', 'parameters')).toHaveLength(0);
    // A contributor that joins now holds nothing: it gets the broadcast whole.
    expect(sentTo(welcome(c, 'p2'), 'p2', 'parameters')[0].body.version).toBe(1);
    c.checkInvariants();
  });

  it('pipelines leases with lease.inFlight: a contributor holds two, refilled one per contributor per pass', () => {
    // 4 leases of 32 per round.
    const c = started(tinyJob({ ...localJob(), data: { dataset: 'fashion-mnist', trainExamples: 512, testExamples: 100 }, globalBatch: 128, lease: { minExamples: 4, maxExamples: 64, targetSeconds: 0.5, timeoutMs: 2000, inFlight: 2 } }));
    const w1 = welcome(c, 'p1');
    const w2 = welcome(c, 'p2');
    const name = new Map([w1, w2].map((w, i) => [sentTo(w, `p${i + 1}`, 'welcome')[0].body.contributorId, `p${i + 1}`]));
    const first = sentTo(w1, 'p1', 'lease');
    expect(first.map((l) => l.body.version)).toEqual([0, 0]);
    const second = sentTo(w2, 'p2', 'lease');
    expect(second).toHaveLength(2);
    // Answering one while the round is fully leased gives nothing new, and no idle word (one is still computing).
    const d1 = answerLocal(c, 'p1', first[0]);
    expect(ackOf(d1, 'p1').outcome).toBe('accepted');
    expect(sentTo(d1, 'p1', 'lease')).toHaveLength(0);
    expect(sentTo(d1, 'p1', 'idle')).toHaveLength(0);
    answerLocal(c, 'p2', second[0]);
    answerLocal(c, 'p2', second[1]);
    const close = answerLocal(c, 'p1', first[1]);
    expect(eventsOf(close, 'roundClosed')).toHaveLength(1);
    // The next round's four leases go out p1, p2, p1, p2: nobody waits while another holds two.
    expect(eventsOf(close, 'leaseGranted').map((e) => [name.get(e.contributorId), e.round])).toEqual([
      ['p1', 1],
      ['p2', 1],
      ['p1', 1],
      ['p2', 1],
    ]);
    c.checkInvariants();
  });

  it('sends a local-steps result whose spot check is inconclusive to replication, and bans one far off', () => {
    // Probation checks every result; the reference is the claim × `factor` (a constant Δ, so the distance is exact).
    const job = tinyJob({ ...localJob(), verification: { screening: { enabled: false }, replication: { fraction: 0 }, spotChecks: { probationResults: 3, tolerance: 0.01 } } });
    let factor = 1.2;
    const checker = Object.assign((params: Float32Array, indices: Uint32Array) => new Float32Array(params.length).fill(factor * 0.001 * ((indices[0] % 50) + 1)), {});
    const c = new Coordinator({ job, instance: 'I', datasetUrl: '/d', ...testSigning, spotChecker: checker });
    c.start(0);
    const k1 = testKey();
    const k2 = testKey();
    const join = (peer: string, key: ReturnType<typeof testKey>) => {
      c.join(peer, 0);
      return c.receive(peer, hello(32, 8192, undefined, key), 0);
    };
    const answerAs = (peer: string, key: ReturnType<typeof testKey>, lease: Lease) =>
      c.receive(peer, result(c.jobId, lease.body.leaseId, lease.body.version, lease.tensors.indices.length, deltaFor(c, lease), 0, key, 1.5, up), 1);
    const l1 = leaseOf(join('p1', k1), 'p1');
    const l2 = leaseOf(join('p2', k2), 'p2');
    // 1.7e-1 from the reference: inconclusive. Accepted for now, nobody banned.
    const d1 = answerAs('p1', k1, l1);
    expect(ackOf(d1, 'p1').outcome).toBe('accepted');
    expect(eventsOf(d1, 'contributorBanned')).toHaveLength(0);
    expect(eventsOf(d1, 'spotChecked')[0]).toMatchObject({ passed: false, trigger: 'probation' });
    // The round's last result: the inconclusive one is discarded and its examples go to the other key.
    factor = 1;
    const d2 = answerAs('p2', k2, l2);
    expect(eventsOf(d2, 'roundClosed')).toHaveLength(0);
    expect(eventsOf(d2, 'resultDiscarded')).toMatchObject([{ leaseId: l1.body.leaseId, check: 'replication' }]);
    const again = leaseOf(d2, 'p2');
    expect(again.tensors.indices).toEqual(l1.tensors.indices);
    // p2's recomputation agrees with p1's claim (an honest device gives the same bits): the round closes, nobody is banned.
    factor = 1.2;
    const d3 = answerAs('p2', k2, again);
    expect(eventsOf(d3, 'replicaAgreed')).toHaveLength(1);
    expect(eventsOf(d3, 'roundClosed')).toHaveLength(1);
    expect(eventsOf(merge(d1, d2, d3), 'contributorBanned')).toHaveLength(0);
    c.checkInvariants();
    // Far off (2/3 of the reference): a cheat, banned at once, as before.
    factor = 3;
    const next = lastLeaseOf(d3, 'p1');
    const d4 = answerAs('p1', k1, next);
    expect(eventsOf(d4, 'contributorBanned')).toMatchObject([{ check: 'spot-check' }]);
  });

  it('rejects an update in another encoding than the job asks for, and gives its examples back', () => {
    const c = started(localJob());
    const lease = leaseOf(welcome(c, 'p1'), 'p1');
    const d = c.receive('p1', result(c.jobId, lease.body.leaseId, 0, 32, deltaFor(c, lease)), 1);
    expect(ackOf(d, 'p1').outcome).toBe('rejected');
    expect(sentTo(d, 'p1', 'error')[0].body).toMatchObject({ code: 'bad-shape', fatal: false });
    expect(sentTo(d, 'p1', 'error')[0].body.message).toMatch(/this job's updates are int8 in blocks of 64, not f32/);
    expect(leaseOf(d, 'p1').tensors.indices).toEqual(lease.tensors.indices);
  });

  it('checkpoints the outer momentum and resumes from it', () => {
    const c = started(localJob());
    let lease = leaseOf(welcome(c, 'p1'), 'p1');
    let d = answerLocal(c, 'p1', lease);
    d = answerLocal(c, 'p1', leaseOf(d, 'p1'));
    const state = c.checkpointState(5);
    expect(state.optimizer).toEqual({ kind: 'outer-nesterov', step: 1 });
    expect(state.moment2).toBeNull();
    expect(Math.max(...state.moment1.map(Math.abs))).toBeGreaterThan(0);
    const bytes = serializeCheckpoint(state);
    const restored = deserializeCheckpoint(bytes, { jobId: c.jobId, parameterCount: c.layout.total, optimizer: 'outer-nesterov' }, 'test');
    const r = new Coordinator({ job: localJob(), instance: 'R', datasetUrl: '/data/fashion-mnist/', checkpoint: restored, ...testSigning });
    r.start(10);
    // The same next round on both: the same step from the same momentum.
    lease = lastLeaseOf(d, 'p1');
    const again = leaseOf(welcome(r, 'q1', 32, 10), 'q1');
    expect(again.tensors.indices).toEqual(lease.tensors.indices);
    for (const x of [c, r]) {
      const peer = x === c ? 'p1' : 'q1';
      let l = x === c ? lease : again;
      const dd = answerLocal(x, peer, l);
      l = leaseOf(dd, peer);
      answerLocal(x, peer, l);
    }
    expect(r.params).toEqual(c.params);
  });
});

function paddingIndices(c: Coordinator): number[] {
  const used = new Uint8Array(c.layout.total);
  for (const s of c.layout.tensors) used.fill(1, s.offset, s.offset + s.length);
  return [...used.keys()].filter((i) => used[i] === 0);
}
