// The model's side of a run, and the only code that changes it: accepted contributions are
// aggregated, a closed round becomes one optimizer step, evaluations decide when to stop.
// The Coordinator owns peers, messages and leases, and calls in here.

import type { ResolvedModel } from '../model/layers/spec.ts';
import { RoundAggregator, type Contribution } from './aggregator.ts';
import { checkCoverage, tilesExactly, type CoverageReport } from './coverage.ts';
import type { StopReason } from './decisions.ts';
import { plannedRounds, type Job } from './job.ts';
import { OptimizerDivergedError, OptimizerHost, freshOptimizerState, type OptimizerState } from './optimizerHost.ts';
import { OuterHost } from './outerOptimizer.ts';
import type { CheckpointState, EvaluationRecord, RoundRecord } from './records.ts';
import { roundWindow, type LeaseRecord, type RoundPlan, type RoundWindow } from './rounds.ts';

export interface FinalResult {
  reason: StopReason;
  /** The version written as the final model. */
  version: number;
  params: Float32Array;
  accuracy: number | null;
  /** The final evaluation's mean loss, or null. */
  loss: number | null;
  message: string;
}

export interface EvaluationResult {
  loss: number;
  accuracy: number;
  count: number;
}

/**
 * The Δ the outer step takes for a local-steps round: the round's mean Δ, scaled by the round's
 * share of a full one. Each lease's Δ is the progress of its own chain of inner steps, so the
 * mean of a full round's leases is about one chain's progress with its noise averaged down; the
 * short last round of an epoch (60,000 mod 8,192 = 2,656 examples: one full lease and one of 19
 * steps) has the same size of mean on a far noisier direction, and the outer Nesterov step
 * (1 + μ times the Δ) took it as far as any other. It cost 1.3–2.8 points of test accuracy right
 * after three of the default job's first five epochs (scripts/simulate-job.ts, 2026-12-02;
 * 86.89% → 84.14% at 180,000 examples), recovered over the next rounds. Scaled by 2,656 / 8,192
 * the same run in the PyTorch re-implementation lost 0.4 points there instead of 2.2; it does
 * not reach 88% sooner (289k examples either way; another seed 385k against 333k). Full
 * rounds, and every-step jobs, are left as they are.
 */
export function localStepsRoundDelta(job: Job, window: RoundWindow, mean: Float32Array): Float32Array {
  const share = (window.end - window.start) / job.globalBatch;
  if (job.sync.mode !== 'local-steps' || share >= 1) return mean;
  return mean.map((v) => v * share);
}

export class TrainingRun {
  readonly planned: number | null;
  readonly history: RoundRecord[];
  readonly evaluations: EvaluationRecord[];
  final: FinalResult | null = null;
  private readonly aggregator: RoundAggregator;
  /** Every-step: the job's optimizer on the mean gradient. Local steps: the outer Nesterov step on the mean Δ. */
  private readonly optimizer: OptimizerHost | OuterHost;
  /** Parameters handed out for evaluation, by version, until their result is recorded. */
  private readonly awaitingEvaluation = new Map<number, { params: Float32Array; final: boolean }>();

  constructor(
    readonly job: Job,
    readonly layout: ResolvedModel,
    readonly plan: RoundPlan,
    checkpoint?: CheckpointState,
  ) {
    this.planned = plannedRounds(job);
    this.aggregator = new RoundAggregator(layout.total, job.verification.aggregation);
    const state: OptimizerState = checkpoint
      ? { step: checkpoint.optimizer.step, params: checkpoint.params, moment1: checkpoint.moment1, moment2: checkpoint.moment2 }
      : freshOptimizerState(layout, job.optimizer, job.seed);
    if (job.sync.mode === 'local-steps') {
      this.optimizer = new OuterHost(layout, job.sync.outer, { ...state, moment2: null });
    } else {
      this.optimizer = new OptimizerHost(layout, job.optimizer, this.planned, state);
    }
    this.history = checkpoint ? structuredClone(checkpoint.history) : [];
    this.evaluations = checkpoint ? structuredClone(checkpoint.evaluations) : [];
  }

  /** The current parameters: a new array per step, never written to afterwards. */
  get params(): Float32Array {
    return this.optimizer.params;
  }

  /** Examples held for the open round. */
  get pendingExamples(): number {
    return this.aggregator.examples;
  }

  /** Rounds closed so far (= the parameter version). */
  get roundsClosed(): number {
    return this.history.length;
  }

  get planComplete(): boolean {
    return this.planned !== null && this.history.length >= this.planned;
  }

  /** Keep an accepted, validated result until its round closes. */
  addContribution(c: Contribution): void {
    this.aggregator.add(c);
  }

  /** The open round's contributions in position order (shared: never write to them). */
  contributions(): Contribution[] {
    return this.aggregator.contributions();
  }

  /** Drop a contribution of the open round that failed verification after it was accepted. */
  discardContribution(leaseId: string): boolean {
    return this.aggregator.remove(leaseId) !== undefined;
  }

  /** The aggregate gradient of the last closed round (the screening consensus), or null before the first. */
  lastAggregate: Float32Array | null = null;

  /**
   * Aggregate the round and take one optimizer step. Returns the round's record, or the
   * reason the step was refused (the model is then unchanged and the run must end).
   */
  closeRound(window: RoundWindow, accepted: readonly LeaseRecord[], version: number, openedAt: number, now: number): RoundRecord | { diverged: string } {
    const aggregate = this.aggregator.aggregate();
    const leases = accepted.map((l) => ({
      leaseId: l.id,
      contributorId: l.contributorId,
      ranges: l.ranges.map((r) => [r.start, r.end] as [number, number]),
      count: l.count,
    }));
    let step;
    try {
      step = this.optimizer.apply(localStepsRoundDelta(this.job, window, aggregate.gradient));
    } catch (error) {
      if (error instanceof OptimizerDivergedError) return { diverged: `Training diverged in round ${window.round}: ${error.message}` };
      throw error;
    }
    this.aggregator.clear();
    this.lastAggregate = aggregate.gradient;
    const record: RoundRecord = {
      round: window.round,
      epoch: window.epoch,
      start: window.start,
      end: window.end,
      version,
      leases,
      exact: tilesExactly(leases, window.start, window.end),
      examples: aggregate.examples,
      loss: aggregate.loss,
      // Over the labels: one per example, or one per position of a window.
      trainAccuracy: aggregate.correct / (aggregate.examples * this.layout.labelsPerExample),
      lr: step.lr,
      gradNorm: step.gradNorm,
      openedAt,
      closedAt: now,
    };
    this.history.push(record);
    return record;
  }

  /** Ask for the current parameters to be evaluated; null if that version is already asked for. */
  requestEvaluation(final: boolean): { version: number; params: Float32Array; final: boolean } | null {
    const version = this.roundsClosed;
    const existing = this.awaitingEvaluation.get(version);
    if (existing) {
      existing.final ||= final;
      return null;
    }
    const request = { params: this.params, final };
    this.awaitingEvaluation.set(version, request);
    return { version, ...request };
  }

  /** Forget a requested evaluation that a newer one made pointless (never the final one). Returns whether it was dropped. */
  skipEvaluation(version: number): boolean {
    const pending = this.awaitingEvaluation.get(version);
    if (!pending || pending.final) return false;
    return this.awaitingEvaluation.delete(version);
  }

  /** Record an evaluation; returns the final result when it ends the run (target reached, or the last one). */
  recordEvaluation(version: number, result: EvaluationResult, now: number): FinalResult | null {
    const pending = this.awaitingEvaluation.get(version);
    if (!pending) throw new Error(`recordEvaluation: no evaluation of version ${version} was requested (or it was recorded already)`);
    if (!(result.accuracy >= 0 && result.accuracy <= 1) || !Number.isFinite(result.loss) || !(result.count > 0)) {
      throw new Error(`recordEvaluation: invalid result ${JSON.stringify(result)}; accuracy must be in [0, 1], loss finite, count > 0`);
    }
    this.awaitingEvaluation.delete(version);
    this.evaluations.push({ version, loss: result.loss, accuracy: result.accuracy, count: result.count, at: now });
    this.evaluations.sort((a, b) => a.version - b.version);
    if (this.final) return null;
    const target = this.job.stop.targetAccuracy;
    const targetLoss = this.job.stop.targetLoss;
    if (target !== undefined && result.accuracy >= target) {
      return this.finish('target-accuracy', version, pending.params, result.accuracy, `Reached ${pct(result.accuracy)} test accuracy (target ${pct(target)}) after ${version} rounds`, result.loss);
    }
    if (targetLoss !== undefined && result.loss <= targetLoss) {
      return this.finish('target-loss', version, pending.params, result.accuracy, `Reached a test loss of ${result.loss.toFixed(4)} (target ${targetLoss}) after ${version} rounds`, result.loss);
    }
    if (pending.final) {
      const reason: StopReason = this.job.stop.rounds !== undefined && this.planned === this.job.stop.rounds ? 'rounds' : 'epochs';
      const missed = [target !== undefined ? `short of the ${pct(target)} target` : '', targetLoss !== undefined ? `short of the ${targetLoss} loss target` : ''].filter(Boolean).join(', ');
      return this.finish(reason, version, pending.params, result.accuracy, `Finished the planned ${version} rounds with ${pct(result.accuracy)} test accuracy, loss ${result.loss.toFixed(4)}${missed ? `, ${missed}` : ''}`, result.loss);
    }
    return null;
  }

  finish(reason: StopReason, version: number, params: Float32Array, accuracy: number | null, message: string, loss: number | null = null): FinalResult {
    this.final = { reason, version, params, accuracy, loss, message };
    return this.final;
  }

  optimizerSnapshot(): OptimizerState {
    return this.optimizer.snapshot();
  }

  coverage(): CoverageReport {
    return checkCoverage(this.plan, this.history);
  }
}

/** Throws, saying why, if a checkpoint cannot continue this job. */
export function checkRestorable(c: CheckpointState, jobId: string, plan: RoundPlan, layout: Pick<ResolvedModel, 'total'>): void {
  const problem = (what: string) => new Error(`Cannot resume from this checkpoint: ${what}`);
  if (c.jobId !== jobId) throw problem(`it is for job ${c.jobId}, this is job ${jobId}`);
  if (c.version !== c.round) throw problem(`version ${c.version} and round ${c.round} disagree (one step per round)`);
  if (c.history.length !== c.round || c.optimizer.step !== c.round) {
    throw problem(`${c.history.length} recorded rounds and optimizer step ${c.optimizer.step} do not match round ${c.round}`);
  }
  c.history.forEach((r, i) => {
    const w = roundWindow(plan, i);
    if (r.round !== i || r.epoch !== w.epoch || r.start !== w.start || r.end !== w.end) {
      throw problem(`its record of round ${i} does not match this job's data order (seed, trainExamples or globalBatch changed?)`);
    }
  });
  if (c.params.length !== layout.total) throw problem(`it holds ${c.params.length} parameters, the model needs ${layout.total}`);
}

function pct(x: number): string {
  return `${(100 * x).toFixed(2)}%`;
}
