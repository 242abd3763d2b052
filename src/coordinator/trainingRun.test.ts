import { describe, expect, it } from 'vitest';
import { jobResolved, leaseBounds, type Job } from './job.ts';
import { roundWindow, type LeaseRecord, type RoundPlan } from './rounds.ts';
import { tinyJob } from './testSwarm.ts';
import { TrainingRun, localStepsRoundDelta } from './trainingRun.ts';

// 200 training examples in rounds of 64: three full rounds and a short one of 8 per epoch.
const localSteps = (): Job =>
  tinyJob({
    optimizer: { kind: 'sgd', lr: 0.1, momentum: 0.9, schedule: { decay: 'cosine' } },
    sync: { mode: 'local-steps', innerSteps: 8, innerBatch: 8, outer: { lr: 1, momentum: 0 } },
    stop: { epochs: 2 },
  });
const planOf = (job: Job): RoundPlan => ({ seed: job.seed, trainExamples: job.data.trainExamples, globalBatch: job.globalBatch, lease: leaseBounds(job) });

/** Close `round` of a fresh run on one contribution of Δ = `value` everywhere, covering the window; returns θ_after − θ_before. */
function outerStep(job: Job, round: number, value: number): Float32Array {
  const plan = planOf(job);
  const run = new TrainingRun(job, jobResolved(job), plan);
  const window = roundWindow(plan, round);
  const count = window.end - window.start;
  const before = run.params.slice();
  run.addContribution({ leaseId: 'l1', contributorId: 'c1', exampleCount: count, firstPosition: window.start, gradient: new Float32Array(before.length).fill(value), loss: 1, correct: 0 });
  const lease: LeaseRecord = { id: 'l1', contributorId: 'c1', round, version: 0, ranges: [{ start: window.start, end: window.end }], count, grantedAt: 0, deadline: 1, state: 'answered' };
  const closed = run.closeRound(window, [lease], 0, 0, 1);
  if ('diverged' in closed) throw new Error(closed.diverged);
  return run.params.map((p, i) => p - before[i]);
}

describe('the outer step of a local-steps round', () => {
  it('takes a full round’s mean Δ as it is, and the short last round of an epoch scaled by its share of a full one', () => {
    const job = localSteps();
    // Outer lr 1 without momentum: θ moves by −Δ (padding entries stay put).
    const full = outerStep(job, 1, 0.5);
    const short = outerStep(job, 3, 0.5);
    // Each moved entry by the step, to f32 rounding of θ (|θ| < 2 here).
    const off = (d: Float32Array, step: number) => Math.max(...Array.from(d).filter((x) => x !== 0).map((x) => Math.abs(x - step)));
    expect(off(full, -0.5)).toBeLessThan(1e-6);
    expect(off(short, -0.5 * (8 / 64))).toBeLessThan(1e-6);
    expect(full.filter((x) => x !== 0).length).toBe(short.filter((x) => x !== 0).length);
  });

  it('leaves every-step rounds and full windows alone, without copying', () => {
    const mean = Float32Array.from([1, -2, 3]);
    const job = localSteps();
    const plan = planOf(job);
    expect(localStepsRoundDelta(job, roundWindow(plan, 0), mean)).toBe(mean);
    const everyStep = tinyJob();
    expect(localStepsRoundDelta(everyStep, roundWindow(planOf(everyStep), 3), mean)).toBe(mean);
    expect(Array.from(localStepsRoundDelta(job, roundWindow(plan, 3), mean))).toEqual([0.125, -0.25, 0.375]);
  });
});
