import { describe, expect, it } from 'vitest';
import { MEAN_AGGREGATION, RoundAggregator, type Contribution } from './aggregator.ts';

const contribution = (leaseId: string, firstPosition: number, exampleCount: number, values: number[], loss = 1): Contribution => ({
  leaseId,
  contributorId: `c-${leaseId}`,
  exampleCount,
  firstPosition,
  gradient: Float32Array.from(values),
  loss,
  correct: Math.floor(exampleCount / 2),
});

describe('RoundAggregator', () => {
  it('takes the example-weighted mean, so the result is the gradient of the mean loss over all examples', () => {
    const a = new RoundAggregator(3);
    a.add(contribution('x', 0, 1, [1, 2, 3], 2));
    a.add(contribution('y', 1, 3, [5, 6, 7], 4));
    const out = a.aggregate();
    expect([...out.gradient]).toEqual([(1 + 15) / 4, (2 + 18) / 4, (3 + 21) / 4]);
    expect(out.examples).toBe(4);
    expect(out.loss).toBe((2 + 12) / 4);
    expect(out.correct).toBe(1);
    expect(out.contributions).toBe(2);
  });

  it('sums in position order, so arrival order does not change a single bit', () => {
    const values = (seed: number) => Array.from({ length: 64 }, (_, i) => Math.sin(seed * 1000 + i) * 10 ** ((i % 7) - 3));
    const parts = [contribution('a', 0, 7, values(1)), contribution('b', 7, 13, values(2)), contribution('c', 20, 3, values(3))];
    const forward = new RoundAggregator(64);
    const backward = new RoundAggregator(64);
    for (const p of parts) forward.add(p);
    for (const p of [...parts].reverse()) backward.add(p);
    expect(forward.contributions().map((c) => c.leaseId)).toEqual(['a', 'b', 'c']);
    expect(backward.aggregate().gradient).toEqual(forward.aggregate().gradient);
  });

  it('keeps every contribution until cleared', () => {
    const a = new RoundAggregator(2);
    a.add(contribution('x', 4, 2, [1, 1]));
    expect(a.size).toBe(1);
    expect(a.examples).toBe(2);
    expect(a.contributions()[0].gradient).toEqual(Float32Array.from([1, 1]));
    a.clear();
    expect(a.size).toBe(0);
    expect(() => a.aggregate()).toThrow(/no contributions/);
  });

  it('refuses a lease twice, a wrong length, a bad count, an unknown rule', () => {
    const a = new RoundAggregator(2);
    a.add(contribution('x', 0, 1, [1, 1]));
    expect(() => a.add(contribution('x', 5, 1, [1, 1]))).toThrow(/lease x was already aggregated/);
    expect(() => a.add(contribution('y', 5, 1, [1]))).toThrow(/gradient of 1 floats, expected 2/);
    expect(() => a.add(contribution('z', 5, 0, [1, 1]))).toThrow(/exampleCount 0/);
    expect(() => new RoundAggregator(2, { ...MEAN_AGGREGATION, rule: 'mode' as 'mean' })).toThrow(/Unknown aggregation rule "mode"/);
  });
});
