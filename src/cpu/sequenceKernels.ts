// The CPU backend's kernels for a GPT's own layers, in TypeScript over the shared wasm memory
// (the projections around them are the gemm of the linear rule, cpuModelPlan.ts expands an
// attention layer into qkv linear → this core → projection linear). `f` is a Float32Array
// over the whole memory; every `…At` is a float index into it. Each output is written by one
// thread in one fixed order (sums in f64, stored as f32), so the bits do not depend on the
// thread count; forward and backward take a range of rows or examples, the parameter
// gradients a range of outputs.
//
//   embedding          y[r] = E[tokens[r]]               | dE[v] = Σ_{r: tokens[r] = v} dy[r] (+ a tied head's dlogitsᵀ·x)
//   position-embedding y[n, t] = x[n, t] + P[t]          | dx = dy, dP (a column sum, the wasm columnSum)
//   attention core     per example and head: S = q·kᵀ/√d masked above the diagonal, P = softmax(S), o = P·v
//                      | dP = do·vᵀ, dv = Pᵀ·do, dS = P ⊙ (dP − rowsum(dP ⊙ P))/√d, dq = dS·k, dk = dSᵀ·q
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

export interface AttentionDims { context: number; features: number; heads: number }

/** Examples [n0, n1): o [T, C] per example from qkv [T, 3C]; P [H, T, T] per example saved (0 above the diagonal). */
export function attentionForward(f: Float32Array, qkvAt: number, probsAt: number, oAt: number, dims: AttentionDims, n0: number, n1: number): void {
  const { context: t, features: c, heads } = dims;
  const d = c / heads;
  const scale = 1 / Math.sqrt(d);
  const row = new Float64Array(t);
  for (let n = n0; n < n1; n++) {
    const qkv = qkvAt + n * t * 3 * c;
    for (let h = 0; h < heads; h++) {
      const p = probsAt + (n * heads + h) * t * t;
      for (let i = 0; i < t; i++) {
        const q = qkv + i * 3 * c + h * d;
        let max = -Infinity;
        for (let j = 0; j <= i; j++) {
          const k = qkv + j * 3 * c + c + h * d;
          let s = 0;
          for (let e = 0; e < d; e++) s += f[q + e] * f[k + e];
          row[j] = s * scale;
          if (row[j] > max) max = row[j];
        }
        let sum = 0;
        for (let j = 0; j <= i; j++) sum += (row[j] = Math.exp(row[j] - max));
        for (let j = 0; j < t; j++) f[p + i * t + j] = j <= i ? row[j] / sum : 0;
        const o = oAt + (n * t + i) * c + h * d;
        for (let e = 0; e < d; e++) {
          let acc = 0;
          for (let j = 0; j <= i; j++) acc += f[p + i * t + j] * f[qkv + j * 3 * c + 2 * c + h * d + e];
          f[o + e] = acc;
        }
      }
    }
  }
}

/** Examples [n0, n1): dqkv [T, 3C] (every entry) from do [T, C] and the forward's qkv and P; dS [H, T, T] is scratch. */
export function attentionBackward(
  f: Float32Array, qkvAt: number, probsAt: number, dOAt: number, dScoresAt: number, dQkvAt: number, dims: AttentionDims, n0: number, n1: number,
): void {
  const { context: t, features: c, heads } = dims;
  const d = c / heads;
  const scale = 1 / Math.sqrt(d);
  for (let n = n0; n < n1; n++) {
    const qkv = qkvAt + n * t * 3 * c;
    const dQkv = dQkvAt + n * t * 3 * c;
    const dO = dOAt + n * t * c;
    for (let h = 0; h < heads; h++) {
      const p = probsAt + (n * heads + h) * t * t;
      const dS = dScoresAt + (n * heads + h) * t * t;
      const at = (pos: number, part: number) => qkv + pos * 3 * c + part * c + h * d;
      const dAt = (pos: number, part: number) => dQkv + pos * 3 * c + part * c + h * d;
      // Per query row i: dP, then dS; dq_i = Σ_j dS_ij·k_j.
      for (let i = 0; i < t; i++) {
        const doRow = dO + i * c + h * d;
        let rowDot = 0;
        for (let j = 0; j <= i; j++) {
          let dp = 0;
          const v = at(j, 2);
          for (let e = 0; e < d; e++) dp += f[doRow + e] * f[v + e];
          f[dS + i * t + j] = dp;
          rowDot += dp * f[p + i * t + j];
        }
        for (let j = 0; j < t; j++) f[dS + i * t + j] = j <= i ? f[p + i * t + j] * (f[dS + i * t + j] - rowDot) * scale : 0;
        const dq = dAt(i, 0);
        for (let e = 0; e < d; e++) {
          let acc = 0;
          for (let j = 0; j <= i; j++) acc += f[dS + i * t + j] * f[at(j, 1) + e];
          f[dq + e] = acc;
        }
      }
      // Per key j: dk_j = Σ_{i ≥ j} dS_ij·q_i, dv_j = Σ_{i ≥ j} P_ij·do_i.
      for (let j = 0; j < t; j++) {
        const dk = dAt(j, 1);
        const dv = dAt(j, 2);
        for (let e = 0; e < d; e++) {
          let ak = 0;
          let av = 0;
          for (let i = j; i < t; i++) {
            ak += f[dS + i * t + j] * f[at(i, 0) + e];
            av += f[p + i * t + j] * f[dO + i * c + h * d + e];
          }
          f[dk + e] = ak;
          f[dv + e] = av;
        }
      }
    }
  }
}

export interface LmHeadDims { features: number; vocabulary: number; tied: boolean }

/** W[i, j] of the head: the embedding's E[j, i] when tied (E [V, C]), else its own W [C, V]. */
const weightIndex = ({ features: c, vocabulary: v, tied }: LmHeadDims) => (tied ? (i: number, j: number) => j * c + i : (i: number, j: number) => i * v + j);

/** Rows [r0, r1): logits y = x·W. */
export function lmHeadForward(f: Float32Array, xAt: number, wAt: number, yAt: number, dims: LmHeadDims, r0: number, r1: number): void {
  const { features: c, vocabulary: v } = dims;
  const w = weightIndex(dims);
  for (let r = r0; r < r1; r++) {
    const x = xAt + r * c;
    for (let j = 0; j < v; j++) {
      let s = 0;
      for (let i = 0; i < c; i++) s += f[x + i] * f[wAt + w(i, j)];
      f[yAt + r * v + j] = s;
    }
  }
}

/** Rows [r0, r1): dx = dy·Wᵀ. */
export function lmHeadInputGrad(f: Float32Array, dyAt: number, wAt: number, dxAt: number, dims: LmHeadDims, r0: number, r1: number): void {
  const { features: c, vocabulary: v } = dims;
  const w = weightIndex(dims);
  for (let r = r0; r < r1; r++) {
    const dy = dyAt + r * v;
    for (let i = 0; i < c; i++) {
      let s = 0;
      for (let j = 0; j < v; j++) s += f[dy + j] * f[wAt + w(i, j)];
      f[dxAt + r * c + i] = s;
    }
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
