// A trainer that computes a lease in short, time-budgeted slices with rests between them,
// at the duty cycle the throttle allows: what the embedded widget hands its session instead
// of the worker itself, so that a game's frames keep their time.

import { gradientOfLease, type SessionTrainer } from '../contributor/session.ts';
import { MAX_MICRO_BATCH, type GradientResult, type MicroBatch } from '../worker/api.ts';
import type { DutyCycleController } from './throttle.ts';

export interface ThrottleClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export interface ThrottledTrainerOptions {
  clock: ThrottleClock;
  /** Resolves when compute may go on (waits while paused). */
  mayCompute: () => Promise<void>;
  /** The worker recovered from a lost device while computing a slice. */
  onDeviceLost?: () => void;
  /** Until the first slice is timed (examples per millisecond). */
  initialExamplesPerMs?: number;
}

/** Weight of the newest slice in the running rate estimate. */
const RATE_SMOOTHING = 0.3;

export class ThrottledTrainer implements SessionTrainer {
  private examplesPerMs: number;

  constructor(
    private readonly inner: SessionTrainer,
    private readonly controller: DutyCycleController,
    private readonly options: ThrottledTrainerOptions,
  ) {
    this.examplesPerMs = options.initialExamplesPerMs ?? 1;
  }

  get rate(): number {
    return this.examplesPerMs;
  }

  loadParameters(version: number, params: Float32Array): Promise<void> {
    return this.inner.loadParameters(version, params);
  }

  computeGradient(batch: MicroBatch): Promise<GradientResult> {
    const slice = this.controller.sliceExamples(this.examplesPerMs, MAX_MICRO_BATCH);
    return gradientOfLease({ computeGradient: (b) => this.computeSlice(b) }, batch.version, batch.indices, slice);
  }

  private async computeSlice(batch: MicroBatch): Promise<GradientResult> {
    const { clock } = this.options;
    await this.options.mayCompute();
    const started = clock.now();
    const result = await this.inner.computeGradient(batch);
    const ms = Math.max(clock.now() - started, 0.01);
    this.examplesPerMs = (1 - RATE_SMOOTHING) * this.examplesPerMs + RATE_SMOOTHING * (batch.indices.length / ms);
    if (result.recoveries > 0) this.options.onDeviceLost?.();
    this.controller.advance(clock.now());
    await clock.sleep(this.controller.restAfter(ms));
    return result;
  }
}
