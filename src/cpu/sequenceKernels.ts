// The CPU backend's kernels for a GPT's embeddings, in TypeScript over the shared wasm memory
// (attention's core is assembly/attention.ts; its projections are the linear rule's gemm:
// cpuModelPlan.ts expands an attention layer into qkv linear → core → projection linear; the
// lm-head is gemm too, in cpuModelLayers.ts). `f` is a Float32Array over the whole memory;
// every `…At` is a float index into it. Each output is written by one thread in one fixed
// order (sums in f64, stored as f32), so the bits do not depend on the thread count; forward
// and backward take a range of rows or examples, the parameter gradients a range of outputs.
//
//   embedding          y[r] = E[tokens[r]]               | dE[v] = Σ_{r: tokens[r] = v} dy[r] (added to a tied head's dyᵀ·x)
//   position-embedding y[n, t] = x[n, t] + P[t]          | dx = dy, dP (a column sum, the wasm columnSum)

/** Token rows [r0, r1) of tokens (f32 ids) into rows of C features of the table. */
export function embeddingForward(f: Float32Array, tokensAt: number, tableAt: number, yAt: number, c: number, r0: number, r1: number): void {
  for (let r = r0; r < r1; r++) {
    const from = tableAt + f[tokensAt + r] * c;
    f.copyWithin(yAt + r * c, from, from + c);
  }
}

/**
 * Rows [v0, v1) of the table's gradient over `rows` token rows: for each token the rows
 * holding it, summed in row order, written over the row or (`add`, a tied head's dE
 * already there) added to it.
 */
export function embeddingGradient(f: Float32Array, tokensAt: number, dyAt: number, dTableAt: number, c: number, rows: number, v0: number, v1: number, add: boolean): void {
  const acc = new Float64Array(c);
  for (let v = v0; v < v1; v++) {
    acc.fill(0);
    for (let r = 0; r < rows; r++) {
      if (f[tokensAt + r] !== v) continue;
      const dy = dyAt + r * c;
      for (let i = 0; i < c; i++) acc[i] += f[dy + i];
    }
    const row = dTableAt + v * c;
    for (let i = 0; i < c; i++) f[row + i] = add ? f[row + i] + acc[i] : acc[i];
  }
}

/** Examples [n0, n1): y = x + P, P of perExample = T·C values. */
export function positionForward(f: Float32Array, xAt: number, tableAt: number, yAt: number, perExample: number, n0: number, n1: number): void {
  for (let n = n0; n < n1; n++) {
    const base = n * perExample;
    for (let i = 0; i < perExample; i++) f[yAt + base + i] = f[xAt + base + i] + f[tableAt + i];
  }
}
