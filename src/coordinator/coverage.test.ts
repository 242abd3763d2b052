import { describe, expect, it } from 'vitest';
import { checkCoverage, tilesExactly } from './coverage.ts';
import type { CoveredLease, RoundRecord } from './records.ts';
import type { RoundPlan } from './rounds.ts';

const plan: RoundPlan = { seed: 1, trainExamples: 10, globalBatch: 4, lease: { minExamples: 1, maxExamples: 4, targetSeconds: 1, timeoutMs: 1000 } };
const lease = (id: string, ...ranges: Array<[number, number]>): CoveredLease => ({
  leaseId: id, contributorId: 'c', ranges, count: ranges.reduce((n, [s, e]) => n + e - s, 0),
});
const record = (round: number, epoch: number, start: number, end: number, leases: CoveredLease[]): RoundRecord => ({
  round, epoch, start, end, version: round, leases, exact: tilesExactly(leases, start, end),
  examples: leases.reduce((n, l) => n + l.count, 0), loss: 1, trainAccuracy: 0.5, lr: 0.1, gradNorm: 1, openedAt: 0, closedAt: 1,
});

describe('coverage', () => {
  it('tilesExactly accepts a tiling in any order, refuses gaps and overlaps', () => {
    expect(tilesExactly([lease('b', [2, 4]), lease('a', [0, 1], [1, 2])], 0, 4)).toBe(true);
    expect(tilesExactly([lease('a', [0, 1]), lease('b', [2, 4])], 0, 4)).toBe(false);
    expect(tilesExactly([lease('a', [0, 3]), lease('b', [2, 4])], 0, 4)).toBe(false);
    expect(tilesExactly([lease('a', [0, 3])], 0, 4)).toBe(false);
    expect(tilesExactly([], 0, 0)).toBe(true);
  });

  it('checks a whole run: windows follow the plan (short last round per epoch) and tile exactly', () => {
    const history = [
      record(0, 0, 0, 4, [lease('a', [0, 4])]),
      record(1, 0, 4, 8, [lease('b', [4, 6]), lease('c', [6, 8])]),
      record(2, 0, 8, 10, [lease('d', [8, 10])]),
      record(3, 1, 0, 4, [lease('e', [0, 4])]),
    ];
    expect(checkCoverage(plan, history)).toEqual({ rounds: 4, examples: 14, epochsCompleted: 1.4, exact: true, problems: [] });
  });

  it('names each problem', () => {
    const report = checkCoverage(plan, [
      record(0, 0, 0, 4, [lease('a', [0, 3])]),
      record(2, 0, 4, 8, [lease('b', [4, 8])]),
      record(2, 0, 0, 4, [lease('c', [0, 4]), lease('d', [3, 4])]),
    ]);
    expect(report.exact).toBe(false);
    expect(report.problems).toEqual([
      'round 0: its accepted leases do not cover [0, 4) exactly once',
      'round 0: 3 examples in leases, 3 recorded, window of 4',
      'record 1 is for round 2',
      'round 2 covered epoch 0 [0, 4), the plan says epoch 0 [8, 10)',
      'round 2: its accepted leases do not cover [0, 4) exactly once',
      'round 2: 5 examples in leases, 5 recorded, window of 4',
    ]);
  });
});
