// Seeded simulations of the Coordinator with 1–5 contributors that join, leave, pause,
// vanish mid-lease, answer late, twice, stale, with NaN or wrong shapes, or with other
// contributors' leases. Answering a lease with another version, replaying a result and
// answering someone else's lease are cheats: the key is banned and its accepted results of
// the open round discarded (the oracle drops them too). After every step: nothing threw, the round's invariants hold, and
// the model changed only when a round closed, by exactly the step the whole window's
// gradient asks for. Then: a run killed and restored from checkpoints ends with the same
// parameters, bit for bit, as an uninterrupted one.

import { describe, expect, it } from 'vitest';
import { epochOrder } from '../data/order.ts';
import { decodeMessage, encodeMessage } from '../protocol/codec.ts';
import { COORDINATOR_MESSAGES, messageTable, type CoordinatorMessage, type ContributorMessage } from '../protocol/messages.ts';
import { Random } from '../util/random.ts';
import { deserializeCheckpoint, serializeCheckpoint } from './checkpoint.ts';
import { Coordinator } from './coordinator.ts';
import type { CoordinatorEvent, Decisions } from './decisions.ts';
import { plannedRounds, type Job } from './job.ts';
import { OptimizerHost } from './optimizerHost.ts';
import type { CheckpointState } from './records.ts';
import type { SyncSigner } from '../protocol/signing.ts';
import { hello, leaseGradient, result, testKey, testSigning, tinyJob } from './testSwarm.ts';

type LeaseMessage = Extract<CoordinatorMessage, { type: 'lease' }>;
const COORDINATOR_TABLE = messageTable(COORDINATOR_MESSAGES);
interface HeldLease {
  message: LeaseMessage;
  params: Float32Array;
}
interface SimPeer {
  peer: string;
  contributorId: string | null;
  params: Float32Array | null;
  leases: HeldLease[];
  answered: ContributorMessage[];
  paused: boolean;
  /** Each peer signs with its own key (a resumed contributor with the key it had), so a ban hits one contributor. */
  key: SyncSigner;
}

const ACTIONS = {
  join: 8, leave: 3, vanish: 1, answer: 40, answerTwice: 4, stale: 3, nan: 2, wrongLength: 2, wrongCount: 2,
  stealLease: 2, unknownLease: 1, leaseFailed: 3, pause: 4, beforeHello: 1, helloTwice: 1, bye: 1, peerError: 2,
  tick: 10, evaluate: 5, wait: 3,
} as const;
type Action = keyof typeof ACTIONS;

class SimulatedSwarm {
  c: Coordinator;
  now = 0;
  done: Extract<CoordinatorEvent, { type: 'jobDone' }> | null = null;
  lastCheckpoint: CheckpointState | null = null;
  private readonly peers = new Map<string, SimPeer>();
  private readonly leftContributors: string[] = [];
  private readonly keyOf = new Map<string, SyncSigner>();
  bans = 0;
  /** Every lease granted, with its owner, for contributors that try to answer someone else's. */
  private readonly leaseIds: Array<{ leaseId: string; contributorId: string }> = [];
  crashes = 0;
  private readonly evaluations: number[] = [];
  private nextPeer = 1;
  private incarnation = 0;
  // The oracle: what the coordinator must do, derived independently from its messages and events.
  private granted = new Map<string, Array<{ start: number; end: number }>>();
  private acceptedThisRound: string[] = [];
  private roundOpen!: CheckpointState;
  private paramsCopy!: Float32Array;
  roundsChecked = 0;

  constructor(
    readonly job: Job,
    private readonly rng: Random,
    private readonly paramTolerance: number,
    /** Smallest maxBatch a contributor announces (the exact runs need whole 8-example leases). */
    private readonly minMaxBatch = 1,
  ) {
    this.c = new Coordinator({ job, instance: 'S0', datasetUrl: '/d', ...testSigning });
    this.apply(this.c.start(0), true);
    this.openRound();
  }

  get finished(): boolean {
    return this.done !== null;
  }

  /** One random action; in cooperative mode only the ones that make progress. */
  step(cooperative: boolean): void {
    this.now += this.rng.int(100);
    const action = cooperative ? this.cooperativeAction() : this.pick();
    const before = this.c.params;
    const closedBefore = this.roundsChecked;
    this.act(action);
    if (this.roundsChecked === closedBefore) {
      expect(this.c.params, `the model changed without a round closing (action ${action})`).toBe(before);
      const changed = this.c.params.findIndex((x, i) => x !== this.paramsCopy[i]);
      expect(changed, `parameter ${changed} was written to in place (action ${action})`).toBe(-1);
    }
    if (this.c.state === 'running') this.c.checkInvariants();
  }

  /** Kill the coordinator and restore from its last checkpoint: every connection and unsent result is lost. */
  crash(): void {
    const state = this.lastCheckpoint;
    this.incarnation++;
    this.crashes++;
    this.peers.clear();
    this.granted.clear();
    this.acceptedThisRound = [];
    const instance = `S${this.incarnation}`;
    if (state) {
      const expectation = { jobId: this.c.jobId, parameterCount: this.c.layout.total, optimizer: this.job.optimizer.kind };
      const restored = deserializeCheckpoint(serializeCheckpoint(state), expectation, 'crash');
      this.c = new Coordinator({ job: this.job, instance, datasetUrl: '/d', checkpoint: restored, ...testSigning });
    } else {
      this.c = new Coordinator({ job: this.job, instance, datasetUrl: '/d', ...testSigning });
    }
    this.evaluations.length = 0;
    this.apply(this.c.start(this.now), true);
    this.openRound();
  }

  private pick(): Action {
    const entries = Object.entries(ACTIONS) as Array<[Action, number]>;
    let r = this.rng.int(entries.reduce((n, [, w]) => n + w, 0));
    for (const [a, w] of entries) {
      if (r < w) return a;
      r -= w;
    }
    return 'wait';
  }

  private cooperativeAction(): Action {
    if (this.evaluations.length) return 'evaluate';
    const active = [...this.peers.values()].filter((p) => p.contributorId && !p.paused);
    if (active.length === 0) {
      const paused = [...this.peers.values()].find((p) => p.paused);
      return paused ? 'pause' : 'join';
    }
    return active.some((p) => p.leases.length) ? 'answer' : 'tick';
  }

  private randomPeer(filter: (p: SimPeer) => boolean = (p) => p.contributorId !== null): SimPeer | undefined {
    const candidates = [...this.peers.values()].filter(filter);
    return candidates.length ? candidates[this.rng.int(candidates.length)] : undefined;
  }

  private takeLease(p: SimPeer): HeldLease | undefined {
    return p.leases.length ? p.leases.splice(this.rng.int(p.leases.length), 1)[0] : undefined;
  }

  private send(p: SimPeer, message: ContributorMessage): void {
    this.apply(this.c.receive(p.peer, message, this.now));
  }

  private act(action: Action): void {
    const total = this.c.layout.total;
    const withLease = (p: SimPeer) => p.contributorId !== null && p.leases.length > 0;
    switch (action) {
      case 'join': {
        if (this.peers.size >= 5) return;
        const peer = `p${this.nextPeer++}`;
        const resume = this.leftContributors.length && this.rng.next() < 0.3 ? this.leftContributors[this.rng.int(this.leftContributors.length)] : undefined;
        const key = (resume && this.keyOf.get(resume)) || testKey();
        this.peers.set(peer, { peer, contributorId: null, params: null, leases: [], answered: [], paused: false, key });
        this.apply(this.c.join(peer, this.now));
        return this.send(this.peers.get(peer)!, hello(5 + this.rng.int(200), this.minMaxBatch + this.rng.int(64), resume, key));
      }
      case 'leave':
      case 'vanish': {
        const p = this.randomPeer(() => true);
        if (!p) return;
        this.peers.delete(p.peer);
        if (p.contributorId) this.leftContributors.push(p.contributorId);
        // A vanished peer is noticed only when the host gives up on it, much later: leases expire first.
        if (action === 'leave') this.apply(this.c.leave(p.peer, 'closed', this.now));
        else this.vanished.push(p.peer);
        return;
      }
      case 'answer':
      case 'stale':
      case 'nan':
      case 'wrongLength':
      case 'wrongCount': {
        const p = this.randomPeer(withLease);
        const held = p && this.takeLease(p);
        if (!p || !held) return;
        const { leaseId, version } = held.message.body;
        const indices = held.message.tensors.indices;
        let gradient = leaseGradient(held.params, indices);
        let count = indices.length;
        let v = version;
        if (action === 'stale') v = version === 0 ? 1 : version - 1;
        if (action === 'nan') gradient[this.rng.int(total)] = this.rng.next() < 0.5 ? NaN : Infinity;
        if (action === 'wrongLength') gradient = gradient.subarray(0, total - 1 - this.rng.int(5));
        if (action === 'wrongCount') count = count + 1;
        const message = result(this.c.jobId, leaseId, v, count, gradient, 0, p.key);
        p.answered.push(message);
        return this.send(p, message);
      }
      case 'answerTwice': {
        const p = this.randomPeer((x) => x.contributorId !== null && x.answered.length > 0);
        if (p) this.send(p, p.answered[this.rng.int(p.answered.length)]);
        return;
      }
      case 'stealLease':
      case 'unknownLease': {
        const p = this.randomPeer();
        const others = this.leaseIds.filter((l) => l.contributorId !== p?.contributorId);
        if (!p || !others.length) return;
        const leaseId = action === 'stealLease' ? others[this.rng.int(others.length)].leaseId : `nope${this.rng.int(1000)}`;
        return this.send(p, result(this.c.jobId, leaseId, this.c.version, 8, new Float32Array(total), 0, p.key));
      }
      case 'leaseFailed': {
        const p = this.randomPeer(withLease);
        const held = p && this.takeLease(p);
        if (p && held) this.send(p, { type: 'leaseFailed', body: { leaseId: held.message.body.leaseId, reason: 'simulated' }, tensors: {} });
        return;
      }
      case 'pause': {
        const p = this.randomPeer();
        if (!p) return;
        p.paused = !p.paused;
        return this.send(p, { type: 'availability', body: { paused: p.paused }, tensors: {} });
      }
      case 'beforeHello': {
        const peer = `p${this.nextPeer++}`;
        this.peers.set(peer, { peer, contributorId: null, params: null, leases: [], answered: [], paused: false, key: testKey() });
        this.apply(this.c.join(peer, this.now));
        return this.send(this.peers.get(peer)!, result(this.c.jobId, 'x', 0, 1, new Float32Array(total)));
      }
      case 'helloTwice': {
        const p = this.randomPeer();
        if (p) this.send(p, hello());
        return;
      }
      case 'bye': {
        const p = this.randomPeer(() => true);
        if (p) this.send(p, { type: 'bye', body: { reason: 'simulated' }, tensors: {} });
        return;
      }
      case 'peerError': {
        const p = this.randomPeer(() => true);
        if (p) this.send(p, { type: 'error', body: { code: 'internal', message: 'simulated', fatal: this.rng.next() < 0.3 }, tensors: {} });
        return;
      }
      case 'tick':
        this.now += this.rng.int(2500);
        this.apply(this.c.tick(this.now));
        // The host notices vanished peers eventually.
        if (this.vanished.length && this.rng.next() < 0.3) this.apply(this.c.leave(this.vanished.shift()!, 'timed out', this.now));
        return;
      case 'evaluate': {
        if (!this.evaluations.length) return;
        const version = this.evaluations.shift()!;
        return this.apply(this.c.recordEvaluation(version, { loss: 1, accuracy: this.rng.next() / 2, count: 100 }, this.now));
      }
      case 'wait':
        return;
    }
  }

  private readonly vanished: string[] = [];

  /** Deliver decisions to the simulated peers and check them against the oracle. */
  private apply(d: Decisions, starting = false): void {
    for (const { to, message } of d.send) {
      // Every message must pass the protocol's own decoder, as a contributor would run it.
      expect(decodeMessage(encodeMessage(message), COORDINATOR_TABLE)).toEqual(message);
      const p = this.peers.get(to);
      if (!p) continue;
      if (message.type === 'welcome') {
        p.contributorId = message.body.contributorId;
        this.keyOf.set(p.contributorId, p.key);
      }
      if (message.type === 'parameters') p.params = message.tensors.params;
      if (message.type === 'lease') {
        expect(p.params, 'parameters arrive before the lease that needs them').not.toBeNull();
        p.leases.push({ message, params: p.params! });
      }
    }
    for (const { peer } of d.disconnect) {
      const p = this.peers.get(peer);
      this.peers.delete(peer);
      if (p?.contributorId) this.leftContributors.push(p.contributorId);
      expect(this.c.leave(peer, 'closed after disconnect', this.now)).toEqual({ send: [], disconnect: [], events: [] });
    }
    for (const e of d.events) {
      if (e.type === 'internalError') throw new Error(`internal error: ${e.message}\n${e.stack}`);
      if (e.type === 'leaseGranted') {
        this.granted.set(e.leaseId, e.ranges);
        this.leaseIds.push({ leaseId: e.leaseId, contributorId: e.contributorId });
      }
      if (e.type === 'resultAccepted') this.acceptedThisRound.push(e.leaseId);
      if (e.type === 'contributorBanned') {
        this.bans++;
        this.acceptedThisRound = this.acceptedThisRound.filter((id) => !e.discardedLeases.includes(id));
      }
      if (e.type === 'resultDiscarded') this.acceptedThisRound = this.acceptedThisRound.filter((id) => id !== e.leaseId);
      if (e.type === 'roundClosed') this.checkRound(e);
      if (e.type === 'evaluate') this.evaluations.push(e.version);
      if (e.type === 'checkpoint') this.lastCheckpoint = e.state;
      if (e.type === 'jobDone') this.done = e;
    }
    expect(starting || d.events.every((e) => e.at === this.now)).toBe(true);
  }

  private openRound(): void {
    this.roundOpen = this.c.checkpointState(this.now);
    this.paramsCopy = this.c.params.slice();
    this.acceptedThisRound = [];
  }

  private checkRound(e: Extract<CoordinatorEvent, { type: 'roundClosed' }>): void {
    const { record } = e;
    // Exactly once, from the events alone: the accepted leases' granted ranges tile the window.
    const ranges = this.acceptedThisRound.flatMap((id) => this.granted.get(id)!).sort((a, b) => a.start - b.start);
    let at = record.start;
    for (const r of ranges) {
      expect(r.start, `round ${record.round}: a gap or an overlap at ${at}`).toBe(at);
      at = r.end;
    }
    expect(at).toBe(record.end);
    expect(record.exact).toBe(true);
    expect(record.leases.map((l) => l.leaseId).sort()).toEqual([...this.acceptedThisRound].sort());
    // The model moved by one optimizer step on the whole window's mean gradient.
    const order = epochOrder(this.job.seed, record.epoch, this.job.data.trainExamples);
    const mean = leaseGradient(this.roundOpen.params, order.subarray(record.start, record.end));
    const oracle = new OptimizerHost(this.c.layout, this.job.optimizer, plannedRounds(this.job), {
      step: this.roundOpen.optimizer.step,
      params: this.roundOpen.params,
      moment1: this.roundOpen.moment1,
      moment2: this.roundOpen.moment2,
    });
    oracle.apply(mean);
    let worst = 0;
    for (let i = 0; i < mean.length; i++) worst = Math.max(worst, Math.abs(oracle.params[i] - this.c.params[i]));
    expect(worst, `round ${record.round}: parameters differ from the whole-window step`).toBeLessThanOrEqual(this.paramTolerance);
    this.roundsChecked++;
    this.openRound();
  }
}

/** Run until the job ends: random behaviour first, then cooperative. Crash once the run reaches each of crashRounds, a few steps in. */
function runToEnd(swarm: SimulatedSwarm, randomSteps: number, crashRounds: number[] = [], rng = new Random(0)): void {
  const plan = [...crashRounds];
  let delay = rng.int(40);
  for (let step = 0; !swarm.finished; step++) {
    if (plan.length && swarm.c.round >= plan[0] && delay-- <= 0) {
      plan.shift();
      delay = rng.int(40);
      swarm.crash();
    }
    swarm.step(step >= randomSteps);
    if (step > randomSteps + 5000) throw new Error(`No end after ${step} steps: round ${swarm.c.round}, state ${swarm.c.state}`);
  }
}

describe('Coordinator simulation', () => {
  // SGD is linear in the gradient, so lease means rounded to f32 move the parameters by ~1e-8 at most.
  const randomJob = tinyJob({
    optimizer: { kind: 'sgd', lr: 0.1, momentum: 0.9 },
    lease: { minExamples: 3, maxExamples: 40, targetSeconds: 0.5, timeoutMs: 2000 },
    stop: { rounds: 10 },
    // The fake gradients are not a model's: screening is tested on real ones (screening.test.ts).
    verification: { screening: { enabled: false } },
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('seed %i: survives anything contributors do, and aggregates every example exactly once', (seed) => {
    const swarm = new SimulatedSwarm(randomJob, new Random(seed), 1e-6);
    runToEnd(swarm, 1500);
    expect(swarm.done?.reason).toBe('rounds');
    expect(swarm.roundsChecked).toBe(10);
    expect(swarm.bans, 'stale, replayed and stolen results ban their senders').toBeGreaterThan(0);
    const summary = swarm.c.summary(swarm.now);
    expect(summary.coverage).toMatchObject({ exact: true, rounds: 10, examples: 10 * 64 - 2 * 56, problems: [] });
  }, 60_000);

  // Leases of exactly 8 examples make every lease mean exact in f32, so any split gives the same bits.
  const exactJob = tinyJob({
    data: { dataset: 'fashion-mnist', trainExamples: 192, testExamples: 100 },
    lease: { minExamples: 8, maxExamples: 8, targetSeconds: 0.5, timeoutMs: 2000 },
    stop: { rounds: 9 },
    verification: { screening: { enabled: false } },
  });

  it.each([11, 12, 13, 14])('seed %i: a run killed at random moments and restored ends with identical parameters', (seed) => {
    const reference = new SimulatedSwarm(exactJob, new Random(1000 + seed), 0, 8);
    runToEnd(reference, 800);
    const rng = new Random(seed);
    const restored = new SimulatedSwarm(exactJob, new Random(seed), 0, 8);
    runToEnd(restored, 1200, [1 + rng.int(3), 5 + rng.int(3)], rng);
    expect(restored.crashes).toBe(2);
    expect(restored.done?.version).toBe(9);
    expect(reference.done?.version).toBe(9);
    expect(restored.done!.params).toEqual(reference.done!.params);
    expect(restored.c.coverage()).toMatchObject({ exact: true, rounds: 9 });
  }, 60_000);
});
