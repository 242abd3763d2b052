// The figures of scripts/bench-swarm.ts, computed from what a run left behind (its status
// snapshot's rounds and evaluations, traffic samples taken as rounds closed): pure, so that
// every number in the report can be recomputed from the JSON it writes.

import type { EvaluationPoint, RoundPoint } from '../src/server/runStatus.ts';

/** One evaluation placed on the examples axis: version v saw every example of rounds 0 … v − 1. */
export interface CurvePoint {
  version: number;
  examples: number;
  accuracy: number;
  /** When the version came to be (the close of round v − 1), ms since the epoch. */
  versionAt: number;
  /** When its evaluation finished. */
  evaluatedAt: number;
}

/** Both directions of one counter: `down` toward the contributors, `up` from them. */
export interface Bytes {
  down: number;
  up: number;
}

/** Taken when a new round was seen running (and once at the end). */
export interface TrafficSample {
  at: number;
  /** The round running then: rounds 0 … round − 1 had closed. */
  round: number;
  /** Contributors that had joined (said hello) by then. */
  joined: number;
  /** The coordinator's message bytes (RunStatus traffic: sent = down, received = up). */
  messages: Bytes;
  /** The links' tbf counters summed over the contributors: real wire bytes (IP, UDP, DTLS, SCTP included). */
  wire: Bytes;
}

/** Examples of the rounds closed before each version: index v is version v's examples. */
export function examplesBeforeVersion(rounds: readonly RoundPoint[]): { examples: number[]; at: number[] } {
  const examples = [0];
  const at = [Number.NaN];
  for (const [i, r] of rounds.entries()) {
    if (r.round !== i) throw new Error(`the run's round history has a gap: entry ${i} is round ${r.round} (a resumed or truncated run)`);
    examples.push(examples[i] + r.examples);
    at.push(r.at);
  }
  return { examples, at };
}

export function accuracyCurve(rounds: readonly RoundPoint[], evaluations: readonly EvaluationPoint[]): CurvePoint[] {
  const { examples, at } = examplesBeforeVersion(rounds);
  return evaluations
    .filter((e) => e.version < examples.length)
    .map((e) => ({ version: e.version, examples: examples[e.version], accuracy: e.accuracy, versionAt: at[e.version], evaluatedAt: e.at }))
    .sort((a, b) => a.examples - b.examples);
}

/** The first evaluated version at or above `target`, or null. */
export function firstReaching(curve: readonly CurvePoint[], target: number): CurvePoint | null {
  return [...curve].sort((a, b) => a.version - b.version).find((p) => p.accuracy >= target) ?? null;
}

/** Test accuracy at `examples`, linear between the evaluations either side; null outside the curve. */
export function accuracyAt(curve: readonly CurvePoint[], examples: number): number | null {
  for (let i = 0; i < curve.length; i++) {
    const b = curve[i];
    if (b.examples === examples) return b.accuracy;
    if (b.examples > examples) {
      if (i === 0) return null;
      const a = curve[i - 1];
      return a.accuracy + ((b.accuracy - a.accuracy) * (examples - a.examples)) / (b.examples - a.examples);
    }
  }
  return null;
}

export interface EqualExamples {
  /** The examples count compared at, and which run's last evaluation set it. */
  examples: number;
  setBy: 'baseline' | 'local';
  baselineAccuracy: number;
  localAccuracy: number;
  /**
   * Each run's mean test accuracy over the last quarter of the examples before that count (the
   * curve sampled at EQUAL_WINDOW_POINTS evenly spaced counts, each interpolated), or null when
   * a curve does not reach back that far. One evaluation moves by ±0.5–1 point from the next
   * one (the default job's, 2026-12-02), so the bar is judged on this mean.
   */
  window: { from: number; baselineAccuracy: number; localAccuracy: number } | null;
}

/** The window of equal-examples comparison: the last quarter of the examples. */
export const EQUAL_WINDOW_FRACTION = 0.25;
export const EQUAL_WINDOW_POINTS = 16;

/** The mean of accuracyAt over `points` evenly spaced counts from `from` to `to`, or null where the curve does not cover them. */
export function meanAccuracy(curve: readonly CurvePoint[], from: number, to: number, points = EQUAL_WINDOW_POINTS): number | null {
  let sum = 0;
  for (let i = 0; i < points; i++) {
    const a = accuracyAt(curve, from + ((to - from) * i) / (points - 1));
    if (a === null) return null;
    sum += a;
  }
  return sum / points;
}

/**
 * Both runs' test accuracy at the same examples count: the baseline's last evaluated count,
 * the local run interpolated there; when the local run ended before that, the local run's
 * last evaluated count, the baseline interpolated there. And both runs' means over the last
 * quarter of the examples before it (`window`).
 */
export function accuracyAtEqualExamples(baseline: readonly CurvePoint[], local: readonly CurvePoint[]): EqualExamples | null {
  const b = baseline.at(-1);
  const l = local.at(-1);
  if (!b || !l) return null;
  const at = Math.min(b.examples, l.examples);
  const baselineAccuracy = accuracyAt(baseline, at);
  const localAccuracy = accuracyAt(local, at);
  if (baselineAccuracy === null || localAccuracy === null) return null;
  const from = Math.round(at * (1 - EQUAL_WINDOW_FRACTION));
  const bw = meanAccuracy(baseline, from, at);
  const lw = meanAccuracy(local, from, at);
  const window = bw === null || lw === null ? null : { from, baselineAccuracy: bw, localAccuracy: lw };
  return { examples: at, setBy: l.examples >= b.examples ? 'baseline' : 'local', baselineAccuracy, localAccuracy, window };
}

export interface SteadyRate {
  rounds: number;
  examples: number;
  seconds: number;
  examplesPerSecond: number;
}

/** Examples/s over the rounds after `warmup`: from the close of round warmup − 1 to the close of the last. */
export function steadyRate(rounds: readonly RoundPoint[], warmup: number): SteadyRate {
  if (warmup < 1 || rounds.length <= warmup) throw new Error(`steadyRate: ${rounds.length} rounds leave none after a warm-up of ${warmup}`);
  const measured = rounds.slice(warmup);
  const examples = measured.reduce((s, r) => s + r.examples, 0);
  const seconds = (rounds.at(-1)!.at - rounds[warmup - 1].at) / 1000;
  return { rounds: measured.length, examples, seconds, examplesPerSecond: examples / seconds };
}

export interface BytesPerExample {
  /** The rounds the window spans (first … last − 1) and their examples. */
  fromRound: number;
  toRound: number;
  examples: number;
  messages: Bytes;
  wire: Bytes;
  /** (down + up) / examples. */
  messagesPerExample: number;
  wirePerExample: number;
}

/**
 * Bytes per example once every contributor had joined and the first round had closed (so the
 * pages and the dataset, which cross the links before a contributor says hello, are left
 * out): between the first such sample and the last, over the examples of the rounds that
 * closed in between.
 */
export function bytesPerExample(samples: readonly TrafficSample[], rounds: readonly RoundPoint[], contributors: number): BytesPerExample | null {
  const a = samples.find((s) => s.joined >= contributors && s.round >= 1);
  const b = samples.at(-1);
  if (!a || !b || b.round <= a.round) return null;
  const toRound = Math.min(b.round, rounds.length);
  const examples = rounds.slice(a.round, toRound).reduce((s, r) => s + r.examples, 0);
  const diff = (x: Bytes, y: Bytes): Bytes => ({ down: y.down - x.down, up: y.up - x.up });
  const messages = diff(a.messages, b.messages);
  const wire = diff(a.wire, b.wire);
  return {
    fromRound: a.round,
    toRound,
    examples,
    messages,
    wire,
    messagesPerExample: (messages.down + messages.up) / examples,
    wirePerExample: (wire.down + wire.up) / examples,
  };
}

/** "1m23s", "8m00s", "47.1 s"; "–" for no figure. */
export function seconds(s: number): string {
  if (!Number.isFinite(s)) return '–';
  if (s < 60) return `${s.toFixed(1)} s`;
  const whole = Math.round(s);
  return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s`;
}

/** A markdown table: a header row, an alignment row (numbers right), then the rows. */
export function markdownTable(header: string[], rows: string[][], numeric: boolean[] = header.map(() => false)): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(numeric.map((n) => (n ? '---:' : '---'))), ...rows.map(line)].join('\n');
}

/** One reading of train.html's progress line ("Step 340/1875, epoch 1: loss 0.512, 4,295 examples/s…"), taken at `at`. */
export interface LocalProgress {
  at: number;
  step: number;
  totalSteps: number;
  /** Examples so far over training time so far, evaluations left out (runLocalTraining's figure). */
  examplesPerSecond: number;
}

export function parseLocalProgress(text: string, at: number): LocalProgress | null {
  const m = /Step (\d+)\/(\d+),.*?([\d,]+(?:\.\d+)?) examples\/s/.exec(text);
  if (!m) return null;
  return { at, step: Number(m[1]), totalSteps: Number(m[2]), examplesPerSecond: Number(m[3].replaceAll(',', '')) };
}

/**
 * A page's rate between two readings: `training` over its training time in between (the
 * cumulative figures give each reading's training ms: examples / rate), `wall` over the wall
 * time in between (its evaluations included).
 */
export function localWindowRate(a: LocalProgress, b: LocalProgress, batch: number): { training: number; wall: number; examples: number } {
  const examples = (b.step - a.step) * batch;
  const trainMs = (b.step * batch) / b.examplesPerSecond - (a.step * batch) / a.examplesPerSecond;
  return { training: examples / trainMs, wall: (examples * 1000) / (b.at - a.at), examples };
}
