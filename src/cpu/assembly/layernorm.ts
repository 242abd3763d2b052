// LayerNorm over rows of `features` values, in f32:
//   forward  μ = Σx/f, σ² = Σ(x − μ)²/f (two passes), rstd = 1/√(σ² + ε), x̂ = (x − μ)·rstd,
//            y = γ·x̂ + β; stats[2r] = μ, stats[2r + 1] = rstd (the backwards read x̂ from them)
//   dx       dx̂ = γ·dy, dx = (dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂))·rstd
//   dγ, dβ   Σ_rows dy·x̂, Σ_rows dy, rows in order, four features per vector
// A row sum is four lanes (feature i in lane i mod 4, in order) added (l0 + l1) + (l2 + l3),
// then the tail in order: fixed per row, whichever thread runs it. Threads split the forward
// and dx by rows, the parameter gradient by features; x̂ is computed the same way everywhere.

// @ts-ignore: decorator
@inline function lanes(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** Σ row[i]. */
function rowSum(row: usize, f: i32): f32 {
  let acc = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= f; i += 4) acc = f32x4.add(acc, v128.load(row + <usize>i * 4));
  let sum = lanes(acc);
  for (; i < f; i++) sum += load<f32>(row + <usize>i * 4);
  return sum;
}

/** Σ (row[i] − mean)². */
function rowSquares(row: usize, f: i32, mean: f32): f32 {
  const m = f32x4.splat(mean);
  let acc = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= f; i += 4) {
    const d = f32x4.sub(v128.load(row + <usize>i * 4), m);
    acc = f32x4.add(acc, f32x4.mul(d, d));
  }
  let sum = lanes(acc);
  for (; i < f; i++) {
    const d = load<f32>(row + <usize>i * 4) - mean;
    sum += d * d;
  }
  return sum;
}

/** y and stats for rows [row0, row1). */
export function layernormForward(x: usize, gain: usize, shift: usize, y: usize, stats: usize, f: i32, eps: f32, row0: i32, row1: i32): void {
  const count = <f32>f;
  for (let r = row0; r < row1; r++) {
    const row = x + <usize>r * f * 4;
    const out = y + <usize>r * f * 4;
    const mean = rowSum(row, f) / count;
    const rstd = <f32>1 / Mathf.sqrt(rowSquares(row, f, mean) / count + eps);
    store<f32>(stats + <usize>r * 8, mean);
    store<f32>(stats + <usize>r * 8, rstd, 4);
    const m = f32x4.splat(mean);
    const s = f32x4.splat(rstd);
    let i = 0;
    for (; i + 4 <= f; i += 4) {
      const at = <usize>i * 4;
      const xhat = f32x4.mul(f32x4.sub(v128.load(row + at), m), s);
      v128.store(out + at, f32x4.add(f32x4.mul(v128.load(gain + at), xhat), v128.load(shift + at)));
    }
    for (; i < f; i++) {
      const at = <usize>i * 4;
      const xhat = (load<f32>(row + at) - mean) * rstd;
      store<f32>(out + at, load<f32>(gain + at) * xhat + load<f32>(shift + at));
    }
  }
}

/** dx for rows [row0, row1), overwritten, from x, the forward's stats, γ and dy. */
export function layernormBackwardInput(x: usize, stats: usize, gain: usize, dy: usize, dx: usize, f: i32, row0: i32, row1: i32): void {
  const count = <f32>f;
  for (let r = row0; r < row1; r++) {
    const row = x + <usize>r * f * 4;
    const drow = dy + <usize>r * f * 4;
    const out = dx + <usize>r * f * 4;
    const mean = load<f32>(stats + <usize>r * 8);
    const rstd = load<f32>(stats + <usize>r * 8, 4);
    const m = f32x4.splat(mean);
    const s = f32x4.splat(rstd);
    // Σ dx̂ and Σ dx̂·x̂ in lanes, then the tail.
    let accD = f32x4.splat(0);
    let accDX = f32x4.splat(0);
    let i = 0;
    for (; i + 4 <= f; i += 4) {
      const at = <usize>i * 4;
      const xhat = f32x4.mul(f32x4.sub(v128.load(row + at), m), s);
      const dxhat = f32x4.mul(v128.load(gain + at), v128.load(drow + at));
      accD = f32x4.add(accD, dxhat);
      accDX = f32x4.add(accDX, f32x4.mul(dxhat, xhat));
    }
    let sumD = lanes(accD);
    let sumDX = lanes(accDX);
    for (; i < f; i++) {
      const at = <usize>i * 4;
      const xhat = (load<f32>(row + at) - mean) * rstd;
      const dxhat = load<f32>(gain + at) * load<f32>(drow + at);
      sumD += dxhat;
      sumDX += dxhat * xhat;
    }
    const meanD = sumD / count;
    const meanDX = sumDX / count;
    const md = f32x4.splat(meanD);
    const mdx = f32x4.splat(meanDX);
    i = 0;
    for (; i + 4 <= f; i += 4) {
      const at = <usize>i * 4;
      const xhat = f32x4.mul(f32x4.sub(v128.load(row + at), m), s);
      const dxhat = f32x4.mul(v128.load(gain + at), v128.load(drow + at));
      v128.store(out + at, f32x4.mul(f32x4.sub(f32x4.sub(dxhat, md), f32x4.mul(xhat, mdx)), s));
    }
    for (; i < f; i++) {
      const at = <usize>i * 4;
      const xhat = (load<f32>(row + at) - mean) * rstd;
      const dxhat = load<f32>(gain + at) * load<f32>(drow + at);
      store<f32>(out + at, (dxhat - meanD - xhat * meanDX) * rstd);
    }
  }
}

/** dγ and dβ for features [f0, f1), overwritten: sums over all `rows` in order. */
export function layernormParamGrad(x: usize, stats: usize, dy: usize, dgain: usize, dshift: usize, rows: i32, f: i32, f0: i32, f1: i32): void {
  let i = f0;
  for (; i + 4 <= f1; i += 4) {
    let accG = f32x4.splat(0);
    let accB = f32x4.splat(0);
    for (let r = 0; r < rows; r++) {
      const at = (<usize>r * f + i) * 4;
      const xhat = f32x4.mul(f32x4.sub(v128.load(x + at), v128.load32_splat(stats + <usize>r * 8)), v128.load32_splat(stats + <usize>r * 8, 4));
      const d = v128.load(dy + at);
      accG = f32x4.add(accG, f32x4.mul(d, xhat));
      accB = f32x4.add(accB, d);
    }
    v128.store(dgain + <usize>i * 4, accG);
    v128.store(dshift + <usize>i * 4, accB);
  }
  for (; i < f1; i++) {
    let sumG: f32 = 0;
    let sumB: f32 = 0;
    for (let r = 0; r < rows; r++) {
      const at = (<usize>r * f + i) * 4;
      const xhat = (load<f32>(x + at) - load<f32>(stats + <usize>r * 8)) * load<f32>(stats + <usize>r * 8, 4);
      const d = load<f32>(dy + at);
      sumG += d * xhat;
      sumB += d;
    }
    store<f32>(dgain + <usize>i * 4, sumG);
    store<f32>(dshift + <usize>i * 4, sumB);
  }
}
