// Statistical screening of a result before it counts: zeros, a norm far outside what a lease
// of its size should have, a direction inconsistent with the consensus (the previous round's
// aggregate). Pure: the coordinator feeds it accepted results and closed rounds.
//
// Lease size. A micro-batch gradient of n examples has E‖g‖² ≈ A + B/n: A is the squared norm
// of the full gradient (estimated by the previous aggregate's ‖ḡ‖²), B the per-example
// variance (estimated as the median of n·(‖g‖² − A) over recent accepted results). So the
// expected norm is √(A + B/n), and the expected cosine of an honest g with ḡ is about
// √A / √(A + B/n): near 1 for big leases, small for 16 examples late in training. A result is
// rejected when its norm leaves [expected / normFactor, expected · normFactor] or its cosine
// is below cosineFraction × the expected cosine. Zeros, ×100, noise and sign flips fall out
// (see screening.test.ts for the calibration on real Fashion-MNIST gradients).

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

/** Recent accepted results that estimate the per-example variance. */
const WINDOW = 64;
/** Below this expected cosine the direction says nothing useful (pure noise has |cos| ≈ 1/√d). */
const MIN_INFORMATIVE_COSINE = 0.05;

export class ResultScreen {
  private readonly recent: { count: number; norm2: number }[] = [];
  private consensus: Float32Array | null = null;
  private consensusNorm2 = 0;

  constructor(readonly config: ScreeningConfig) {}

  /** Judge one gradient of a lease of `count` examples. Costs one pass over the gradient (two with a consensus). */
  screen(gradient: Float32Array, count: number): ScreeningVerdict {
    let norm2 = 0;
    let dot = 0;
    const c = this.consensus;
    if (c) {
      for (let i = 0; i < gradient.length; i++) {
        const g = gradient[i];
        norm2 += g * g;
        dot += g * c[i];
      }
    } else {
      for (let i = 0; i < gradient.length; i++) norm2 += gradient[i] * gradient[i];
    }
    const norm = Math.sqrt(norm2);
    const verdict: ScreeningVerdict = { flag: null, reason: '', norm, expectedNorm: null, cosine: null, expectedCosine: null };
    if (!this.config.enabled) return verdict;
    if (norm2 === 0) return { ...verdict, flag: 'zero', reason: 'the gradient is all zeros' };
    if (this.recent.length < this.config.warmupResults) return verdict;

    const A = c ? this.consensusNorm2 : 0;
    const B = this.varianceEstimate(A);
    const expected2 = A + B / count;
    const expectedNorm = Math.sqrt(expected2);
    verdict.expectedNorm = expectedNorm;
    const f = this.config.normFactor;
    if (norm > expectedNorm * f) return { ...verdict, flag: 'norm-too-large', reason: `the gradient's norm ${fmt(norm)} is over ${f}× the ${fmt(expectedNorm)} expected for ${count} examples` };
    if (norm < expectedNorm / f) return { ...verdict, flag: 'norm-too-small', reason: `the gradient's norm ${fmt(norm)} is under 1/${f} of the ${fmt(expectedNorm)} expected for ${count} examples` };
    if (c && A > 0) {
      const cosine = dot / (norm * Math.sqrt(A));
      const expectedCosine = Math.sqrt(A / expected2);
      verdict.cosine = cosine;
      verdict.expectedCosine = expectedCosine;
      const bar = this.config.cosineFraction * expectedCosine;
      if (expectedCosine >= MIN_INFORMATIVE_COSINE && cosine < bar) {
        return { ...verdict, flag: 'direction', reason: `the gradient's cosine with the consensus is ${cosine.toFixed(4)}, under ${bar.toFixed(4)} (${this.config.cosineFraction} × the ${expectedCosine.toFixed(4)} expected for ${count} examples)` };
      }
    }
    return verdict;
  }

  /** An accepted result's norm joins the running distribution. */
  observe(count: number, norm: number): void {
    this.recent.push({ count, norm2: norm * norm });
    if (this.recent.length > WINDOW) this.recent.shift();
  }

  /** The round closed with this aggregate: the next round's results are compared with it. */
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
