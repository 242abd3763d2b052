// The run's live status is folded from coordinator events alone, so these tests feed it
// events exactly as the coordinator emits them and read the snapshot the dashboard and the
// console get: contributors by id across reconnects, per-contributor tasks and examples,
// rates over the last minute (examples/s, rounds/min), evaluations, the final state, the
// cap on kept round points, and a run restored with history. `progressLine` is checked as
// the exact line the console prints.

import { describe, expect, it } from 'vitest';
import type { CoordinatorEvent } from '../coordinator/decisions.ts';
import type { RoundRecord } from '../coordinator/records.ts';
import type { Capabilities } from '../protocol/messages.ts';
import { RunStatus, duration, etaText, progressLine, type RoundPoint, type RunStatusSnapshot } from './runStatus.ts';

const JOB = { id: 'job-1', name: 'tiny', globalBatch: 64, parameters: 1000 };
const T0 = 1_000_000;

function caps(device = 'test adapter', backend: Capabilities['backend'] = 'webgpu'): Capabilities {
  return { backend, device, fallbackAdapter: false, flopsPerMs: 1e6, examplesPerSecond: 32, maxBatch: 8192 };
}

const joined = (at: number, peer: string, contributorId: string, capabilities = caps(), resumed = false): CoordinatorEvent => ({
  type: 'joined', at, peer, contributorId, publicKey: 'ed25519:' + 'A'.repeat(43), capabilities, resumed,
});
const left = (at: number, peer: string, contributorId: string | null): CoordinatorEvent => ({
  type: 'left', at, peer, contributorId, reason: 'test', returnedLeases: [],
});
const accepted = (at: number, contributorId: string, count: number, leaseId = `l-${at}`, computeMs = 10): CoordinatorEvent => ({
  type: 'resultAccepted', at, contributorId, leaseId, round: 0, version: 0, count, loss: 1, afterExpiry: false, computeMs, resultHash: '0'.repeat(64), signature: 'A'.repeat(86),
});
const rejected = (at: number, contributorId: string): CoordinatorEvent => ({
  type: 'resultRejected', at, contributorId, leaseId: `r-${at}`, outcome: 'duplicate', code: null, reason: 'test', resultHash: '0'.repeat(64), signature: 'A'.repeat(86),
});

function roundRecord(round: number, loss = 1, trainAccuracy = 0.5, examples = 64): RoundRecord {
  return {
    round, epoch: 0, start: 0, end: examples, version: round, leases: [], exact: true, examples,
    loss, trainAccuracy, lr: 0.01, gradNorm: 1, openedAt: 0, closedAt: 1,
  };
}
const roundClosed = (at: number, round: number, loss = 1, contributors = 1, durationMs = 100): CoordinatorEvent => ({
  type: 'roundClosed', at, record: roundRecord(round, loss, 0.25, 64), newVersion: round + 1, contributors, durationMs, examplesPerSecond: 640,
});
const jobDone = (at: number, reason: 'epochs' | 'rounds' | 'target-accuracy' | 'diverged', message: string): CoordinatorEvent => ({
  type: 'jobDone', at, reason, message, version: 3, params: new Float32Array(2), testAccuracy: null, testLoss: null,
});

const byId = (s: RunStatusSnapshot, id: string) => s.contributors.find((c) => c.id === id)!;

describe('RunStatus: contributors', () => {
  it('lists a contributor on join with its device, backend and join time', () => {
    const s = new RunStatus(JOB, T0);
    s.record(joined(T0 + 10, 'peer-a', 'c0', caps('GPU A', 'cpu')));
    expect(s.snapshot(T0 + 20).contributors).toEqual([
      { id: 'c0', device: 'GPU A', backend: 'cpu', connected: true, paused: false, banned: false, joinedAt: T0 + 10, tasks: 0, examples: 0, uncounted: 0, examplesPerSecond: 0 },
    ]);
  });

  it('marks a banned contributor banned (and its leaving disconnected)', () => {
    const s = new RunStatus(JOB, T0);
    s.record(joined(T0, 'peer-a', 'c0'));
    s.record(joined(T0, 'peer-b', 'c1'));
    s.record({ type: 'contributorBanned', at: T0 + 1, contributorId: 'c0', publicKey: 'ed25519:' + 'A'.repeat(43), reason: 'test', check: 'spot-check', discardedLeases: [] });
    s.record(left(T0 + 2, 'peer-a', 'c0'));
    const snap = s.snapshot(T0 + 10);
    expect([byId(snap, 'c0').banned, byId(snap, 'c0').connected]).toEqual([true, false]);
    expect(byId(snap, 'c1').banned).toBe(false);
    expect(progressLine(snap)).toContain(' · 1 contributor (1 banned) · ');
  });

  it('marks a contributor disconnected on leave, by id or by the peer it joined on', () => {
    const s = new RunStatus(JOB, T0);
    s.record(joined(T0, 'peer-a', 'c0'));
    s.record(joined(T0, 'peer-b', 'c1'));
    s.record(left(T0 + 5, 'peer-a', 'c0'));
    // The coordinator had not welcomed this peer's contributor yet as far as the event says: the peer names it.
    s.record(left(T0 + 6, 'peer-b', null));
    const snap = s.snapshot(T0 + 10);
    expect(byId(snap, 'c0').connected).toBe(false);
    expect(byId(snap, 'c1').connected).toBe(false);
    expect(snap.contributors).toHaveLength(2);
  });

  it('ignores a leave of a peer it never saw join', () => {
    const s = new RunStatus(JOB, T0);
    s.record(joined(T0, 'peer-a', 'c0'));
    s.record(left(T0 + 1, 'peer-x', null));
    s.record(left(T0 + 1, 'peer-y', 'c-unknown'));
    const snap = s.snapshot(T0 + 2);
    expect(snap.contributors.map((c) => [c.id, c.connected])).toEqual([['c0', true]]);
  });

  it('keeps a resumed contributor as one entry with its first join time and its credit, on the new device', () => {
    const s = new RunStatus(JOB, T0);
    s.record(joined(T0 + 1, 'peer-a', 'c0', caps('old GPU')));
    s.record(accepted(T0 + 2, 'c0', 10));
    s.record(rejected(T0 + 3, 'c0'));
    s.record({ type: 'availability', at: T0 + 4, contributorId: 'c0', paused: true });
    s.record(left(T0 + 5, 'peer-a', 'c0'));
    s.record(joined(T0 + 6, 'peer-b', 'c0', caps('new GPU', 'cpu'), true));
    const snap = s.snapshot(T0 + 7);
    expect(snap.contributors).toHaveLength(1);
    expect(snap.contributors[0]).toMatchObject({
      id: 'c0', device: 'new GPU', backend: 'cpu', connected: true, paused: false,
      joinedAt: T0 + 1, tasks: 1, examples: 10, uncounted: 1,
    });
    // A late leave of the new peer (which speaks for c0 now) still marks it gone.
    s.record(left(T0 + 8, 'peer-b', null));
    expect(byId(s.snapshot(T0 + 9), 'c0').connected).toBe(false);
  });

  it('follows pause and resume, and ignores availability of an unknown contributor', () => {
    const s = new RunStatus(JOB, T0);
    s.record(joined(T0, 'peer-a', 'c0'));
    s.record({ type: 'availability', at: T0 + 1, contributorId: 'c0', paused: true });
    expect(byId(s.snapshot(T0 + 2), 'c0').paused).toBe(true);
    s.record({ type: 'availability', at: T0 + 3, contributorId: 'c0', paused: false });
    s.record({ type: 'availability', at: T0 + 3, contributorId: 'nobody', paused: true });
    const snap = s.snapshot(T0 + 4);
    expect(byId(snap, 'c0').paused).toBe(false);
    expect(snap.contributors).toHaveLength(1);
  });

  it('counts tasks and examples per contributor, and uncounted results apart', () => {
    const s = new RunStatus(JOB, T0);
    s.record(joined(T0, 'peer-a', 'a'));
    s.record(joined(T0, 'peer-b', 'b'));
    s.record(accepted(T0 + 1, 'a', 16));
    s.record(accepted(T0 + 2, 'a', 32));
    s.record(accepted(T0 + 3, 'b', 8));
    s.record(rejected(T0 + 4, 'b'));
    s.record(rejected(T0 + 5, 'b'));
    const snap = s.snapshot(T0 + 10);
    expect(byId(snap, 'a')).toMatchObject({ tasks: 2, examples: 48, uncounted: 0 });
    expect(byId(snap, 'b')).toMatchObject({ tasks: 1, examples: 8, uncounted: 2 });
  });

  it('returns copies: a snapshot does not change when later events arrive', () => {
    const s = new RunStatus(JOB, T0);
    s.record(joined(T0, 'peer-a', 'a'));
    const before = s.snapshot(T0 + 1);
    s.record(accepted(T0 + 2, 'a', 5));
    s.record(roundClosed(T0 + 3, 0));
    s.recordEvaluation({ version: 1, at: T0 + 4, accuracy: 0.5, loss: 1 });
    expect(before.contributors[0].tasks).toBe(0);
    expect(before.rounds).toEqual([]);
    expect(before.evaluations).toEqual([]);
  });

  it('ignores events that do not change the picture', () => {
    const s = new RunStatus(JOB, T0);
    s.record(joined(T0, 'peer-a', 'a'));
    const before = s.snapshot(T0 + 1);
    s.record({ type: 'leaseGranted', at: T0, contributorId: 'a', leaseId: 'l', round: 0, version: 0, ranges: [], count: 4, deadline: T0 + 9 });
    s.record({ type: 'leaseExpired', at: T0, contributorId: 'a', leaseId: 'l', round: 0, count: 4 });
    s.record({ type: 'peerError', at: T0, peer: 'peer-a', contributorId: 'a', code: 'malformed', message: 'x', fromPeer: false });
    s.record({ type: 'internalError', at: T0, peer: null, message: 'x', stack: null });
    expect(s.snapshot(T0 + 1)).toEqual(before);
  });
});

describe('RunStatus: rates over the last minute', () => {
  it('divides examples by the time since the start while the run is younger than a minute', () => {
    const s = new RunStatus(JOB, T0);
    s.record(joined(T0, 'peer-a', 'a'));
    s.record(joined(T0, 'peer-b', 'b'));
    s.record(accepted(T0 + 1000, 'a', 100));
    s.record(accepted(T0 + 2000, 'b', 300));
    const snap = s.snapshot(T0 + 10_000);
    expect(snap.examplesPerSecond).toBeCloseTo(40, 12); // 400 examples / 10 s
    expect(byId(snap, 'a').examplesPerSecond).toBeCloseTo(10, 12);
    expect(byId(snap, 'b').examplesPerSecond).toBeCloseTo(30, 12);
  });

  it('counts only the results of the last 60 s once the run is older than that', () => {
    const s = new RunStatus(JOB, T0);
    s.record(joined(T0, 'peer-a', 'a'));
    s.record(accepted(T0 + 10_000, 'a', 6000)); // falls out of the window below
    s.record(accepted(T0 + 100_000, 'a', 600));
    s.record(accepted(T0 + 130_000, 'a', 1200));
    const now = T0 + 150_000; // window [90 s, 150 s]
    const snap = s.snapshot(now);
    expect(snap.examplesPerSecond).toBeCloseTo(1800 / 60, 12);
    expect(byId(snap, 'a').examplesPerSecond).toBeCloseTo(1800 / 60, 12);
    // Lifetime credit is not windowed.
    expect(byId(snap, 'a')).toMatchObject({ tasks: 3, examples: 7800 });
  });

  it('keeps a result exactly 60 s old and drops one a millisecond older', () => {
    const s = new RunStatus(JOB, T0);
    s.record(accepted(T0 + 1000, 'a', 60));
    s.record(accepted(T0 + 1001, 'a', 120));
    expect(s.snapshot(T0 + 61_000).examplesPerSecond).toBeCloseTo(180 / 60, 12);
    expect(s.snapshot(T0 + 61_001).examplesPerSecond).toBeCloseTo(120 / 60, 12);
  });

  it('goes to zero when nothing was counted for a minute, for the run and each contributor', () => {
    const s = new RunStatus(JOB, T0);
    s.record(joined(T0, 'peer-a', 'a'));
    s.record(accepted(T0 + 5000, 'a', 500));
    expect(s.snapshot(T0 + 30_000).examplesPerSecond).toBeGreaterThan(0);
    const later = s.snapshot(T0 + 200_000);
    expect(later.examplesPerSecond).toBe(0);
    expect(byId(later, 'a').examplesPerSecond).toBe(0);
  });

  it('counts a result of a contributor it has not seen join in the total only', () => {
    const s = new RunStatus(JOB, T0);
    s.record(accepted(T0 + 1000, 'ghost', 50));
    const snap = s.snapshot(T0 + 5000);
    expect(snap.contributors).toEqual([]);
    expect(snap.examplesPerSecond).toBeCloseTo(10, 12);
  });

  it('never divides by zero at the very start', () => {
    const snap = new RunStatus(JOB, T0).snapshot(T0);
    expect(snap.examplesPerSecond).toBe(0);
    expect(snap.roundsPerMinute).toBe(0);
  });

  it('gives rounds per minute over the time since the start, then over the last minute', () => {
    const s = new RunStatus(JOB, T0);
    for (let r = 0; r < 5; r++) s.record(roundClosed(T0 + (r + 1) * 2000, r));
    // 5 rounds in 10 s.
    expect(s.snapshot(T0 + 10_000).roundsPerMinute).toBeCloseTo(30, 12);
    for (let r = 5; r < 20; r++) s.record(roundClosed(T0 + 70_000 + r * 1000, r)); // rounds 5..19 at 75..89 s
    // At 100 s the window is [40 s, 100 s]: the first five rounds have left it.
    expect(s.snapshot(T0 + 100_000).roundsPerMinute).toBeCloseTo(15, 12);
  });
});

describe('RunStatus: rounds, evaluations and the end', () => {
  it('records each closed round as a point and moves to the next round', () => {
    const s = new RunStatus(JOB, T0);
    expect(s.snapshot(T0).round).toBe(0);
    s.record(roundClosed(T0 + 100, 0, 2.5, 3, 90));
    const snap = s.snapshot(T0 + 200);
    expect(snap.round).toBe(1);
    expect(snap.rounds).toEqual<RoundPoint[]>([
      { round: 0, at: T0 + 100, loss: 2.5, trainAccuracy: 0.25, examples: 64, durationMs: 90, contributors: 3 },
    ]);
  });

  it('keeps every evaluation in order', () => {
    const s = new RunStatus(JOB, T0);
    s.recordEvaluation({ version: 2, at: T0 + 1, accuracy: 0.5, loss: 1.2 });
    s.recordEvaluation({ version: 4, at: T0 + 2, accuracy: 0.75, loss: 0.8 });
    expect(s.snapshot(T0 + 3).evaluations.map((e) => e.version)).toEqual([2, 4]);
  });

  it('keeps only the newest 2000 round points', () => {
    const s = new RunStatus(JOB, T0);
    for (let r = 0; r < 2005; r++) s.record(roundClosed(T0 + r, r));
    const snap = s.snapshot(T0 + 3000);
    expect(snap.rounds).toHaveLength(2000);
    expect(snap.rounds[0].round).toBe(5);
    expect(snap.rounds.at(-1)!.round).toBe(2004);
    expect(snap.round).toBe(2005);
  });

  it('is done when the job stops for a goal, and failed when it diverged', () => {
    for (const reason of ['epochs', 'rounds', 'target-accuracy'] as const) {
      const s = new RunStatus(JOB, T0);
      s.record(jobDone(T0 + 1, reason, `stopped: ${reason}`));
      expect(s.snapshot(T0 + 2)).toMatchObject({ state: 'done', message: `stopped: ${reason}` });
    }
    const s = new RunStatus(JOB, T0);
    expect(s.snapshot(T0)).toMatchObject({ state: 'running', message: null });
    s.record(jobDone(T0 + 1, 'diverged', 'the loss is NaN'));
    expect(s.snapshot(T0 + 2)).toMatchObject({ state: 'failed', message: 'the loss is NaN' });
  });

  it('fails with the host’s message', () => {
    const s = new RunStatus(JOB, T0);
    s.fail('the evaluation thread crashed');
    expect(s.snapshot(T0 + 1)).toMatchObject({ state: 'failed', message: 'the evaluation thread crashed' });
  });

  it('passes the job, start time, now and relay through', () => {
    const s = new RunStatus(JOB, T0);
    const snap = s.snapshot(T0 + 5, { connectedPeers: 3 });
    expect(snap).toMatchObject({ job: JOB, startedAt: T0, now: T0 + 5, relay: { connectedPeers: 3 } });
    expect(s.snapshot(T0 + 5).relay).toBeNull();
  });
});

describe('RunStatus: history from a restored run', () => {
  const history = {
    rounds: [0, 1, 2].map((r): RoundPoint => ({ round: r, at: T0 - 1000 + r, loss: 3 - r, trainAccuracy: 0.1 * r, examples: 64, durationMs: 10, contributors: 1 })),
    evaluations: [{ version: 2, at: T0 - 500, accuracy: 0.4, loss: 1.5 }],
  };

  it('starts from the given rounds and evaluations and appends new ones after them', () => {
    const s = new RunStatus(JOB, T0, history);
    s.record(roundClosed(T0 + 10, 3));
    s.recordEvaluation({ version: 4, at: T0 + 20, accuracy: 0.5, loss: 1.2 });
    const snap = s.snapshot(T0 + 30);
    expect(snap.rounds.map((r) => r.round)).toEqual([0, 1, 2, 3]);
    expect(snap.evaluations.map((e) => e.version)).toEqual([2, 4]);
    expect(snap.round).toBe(4);
  });

  it('does not share the caller’s arrays', () => {
    const rounds = history.rounds.slice();
    const s = new RunStatus(JOB, T0, { rounds });
    rounds.length = 0;
    expect(s.snapshot(T0).rounds).toHaveLength(3);
  });

  it('starts at round 0 with evaluations only (what a checkpoint restore passes)', () => {
    const s = new RunStatus(JOB, T0, { evaluations: history.evaluations });
    const snap = s.snapshot(T0);
    expect(snap.round).toBe(0);
    expect(snap.evaluations).toEqual(history.evaluations);
  });

  // A status built from rounds 0..2 and one that recorded rounds 0..2 both say round 3.
  it('reports the same round whether the history was passed in or recorded', () => {
    const restored = new RunStatus(JOB, T0, { rounds: history.rounds });
    const recorded = new RunStatus(JOB, T0);
    for (const r of history.rounds) recorded.record(roundClosed(r.at, r.round));
    expect(restored.snapshot(T0).round).toBe(recorded.snapshot(T0).round);
  });
});

describe('progressLine', () => {
  const base: RunStatusSnapshot = {
    job: JOB, state: 'running', message: null, startedAt: T0, now: T0, round: 0, rounds: [], evaluations: [],
    samples: [], contributors: [], examplesPerSecond: 0, roundsPerMinute: 0, relay: null,
    eta: { stopRound: null, targetAccuracy: null, seconds: null }, computeShare: null,
  };
  const contributor = (id: string, connected: boolean) => ({
    id, device: 'd', backend: 'webgpu', connected, paused: false, banned: false, joinedAt: T0, tasks: 0, examples: 0, uncounted: 0, examplesPerSecond: 0,
  });

  it('shows dashes before the first round and evaluation', () => {
    expect(progressLine(base)).toBe('round 0 · loss – · test accuracy – · 0 contributors · 0 examples/s · 0.0 rounds/min · no stop condition · computing –');
  });

  it('shows the last round’s loss, the last evaluation, connected contributors and rounded rates', () => {
    const line = progressLine({
      ...base,
      round: 12,
      rounds: [
        { round: 10, at: 0, loss: 2, trainAccuracy: 0, examples: 1, durationMs: 1, contributors: 1 },
        { round: 11, at: 0, loss: 0.123456, trainAccuracy: 0, examples: 1, durationMs: 1, contributors: 1 },
      ],
      evaluations: [
        { version: 5, at: 0, accuracy: 0.5, loss: 1 },
        { version: 10, at: 0, accuracy: 0.8816, loss: 1 },
      ],
      contributors: [contributor('a', true), contributor('b', false), contributor('c', true)],
      examplesPerSecond: 1234.5,
      roundsPerMinute: 37.25,
      eta: { stopRound: 1875, targetAccuracy: 0.88, seconds: 200.4 },
      computeShare: 0.123,
    });
    expect(line).toBe(
      'round 12 · loss 0.1235 · test accuracy 88.16% (v10) · 2 contributors · 1235 examples/s · 37.3 rounds/min · ' +
        'ETA 3m20s (round 1875, or 88% first) · contributors computing 12% of the time, waiting 88%',
    );
  });

  it("shows a next-token job's validation loss where other jobs show test accuracy", () => {
    const line = progressLine({ ...base, job: { ...JOB, tokens: true }, evaluations: [{ version: 250, at: 0, accuracy: 0.3, loss: 2.41049 }], eta: { stopRound: 2616, targetAccuracy: null, targetLoss: 1.88, seconds: 60 } });
    expect(line).toContain(' · validation loss 2.4105 (v250) · ');
    expect(line).toContain(' · ETA 1m00s (round 2616, or loss 1.88 first) · ');
    expect(progressLine({ ...base, job: { ...JOB, tokens: true } })).toContain(' · validation loss – · ');
  });

  it('says "1 contributor" in the singular', () => {
    expect(progressLine({ ...base, contributors: [contributor('a', true), contributor('b', false)] })).toContain(' · 1 contributor · ');
  });

  it('says how many were banned, so that a run whose contributors were all banned says why it waits', () => {
    const gone = { ...contributor('a', false), banned: true };
    expect(progressLine({ ...base, contributors: [gone, { ...contributor('b', false), banned: true }, contributor('c', true)] })).toContain(' · 1 contributor (2 banned) · ');
  });
});

describe('ETA and compute share', () => {
  const job = { ...JOB, plannedRounds: 100, targetAccuracy: 0.9 };

  it('estimates the time to the round limit from the last minute of rounds, and says when it cannot', () => {
    const s = new RunStatus(job, T0);
    expect(s.snapshot(T0).eta).toEqual({ stopRound: 100, targetAccuracy: 0.9, targetLoss: null, seconds: null });
    // 20 rounds in the first 30 s: 40 rounds/min, 80 rounds left → 120 s.
    for (let r = 0; r < 20; r++) s.record(roundClosed(T0 + 1500 * (r + 1), r));
    const eta = s.snapshot(T0 + 30_000).eta;
    expect(eta.seconds).toBeCloseTo(120, 6);
    expect(etaText(eta)).toBe('ETA 2m00s (round 100, or 90% first)');
    expect(etaText({ stopRound: null, targetAccuracy: 0.88, seconds: null })).toBe('until 88% test accuracy');
    expect(etaText({ stopRound: null, targetAccuracy: null, targetLoss: 1.88, seconds: null })).toBe('until test loss 1.88');
    expect(etaText({ stopRound: 9, targetAccuracy: 0.5, targetLoss: 1.88, seconds: null })).toBe('ETA – (round 9, or 50% or loss 1.88 first)');
    expect(duration(4000)).toBe('1h06m');
  });

  it('is the share of wall time that the contributors with results spent computing', () => {
    const s = new RunStatus(job, T0);
    s.record(joined(T0, 'p1', 'c1'));
    s.record(joined(T0, 'p2', 'c2'));
    expect(s.snapshot(T0 + 1000).computeShare).toBeNull();
    // Over 10 s: c1 computed 3 × 500 ms, c2 2 × 1000 ms → 3.5 s of 20 contributor-seconds.
    for (const at of [1000, 4000, 7000]) s.record(accepted(T0 + at, 'c1', 10, `a${at}`, 500));
    for (const at of [2000, 6000]) s.record(accepted(T0 + at, 'c2', 10, `b${at}`, 1000));
    expect(s.snapshot(T0 + 10_000).computeShare).toBeCloseTo(3.5 / 20, 9);
    // A minute later those results have left the window.
    expect(s.snapshot(T0 + 80_000).computeShare).toBeNull();
  });
});

describe('evaluations and text samples', () => {
  it("puts beside each evaluation the training loss of the rounds since the one before, and keeps the newest samples", () => {
    const s = new RunStatus({ ...JOB, tokens: true }, T0);
    [3, 2, 1, 0.5].forEach((loss, r) => s.record(roundClosed(T0 + r, r, loss)));
    s.recordEvaluation({ version: 2, at: T0, accuracy: 0.1, loss: 2.6 });
    s.recordEvaluation({ version: 4, at: T0, accuracy: 0.2, loss: 1.9 });
    s.recordEvaluation({ version: 6, at: T0, accuracy: 0.2, loss: 1.8, trainLoss: null });
    expect(s.snapshot(T0).evaluations.map((e) => e.trainLoss)).toEqual([2.5, 0.75, null]);
    for (let v = 0; v < 25; v++) s.recordSample({ version: v, at: T0, text: `text ${v}` });
    const samples = s.snapshot(T0).samples;
    expect(samples).toHaveLength(20);
    expect(samples[0].version).toBe(5);
    expect(samples.at(-1)!.text).toBe('text 24');
  });
});
