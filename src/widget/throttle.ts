// The frame-aware throttle: how much of the wall clock the widget may compute (its duty
// cycle) and how big one worker call may be. Pure: the caller passes the clock in.
// AIMD, as TCP does with its window: a dropped frame halves the duty cycle at once, and it
// climbs back slowly, so a game that stutters gets its frames back within one frame or two.

export interface ThrottleSettings {
  /** The visitor's usage limit, 0.1–1: the duty cycle never exceeds it. */
  usageLimit: number;
  /** Floor of the duty cycle while computing: never quite zero, so a lease still ends. */
  minDuty: number;
  /** Multiplicative cut on a dropped frame. */
  cut: number;
  /** Additive climb, in duty-cycle units per second without a dropped frame. */
  rampPerSecond: number;
  /** After a cut, further drops within this window are the same congestion, not a new one. */
  cutCooldownMs: number;
  /** Time budget of one worker call, so that one GPU submit (or CPU slice) stays short. */
  sliceBudgetMs: number;
}

export const DEFAULT_THROTTLE: ThrottleSettings = Object.freeze({
  usageLimit: 0.5,
  minDuty: 0.02,
  cut: 0.5,
  rampPerSecond: 0.05,
  cutCooldownMs: 250,
  sliceBudgetMs: 8,
});

export const MIN_USAGE_LIMIT = 0.1;
export const MAX_USAGE_LIMIT = 1;

/** A frame counts as dropped when it took more than this many expected frame intervals. */
export const DROPPED_FRAME_FACTOR = 1.5;

export function clampUsageLimit(limit: number): number {
  if (!Number.isFinite(limit)) throw new Error(`usage limit must be a number between ${MIN_USAGE_LIMIT} and ${MAX_USAGE_LIMIT}, got ${limit}`);
  return Math.min(MAX_USAGE_LIMIT, Math.max(MIN_USAGE_LIMIT, limit));
}

export class DutyCycleController {
  private readonly settings: ThrottleSettings;
  private dutyCycle: number;
  private lastTickMs: number | null = null;
  private lastCutMs = -Infinity;

  constructor(settings: Partial<ThrottleSettings> = {}) {
    this.settings = { ...DEFAULT_THROTTLE, ...settings, usageLimit: clampUsageLimit(settings.usageLimit ?? DEFAULT_THROTTLE.usageLimit) };
    // Start low and climb: the first seconds of a game must not stutter while we learn.
    this.dutyCycle = Math.min(this.settings.usageLimit, 4 * this.settings.minDuty);
  }

  get duty(): number {
    return this.dutyCycle;
  }

  get usageLimit(): number {
    return this.settings.usageLimit;
  }

  setUsageLimit(limit: number): void {
    this.settings.usageLimit = clampUsageLimit(limit);
    this.dutyCycle = Math.min(this.dutyCycle, this.settings.usageLimit);
  }

  /** Frames were dropped (on the host page or in the frame): cut, once per cooldown. */
  onDroppedFrames(count: number, nowMs: number): void {
    if (count <= 0) return;
    this.advance(nowMs);
    if (nowMs - this.lastCutMs < this.settings.cutCooldownMs) return;
    this.lastCutMs = nowMs;
    this.dutyCycle = Math.max(this.settings.minDuty, this.dutyCycle * this.settings.cut);
  }

  /** Time passes without a dropped frame: climb additively up to the usage limit. */
  advance(nowMs: number): void {
    if (this.lastTickMs !== null && nowMs > this.lastTickMs) {
      const seconds = (nowMs - this.lastTickMs) / 1000;
      this.dutyCycle = Math.min(this.settings.usageLimit, this.dutyCycle + this.settings.rampPerSecond * seconds);
    }
    this.lastTickMs = nowMs;
  }

  /** How long to rest after computing for `computeMs`, so that compute / (compute + rest) = duty. */
  restAfter(computeMs: number): number {
    return (Math.max(0, computeMs) * (1 - this.dutyCycle)) / this.dutyCycle;
  }

  /** Examples per worker call that fit the slice budget at the measured rate. */
  sliceExamples(examplesPerMs: number, maxExamples: number): number {
    if (!(examplesPerMs > 0)) return 1;
    return Math.max(1, Math.min(maxExamples, Math.floor(this.settings.sliceBudgetMs * examplesPerMs)));
  }
}

/**
 * Dropped frames among consecutive requestAnimationFrame intervals: one that spans k expected
 * intervals (k ≥ 1.5) lost round(k) − 1 frames. The expected interval is the median, which a
 * few long frames do not move.
 */
export function droppedFrames(intervalsMs: readonly number[], expectedMs = medianOf(intervalsMs)): number {
  if (!(expectedMs > 0)) return 0;
  let dropped = 0;
  for (const ms of intervalsMs) {
    const k = ms / expectedMs;
    if (k >= DROPPED_FRAME_FACTOR) dropped += Math.round(k) - 1;
  }
  return dropped;
}

export function medianOf(values: readonly number[]): number {
  return percentileOf(values, 0.5);
}

/** Nearest-rank percentile (p in 0–1); NaN for no values. */
export function percentileOf(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}
