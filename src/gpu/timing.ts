// Timing repeated runs of GPU work the same way everywhere (autotune, benchmarks): warm-up
// runs first, then timed runs until a count or a time budget is reached; the fastest counts,
// because noise on a shared machine only ever adds time.

import { ComputeRecorder } from './recorder.ts';
import type { GpuContext } from './context.ts';

export interface RepeatPolicy {
  /** Untimed runs first (pipeline first use, caches, clocks ramping up). */
  warmups: number;
  /** At most this many timed runs (at least one is always made). */
  repetitions: number;
  /** Stop repeating once the timed runs add up to this many milliseconds. */
  budgetMs?: number;
  signal?: AbortSignal;
}

export interface TimedSample {
  /** The time that counts: GPU time where measured, else wall-clock. */
  ms: number;
}

export interface RepeatedTiming<S extends TimedSample> {
  /** The fastest timed run. */
  best: S;
  /** Every timed run, in order (warm-ups excluded). */
  samples: S[];
  warmups: number;
}

export function validatePolicy(policy: RepeatPolicy): void {
  if (!Number.isInteger(policy.warmups) || policy.warmups < 0) {
    throw new Error(`Warm-up runs must be a non-negative integer, got ${policy.warmups}`);
  }
  if (!Number.isInteger(policy.repetitions) || policy.repetitions < 1) {
    throw new Error(`Timed repetitions must be a positive integer, got ${policy.repetitions}`);
  }
  if (policy.budgetMs !== undefined && !(policy.budgetMs > 0)) {
    throw new Error(`A time budget must be a positive number of milliseconds, got ${policy.budgetMs}`);
  }
}

/** Run `runOnce` under `policy` and keep the fastest timed run. */
export async function repeatTimed<S extends TimedSample>(runOnce: () => Promise<S>, policy: RepeatPolicy): Promise<RepeatedTiming<S>> {
  validatePolicy(policy);
  for (let w = 0; w < policy.warmups; w++) {
    policy.signal?.throwIfAborted();
    await runOnce();
  }
  const samples: S[] = [];
  let spentMs = 0;
  while (samples.length < policy.repetitions && (samples.length === 0 || policy.budgetMs === undefined || spentMs < policy.budgetMs)) {
    policy.signal?.throwIfAborted();
    const sample = await runOnce();
    if (!(sample.ms >= 0) || !Number.isFinite(sample.ms)) throw new Error(`A timed run reported ${sample.ms} ms: not a valid duration`);
    samples.push(sample);
    spentMs += sample.ms;
  }
  const best = samples.reduce((a, b) => (b.ms < a.ms ? b : a));
  return { best, samples, warmups: policy.warmups };
}

export interface RecordedSample extends TimedSample {
  /** From timestamp queries; null when the device has none. */
  gpuMs: number | null;
  /** From encoding to the results being back, submit and readback of the timestamps included. */
  wallMs: number;
}

/** Time one recorded unit of work: GPU timestamps when available, else wall-clock. */
export async function timeRecordedOnce(ctx: GpuContext, encode: (rec: ComputeRecorder) => void, label = 'timed work'): Promise<RecordedSample> {
  const rec = new ComputeRecorder(ctx, { label });
  const t0 = performance.now();
  encode(rec);
  const { gpuTimeMs } = await rec.finish();
  const wallMs = performance.now() - t0;
  return { ms: gpuTimeMs ?? wallMs, gpuMs: gpuTimeMs, wallMs };
}

export function timeRecordedWork(
  ctx: GpuContext,
  encode: (rec: ComputeRecorder) => void,
  policy: RepeatPolicy,
  label?: string,
): Promise<RepeatedTiming<RecordedSample>> {
  return repeatTimed(() => timeRecordedOnce(ctx, encode, label), policy);
}
