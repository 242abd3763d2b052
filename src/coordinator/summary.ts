// The run summary written at the end of a job: what was trained, how far, by whom, and the
// coverage check that proves every example of every round was aggregated exactly once.

import type { CoverageReport } from './coverage.ts';
import type { StopReason } from './decisions.ts';
import type { Job } from './job.ts';
import type { ContributorCredit, EvaluationRecord, RoundRecord } from './records.ts';

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
  evaluations: EvaluationRecord[];
  contributors: ContributorCredit[];
  coverage: CoverageReport;
  restarts: number;
}

export interface SummaryInput {
  job: Job;
  jobId: string;
  status: RunSummary['status'];
  final: { reason: StopReason; version: number; accuracy: number | null; message: string } | null;
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
    evaluations: s.evaluations.map((e) => ({ ...e })),
    contributors: [...s.credits].sort((a, b) => b.examples - a.examples || (a.id < b.id ? -1 : 1)),
    coverage: s.coverage,
    restarts: s.restarts,
  };
}
