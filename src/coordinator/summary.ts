// The run summary written at the end of a job: what was trained, how far, by whom, and the
// coverage check that proves every example of every round was aggregated exactly once.

import type { CoverageReport } from './coverage.ts';
import type { StopReason } from './decisions.ts';
import type { Job } from './job.ts';
import { trainLossBetween, type ContributorCredit, type EvaluationRecord, type RoundRecord } from './records.ts';

/** One evaluation beside what training reported since the one before: the train and test (validation) loss curves. */
export interface LossPoint {
  version: number;
  /** When the evaluation was made (ms since the epoch). */
  at: number;
  /** Example-weighted mean training loss of the rounds since the previous evaluation. */
  trainLoss: number | null;
  testLoss: number;
  testAccuracy: number;
}

export interface RunSummary {
  job: { id: string; name: string };
  status: 'created' | 'running' | 'finishing' | 'done';
  stopReason: StopReason | null;
  message: string | null;
  rounds: number;
  examples: number;
  epochs: number;
  /** Training time, summed over restarts. */
  durationMs: number;
  examplesPerSecond: number;
  /** The version written as the final model, and its test accuracy. */
  finalVersion: number | null;
  finalTestAccuracy: number | null;
  /** The final version's test loss (a next-token model's validation loss). */
  finalTestLoss: number | null;
  evaluations: EvaluationRecord[];
  losses: LossPoint[];
  contributors: ContributorCredit[];
  coverage: CoverageReport;
  restarts: number;
}

export interface SummaryInput {
  job: Job;
  jobId: string;
  status: RunSummary['status'];
  final: { reason: StopReason; version: number; accuracy: number | null; loss: number | null; message: string } | null;
  history: readonly RoundRecord[];
  evaluations: readonly EvaluationRecord[];
  credits: ContributorCredit[];
  coverage: CoverageReport;
  elapsedMs: number;
  restarts: number;
}

export function buildSummary(s: SummaryInput): RunSummary {
  const examples = s.history.reduce((n, r) => n + r.examples, 0);
  return {
    job: { id: s.jobId, name: s.job.name },
    status: s.status,
    stopReason: s.final?.reason ?? null,
    message: s.final?.message ?? null,
    rounds: s.history.length,
    examples,
    epochs: examples / s.job.data.trainExamples,
    durationMs: s.elapsedMs,
    examplesPerSecond: s.elapsedMs > 0 ? (examples * 1000) / s.elapsedMs : 0,
    finalVersion: s.final?.version ?? null,
    finalTestAccuracy: s.final?.accuracy ?? null,
    finalTestLoss: s.final?.loss ?? null,
    evaluations: s.evaluations.map((e) => ({ ...e })),
    losses: lossCurve(s.history, s.evaluations),
    contributors: [...s.credits].sort((a, b) => b.examples - a.examples || (a.id < b.id ? -1 : 1)),
    coverage: s.coverage,
    restarts: s.restarts,
  };
}

/** The train and test loss at every evaluation, in version order (an evaluation repeated after a restart counts once). */
export function lossCurve(history: readonly RoundRecord[], evaluations: readonly EvaluationRecord[]): LossPoint[] {
  const byVersion = new Map(evaluations.map((e) => [e.version, e]));
  let previous = 0;
  return [...byVersion.values()]
    .sort((a, b) => a.version - b.version)
    .map((e) => {
      const point = { version: e.version, at: e.at, trainLoss: trainLossBetween(history, previous, e.version), testLoss: e.loss, testAccuracy: e.accuracy };
      previous = e.version;
      return point;
    });
}
