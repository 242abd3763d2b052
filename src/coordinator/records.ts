// What the coordinator remembers about a run, as zod schemas: the same definitions type
// the state machine and validate a checkpoint's header when it is read back.

import { z } from 'zod';

const int = z.number().int().nonnegative();
const finite = z.number().finite();

/** Positions [start, end) of an epoch's order, as a pair to keep checkpoints small. */
export const RangePair = z.tuple([int, int]).refine(([s, e]) => s < e, 'a range must be non-empty: start < end');

/** One accepted lease of a closed round: who computed which positions. */
export const CoveredLease = z.strictObject({
  leaseId: z.string().min(1),
  contributorId: z.string().min(1),
  ranges: z.array(RangePair).min(1),
  count: int,
});
export type CoveredLease = z.infer<typeof CoveredLease>;

/** A closed round: its window, what was aggregated, and whether that tiles the window exactly once. */
export const RoundRecord = z.strictObject({
  round: int,
  epoch: int,
  /** The window, positions [start, end) of the epoch's order. */
  start: int,
  end: int,
  /** Parameter version the round's results were computed on; the round's step makes version + 1. */
  version: int,
  leases: z.array(CoveredLease),
  /** The leases' ranges cover [start, end) with no gap and no overlap. */
  exact: z.boolean(),
  examples: int,
  /** Example-weighted mean of the contributors' training losses. */
  loss: finite,
  trainAccuracy: z.number().min(0).max(1),
  lr: finite,
  gradNorm: finite,
  openedAt: finite,
  closedAt: finite,
});
export type RoundRecord = z.infer<typeof RoundRecord>;

export const EvaluationRecord = z.strictObject({
  /** Parameter version evaluated (= rounds completed). */
  version: int,
  loss: finite,
  accuracy: z.number().min(0).max(1),
  count: int,
  at: finite,
});
export type EvaluationRecord = z.infer<typeof EvaluationRecord>;

/**
 * The example-weighted mean training loss of the rounds that made versions from + 1 … to
 * (rounds from … to − 1): what training reported between two evaluations. null when none of
 * those rounds is among `rounds`.
 */
export function trainLossBetween(rounds: readonly Pick<RoundRecord, 'round' | 'loss' | 'examples'>[], from: number, to: number): number | null {
  let sum = 0;
  let examples = 0;
  for (const r of rounds) {
    if (r.round < from || r.round >= to) continue;
    sum += r.loss * r.examples;
    examples += r.examples;
  }
  return examples > 0 ? sum / examples : null;
}

/** Credit of one contributor, kept across reconnects and restarts. */
export const ContributorCredit = z.strictObject({
  id: z.string().min(1),
  /** Leases aggregated in closed rounds, and their examples. */
  leases: int,
  examples: int,
  /** Results not counted: rejected, duplicate, late or stale. */
  uncounted: int,
  device: z.string(),
  backend: z.string(),
  /** The key its results are signed with: a resume must come with the same key. */
  publicKey: z.string(),
});
export type ContributorCredit = z.infer<typeof ContributorCredit>;

/** A key caught cheating. */
export const BannedKey = z.strictObject({
  publicKey: z.string(),
  contributorId: z.string(),
  reason: z.string(),
  at: finite,
});
export type BannedKey = z.infer<typeof BannedKey>;

/** Everything of a checkpoint but the large arrays. */
export const CheckpointHeader = z.strictObject({
  jobId: z.string().min(1),
  /** The next round to run (= rounds completed). */
  round: int,
  version: int,
  /** Times this run was restored from a checkpoint. */
  restarts: int,
  /** Training time across all runs so far. */
  elapsedMs: finite.nonnegative(),
  nextContributor: int,
  /** outer-nesterov: a local-steps job's outer optimizer (moment1 is its momentum). */
  optimizer: z.strictObject({ kind: z.enum(['adamw', 'sgd', 'outer-nesterov']), step: int }),
  history: z.array(RoundRecord),
  evaluations: z.array(EvaluationRecord),
  contributors: z.array(ContributorCredit),
  /** Keys banned for cheating: their hello is refused, across restarts. */
  banned: z.array(BannedKey).default([]),
});
export type CheckpointHeader = z.infer<typeof CheckpointHeader>;

/** A checkpoint: the header and the optimizer's arrays (moment2 is null for SGD). */
export interface CheckpointState extends CheckpointHeader {
  params: Float32Array;
  moment1: Float32Array;
  moment2: Float32Array | null;
}
