// Per-round accumulation of accepted gradients, keyed by lease. Every accepted gradient
// stays available until the round closes, so later verification (replication, spot checks)
// and robust rules (trimmed mean, median, centered clipping) can see each one.

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

/** How the contributions of a round become one gradient. Only 'mean' exists yet; robust rules plug in here. */
export type AggregationRule = 'mean';

export interface RoundAggregate {
  gradient: Float32Array;
  examples: number;
  /** Example-weighted mean of the contributors' reported losses. */
  loss: number;
  correct: number;
  contributions: number;
}

type Combine = (sorted: readonly Contribution[], length: number) => Float32Array;

/** Σ countᵢ·gᵢ / Σ countᵢ: the gradient of the mean loss over all the round's examples. Sums in f64. */
function exampleWeightedMean(sorted: readonly Contribution[], length: number): Float32Array {
  const sum = new Float64Array(length);
  let examples = 0;
  for (const c of sorted) {
    const w = c.exampleCount;
    const g = c.gradient;
    for (let i = 0; i < length; i++) sum[i] += w * g[i];
    examples += w;
  }
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = sum[i] / examples;
  return out;
}

const RULES: Record<AggregationRule, Combine> = { mean: exampleWeightedMean };

export class RoundAggregator {
  private readonly byLease = new Map<string, Contribution>();
  private readonly combine: Combine;

  constructor(
    /** Floats per gradient (layout.total). */
    readonly length: number,
    readonly rule: AggregationRule = 'mean',
  ) {
    const combine = RULES[rule];
    if (!combine) throw new Error(`Unknown aggregation rule ${JSON.stringify(rule)}; known: ${Object.keys(RULES).join(', ')}`);
    this.combine = combine;
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
