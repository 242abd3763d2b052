// Byzantine-robust ways to combine a round's gradients, beside the plain example-weighted mean.
// Each takes the contributions in position order and returns one gradient; all work in f64
// per coordinate and are O(n·d) or O(n·log n·d), cheap enough to run every round.
//
// Lease size: 'mean' and 'centered-clipping' weight each gradient by its example count (so an
// honest round still aggregates to the gradient of the mean loss over its examples);
// 'trimmed-mean' and 'median' are coordinate-wise order statistics and weigh every lease
// equally: a weighted median would let one large lease outvote many small ones, which is
// exactly what an attacker holding a big lease wants.

export interface WeightedGradient {
  exampleCount: number;
  gradient: Float32Array;
}

/** Σ countᵢ·gᵢ / Σ countᵢ: the gradient of the mean loss over all the round's examples. */
export function exampleWeightedMean(items: readonly WeightedGradient[], length: number): Float32Array {
  const sum = new Float64Array(length);
  let examples = 0;
  for (const c of items) {
    const w = c.exampleCount;
    const g = c.gradient;
    for (let i = 0; i < length; i++) sum[i] += w * g[i];
    examples += w;
  }
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = sum[i] / examples;
  return out;
}

/**
 * Coordinate-wise trimmed mean: per coordinate, drop the ⌊trim·n⌋ largest and smallest values
 * and average the rest (unweighted). With n ≤ 2 nothing can be trimmed and it is the plain mean.
 */
export function trimmedMean(items: readonly WeightedGradient[], length: number, trim: number): Float32Array {
  const n = items.length;
  if (!(trim >= 0 && trim < 0.5)) throw new Error(`trimmedMean: trim must be in [0, 0.5), got ${trim}`);
  const k = Math.min(Math.floor(trim * n), Math.floor((n - 1) / 2));
  return orderStatistic(items, length, (column) => {
    let s = 0;
    for (let j = k; j < n - k; j++) s += column[j];
    return s / (n - 2 * k);
  });
}

/** Coordinate-wise median (the mean of the two middle values when n is even). */
export function coordinateMedian(items: readonly WeightedGradient[], length: number): Float32Array {
  const n = items.length;
  const mid = n >> 1;
  return orderStatistic(items, length, (column) => (n % 2 ? column[mid] : 0.5 * (column[mid - 1] + column[mid])));
}

/**
 * Centered clipping (Karimireddy et al. 2021): start from the coordinate-wise median and take
 * `iterations` steps v ← v + Σ wᵢ·clip(gᵢ − v, τ) / Σ wᵢ, where clip scales a vector down to
 * norm τ. τ = radius × the median distance of the gradients to the start, so the rule needs no
 * knowledge of the gradient scale; an outlier moves v by at most wᵢ·τ / Σ w per iteration.
 */
export function centeredClipping(items: readonly WeightedGradient[], length: number, radius: number, iterations: number): Float32Array {
  const v = Float64Array.from(coordinateMedian(items, length));
  const distances = items.map((c) => Math.sqrt(squaredDistance(c.gradient, v)));
  const tau = radius * medianOf(distances);
  const total = items.reduce((s, c) => s + c.exampleCount, 0);
  const step = new Float64Array(length);
  for (let it = 0; it < iterations; it++) {
    step.fill(0);
    for (const c of items) {
      const dist = Math.sqrt(squaredDistance(c.gradient, v));
      const scale = (c.exampleCount / total) * (dist > tau && dist > 0 ? tau / dist : 1);
      const g = c.gradient;
      for (let i = 0; i < length; i++) step[i] += scale * (g[i] - v[i]);
    }
    for (let i = 0; i < length; i++) v[i] += step[i];
  }
  return Float32Array.from(v);
}

function orderStatistic(items: readonly WeightedGradient[], length: number, pick: (sortedColumn: Float64Array) => number): Float32Array {
  const n = items.length;
  if (n === 0) throw new Error('robust aggregation: no gradients');
  const column = new Float64Array(n);
  const out = new Float32Array(length);
  const gradients = items.map((c) => c.gradient);
  for (let i = 0; i < length; i++) {
    for (let j = 0; j < n; j++) column[j] = gradients[j][i];
    if (n <= 16) insertionSort(column);
    else column.sort();
    out[i] = pick(column);
  }
  return out;
}

/** Small columns (the common case) sort fastest in place without a comparator call. */
function insertionSort(a: Float64Array): void {
  for (let i = 1; i < a.length; i++) {
    const x = a[i];
    let j = i - 1;
    while (j >= 0 && a[j] > x) {
      a[j + 1] = a[j];
      j--;
    }
    a[j + 1] = x;
  }
}

function squaredDistance(g: Float32Array, v: Float64Array): number {
  let s = 0;
  for (let i = 0; i < g.length; i++) {
    const d = g[i] - v[i];
    s += d * d;
  }
  return s;
}

function medianOf(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : 0.5 * (s[m - 1] + s[m]);
}
