// A trainer that computes a lease in short, time-budgeted slices with rests between them,
// at the duty cycle the throttle allows: what the embedded widget hands its session instead
// of the worker itself, so that a game's frames keep their time.

import { gradientOfLease, type SessionTrainer } from '../contributor/session.ts';
import type { OptimizerHyper } from '../kernels/optimizer.ts';
import { MAX_MICRO_BATCH, type GradientResult, type MicroBatch, type TrainStepResult } from '../worker/api.ts';
import { runLocalSteps, type LocalStepsLease, type LocalStepsResult, type LocalStepsTrainer } from '../worker/localSteps.ts';
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
  private busyMs = 0;
  /** The parameters last loaded: local-steps leases start from them. */
  private loaded: { version: number; params: Float32Array } | null = null;

  constructor(
    private readonly inner: SessionTrainer & LocalStepsTrainer,
    private readonly controller: DutyCycleController,
    private readonly options: ThrottledTrainerOptions,
  ) {
    this.examplesPerMs = options.initialExamplesPerMs ?? 1;
  }

  get rate(): number {
    return this.examplesPerMs;
  }

  /** Milliseconds spent computing so far (the rests between slices left out): the visitor's compute time. */
  get computeMs(): number {
    return this.busyMs;
  }

  loadParameters(version: number, params: Float32Array): Promise<void> {
    this.loaded = { version, params };
    return this.inner.loadParameters(version, params);
  }

  /** A local-steps lease one inner step per slice, resting between steps as the duty cycle says. */
  localSteps(lease: LocalStepsLease): Promise<LocalStepsResult> {
    const loaded = this.loaded;
    if (!loaded || loaded.version !== lease.version) {
      return Promise.reject(new Error(`The lease is for version ${lease.version}, but ${loaded ? `version ${loaded.version}` : 'nothing'} is loaded`));
    }
    return runLocalSteps(
      {
        loadParameters: (version, params) => this.inner.loadParameters(version, params),
        trainStep: (batch, hyper) => this.stepSlice(batch, hyper),
        getParameters: () => this.inner.getParameters(),
      },
      loaded.params,
      lease,
    );
  }

  computeGradient(batch: MicroBatch): Promise<GradientResult> {
    const slice = this.controller.sliceExamples(this.examplesPerMs, MAX_MICRO_BATCH);
    return gradientOfLease({ computeGradient: (b) => this.computeSlice(b) }, batch.version, batch.indices, slice);
  }

  private async stepSlice(batch: MicroBatch, hyper: OptimizerHyper): Promise<TrainStepResult> {
    return this.timedSlice(batch.indices.length, () => this.inner.trainStep(batch, hyper));
  }

  private async computeSlice(batch: MicroBatch): Promise<GradientResult> {
    return this.timedSlice(batch.indices.length, () => this.inner.computeGradient(batch));
  }

  /** One slice of work: wait while paused, time it, update the rate estimate, then rest. */
  private async timedSlice<R extends { recoveries: number }>(examples: number, work: () => Promise<R>): Promise<R> {
    const { clock } = this.options;
    await this.options.mayCompute();
    const started = clock.now();
    const result = await work();
    const ms = Math.max(clock.now() - started, 0.01);
    this.busyMs += ms;
    this.examplesPerMs = (1 - RATE_SMOOTHING) * this.examplesPerMs + RATE_SMOOTHING * (examples / ms);
    if (result.recoveries > 0) this.options.onDeviceLost?.();
    this.controller.advance(clock.now());
    await clock.sleep(this.controller.restAfter(ms));
    return result;
  }
}
