// Statistical screening of a result before it counts: zeros, a norm far outside what a lease
// of its size should have (at arrival), a direction inconsistent with the rest of its round
// (directionOutliers, when the round's positions are all counted). Pure: the coordinator
// feeds it accepted results and closed rounds.
//
// Lease size. A micro-batch gradient of n examples has E‖g‖² ≈ A + B/n: A is the squared norm
// of the full gradient (estimated by the previous aggregate's ‖ḡ‖²), B the per-example
// variance (estimated as the median of n·(‖g‖² − A) over recent accepted results). So the
// expected norm is √(A + B/n). A result is rejected when its norm leaves
// [expected / normFactor, expected · normFactor]: zeros and ×100 fall out. Directions are
// noisy (calibrated on real Fashion-MNIST gradients by scripts/calibrate-screening.mts: an
// honest 20–60-example lease can point at −0.5 cosine from the rest of its round), so a
// direction outlier is only a suspect: the coordinator recomputes it (spot check) or has it
// recomputed by another contributor (replication on suspicion), never bans on direction alone.

export interface ScreeningConfig {
  enabled: boolean;
  normFactor: number;
  cosineFraction: number;
  warmupResults: number;
  banAfterFlags: number;
}

export type ScreeningFlag = 'zero' | 'norm-too-small' | 'norm-too-large' | 'direction';

export interface ScreeningVerdict {
  flag: ScreeningFlag | null;
  reason: string;
  norm: number;
  expectedNorm: number | null;
  cosine: number | null;
  expectedCosine: number | null;
}

const MIN_EXAMPLES_FOR_LOWER_BOUND = 16;
/** Recent accepted results that estimate the per-example variance. */
const WINDOW = 64;
/** Below this expected cosine the direction says nothing useful (pure noise has |cos| ≈ 1/√d). */
const MIN_INFORMATIVE_COSINE = 0.05;

export class ResultScreen {
  private readonly recent: { count: number; norm2: number }[] = [];
  private consensus: Float32Array | null = null;
  private consensusNorm2 = 0;

  constructor(readonly config: ScreeningConfig) {}

  /** Judge one gradient's norm for a lease of `count` examples: one pass over the gradient. */
  screen(gradient: Float32Array, count: number): ScreeningVerdict {
    let norm2 = 0;
    for (let i = 0; i < gradient.length; i++) norm2 += gradient[i] * gradient[i];
    const norm = Math.sqrt(norm2);
    const verdict: ScreeningVerdict = { flag: null, reason: '', norm, expectedNorm: null, cosine: null, expectedCosine: null };
    if (!this.config.enabled) return verdict;
    if (norm2 === 0) return { ...verdict, flag: 'zero', reason: 'the gradient is all zeros' };
    if (this.recent.length < this.config.warmupResults) return verdict;

    const A = this.consensus ? this.consensusNorm2 : 0;
    const B = this.varianceEstimate(A);
    const expected2 = A + B / count;
    const expectedNorm = Math.sqrt(expected2);
    verdict.expectedNorm = expectedNorm;
    const f = this.config.normFactor;
    if (norm > expectedNorm * f) return { ...verdict, flag: 'norm-too-large', reason: `the gradient's norm ${fmt(norm)} is over ${f}× the ${fmt(expectedNorm)} expected for ${count} examples` };
    // Under 16 examples (a round's odd remainder) the per-example spread is too wide for a lower bound: one well-classified example has almost no gradient.
    if (count >= MIN_EXAMPLES_FOR_LOWER_BOUND && norm < expectedNorm / f) return { ...verdict, flag: 'norm-too-small', reason: `the gradient's norm ${fmt(norm)} is under 1/${f} of the ${fmt(expectedNorm)} expected for ${count} examples` };
    return verdict;
  }

  /** The running estimates of A (‖full gradient‖², from the last aggregate) and B (per-example variance), or null during the warm-up. */
  estimates(): { A: number; B: number } | null {
    if (!this.consensus || this.recent.length < this.config.warmupResults) return null;
    return { A: this.consensusNorm2, B: this.varianceEstimate(this.consensusNorm2) };
  }

  /** An accepted result's norm joins the running distribution. */
  observe(count: number, norm: number): void {
    this.recent.push({ count, norm2: norm * norm });
    if (this.recent.length > WINDOW) this.recent.shift();
  }

  /** The round closed with this aggregate: its norm estimates the full gradient's for the next round's norm checks. */
  roundClosed(aggregate: Float32Array): void {
    this.consensus = aggregate;
    let s = 0;
    for (let i = 0; i < aggregate.length; i++) s += aggregate[i] * aggregate[i];
    this.consensusNorm2 = s;
  }

  private varianceEstimate(A: number): number {
    const b = this.recent.map((r) => r.count * Math.max(0, r.norm2 - A)).sort((x, y) => x - y);
    const m = b.length >> 1;
    const median = b.length % 2 ? b[m] : 0.5 * (b[m - 1] + b[m]);
    // Never let the variance term vanish: late in training A can exceed a small window's norms.
    const floor = A * 0.01;
    return Math.max(median, floor);
  }
}

function fmt(x: number): string {
  return x.toPrecision(4);
}

export interface DirectionItem {
  leaseId: string;
  exampleCount: number;
  gradient: Float32Array;
}

export interface DirectionOutlier {
  leaseId: string;
  cosine: number;
  expectedCosine: number;
  reason: string;
}

/**
 * The direction check, when a round's positions are all counted: each gradient against the
 * example-weighted mean of the OTHER gradients of the round (same parameters, so the same
 * expected direction; the previous round's aggregate is no good: early in training AdamW's
 * gradient direction turns by more than 90° between rounds). The round's own results
 * estimate A (‖full gradient‖²) and B (per-example variance): with N examples in k leases,
 * Σ nᵢ‖gᵢ‖² ≈ N·A + k·B and N‖ḡ‖² ≈ N·A + B. Lease i (n examples) against the rest (m
 * examples) should then have cosine ≈ A / √((A + B/n)(A + B/m)); below `fraction` of that it
 * is an outlier. After the warm-up, A and B come from the running estimates instead (`running`).
 * Rounds of fewer than 3 leases (2 with running estimates), and leases whose expected cosine is under
 * 0.05 (tiny leases late in training), are not judged. O(k·d).
 */
export function directionOutliers(items: readonly DirectionItem[], fraction: number, running?: { A: number; B: number } | null): DirectionOutlier[] {
  const k = items.length;
  if (k < 2 || (k < 3 && !running)) return [];
  const d = items[0].gradient.length;
  const sum = new Float64Array(d);
  let N = 0;
  let weightedNorms = 0;
  const norms2: number[] = [];
  for (const it of items) {
    const g = it.gradient;
    const w = it.exampleCount;
    let n2 = 0;
    for (let i = 0; i < d; i++) {
      sum[i] += w * g[i];
      n2 += g[i] * g[i];
    }
    norms2.push(n2);
    N += w;
    weightedNorms += w * n2;
  }
  let sum2 = 0;
  for (let i = 0; i < d; i++) sum2 += sum[i] * sum[i];
  const meanNorm2 = sum2 / (N * N);
  // The running estimates (earlier rounds) when there are any: a cheat holding much of a round
  // cannot then cancel the round's own estimate of A.
  const B = running ? running.B : Math.max(0, (weightedNorms - N * meanNorm2) / (k - 1));
  const A = running ? running.A : Math.max(0, meanNorm2 - B / N);
  if (A === 0) return [];
  const outliers: DirectionOutlier[] = [];
  items.forEach((it, j) => {
    const g = it.gradient;
    const w = it.exampleCount;
    // rest = sum − w·g; dot(g, rest) and ‖rest‖² from the totals, in one pass.
    let dotSum = 0;
    for (let i = 0; i < d; i++) dotSum += g[i] * sum[i];
    const dotRest = dotSum - w * norms2[j];
    const rest2 = sum2 - 2 * w * dotSum + w * w * norms2[j];
    if (rest2 <= 0 || norms2[j] === 0) return;
    const cosine = dotRest / Math.sqrt(norms2[j] * rest2);
    const m = N - w;
    const expectedCosine = A / Math.sqrt((A + B / w) * (A + B / m));
    if (expectedCosine < MIN_INFORMATIVE_COSINE) return;
    const bar = fraction * expectedCosine;
    if (cosine < bar) {
      outliers.push({
        leaseId: it.leaseId,
        cosine,
        expectedCosine,
        reason: `the gradient's cosine with the rest of the round is ${cosine.toFixed(4)}, under ${bar.toFixed(4)} (${fraction} × the ${expectedCosine.toFixed(4)} expected for ${w} of ${N} examples)`,
      });
    }
  });
  return outliers;
}
