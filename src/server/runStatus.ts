// The live picture of a run for the dashboard and the console: built from coordinator
// events alone (pure), so what the owner sees is exactly what the coordinator decided.

import type { CoordinatorEvent } from '../coordinator/decisions.ts';
import type { SampleSettings } from '../coordinator/job.ts';
import { trainLossBetween } from '../coordinator/records.ts';

export interface ContributorStatus {
  id: string;
  device: string;
  backend: string;
  connected: boolean;
  paused: boolean;
  /** Its key was banned: it cannot come back under that key. */
  banned: boolean;
  joinedAt: number;
  /** Results counted, and their examples, in this process's lifetime. */
  tasks: number;
  examples: number;
  uncounted: number;
  /** Examples per second over the last minute of counted results. */
  examplesPerSecond: number;
}

export interface RoundPoint {
  round: number;
  at: number;
  loss: number;
  trainAccuracy: number;
  examples: number;
  durationMs: number;
  contributors: number;
}

export interface EvaluationPoint {
  version: number;
  at: number;
  accuracy: number;
  loss: number;
  /** Training loss of the rounds since the evaluation before (example-weighted); null when they are not known here. */
  trainLoss?: number | null;
}

/** A next-token job's text, written from the parameters of `version`. */
export interface SamplePoint {
  version: number;
  at: number;
  text: string;
}

export interface RunJobInfo {
  id: string;
  name: string;
  globalBatch: number;
  parameters: number;
  /** The round at which the job stops at the latest (epochs or rounds), or null when only an accuracy ends it. */
  plannedRounds?: number | null;
  targetAccuracy?: number | null;
  /** A next-token job's validation loss target. */
  targetLoss?: number | null;
  /** Whether the model predicts tokens (its test set is the text's validation split, its loss what matters). */
  tokens?: boolean;
  /** How its text samples are drawn (null: no samples). */
  sample?: SampleSettings | null;
}

/** When the job should end at the current rate: at its round limit (earlier if it reaches its target accuracy). */
export interface Eta {
  stopRound: number | null;
  targetAccuracy: number | null;
  targetLoss?: number | null;
  /** Seconds to stopRound at the last minute's rounds per minute; null without a round limit or a rate. */
  seconds: number | null;
}

export interface RunStatusSnapshot {
  job: RunJobInfo;
  state: 'running' | 'done' | 'failed';
  message: string | null;
  startedAt: number;
  now: number;
  round: number;
  rounds: RoundPoint[];
  evaluations: EvaluationPoint[];
  /** The newest text samples, oldest first. */
  samples: SamplePoint[];
  contributors: ContributorStatus[];
  examplesPerSecond: number;
  roundsPerMinute: number;
  eta: Eta;
  /**
   * Over the last minute: the share of wall time the contributors that computed spent
   * computing (what their results report), the rest waiting on the network and on rounds to
   * close; null before any result.
   */
  computeShare: number | null;
  relay: { connectedPeers: number } | null;
}

const WINDOW_MS = 60_000;
/** The dashboard keeps every evaluation but only the recent rounds' points. */
const MAX_ROUND_POINTS = 2000;
/** Text samples kept for the dashboard. */
const MAX_SAMPLES = 20;

export class RunStatus {
  private readonly contributors = new Map<string, ContributorStatus>();
  private readonly peerToContributor = new Map<string, string>();
  private readonly counted: { at: number; contributorId: string; count: number; computeMs: number }[] = [];
  private readonly rounds: RoundPoint[] = [];
  private readonly evaluations: EvaluationPoint[] = [];
  private readonly samples: SamplePoint[] = [];
  private state: RunStatusSnapshot['state'] = 'running';
  private message: string | null = null;
  private round = 0;

  constructor(
    private readonly job: RunJobInfo,
    private readonly startedAt: number,
    history: { rounds?: RoundPoint[]; evaluations?: EvaluationPoint[] } = {},
  ) {
    this.rounds.push(...(history.rounds ?? []));
    this.evaluations.push(...(history.evaluations ?? []));
    // As record() does: after round r closed, round r + 1 is the one running.
    const last = this.rounds.at(-1);
    this.round = last ? last.round + 1 : 0;
  }

  record(event: CoordinatorEvent): void {
    switch (event.type) {
      case 'joined': {
        this.peerToContributor.set(event.peer, event.contributorId);
        const known = this.contributors.get(event.contributorId);
        this.contributors.set(event.contributorId, {
          id: event.contributorId,
          device: event.capabilities.device,
          backend: event.capabilities.backend,
          connected: true,
          paused: false,
          banned: false,
          joinedAt: known?.joinedAt ?? event.at,
          tasks: known?.tasks ?? 0,
          examples: known?.examples ?? 0,
          uncounted: known?.uncounted ?? 0,
          examplesPerSecond: 0,
        });
        return;
      }
      case 'left': {
        const id = event.contributorId ?? this.peerToContributor.get(event.peer);
        const c = id ? this.contributors.get(id) : undefined;
        if (c) c.connected = false;
        return;
      }
      case 'contributorBanned': {
        const c = this.contributors.get(event.contributorId);
        if (c) c.banned = true;
        return;
      }
      case 'availability': {
        const c = this.contributors.get(event.contributorId);
        if (c) c.paused = event.paused;
        return;
      }
      case 'resultAccepted': {
        const c = this.contributors.get(event.contributorId);
        if (c) {
          c.tasks++;
          c.examples += event.count;
        }
        this.counted.push({ at: event.at, contributorId: event.contributorId, count: event.count, computeMs: event.computeMs });
        return;
      }
      case 'resultRejected': {
        const c = this.contributors.get(event.contributorId);
        if (c) c.uncounted++;
        return;
      }
      case 'roundClosed': {
        const r = event.record;
        this.round = r.round + 1;
        this.rounds.push({
          round: r.round,
          at: event.at,
          loss: r.loss,
          trainAccuracy: r.trainAccuracy,
          examples: r.examples,
          durationMs: event.durationMs,
          contributors: event.contributors,
        });
        if (this.rounds.length > MAX_ROUND_POINTS) this.rounds.splice(0, this.rounds.length - MAX_ROUND_POINTS);
        return;
      }
      case 'jobDone':
        this.state = event.reason === 'diverged' ? 'failed' : 'done';
        this.message = event.message;
        return;
      default:
        return;
    }
  }

  /** An evaluation; its training loss is taken from the rounds since the one before unless given. */
  recordEvaluation(point: EvaluationPoint): void {
    const before = this.evaluations.filter((e) => e.version < point.version).at(-1)?.version ?? 0;
    this.evaluations.push({ ...point, trainLoss: point.trainLoss !== undefined ? point.trainLoss : trainLossBetween(this.rounds, before, point.version) });
  }

  recordSample(point: SamplePoint): void {
    this.samples.push(point);
    if (this.samples.length > MAX_SAMPLES) this.samples.splice(0, this.samples.length - MAX_SAMPLES);
  }

  fail(message: string): void {
    this.state = 'failed';
    this.message = message;
  }

  snapshot(now: number, relay: RunStatusSnapshot['relay'] = null): RunStatusSnapshot {
    while (this.counted.length && this.counted[0].at < now - WINDOW_MS) this.counted.shift();
    const span = Math.max(1, Math.min(WINDOW_MS, now - this.startedAt)) / 1000;
    const perContributor = new Map<string, number>();
    let total = 0;
    let computeMs = 0;
    for (const c of this.counted) {
      perContributor.set(c.contributorId, (perContributor.get(c.contributorId) ?? 0) + c.count);
      total += c.count;
      computeMs += c.computeMs;
    }
    for (const c of this.contributors.values()) c.examplesPerSecond = (perContributor.get(c.id) ?? 0) / span;
    const recentRounds = this.rounds.filter((r) => r.at >= now - WINDOW_MS).length;
    const roundsPerMinute = (recentRounds * 60) / span;
    const stopRound = this.job.plannedRounds ?? null;
    const eta: Eta = {
      stopRound,
      targetAccuracy: this.job.targetAccuracy ?? null,
      targetLoss: this.job.targetLoss ?? null,
      seconds: stopRound !== null && roundsPerMinute > 0 && this.state === 'running' ? (Math.max(0, stopRound - this.round) * 60) / roundsPerMinute : null,
    };
    const computeShare = perContributor.size ? Math.min(1, computeMs / (span * 1000 * perContributor.size)) : null;
    return {
      job: this.job,
      state: this.state,
      message: this.message,
      startedAt: this.startedAt,
      now,
      round: this.round,
      rounds: this.rounds.slice(),
      evaluations: this.evaluations.slice(),
      samples: this.samples.slice(),
      contributors: [...this.contributors.values()].map((c) => ({ ...c })),
      examplesPerSecond: total / span,
      roundsPerMinute,
      eta,
      computeShare,
      relay,
    };
  }
}

/** One console line of progress. */
export function progressLine(s: RunStatusSnapshot): string {
  const last = s.rounds.at(-1);
  const evaluation = s.evaluations.at(-1);
  const connected = s.contributors.filter((c) => c.connected).length;
  // A run whose contributors were all banned waits for new ones: say why nothing moves.
  const banned = s.contributors.filter((c) => c.banned).length;
  return [
    `round ${s.round}`,
    last ? `loss ${last.loss.toFixed(4)}` : 'loss –',
    s.job.tokens
      ? evaluation ? `validation loss ${evaluation.loss.toFixed(4)} (v${evaluation.version})` : 'validation loss –'
      : evaluation ? `test accuracy ${(100 * evaluation.accuracy).toFixed(2)}% (v${evaluation.version})` : 'test accuracy –',
    `${connected} contributor${connected === 1 ? '' : 's'}${banned ? ` (${banned} banned)` : ''}`,
    `${Math.round(s.examplesPerSecond)} examples/s`,
    `${s.roundsPerMinute.toFixed(1)} rounds/min`,
    etaText(s.eta),
    s.computeShare === null ? 'computing –' : `contributors computing ${computeShareText(s.computeShare)}`,
  ].join(' · ');
}

/** "12% of the time, waiting 88%": what the contributors spent computing. */
export function computeShareText(share: number): string {
  return `${(100 * share).toFixed(0)}% of the time, waiting ${(100 * (1 - share)).toFixed(0)}%`;
}

/** "ETA 3m20s (round 1875, or 88% first)", or what ends the job when there is no estimate yet. */
export function etaText(eta: Eta): string {
  const accuracy = eta.targetAccuracy !== null ? `${(100 * eta.targetAccuracy).toFixed(1).replace(/\.0$/, '')}%` : null;
  const loss = eta.targetLoss != null ? `loss ${eta.targetLoss}` : null;
  if (eta.stopRound === null) {
    const goals = [accuracy && `${accuracy} test accuracy`, loss && `test ${loss}`].filter((g) => g !== null);
    return goals.length ? `until ${goals.join(' or ')}` : 'no stop condition';
  }
  const firsts = [accuracy, loss].filter((g) => g !== null);
  const at = `round ${eta.stopRound}${firsts.length ? `, or ${firsts.join(' or ')} first` : ''}`;
  return eta.seconds === null ? `ETA – (${at})` : `ETA ${duration(eta.seconds)} (${at})`;
}

export function duration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
