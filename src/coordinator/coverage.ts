// The proof behind "every micro-batch exactly once": each closed round's accepted leases
// tile its window with no gap and no overlap, and the windows follow the plan round after
// round, so each epoch's shuffled order is covered exactly once.

import type { CoveredLease, RoundRecord } from './records.ts';
import { roundWindow, type RoundPlan } from './rounds.ts';

/** Whether the leases' ranges cover [start, end) exactly once. */
export function tilesExactly(leases: readonly CoveredLease[], start: number, end: number): boolean {
  const ranges = leases.flatMap((l) => l.ranges).sort((a, b) => a[0] - b[0]);
  let at = start;
  for (const [s, e] of ranges) {
    if (s !== at || e <= s) return false;
    at = e;
  }
  return at === end;
}

export interface CoverageReport {
  rounds: number;
  /** Examples aggregated over all closed rounds. */
  examples: number;
  /** Whole epochs covered (the last may be partial: see epochsCompleted). */
  epochsCompleted: number;
  /** True when every round is present, follows the plan and tiles its window exactly once. */
  exact: boolean;
  problems: string[];
}

export function checkCoverage(plan: RoundPlan, history: readonly RoundRecord[]): CoverageReport {
  const problems: string[] = [];
  let examples = 0;
  history.forEach((r, i) => {
    const expected = roundWindow(plan, i);
    if (r.round !== i) problems.push(`record ${i} is for round ${r.round}`);
    if (r.epoch !== expected.epoch || r.start !== expected.start || r.end !== expected.end) {
      problems.push(`round ${i} covered epoch ${r.epoch} [${r.start}, ${r.end}), the plan says epoch ${expected.epoch} [${expected.start}, ${expected.end})`);
    }
    if (!tilesExactly(r.leases, r.start, r.end)) problems.push(`round ${i}: its accepted leases do not cover [${r.start}, ${r.end}) exactly once`);
    const counted = r.leases.reduce((n, l) => n + l.count, 0);
    if (counted !== r.end - r.start || r.examples !== counted) {
      problems.push(`round ${i}: ${counted} examples in leases, ${r.examples} recorded, window of ${r.end - r.start}`);
    }
    examples += counted;
  });
  return {
    rounds: history.length,
    examples,
    epochsCompleted: examples / plan.trainExamples,
    exact: problems.length === 0,
    problems,
  };
}
