import { describe, expect, it } from 'vitest';
import { resolveModel } from '../model/layers/spec.ts';
import { adamwStepRef, sgdMomentumStepRef } from '../model/reference.ts';
import { Random } from '../util/random.ts';
import { parseJob, type JobInput } from './job.ts';
import { OptimizerDivergedError, OptimizerHost, freshOptimizerState } from './optimizerHost.ts';

const layout = resolveModel({ widths: [784, 5, 10], activation: 'relu' });
const jobWith = (optimizer: JobInput['optimizer']) =>
  parseJob(
    { name: 't', model: { widths: [784, 5, 10], activation: 'relu' }, data: { dataset: 'fashion-mnist' }, optimizer, globalBatch: 10, stop: { rounds: 10 }, evaluateEvery: 1, checkpointEvery: 1, seed: 4 },
    'test',
  );

function randomGradient(seed: number): Float32Array {
  const rng = new Random(seed);
  return Float32Array.from({ length: layout.total }, () => rng.uniform(-1, 1));
}

/** Indices of the flat vector that belong to no segment. */
function paddingIndices(): number[] {
  const used = new Uint8Array(layout.total);
  for (const s of layout.tensors) used.fill(1, s.offset, s.offset + s.length);
  return [...used.keys()].filter((i) => !used[i]);
}

describe('OptimizerHost', () => {
  it('applies AdamW with the scheduled learning rate, like the reference, and keeps padding at zero', () => {
    const job = jobWith({ kind: 'adamw', lr: 0.01, weightDecay: 0.1, schedule: { warmupSteps: 2, decay: 'linear' } });
    const host = new OptimizerHost(layout, job.optimizer, 10, freshOptimizerState(layout, job.optimizer, job.seed));
    const expected = freshOptimizerState(layout, job.optimizer, job.seed);
    const padding = paddingIndices();
    expect(padding.length).toBeGreaterThan(0);
    for (let t = 1; t <= 3; t++) {
      const g = randomGradient(t);
      const before = host.params;
      const report = host.apply(g);
      expect(report.step).toBe(t);
      expect(report.lr).toBeCloseTo([0.005, 0.01, 0.01 * (1 - 1 / 8)][t - 1]);
      expect(host.params).not.toBe(before); // a new array per step: the old one is a stable snapshot
      const masked = g.slice();
      for (const i of padding) masked[i] = 0;
      if (job.optimizer.kind !== 'adamw') throw new Error('the test job is AdamW');
      adamwStepRef(expected.params, masked, expected.moment1, expected.moment2!, t, { ...job.optimizer, lr: report.lr }, layout.decayEnd);
      expect(host.params).toEqual(expected.params);
      for (const i of padding) expect(host.params[i]).toBe(0);
    }
    const snap = host.snapshot();
    expect(snap.step).toBe(3);
    expect(snap.moment2).toEqual(expected.moment2);
  });

  it('applies SGD with momentum like the reference', () => {
    const job = jobWith({ kind: 'sgd', lr: 0.1, momentum: 0.9 });
    const host = new OptimizerHost(layout, job.optimizer, null, freshOptimizerState(layout, job.optimizer, 1));
    const expected = freshOptimizerState(layout, job.optimizer, 1);
    expect(expected.moment2).toBeNull();
    const g = randomGradient(9);
    for (const i of paddingIndices()) g[i] = 0;
    host.apply(g);
    sgdMomentumStepRef(expected.params, g, expected.moment1, { lr: 0.1, momentum: 0.9, weightDecay: 0, maxGradNorm: 0 }, layout.decayEnd);
    expect(host.params).toEqual(expected.params);
  });

  it('leaves the model untouched when a step would diverge', () => {
    const job = jobWith({ kind: 'sgd', lr: 10, momentum: 0 });
    const host = new OptimizerHost(layout, job.optimizer, null, freshOptimizerState(layout, job.optimizer, 1));
    const before = host.snapshot();
    const huge = new Float32Array(layout.total).fill(3e38);
    expect(() => host.apply(huge)).toThrow(OptimizerDivergedError);
    expect(() => host.apply(huge)).toThrow(/Lower optimizer\.lr or set optimizer\.maxGradNorm/);
    expect(host.snapshot()).toEqual(before);
    expect(host.step).toBe(0);
  });

  it('checks the state it is given', () => {
    const adamw = jobWith({ kind: 'adamw', lr: 0.01 }).optimizer;
    const sgd = jobWith({ kind: 'sgd', lr: 0.01 }).optimizer;
    const good = freshOptimizerState(layout, adamw, 1);
    expect(() => new OptimizerHost(layout, adamw, 1, { ...good, params: new Float32Array(3) })).toThrow(/params must be a Float32Array of \d+ floats/);
    expect(() => new OptimizerHost(layout, adamw, 1, { ...good, moment2: null })).toThrow(/moment2/);
    expect(() => new OptimizerHost(layout, sgd, 1, good)).toThrow(/SGD keeps no second moment/);
    expect(() => new OptimizerHost(layout, adamw, 1, { ...good, step: -1 })).toThrow(/step must be an integer/);
    const host = new OptimizerHost(layout, adamw, 1, good);
    expect(() => host.apply(new Float32Array(2))).toThrow(/gradient has 2 floats/);
  });
});
