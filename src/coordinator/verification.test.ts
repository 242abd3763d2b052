// Verification in the coordinator: each cheat is caught, its key banned, its examples
// recomputed by others, and no rejected gradient ever reaches an aggregate.

import { beforeAll, describe, expect, it } from 'vitest';
import type { CoordinatorMessage } from '../protocol/messages.ts';
import type { SyncSigner } from '../protocol/signing.ts';
import { Coordinator, type CoordinatorOptions } from './coordinator.ts';
import type { Decisions } from './decisions.ts';
import type { Job } from './job.ts';
import { eventsOf, hello, leaseGradient, merge, result, sentTo, testKey, testSigning, tinyJob } from './testSwarm.ts';
import type { ImageDataset } from '../data/dataset.ts';
import { mlpLayout } from '../model/mlp.ts';
import type { OptimizerHyper } from '../kernels/optimizer.ts';
import type { JobSync, LocalStepsSync } from './job.ts';
import { localStepsReference } from './localStepsReference.ts';
import { SPOT_CHECK_POSITIONS, cpuModelSpotChecker, kinkSpotChecker, relativeDistance, type SpotChecker } from './verification.ts';
import { CpuKinkModel } from './kinkModel.ts';
import { CpuModel } from '../cpu/cpuModel.ts';
import { initModelParameters, resolveModel } from '../model/layers/spec.ts';
import { forwardBackward } from '../model/layers/reference.ts';
import { labelsOf, toFloatBatch } from '../data/dataset.ts';
import { Random } from '../util/random.ts';

type Lease = Extract<CoordinatorMessage, { type: 'lease' }>;

class Swarm {
  readonly c: Coordinator;
  readonly keys = new Map<string, SyncSigner>();
  readonly log: Decisions[] = [];
  now = 0;

  constructor(job: Job, extra: Partial<CoordinatorOptions> = {}) {
    this.c = new Coordinator({ job, instance: 'V', datasetUrl: '/d', ...testSigning, ...extra });
    this.record(this.c.start(0));
  }

  record(d: Decisions): Decisions {
    this.log.push(d);
    return d;
  }

  join(peer: string, examplesPerSecond = 32): Decisions {
    const key = testKey();
    this.keys.set(peer, key);
    this.record(this.c.join(peer, this.now));
    return this.record(this.c.receive(peer, hello(examplesPerSecond, 8192, undefined, key), this.now));
  }

  /** The newest lease sent to `peer` and not answered yet. */
  leaseOf(peer: string): Lease | undefined {
    const all = merge(...this.log);
    const leases = sentTo(all, peer, 'lease');
    const answered = new Set(eventsOf(all, 'resultAccepted').concat().map((e) => e.leaseId).concat(eventsOf(all, 'resultRejected').map((e) => e.leaseId)));
    return leases.filter((l) => !answered.has(l.body.leaseId)).pop();
  }

  /** Answer `peer`'s open lease with the true gradient, or what `cheat` makes of it. */
  answer(peer: string, cheat: (g: Float32Array) => Float32Array = (g) => g): Decisions {
    const lease = this.leaseOf(peer);
    if (!lease) throw new Error(`${peer} holds no lease`);
    this.now += 10;
    const { leaseId, version } = lease.body;
    const g = cheat(leaseGradient(this.c.params, lease.tensors.indices));
    return this.record(this.c.receive(peer, result(this.c.jobId, leaseId, version, lease.tensors.indices.length, g, 0, this.keys.get(peer)!), this.now));
  }

  all(): Decisions {
    return merge(...this.log);
  }
}

const smallLeases = (overrides: Parameters<typeof tinyJob>[0] = {}) =>
  tinyJob({ lease: { minExamples: 8, maxExamples: 8, targetSeconds: 0.5, timeoutMs: 2000 }, stop: { rounds: 4 }, ...overrides });

describe('Coordinator verification', () => {
  it('bans a bad signature at once', () => {
    const s = new Swarm(smallLeases());
    s.join('p1');
    const lease = s.leaseOf('p1')!;
    const d = s.record(s.c.receive('p1', result(s.c.jobId, lease.body.leaseId, 0, 8, leaseGradient(s.c.params, lease.tensors.indices), 0, testKey()), 1));
    expect(eventsOf(d, 'contributorBanned')[0]).toMatchObject({ check: 'bad-signature', publicKey: s.keys.get('p1')!.publicKey });
    expect(d.disconnect.map((x) => x.code)).toEqual(['banned']);
    s.c.checkInvariants();
  });

  it('rejects a zero gradient, and bans the key at the second one', () => {
    const s = new Swarm(smallLeases());
    s.join('p1');
    const first = s.answer('p1', (g) => g.fill(0));
    expect(eventsOf(first, 'resultRejected')[0]).toMatchObject({ check: 'zero', outcome: 'rejected' });
    expect(eventsOf(first, 'contributorBanned')).toHaveLength(0);
    const second = s.answer('p1', (g) => g.fill(0));
    expect(eventsOf(second, 'contributorBanned')[0]).toMatchObject({ check: 'zero' });
    s.c.checkInvariants();
  });

  it('catches a ×100 gradient by its norm once the running distribution is known, and discards the cheat\'s accepted results of the round', () => {
    const s = new Swarm(smallLeases({ globalBatch: 64, stop: { rounds: 6 } }));
    s.join('honest');
    for (let i = 0; i < 10; i++) s.answer('honest'); // 10 results: past the warm-up, round 0 closed
    s.join('cheat');
    s.answer('cheat'); // an honest-looking result first: accepted
    const accepted = eventsOf(s.all(), 'resultAccepted').filter((e) => e.contributorId === eventsOf(s.all(), 'joined').at(-1)!.contributorId);
    expect(accepted).toHaveLength(1);
    s.answer('cheat', (g) => g.map((x) => x * 100));
    const d = s.answer('cheat', (g) => g.map((x) => x * 100));
    const ban = eventsOf(d, 'contributorBanned')[0];
    expect(ban).toMatchObject({ check: 'norm-too-large', discardedLeases: [accepted[0].leaseId] });
    s.c.checkInvariants();
    // The honest contributor finishes the run; no round lists the cheater's lease.
    while (s.c.state === 'running' && s.leaseOf('honest')) s.answer('honest');
    const closed = eventsOf(s.all(), 'roundClosed').flatMap((e) => e.record.leases.map((l) => l.leaseId));
    expect(closed).not.toContain(accepted[0].leaseId);
    expect(s.c.coverage()).toMatchObject({ exact: true, problems: [] });
  });

  it('with the CPU table\'s spot checker, a norm off the estimate is settled by recomputation: a lease of well-learnt examples stands, a ×100 one bans', () => {
    // `scale` is what the examples' true gradient is: 0.01 for a lease whose examples are all learnt.
    let scale = 1;
    // The CPU layer table's checker (inconclusiveUpTo set): the one whose norm flags are rechecked.
    const truth = Object.assign((params: Float32Array, indices: Uint32Array) => leaseGradient(params, indices).map((x) => x * scale), { inconclusiveUpTo: 0.5 });
    const leases16 = { lease: { minExamples: 16, maxExamples: 16, targetSeconds: 0.5, timeoutMs: 2000 } };
    const s = new Swarm(tinyJob({ ...leases16, globalBatch: 64, stop: { rounds: 8 }, verification: { spotChecks: { fraction: 0, probationResults: 0 } } }), { spotChecker: truth });
    s.join('a');
    s.join('b');
    const holder = () => ['a', 'b'].find((p) => s.leaseOf(p))!;
    for (let i = 0; i < 12; i++) s.answer(holder()); // past the warm-up
    expect(s.c.round).toBeGreaterThan(0);
    scale = 0.01;
    const easy = s.answer(holder(), (g) => g.map((x) => x * scale));
    expect(eventsOf(easy, 'spotChecked')).toEqual([expect.objectContaining({ trigger: 'norm', passed: true, distance: 0 })]);
    expect(eventsOf(easy, 'resultAccepted')).toHaveLength(1);
    scale = 1;
    const cheat = s.answer(holder(), (g) => g.map((x) => x * 100));
    expect(eventsOf(cheat, 'spotChecked')).toEqual([expect.objectContaining({ trigger: 'norm', passed: false })]);
    expect(eventsOf(cheat, 'contributorBanned')).toEqual([expect.objectContaining({ check: 'spot-check' })]);
    expect(eventsOf(s.all(), 'contributorBanned')).toHaveLength(1);
    s.c.checkInvariants();
  });

  it('bans a result replayed for another lease (the same data, recomputed hash and all)', () => {
    const s = new Swarm(smallLeases());
    s.join('p1');
    const lease = s.leaseOf('p1')!;
    const g = leaseGradient(s.c.params, lease.tensors.indices);
    s.record(s.c.receive('p1', result(s.c.jobId, lease.body.leaseId, 0, 8, g, 0, s.keys.get('p1')), 1));
    const next = s.leaseOf('p1')!;
    const d = s.record(s.c.receive('p1', result(s.c.jobId, next.body.leaseId, 0, 8, g, 0, s.keys.get('p1')), 2));
    expect(eventsOf(d, 'contributorBanned')[0]).toMatchObject({ check: 'replayed', discardedLeases: [lease.body.leaseId] });
    s.c.checkInvariants();
  });

  it('spot checks: a recomputation that differs bans (sign flip, stale parameters); one that agrees passes', () => {
    const checker = (params: Float32Array, indices: Uint32Array) => leaseGradient(params, indices);
    const job = smallLeases({ verification: { spotChecks: { fraction: 1 } } });
    const s = new Swarm(job, { spotChecker: checker });
    s.join('honest');
    const ok = s.answer('honest');
    expect(eventsOf(ok, 'spotChecked')[0]).toMatchObject({ passed: true, trigger: 'probation', distance: 0 });
    s.join('flip');
    const d = s.answer('flip', (g) => g.map((x) => -x));
    expect(eventsOf(d, 'spotChecked')[0]).toMatchObject({ passed: false });
    expect(eventsOf(d, 'contributorBanned')[0]).toMatchObject({ check: 'spot-check' });
    s.join('stale');
    const lease = s.leaseOf('stale')!;
    const old = s.c.params.map((x) => x + 0.5); // other parameters, labelled with the lease's version
    const e = s.record(s.c.receive('stale', result(s.c.jobId, lease.body.leaseId, lease.body.version, 8, leaseGradient(old, lease.tensors.indices), 0, s.keys.get('stale')), 99));
    expect(eventsOf(e, 'contributorBanned')[0]).toMatchObject({ check: 'spot-check' });
    s.c.checkInvariants();
  });

  it('a checker that cannot resolve kinks (the CPU table): a distance in its inconclusive band goes to replication, agreeing keys settle it, one past the band bans', () => {
    // The reference is the true gradient × factor: the distance is exactly |1 − 1/factor|.
    let factor = 1.2;
    const checker = Object.assign((params: Float32Array, indices: Uint32Array) => leaseGradient(params, indices).map((x) => x * factor), { inconclusiveUpTo: 0.5 });
    const s = new Swarm(smallLeases({ globalBatch: 16, stop: { rounds: 6 }, verification: { screening: { enabled: false }, replication: { fraction: 0 }, spotChecks: { fraction: 1, tolerance: 0.01 } } }), { spotChecker: checker });
    s.join('a', 16);
    s.join('b', 16);
    const d1 = s.answer('a');
    expect(eventsOf(d1, 'spotChecked')[0]).toMatchObject({ passed: false });
    expect(eventsOf(d1, 'spotChecked')[0].distance).toBeCloseTo(1 / 6, 5);
    // b's own result passes and completes the round's count: a's inconclusive one is discarded and its examples go to b.
    factor = 1;
    const d2 = s.answer('b');
    expect(eventsOf(d2, 'resultDiscarded')).toEqual([expect.objectContaining({ contributorId: eventsOf(d1, 'resultAccepted')[0].contributorId, check: 'replication' })]);
    // b's recomputation is as far from the reference as a's claim, and bit for bit a's claim: the two keys settle it.
    factor = 1.2;
    s.answer('b');
    expect(s.c.round).toBe(1);
    const all = s.all();
    expect(eventsOf(all, 'resultDiscarded')).toEqual([expect.objectContaining({ check: 'replication' })]);
    expect(eventsOf(all, 'replicaAgreed')).toHaveLength(1);
    expect(eventsOf(all, 'contributorBanned')).toHaveLength(0);
    // 2/3 from the reference is past the band: a cheat, banned at once.
    factor = 3;
    const d3 = s.answer('a');
    expect(eventsOf(d3, 'contributorBanned')).toEqual([expect.objectContaining({ check: 'spot-check' })]);
    s.c.checkInvariants();
  });

  it('a suspect direction whose spot check is inconclusive is recomputed by another key, not banned (the CNN job that banned both honest browsers)', () => {
    // Examples 0–7 have an unusual true gradient (against the rest), which the checker sees 20% larger (a kink fallen the other way).
    const odd = (indices: Uint32Array) => indices[0] % 7 === 0;
    const truth = (params: Float32Array, indices: Uint32Array) => {
      const g = leaseGradient(params, indices).map((x) => x + 0.25);
      return odd(indices) ? g.map((x) => -x) : g;
    };
    const checker = Object.assign((params: Float32Array, indices: Uint32Array) => truth(params, indices).map((x) => x * (odd(indices) ? 1.2 : 1)), { inconclusiveUpTo: 0.5 });
    const s = new Swarm(smallLeases({ globalBatch: 32, stop: { rounds: 6 }, verification: { replication: { fraction: 0 }, spotChecks: { fraction: 0, probationResults: 0 } } }), { spotChecker: checker });
    const peers = ['a', 'b', 'c', 'd'];
    for (const p of peers) s.join(p, 16);
    const answer = (p: string) => {
      const lease = s.leaseOf(p)!;
      s.now += 10;
      return s.record(s.c.receive(p, result(s.c.jobId, lease.body.leaseId, lease.body.version, 8, truth(s.c.params, lease.tensors.indices), 0, s.keys.get(p)!), s.now));
    };
    for (let i = 0; i < 40 && s.c.state === 'running' && s.c.round < 4; i++) for (const p of peers) if (s.leaseOf(p)) answer(p);
    const all = s.all();
    const direction = eventsOf(all, 'spotChecked').filter((e) => e.trigger === 'direction');
    expect(direction.length).toBeGreaterThan(0);
    expect(direction.every((e) => !e.passed && Math.abs(e.distance - 1 / 6) < 1e-5)).toBe(true);
    expect(eventsOf(all, 'replicaAgreed').length).toBeGreaterThan(0);
    expect(eventsOf(all, 'contributorBanned')).toEqual([]);
    expect(s.c.round).toBe(4);
    expect(s.c.coverage()).toMatchObject({ exact: true, problems: [] });
    s.c.checkInvariants();
  });

  it('without a spot checker, a gradient against the rest of the round is discarded at the close, recomputed, and a recomputation that disagrees with two agreeing keys bans', () => {
    const s = new Swarm(smallLeases({ globalBatch: 32, stop: { rounds: 6 }, verification: { replication: { fraction: 0 } } }));
    for (const p of ['a', 'b', 'c', 'flip']) s.join(p, 16);
    // The fake gradients are mostly per-example noise: give them the common direction a real model's have.
    const real = (g: Float32Array) => g.map((x) => x + 0.25);
    for (let round = 0; round < 2; round++) for (const p of ['a', 'b', 'c', 'flip']) s.answer(p, real); // past the warm-up
    expect(s.c.round).toBe(2);
    s.answer('a', real);
    s.answer('b', real);
    s.answer('c', real);
    const d = s.answer('flip', (g) => real(g).map((x) => -x));
    const discarded = eventsOf(d, 'resultDiscarded');
    expect(discarded).toEqual([expect.objectContaining({ check: 'direction' })]);
    expect(eventsOf(d, 'roundClosed')).toHaveLength(0);
    s.c.checkInvariants();
    // The flipped examples go to whoever asks; the honest recomputation is again a suspect (it differs from the discarded one)
    // until a second honest key agrees with it; then the flipper is banned.
    for (let i = 0; i < 8 && s.c.round === 2; i++) {
      for (const p of ['a', 'b', 'c']) if (s.leaseOf(p)) s.answer(p, real);
      if (s.leaseOf('flip') && !eventsOf(s.all(), 'contributorBanned').length) s.answer('flip', (g) => real(g).map((x) => -x));
    }
    const types = s.all().events.slice(-40).map((e) => `${e.type}${'leaseId' in e ? ' ' + e.leaseId : ''}${'contributorId' in e ? ' ' + e.contributorId : ''}`);
    expect(s.c.round, types.join('\n')).toBe(3);
    const all = s.all();
    expect(eventsOf(all, 'contributorBanned')).toEqual([expect.objectContaining({ check: 'replica-mismatch', publicKey: s.keys.get('flip')!.publicKey })]);
    expect(eventsOf(all, 'replicaAgreed').length).toBeGreaterThan(0);
    expect(s.c.coverage()).toMatchObject({ exact: true, problems: [] });
  });

  it('replication: drawn results are recomputed by another key before the round closes; agreement stands, a cheat the screens miss is banned by the quorum once drawn', () => {
    const s = new Swarm(smallLeases({ globalBatch: 32, stop: { rounds: 8 }, verification: { replication: { fraction: 0.3 }, screening: { enabled: false } } }));
    for (const p of ['a', 'b', 'c', 'skew']) s.join(p, 16);
    // A subtle cheat: 5% off, far inside any norm or direction screen, far outside the replica tolerance.
    const skew = (g: Float32Array) => g.map((x) => x * 1.05);
    for (let i = 0; i < 40 && s.c.state === 'running' && !eventsOf(s.all(), 'contributorBanned').length; i++) {
      for (const p of ['a', 'b', 'c']) if (s.leaseOf(p)) s.answer(p);
      if (s.leaseOf('skew')) s.answer('skew', skew);
    }
    const all = s.all();
    expect(eventsOf(all, 'resultDiscarded').some((e) => e.check === 'replication')).toBe(true);
    expect(eventsOf(all, 'replicaAgreed').length).toBeGreaterThan(0);
    expect(eventsOf(all, 'contributorBanned')).toEqual([expect.objectContaining({ check: 'replica-mismatch', publicKey: s.keys.get('skew')!.publicKey })]);
    // Sampling catches a steady cheat sooner or later; what it had counted before is why screening and spot checks exist too.
    // After the ban, nothing of the skewed key counts: the round that banned it lists none of its leases.
    const skewId = eventsOf(all, 'joined').find((e) => e.publicKey === s.keys.get('skew')!.publicKey)!.contributorId;
    const banRound = eventsOf(all, 'roundClosed').at(-1)!.record;
    expect(banRound.leases.filter((l) => l.contributorId === skewId)).toEqual([]);
    s.c.checkInvariants();
  });

  it('replication is drawn as a result arrives: another key recomputes it while the round is open, never the key that computed it', () => {
    const s = new Swarm(smallLeases({ globalBatch: 16, stop: { rounds: 3 }, verification: { replication: { fraction: 1 }, screening: { enabled: false } } }));
    s.join('a');
    s.join('b');
    const la = s.leaseOf('a')!;
    const lb = s.leaseOf('b')!;
    const d1 = s.answer('a');
    // Discarded at once, before b's result is in; a is not handed its own examples back.
    expect(eventsOf(d1, 'resultDiscarded')).toEqual([expect.objectContaining({ leaseId: la.body.leaseId, check: 'replication', reason: 'drawn for replication' })]);
    expect(sentTo(d1, 'a', 'lease')).toEqual([]);
    const d2 = s.answer('b');
    expect(eventsOf(d2, 'resultDiscarded')).toEqual([expect.objectContaining({ leaseId: lb.body.leaseId, check: 'replication' })]);
    // Both were drawn: each recomputes the other's examples, not its own.
    expect([...s.leaseOf('a')!.tensors.indices]).toEqual([...lb.tensors.indices]);
    expect([...s.leaseOf('b')!.tensors.indices]).toEqual([...la.tensors.indices]);
    s.answer('a');
    const d3 = s.answer('b');
    expect(eventsOf(d3, 'replicaAgreed')).toHaveLength(2);
    expect(eventsOf(d3, 'roundClosed')).toHaveLength(1);
    expect(eventsOf(s.all(), 'resultDiscarded')).toHaveLength(2);
    s.c.checkInvariants();
  });

  it('reputation: a new key\'s first results are all spot-checked, then only a sample', () => {
    const checker = (params: Float32Array, indices: Uint32Array) => leaseGradient(params, indices);
    const s = new Swarm(smallLeases({ globalBatch: 64, stop: { rounds: 6 }, verification: { spotChecks: { fraction: 0, probationResults: 3 } } }), { spotChecker: checker });
    s.join('p1');
    for (let i = 0; i < 6; i++) s.answer('p1');
    expect(eventsOf(s.all(), 'spotChecked').map((e) => e.trigger)).toEqual(['probation', 'probation', 'probation']);
    s.join('stale');
    const lease = s.leaseOf('stale')!;
    const d = s.record(s.c.receive('stale', result(s.c.jobId, lease.body.leaseId, lease.body.version, 8, leaseGradient(s.c.params.map((x) => x + 0.5), lease.tensors.indices), 0, s.keys.get('stale')), 99));
    expect(eventsOf(d, 'contributorBanned')[0]).toMatchObject({ check: 'spot-check' });
  });

  it('a lone key\'s suspect is settled by its own identical recomputation, so the round cannot stall', () => {
    const s = new Swarm(smallLeases({ globalBatch: 32, stop: { rounds: 6 } }));
    s.join('solo', 8); // 8 examples per lease: 4 leases per round, one at a time
    const real = (g: Float32Array) => g.map((x) => x + 0.25);
    while (s.c.round < 2) s.answer('solo', real);
    for (let i = 0; i < 3; i++) s.answer('solo', real);
    s.answer('solo', (g) => real(g).map((x) => -x));
    expect(eventsOf(s.all(), 'resultDiscarded')).toHaveLength(1);
    for (let i = 0; i < 4 && s.c.round === 2; i++) s.answer('solo', real);
    expect(s.c.round).toBe(3);
    expect(eventsOf(s.all(), 'contributorBanned')).toHaveLength(0);
  });
});

describe('spot checks at a ReLU kink', () => {
  // A 3-2-2 ReLU net whose first hidden unit gets a pre-activation of exactly 0 on example 0:
  // w = (1, −1, 0) on pixels (128, 128, 0). Two correct f32 implementations may put such a
  // unit on either side of the kink; a claim that did is honest and must pass.
  const layout = mlpLayout({ widths: [3, 2, 2], activation: 'relu' });
  const params = new Float32Array(layout.total);
  const [w0, w1] = layout.weights;
  params.set([1, 0.5, -1, 0.25, 0, 0.75], w0.offset); // rows = inputs, cols = hidden units
  params.set([0.5, -0.25, -0.75, 1], w1.offset);
  const train: ImageDataset = { images: Uint8Array.of(128, 128, 0, 10, 200, 30), labels: Uint8Array.of(1, 0), count: 2, features: 3, classes: 2 };
  const indices = Uint32Array.of(0, 1);
  let mlp: CpuKinkModel;
  let checker: SpotChecker;
  beforeAll(async () => {
    mlp = await CpuKinkModel.create(resolveModel(layout.spec));
    checker = kinkSpotChecker(mlp, train);
  });

  it('finds the unit, and resolves an honest claim that took the other side', () => {
    const kinks = mlp.nearKinks(params, train, indices);
    expect(kinks).toEqual([{ key: mlp.kinkKey(0, 0, 0), active: false }]);
    const otherSide = new Float32Array(layout.total);
    mlp.lossAndGradient(params, train, indices, otherSide, new Map([[kinks[0].key, true]]));
    expect(relativeDistance(otherSide, checker(params, indices))).toBeGreaterThan(0.01);
    expect(checker.resolveKinks!(params, indices, otherSide, checker(params, indices))).toEqual({ distance: 0, kinks: 1 });
    // A claim rounded on its way (the job's up encoding) is compared with recomputations rounded the same way.
    const double = (x: Float32Array) => x.map((y) => 2 * y);
    expect(checker.resolveKinks!(params, indices, double(otherSide), double(checker(params, indices)), { round: double })).toEqual({ distance: 0, kinks: 1 });
  });

  it('does not excuse a cheat', () => {
    const honest = checker(params, indices);
    for (const cheat of [honest.map((x) => 2 * x), honest.map((x) => -x), new Float32Array(layout.total).fill(0.01)]) {
      expect(checker.resolveKinks!(params, indices, cheat, honest).distance).toBeGreaterThan(0.1);
    }
  });
});

describe('the spot checker of a local-steps job', () => {
  // A 12-6-3 ReLU net on fixed bytes: Δ of 3 inner steps of 4 examples (the last one of 2).
  const layout = mlpLayout({ widths: [12, 6, 3], activation: 'relu' });
  const count = 20;
  const bytes = Uint8Array.from({ length: count * 12 }, (_, i) => (i * 37 + (i >> 3) * 11) % 256);
  const train: ImageDataset = { images: bytes, labels: Uint8Array.from({ length: count }, (_, i) => i % 3), count, features: 12, classes: 3 };
  const params = Float32Array.from({ length: layout.total }, (_, i) => Math.sin(i * 1.7) * 0.3);
  const indices = Uint32Array.of(3, 1, 4, 15, 9, 2, 6, 5, 8, 7);
  const sync: LocalStepsSync = { mode: 'local-steps', innerSteps: 3, innerBatch: 4, outer: { lr: 0.7, momentum: 0.9, nesterov: true } };
  const adamw: OptimizerHyper = { kind: 'adamw', lr: 2e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-4, maxGradNorm: 0 };
  const sgd: OptimizerHyper = { kind: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 0, maxGradNorm: 0 };
  const bits = (x: Float32Array) => new Uint32Array(x.buffer, x.byteOffset, x.length);
  let mlp: CpuKinkModel;
  beforeAll(async () => {
    mlp = await CpuKinkModel.create(resolveModel(layout.spec));
  });
  const checkerOf = (s?: JobSync) => kinkSpotChecker(mlp, train, s);

  it('recomputes the lease\'s Δ with the job\'s inner batch and the lease\'s inner optimizer', () => {
    const checker = checkerOf(sync);
    for (const hyper of [adamw, sgd, { ...adamw, lr: 1e-3 }]) {
      const expected = localStepsReference(mlp, train, params, { indices, innerBatch: 4, hyper });
      expect(expected.steps).toBe(3);
      expect(bits(checker(params, indices, hyper))).toEqual(bits(expected.delta));
    }
    // Its kink resolution replays the lease with the same inner optimizer: an honest claim stays at 0.
    const claimed = checker(params, indices, sgd);
    expect(checker.resolveKinks!(params, indices, claimed, claimed, { inner: sgd })).toMatchObject({ distance: 0 });
    // Without the inner optimizer there is nothing to replay: the distance stands.
    expect(checker.resolveKinks!(params, indices, claimed.map((x) => 2 * x), claimed)).toEqual({ distance: relativeDistance(claimed.map((x) => 2 * x), claimed), kinks: 0 });
    // A Δ is not the gradient: the every-step checker of the same examples differs.
    const gradient = checkerOf({ mode: 'every-step' })(params, indices);
    expect(relativeDistance(gradient, checker(params, indices, adamw))).toBeGreaterThan(0.5);
  });

  it('every-step, given or left out, is the mean-loss gradient as before', () => {
    const gradient = new Float32Array(layout.total);
    mlp.lossAndGradient(params, train, indices, gradient);
    expect(bits(checkerOf()(params, indices))).toEqual(bits(gradient));
    expect(bits(checkerOf({ mode: 'every-step' })(params, indices, adamw))).toEqual(bits(gradient));
    expect(checkerOf().resolveKinks).toBeTypeOf('function');
  });

  it('tells a Δ of other examples apart; says what is missing or unknown', () => {
    const checker = checkerOf(sync);
    const honest = checker(params, indices, adamw);
    expect(relativeDistance(checker(params, indices.map((e) => (e + 1) % count), adamw), honest)).toBeGreaterThan(0.1);
    expect(() => checker(params, indices)).toThrow(/needs the lease's inner optimizer at its learning rate: pass innerHyper\(job, lease.round\)/);
    expect(() => checkerOf({ mode: 'sometimes' } as unknown as LocalStepsSync)).toThrow(/sync mode must be 'every-step' or 'local-steps', got "sometimes"/);
  });
});

describe('cpuModelSpotChecker (the CPU layer table)', () => {
  const cnn = resolveModel({
    input: [1, 8, 8],
    layers: [
      { kind: 'conv2d', outChannels: 3, kernel: 3, padding: 1 }, { kind: 'relu' }, { kind: 'maxpool2d', kernel: 2 },
      { kind: 'flatten' }, { kind: 'linear', outFeatures: 4 }, { kind: 'softmax-cross-entropy' },
    ],
  });
  const rng = new Random(3);
  const train: ImageDataset = {
    images: Uint8Array.from({ length: 64 * 64 }, () => rng.int(256)),
    labels: Uint8Array.from({ length: 64 }, () => rng.int(4)),
    count: 64, features: 64, classes: 4,
  };
  const params = initModelParameters(cnn, 5);
  const indices = Uint32Array.from({ length: 24 }, (_, i) => (i * 5) % 64);

  it('every step: the gradient of the CPU backend, which a sign flip misses by far', async () => {
    const checker = cpuModelSpotChecker((await CpuModel.create(cnn, { threads: 1 })).inline, train);
    const reference = forwardBackward(cnn, params, toFloatBatch(train, indices), labelsOf(train, indices)).gradient;
    const got = checker(params, indices);
    expect(relativeDistance(got, Float32Array.from(reference))).toBeLessThan(1e-5);
    expect(relativeDistance(got.map((v) => -v), got)).toBeCloseTo(2, 5);
  });

  it('local steps: the inner steps as a contributor runs them, bit for bit on the same backend; a cheat is far', async () => {
    const sync: LocalStepsSync = { ...tinyJob({ sync: { mode: 'local-steps', innerSteps: 3, innerBatch: 8 } }).sync } as LocalStepsSync;
    const inner: OptimizerHyper = { kind: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 0, maxGradNorm: 0 };
    const checker = cpuModelSpotChecker((await CpuModel.create(cnn, { threads: 1 })).inline, train, sync);
    // A contributor's CPU backend: the same steps through the asynchronous calls.
    const contributor = await CpuModel.create(cnn, { threads: 1 });
    await contributor.setDatasets(train, null);
    contributor.setParameters(params);
    contributor.setOptimizerState(new Float32Array(cnn.total), new Float32Array(cnn.total));
    for (let s = 0; s < 3; s++) await contributor.trainStep(indices.subarray(8 * s, 8 * s + 8), inner, s + 1);
    const after = contributor.readState().params;
    const claimed = params.map((v, i) => v - after[i]);
    const reference = checker(params, indices, inner);
    expect(Array.from(new Uint32Array(reference.buffer))).toEqual(Array.from(new Uint32Array(claimed.buffer)));
    expect(relativeDistance(claimed.map((v) => 1.05 * v), reference)).toBeGreaterThan(0.04);
    expect(() => checker(params, indices)).toThrow(/needs the lease's inner optimizer/);
  });

  it("dropout: masks seeded by the lease's round and each example's index, as the contributor draws them", async () => {
    const dropped = resolveModel({
      input: [1, 8, 8],
      layers: [{ kind: 'conv2d', outChannels: 3, kernel: 3, padding: 1 }, { kind: 'relu' }, { kind: 'flatten' }, { kind: 'dropout', p: 0.3 }, { kind: 'linear', outFeatures: 4 }, { kind: 'softmax-cross-entropy' }],
    });
    const p = initModelParameters(dropped, 2);
    const checker = cpuModelSpotChecker((await CpuModel.create(dropped, { threads: 1 })).inline, train);
    const contributor = await CpuModel.create(dropped, { threads: 1 });
    await contributor.setDatasets(train, null);
    contributor.setParameters(p);
    const round = 17;
    const claimed = (await contributor.gradient(indices, { seed: round, positions: indices })).gradient;
    expect(Array.from(new Uint32Array(checker(p, indices, undefined, round).buffer))).toEqual(Array.from(new Uint32Array(claimed.buffer)));
    // Another round draws other masks: a result computed for another round does not pass.
    expect(relativeDistance(claimed, checker(p, indices, undefined, round + 1))).toBeGreaterThan(0.05);
    expect(() => checker(p, indices)).toThrow(/dropout .* needs dropout = \{ seed, positions \}/);
  });

  it('every step, long windows: a lease past one chunk of positions is recomputed in chunks, their gradients weighted by count', async () => {
    const T = 200; // SPOT_CHECK_POSITIONS / 200 → chunks of 2 windows
    const gpt = resolveModel({ input: [T], layers: [{ kind: 'embedding', vocabulary: 7, features: 8 }, { kind: 'attention', heads: 2 }, { kind: 'lm-head' }, { kind: 'softmax-cross-entropy' }] });
    const r = new Random(4);
    const windows: ImageDataset = { images: Uint8Array.from({ length: 6 * T }, () => r.int(7)), labels: Uint8Array.from({ length: 6 * T }, () => r.int(7)), count: 6, features: T, classes: 7, tokens: { labelsPerExample: T } };
    const p = initModelParameters(gpt, 8);
    const lease = Uint32Array.of(5, 0, 3, 1, 4);
    expect(Math.floor(SPOT_CHECK_POSITIONS / T)).toBe(2);
    const got = cpuModelSpotChecker((await CpuModel.create(gpt, { threads: 1 })).inline, windows)(p, lease);
    const x = new Float32Array(lease.length * T);
    const y: number[] = [];
    lease.forEach((k, i) => {
      x.set(windows.images.subarray(k * T, (k + 1) * T), i * T);
      y.push(...windows.labels.subarray(k * T, (k + 1) * T));
    });
    const reference = forwardBackward(gpt, p, x, y).gradient;
    expect(relativeDistance(got, Float32Array.from(reference))).toBeLessThan(1e-5);
  });
});
