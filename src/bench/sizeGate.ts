// Which sizes an implementation is still measured at: a slow kernel (the plain reference
// takes ~80 s per N=2048 run on a software GPU) would otherwise eat the whole session.
// One gate per implementation, asked before each size in ascending order.

export type GateDecision =
  /** predictedMs: one run's time scaled from the last size measured; null before the first. */
  | { measure: true; predictedMs: number | null }
  | { measure: false; reason: string };

export interface SizeGateOptions {
  /** Skip a size where one run is predicted to take longer than this. */
  capMs: number;
  /** Sizes measured whatever the prediction. */
  requiredSizes: readonly number[];
  /** Larger sizes are measured only once a smaller one predicts their time: a blind run could take minutes. */
  blindLimit: number;
  /** Work of one run at a size, proportional to its time (FLOPs). */
  work: (size: number) => number;
}

export class SizeGate {
  private last: { size: number; ms: number } | null = null;
  private failure: { size: number; message: string } | null = null;

  constructor(private readonly options: SizeGateOptions) {
    if (!(options.capMs > 0)) throw new Error(`A time cap must be a positive number of milliseconds, got ${options.capMs}`);
  }

  decide(size: number): GateDecision {
    if (this.failure) return { measure: false, reason: `not measured: it failed at N=${this.failure.size} (${this.failure.message})` };
    if (!this.last) {
      if (size <= this.options.blindLimit || this.options.requiredSizes.includes(size)) return { measure: true, predictedMs: null };
      return {
        measure: false,
        reason: `skipped: no smaller N was measured to predict its time against the cap; list one too (e.g. sizes=256,${size})`,
      };
    }
    const predictedMs = (this.last.ms * this.options.work(size)) / this.options.work(this.last.size);
    if (predictedMs <= this.options.capMs || this.options.requiredSizes.includes(size)) return { measure: true, predictedMs };
    return {
      measure: false,
      reason:
        `skipped: one run is predicted to take ${seconds(predictedMs)} ` +
        `(from ${seconds(this.last.ms)} at N=${this.last.size}), over the ${seconds(this.options.capMs)} cap`,
    };
  }

  /** The fastest run measured at `size`. */
  recordRun(size: number, ms: number): void {
    if (!(ms > 0)) throw new Error(`A run time must be positive, got ${ms} ms at N=${size}`);
    this.last = { size, ms };
  }

  /** Larger sizes are not tried after a failure: it would most likely fail again, slower. */
  recordFailure(size: number, message: string): void {
    this.failure = { size, message };
  }
}

function seconds(ms: number): string {
  return ms >= 10_000 ? `${Math.round(ms / 1000)} s` : `${(ms / 1000).toFixed(1)} s`;
}
