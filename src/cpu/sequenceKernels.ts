// The CPU backend's kernels for a GPT's embeddings and head, in TypeScript over the shared wasm
// memory (attention's core is assembly/attention.ts; its projections are the linear rule's
// gemm: cpuModelPlan.ts expands an attention layer into qkv linear → core → projection
// linear). `f` is a Float32Array over the whole memory; every `…At` is a float index into it. Each output is written by one
// thread in one fixed order (sums in f64, stored as f32), so the bits do not depend on the
// thread count; forward and backward take a range of rows or examples, the parameter
// gradients a range of outputs.
//
//   embedding          y[r] = E[tokens[r]]               | dE[v] = Σ_{r: tokens[r] = v} dy[r] (+ a tied head's dlogitsᵀ·x)
//   position-embedding y[n, t] = x[n, t] + P[t]          | dx = dy, dP (a column sum, the wasm columnSum)
//   lm-head            y = x·Eᵀ (tied) or x·W            | dx = dy·E (or dy·Wᵀ); dW = xᵀ·dy (untied; tied in dE)

/** Token rows [r0, r1) of tokens (f32 ids) into rows of C features of the table. */
export function embeddingForward(f: Float32Array, tokensAt: number, tableAt: number, yAt: number, c: number, r0: number, r1: number): void {
  for (let r = r0; r < r1; r++) {
    const from = tableAt + f[tokensAt + r] * c;
    f.copyWithin(yAt + r * c, from, from + c);
  }
}

/** A tied lm-head's share of the table's gradient: its input x and the gradient of its logits. */
export interface TiedHeadGradient { xAt: number; dLogitsAt: number; vocabulary: number }

/**
 * Rows [v0, v1) of the table's gradient over `rows` token rows, overwritten: the rows holding
 * each token in order, then (tied) Σ_r dlogits[r, v]·x[r] in row order.
 */
export function embeddingGradient(
  f: Float32Array, tokensAt: number, dyAt: number, dTableAt: number, c: number, rows: number, v0: number, v1: number, tied: TiedHeadGradient | null,
): void {
  const acc = new Float64Array(c);
  for (let v = v0; v < v1; v++) {
    acc.fill(0);
    for (let r = 0; r < rows; r++) {
      if (f[tokensAt + r] !== v) continue;
      const dy = dyAt + r * c;
      for (let i = 0; i < c; i++) acc[i] += f[dy + i];
    }
    if (tied) {
      for (let r = 0; r < rows; r++) {
        const d = f[tied.dLogitsAt + r * tied.vocabulary + v];
        if (d === 0) continue;
        const x = tied.xAt + r * c;
        for (let i = 0; i < c; i++) acc[i] += d * f[x + i];
      }
    }
    for (let i = 0; i < c; i++) f[dTableAt + v * c + i] = acc[i];
  }
}

/** Examples [n0, n1): y = x + P, P of perExample = T·C values. */
export function positionForward(f: Float32Array, xAt: number, tableAt: number, yAt: number, perExample: number, n0: number, n1: number): void {
  for (let n = n0; n < n1; n++) {
    const base = n * perExample;
    for (let i = 0; i < perExample; i++) f[yAt + base + i] = f[xAt + base + i] + f[tableAt + i];
  }
}

export interface LmHeadDims { features: number; vocabulary: number; tied: boolean }

/** Rows [r0, r1): logits y = x·W, W the embedding's E [V, C] read transposed when tied, else W [C, V]. */
export function lmHeadForward(f: Float32Array, xAt: number, wAt: number, yAt: number, dims: LmHeadDims, r0: number, r1: number): void {
  const { features: c, vocabulary: v, tied } = dims;
  const acc = new Float64Array(v);
  for (let r = r0; r < r1; r++) {
    const x = xAt + r * c;
    const y = yAt + r * v;
    if (tied) {
      for (let j = 0; j < v; j++) {
        const e = wAt + j * c;
        let s = 0;
        for (let i = 0; i < c; i++) s += f[x + i] * f[e + i];
        f[y + j] = s;
      }
      continue;
    }
    acc.fill(0);
    for (let i = 0; i < c; i++) {
      const xi = f[x + i];
      const w = wAt + i * v;
      for (let j = 0; j < v; j++) acc[j] += xi * f[w + j];
    }
    for (let j = 0; j < v; j++) f[y + j] = acc[j];
  }
}

/** Rows [r0, r1): dx = dy·Wᵀ. */
export function lmHeadInputGrad(f: Float32Array, dyAt: number, wAt: number, dxAt: number, dims: LmHeadDims, r0: number, r1: number): void {
  const { features: c, vocabulary: v, tied } = dims;
  const acc = new Float64Array(c);
  for (let r = r0; r < r1; r++) {
    const dy = dyAt + r * v;
    const dx = dxAt + r * c;
    if (!tied) {
      for (let i = 0; i < c; i++) {
        const w = wAt + i * v;
        let s = 0;
        for (let j = 0; j < v; j++) s += f[dy + j] * f[w + j];
        f[dx + i] = s;
      }
      continue;
    }
    acc.fill(0);
    for (let j = 0; j < v; j++) {
      const g = f[dy + j];
      const e = wAt + j * c;
      for (let i = 0; i < c; i++) acc[i] += g * f[e + i];
    }
    for (let i = 0; i < c; i++) f[dx + i] = acc[i];
  }
}
/** An untied head's dW [C, V] rows [i0, i1) over `rows` rows, overwritten: Σ_r x[r, i]·dy[r, j] in row order. */
export function lmHeadWeightGrad(f: Float32Array, xAt: number, dyAt: number, dwAt: number, dims: LmHeadDims, rows: number, i0: number, i1: number): void {
  const { features: c, vocabulary: v } = dims;
  const acc = new Float64Array(v);
  for (let i = i0; i < i1; i++) {
    acc.fill(0);
    for (let r = 0; r < rows; r++) {
      const x = f[xAt + r * c + i];
      if (x === 0) continue;
      for (let j = 0; j < v; j++) acc[j] += x * f[dyAt + r * v + j];
    }
    for (let j = 0; j < v; j++) f[dwAt + i * v + j] = acc[j];
  }
}
