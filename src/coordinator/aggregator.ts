// Per-round accumulation of accepted gradients, keyed by lease. Every accepted gradient
// stays available until the round closes, so later verification (replication, spot checks)
// and robust rules (trimmed mean, median, centered clipping; robustRules.ts) can see each one,
// and a contribution found bad before the round closes can be removed.

import { centeredClipping, coordinateMedian, exampleWeightedMean, trimmedMean } from './robustRules.ts';

/** One accepted result, as the aggregator keeps it until the round closes. */
export interface Contribution {
  leaseId: string;
  contributorId: string;
  exampleCount: number;
  /** First position of the lease in the epoch order: the aggregator sums in this order, so the result does not depend on arrival order. */
  firstPosition: number;
  /** Gradient of the mean loss over the lease's examples; owned by the aggregator from now on. */
  gradient: Float32Array;
  loss: number;
  correct: number;
}

/** How the contributions of a round become one gradient (job.verification.aggregation). */
export type AggregationRule = 'mean' | 'trimmed-mean' | 'median' | 'centered-clipping';

export interface AggregationConfig {
  rule: AggregationRule;
  /** trimmed-mean: fraction dropped at each end per coordinate. */
  trim: number;
  /** centered-clipping: clipping radius as a multiple of the median distance to the coordinate median. */
  clipRadius: number;
  clipIterations: number;
}

export const MEAN_AGGREGATION: AggregationConfig = { rule: 'mean', trim: 0.25, clipRadius: 1, clipIterations: 3 };

export interface RoundAggregate {
  gradient: Float32Array;
  examples: number;
  /** Example-weighted mean of the contributors' reported losses. */
  loss: number;
  correct: number;
  contributions: number;
}

type Combine = (sorted: readonly Contribution[], length: number) => Float32Array;

function combinerOf(config: AggregationConfig): Combine {
  switch (config.rule) {
    case 'mean':
      return exampleWeightedMean;
    case 'trimmed-mean':
      return (s, n) => trimmedMean(s, n, config.trim);
    case 'median':
      return coordinateMedian;
    case 'centered-clipping':
      return (s, n) => centeredClipping(s, n, config.clipRadius, config.clipIterations);
    default:
      throw new Error(`Unknown aggregation rule ${JSON.stringify((config as AggregationConfig).rule)}; known: mean, trimmed-mean, median, centered-clipping`);
  }
}

export class RoundAggregator {
  private readonly byLease = new Map<string, Contribution>();
  private readonly combine: Combine;

  constructor(
    /** Floats per gradient (layout.total). */
    readonly length: number,
    readonly config: AggregationConfig = MEAN_AGGREGATION,
  ) {
    this.combine = combinerOf(config);
  }

  get size(): number {
    return this.byLease.size;
  }

  get examples(): number {
    let n = 0;
    for (const c of this.byLease.values()) n += c.exampleCount;
    return n;
  }

  /** Keep an accepted result. The coordinator validated it; a second one for the same lease is a bug. */
  add(c: Contribution): void {
    if (this.byLease.has(c.leaseId)) throw new Error(`RoundAggregator.add: lease ${c.leaseId} was already aggregated this round`);
    if (c.gradient.length !== this.length) {
      throw new Error(`RoundAggregator.add: lease ${c.leaseId} has a gradient of ${c.gradient.length} floats, expected ${this.length}`);
    }
    if (!Number.isInteger(c.exampleCount) || c.exampleCount < 1) {
      throw new Error(`RoundAggregator.add: lease ${c.leaseId} has exampleCount ${c.exampleCount}; it must be a positive integer`);
    }
    this.byLease.set(c.leaseId, c);
  }

  /** Forget a contribution that failed verification after it was accepted; returns it, or undefined. */
  remove(leaseId: string): Contribution | undefined {
    const c = this.byLease.get(leaseId);
    this.byLease.delete(leaseId);
    return c;
  }

  /** Contributions in position order. */
  contributions(): Contribution[] {
    return [...this.byLease.values()].sort((a, b) => a.firstPosition - b.firstPosition);
  }

  aggregate(): RoundAggregate {
    const sorted = this.contributions();
    if (sorted.length === 0) throw new Error('RoundAggregator.aggregate: no contributions this round');
    let examples = 0;
    let loss = 0;
    let correct = 0;
    for (const c of sorted) {
      examples += c.exampleCount;
      loss += c.loss * c.exampleCount;
      correct += c.correct;
    }
    return { gradient: this.combine(sorted, this.length), examples, loss: loss / examples, correct, contributions: sorted.length };
  }

  clear(): void {
    this.byLease.clear();
  }
}
