// What the coordinator remembers to catch cheats: banned keys, result hashes already seen,
// screening flags per contributor. Pure bookkeeping; the Coordinator decides and acts.
//
// Certain cheats ban at once: a bad signature or hash, a replayed result (a hash seen before,
// for this lease or another), a result for someone else's lease, a version that is not the
// lease's. Numeric cheats are caught by screening (screening.ts): each flag rejects the
// result (it never counts), and `banAfterFlags` flags ban the key.

import type { ImageDataset } from '../data/dataset.ts';
import type { OptimizerHyper } from '../kernels/optimizer.ts';
import type { JobSync } from './job.ts';
import { CpuKinkModel } from './kinkModel.ts';
import type { InlineCpuModel } from '../cpu/cpuModel.ts';
import { innerBatches } from '../worker/localSteps.ts';
import { localStepsReference, resolveLocalStepsKinks } from './localStepsReference.ts';
import type { BannedKey } from './records.ts';
import type { ScreeningFlag } from './screening.ts';

/** Why a result was refused or set aside ('replication': drawn at random, recomputed by another key). */
export type VerificationCheck = ScreeningFlag | 'bad-signature' | 'replayed' | 'not-your-lease' | 'wrong-version' | 'spot-check' | 'replica-mismatch' | 'replication';

/**
 * The host's CPU reference of a lease's result: the mean-loss gradient of the model with
 * `params` over the training examples `indices` (e.g. CpuKinkModel.lossAndGradient on the
 * training set), or in a local-steps job the lease's Δ from `params` (localStepsReference.ts).
 * Synchronous; the coordinator calls it for a sample of results and for every suspect one.
 */
export interface SpotChecker {
  /**
   * The reference result of the lease's examples at these parameters: the gradient, or in a
   * local-steps job the Δ of its inner steps run with `inner`, the lease's inner optimizer at
   * the learning rate it was sent (innerHyper(job, lease.round)); every-step ignores `inner`.
   * `dropoutSeed` is the lease's round, as the contributor seeds dropout (MicroBatch.dropoutSeed).
   */
  (params: Float32Array, indices: Uint32Array, inner?: OptimizerHyper, dropoutSeed?: number): Float32Array;
  /**
   * A claim's distance to the reference once the ReLU kinks are resolved its way: a
   * pre-activation within float error of zero may fall on either side in two correct f32
   * implementations, and one such unit of one example moved an honest lease's gradient by
   * 1.65e-3 (relative L2; the quick start of 2026-12-01 banned both of its contributors for it),
   * an honest local-steps Δ by up to 0.4 (scripts/bench-local-steps-drift.ts).
   */
  resolveKinks?: (params: Float32Array, indices: Uint32Array, claimed: Float32Array, reference: Float32Array, options?: KinkOptions) => { distance: number; kinks: number };
  /**
   * For a checker that cannot resolve kinks: a distance over the job's tolerance but up to this
   * is inconclusive, not proof, and the work goes to replication by another key instead of a
   * ban. A ReLU kink or a max-pool tie that falls the other way in the coordinator's arithmetic
   * (Node's wasm has no relaxed-SIMD FMA; the browsers' has) moves the gradient of a whole
   * conv feature map: an honest CNN lease of 36 examples measured 3.23e-2 from the reference,
   * bit-identical to another browser's recomputation (the CNN job of 2026-12-02 banned both
   * of its contributors for it).
   */
  inconclusiveUpTo?: number;
}

/**
 * The CPU layer table's band of inconclusive distances: above the honest kink and tie
 * differences measured (3.23e-2), below a gradient of other examples (relative L2
 * near √2 for unrelated directions of equal norm) or a poisoned one.
 */
export const CPU_MODEL_INCONCLUSIVE = 0.5;

export interface KinkOptions {
  /** Local steps: the lease's inner optimizer at its learning rate, as the checker was called with; without it no kink is resolved. */
  inner?: OptimizerHyper;
  /** What the claim went through on its way (the job's up encoding): each recomputation is rounded so before it is compared. */
  round?: (values: Float32Array) => Float32Array;
  /** Local steps: stop as soon as the distance is within this (the check's tolerance), since each try replays inner steps. */
  tolerance?: number;
}

/** Past this many near-kink units in one lease, none is resolved (each costs one recomputation). */
const MAX_KINKS = 64;
/** A kink flip counts as the claim's side when it alone cuts the distance by at least this factor. */
const HELPFUL = 0.9;
/** Helpful flips tried in every combination up to this many; more are applied together. */
const EXHAUSTIVE_KINKS = 4;

/**
 * A spot checker that resolves kinks: `mlp`'s gradient (f32) on the training set. With the
 * job's sync in local-steps mode it recomputes the lease's Δ (its inner optimizer's steps of
 * innerBatch examples from `params`), and resolves kinks along the inner steps
 * (resolveLocalStepsKinks: a flip at step s is replayed through the steps after it).
 */
export function kinkSpotChecker(mlp: CpuKinkModel, train: ImageDataset, sync: JobSync = { mode: 'every-step' }): SpotChecker {
  if (sync.mode === 'local-steps') {
    const { innerBatch } = sync;
    const workOf = (indices: Uint32Array, inner: OptimizerHyper | undefined) => {
      if (!inner) throw new Error("A local-steps job's spot checker needs the lease's inner optimizer at its learning rate: pass innerHyper(job, lease.round)");
      return { indices, innerBatch, hyper: inner };
    };
    const checker: SpotChecker = (params, indices, inner) => localStepsReference(mlp, train, params, workOf(indices, inner)).delta;
    checker.resolveKinks = (params, indices, claimed, reference, options) => {
      // Without the lease's inner optimizer nothing can be replayed: the distance stands as it is.
      if (!options?.inner) return { distance: relativeDistance(claimed, reference), kinks: 0 };
      return resolveLocalStepsKinks(mlp, train, params, workOf(indices, options.inner), claimed, { round: options.round, tolerance: options.tolerance });
    };
    return checker;
  }
  if (sync.mode !== 'every-step') throw new Error(`kinkSpotChecker: sync mode must be 'every-step' or 'local-steps', got ${JSON.stringify((sync as { mode: unknown }).mode)}`);
  const gradientOf = (params: Float32Array, indices: Uint32Array, forced?: ReadonlyMap<number, boolean>) => {
    const gradient = new Float32Array(mlp.total);
    mlp.lossAndGradient(params, train, indices, gradient, forced);
    return gradient;
  };
  const checker: SpotChecker = (params, indices) => gradientOf(params, indices);
  checker.resolveKinks = (params, indices, claimed, reference, options) => {
    const round = options?.round ?? ((g: Float32Array) => g);
    let best = relativeDistance(claimed, reference);
    const kinks = mlp.nearKinks(params, train, indices);
    if (kinks.length === 0 || kinks.length > MAX_KINKS) return { distance: best, kinks: kinks.length };
    // A flipped kink is forced to the side the reference did not take.
    const distanceWith = (flipped: readonly { key: number; active: boolean }[]) =>
      relativeDistance(claimed, round(gradientOf(params, indices, new Map(flipped.map((k) => [k.key, !k.active])))));
    // Each kink alone first: a wrong flip moves the distance up or barely at all, the claim's own cuts it.
    const helpful = kinks.filter((k) => distanceWith([k]) < HELPFUL * best);
    if (helpful.length <= EXHAUSTIVE_KINKS) {
      for (let mask = 1; mask < 1 << helpful.length; mask++) best = Math.min(best, distanceWith(helpful.filter((_, i) => mask & (1 << i))));
    } else {
      best = Math.min(best, distanceWith(helpful));
    }
    return { distance: best, kinks: kinks.length };
  };
  return checker;
}

/**
 * The spot checker of any model: the CPU layer table (CpuModel on the coordinator's thread,
 * the kernels a CPU contributor runs) on the training set. A model whose every kink it can
 * resolve (each ReLU fused into a linear, no max-pool or dropout: the MLPs) gets
 * kinkSpotChecker on it. Any other, every-step: the gradient at `params`, and distances up to
 * CPU_MODEL_INCONCLUSIVE are inconclusive; local steps: the lease's inner steps replayed as
 * runLocalSteps runs them (a fresh optimizer state, step t = s + 1 on inner batch s) and
 * Δ = θ_v − θ_after in f32, a recomputation on another backend that lands over the tolerance
 * but within LOCAL_STEPS_INCONCLUSIVE going to replication, as every inconclusive check does.
 */
/** Positions of work per call of an every-step spot check (chunks of max(1, this / T) windows for a next-token model). */
export const SPOT_CHECK_POSITIONS = 512;

export function cpuModelSpotChecker(cpu: InlineCpuModel, train: ImageDataset, sync: JobSync = { mode: 'every-step' }): SpotChecker {
  const kinks = new CpuKinkModel(cpu);
  if (kinks.resolvesAll) return kinkSpotChecker(kinks, train, sync);
  const total = cpu.model.total;
  cpu.setDatasets(train, null);
  if (sync.mode === 'every-step') {
    // A lease of long windows is recomputed in chunks that fit the CPU backend's memory, combined by example count.
    const chunk = Math.max(1, Math.floor(SPOT_CHECK_POSITIONS / cpu.model.labelsPerExample));
    const checker: SpotChecker = (params, indices, _inner, dropoutSeed) => {
      cpu.setParameters(params);
      if (indices.length <= chunk) return cpu.gradient(indices, dropoutOf(indices, dropoutSeed)).gradient;
      const sum = new Float32Array(total);
      for (let start = 0; start < indices.length; start += chunk) {
        const part = indices.subarray(start, start + chunk);
        const g = cpu.gradient(part, dropoutOf(part, dropoutSeed)).gradient;
        const w = part.length / indices.length;
        for (let i = 0; i < total; i++) sum[i] += w * g[i];
      }
      return sum;
    };
    checker.inconclusiveUpTo = CPU_MODEL_INCONCLUSIVE;
    return checker;
  }
  const zeros = new Float32Array(total);
  return (params, indices, inner, dropoutSeed) => {
    if (!inner) throw new Error("A local-steps job's spot checker needs the lease's inner optimizer at its learning rate: pass innerHyper(job, lease.round)");
    cpu.setParameters(params);
    cpu.setOptimizerState(zeros, zeros);
    innerBatches(indices, sync.innerBatch).forEach((batch, s) => cpu.trainStep(batch, inner, s + 1, dropoutOf(batch, dropoutSeed)));
    const after = cpu.readState().params;
    const delta = new Float32Array(total);
    for (let i = 0; i < total; i++) delta[i] = params[i] - after[i];
    return delta;
  };
}

/** A contributor's dropout context for these examples: the lease's round as the seed, each example's index as its position. */
function dropoutOf(indices: Uint32Array, seed: number | undefined): { seed: number; positions: Uint32Array } | undefined {
  return seed === undefined ? undefined : { seed, positions: indices };
}

/** ‖g − ref‖ / ‖ref‖ (‖g‖ when ref is zero). */
export function relativeDistance(g: Float32Array, ref: Float32Array): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < g.length; i++) {
    const d = g[i] - ref[i];
    diff += d * d;
    norm += ref[i] * ref[i];
  }
  return norm > 0 ? Math.sqrt(diff / norm) : Math.sqrt(diff);
}

export class VerificationBook {
  private readonly banned = new Map<string, BannedKey>();
  /** resultHash → the lease it first came with and that lease's work (round, version, positions). Kept for the whole run. */
  private readonly seenHashes = new Map<string, { leaseId: string; work: string }>();
  private readonly flags = new Map<string, number>();
  /** Reputation: results of a key verified by a spot check or a replica agreement. */
  private readonly verified = new Map<string, number>();

  constructor(banned: readonly BannedKey[] = []) {
    for (const b of banned) this.banned.set(b.publicKey, { ...b });
  }

  isBanned(publicKey: string): BannedKey | undefined {
    return this.banned.get(publicKey);
  }

  ban(entry: BannedKey): void {
    if (!this.banned.has(entry.publicKey)) this.banned.set(entry.publicKey, { ...entry });
  }

  bannedKeys(): BannedKey[] {
    return [...this.banned.values()].map((b) => ({ ...b }));
  }

  /**
   * If a result with this hash was seen before and this one is a replay, the lease it was
   * first seen for; else undefined (and a new hash is remembered). The same data sent again
   * for the same lease is a replay; for another lease it is one unless that lease is the
   * same work (same round, version and positions): an expired lease's examples re-leased on
   * the same parameters give the same bits on a deterministic backend, honestly.
   */
  replayOf(resultHash: string, leaseId: string, work: string): string | undefined {
    const first = this.seenHashes.get(resultHash);
    if (first === undefined) {
      this.seenHashes.set(resultHash, { leaseId, work });
      return undefined;
    }
    return first.leaseId === leaseId || first.work !== work ? first.leaseId : undefined;
  }

  /** Count a screening flag; returns the contributor's total. */
  flag(contributorId: string): number {
    const n = (this.flags.get(contributorId) ?? 0) + 1;
    this.flags.set(contributorId, n);
    return n;
  }

  /** A result of this key passed a spot check or agreed with a replica. */
  verifiedResult(publicKey: string): void {
    this.verified.set(publicKey, (this.verified.get(publicKey) ?? 0) + 1);
  }

  reputation(publicKey: string): number {
    return this.verified.get(publicKey) ?? 0;
  }

  flagsOf(contributorId: string): number {
    return this.flags.get(contributorId) ?? 0;
  }
}
