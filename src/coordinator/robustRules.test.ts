import { describe, expect, it } from 'vitest';
import { centeredClipping, coordinateMedian, exampleWeightedMean, trimmedMean, type WeightedGradient } from './robustRules.ts';

const g = (exampleCount: number, values: number[]): WeightedGradient => ({ exampleCount, gradient: Float32Array.from(values) });

describe('robust aggregation rules', () => {
  const honest = [g(16, [1, -2, 3]), g(32, [1.1, -2.1, 2.9]), g(16, [0.9, -1.9, 3.1]), g(64, [1, -2, 3])];
  const attacked = [...honest, g(16, [-100, 200, -300])];

  it('mean: weights by example count', () => {
    expect([...exampleWeightedMean([g(1, [0, 4]), g(3, [4, 0])], 2)]).toEqual([3, 1]);
  });

  it('trimmed mean: drops ⌊trim·n⌋ values at each end of every coordinate, unweighted', () => {
    expect([...trimmedMean([g(1, [1]), g(1, [2]), g(1, [3]), g(1, [1000])], 1, 0.25)]).toEqual([2.5]);
    const out = trimmedMean(attacked, 3, 0.2);
    for (const [i, want] of [1, -2, 3].entries()) expect(out[i]).toBeCloseTo(want, 0);
    // n ≤ 2: nothing to trim.
    expect([...trimmedMean([g(1, [1]), g(1, [3])], 1, 0.4)]).toEqual([2]);
    expect(() => trimmedMean(honest, 3, 0.5)).toThrow(/trim must be in/);
  });

  it('median: the middle value per coordinate (mean of the two middle ones for even n), ignoring one outlier of any size', () => {
    expect([...coordinateMedian([g(1, [3, 0]), g(1, [1, 5]), g(1, [2, -5])], 2)]).toEqual([2, 0]);
    expect([...coordinateMedian([g(1, [1]), g(1, [2]), g(1, [4]), g(1, [1e9])], 1)]).toEqual([3]);
    const out = coordinateMedian(attacked, 3);
    expect(Math.abs(out[0] - 1)).toBeLessThan(0.11);
  });

  it('median of more than 16 contributions (typed-array sort path) matches a plain sort', () => {
    const items = Array.from({ length: 33 }, (_, j) => g(1, [Math.sin(j * 1.7) * 10, j]));
    const col = items.map((x) => x.gradient[0]).sort((a, b) => a - b);
    expect(coordinateMedian(items, 2)[0]).toBeCloseTo(col[16], 6);
    expect(coordinateMedian(items, 2)[1]).toBe(16);
  });

  it('centered clipping: equals the weighted mean of close gradients; an outlier moves it by at most its weight × τ per iteration', () => {
    const same = [g(1, [1, 1]), g(3, [1, 1])];
    expect([...centeredClipping(same, 2, 1, 3)]).toEqual([1, 1]);
    const out = centeredClipping(attacked, 3, 1, 3);
    const clean = exampleWeightedMean(honest, 3);
    let dist = 0;
    for (let i = 0; i < 3; i++) dist += (out[i] - clean[i]) ** 2;
    expect(Math.sqrt(dist)).toBeLessThan(0.5);
    const mean = exampleWeightedMean(attacked, 3);
    expect(Math.abs(mean[0] - 1)).toBeGreaterThan(5); // what the plain mean lets through
  });
});
