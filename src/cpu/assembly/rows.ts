// Row-wise and column-wise kernels around the matmuls: the micro-batch gather, fused
// softmax + cross-entropy, and the bias gradient's column sums. Each works on a range of
// rows or columns so that threads split the work without changing any summation order.

/**
 * x[r][f] = image[indices[r]][f] / 255 (f32 division, as the GPU gather does) and
 * y[r] = label[indices[r]], for rows [r0, r1). Indices are checked by the caller.
 */
export function gatherRows(images: usize, labels: usize, indices: usize, r0: i32, r1: i32, features: i32, x: usize, y: usize): void {
  const scale = f32x4.splat(255);
  for (let r = r0; r < r1; r++) {
    const example = load<u32>(indices + <usize>r * 4);
    const src = images + <usize>example * features;
    const dst = x + <usize>r * features * 4;
    let f = 0;
    for (; f + 16 <= features; f += 16) {
      const bytes = v128.load(src + f);
      const lo = i16x8.extend_low_i8x16_u(bytes);
      const hi = i16x8.extend_high_i8x16_u(bytes);
      const out = dst + <usize>f * 4;
      v128.store(out, f32x4.div(f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(lo)), scale));
      v128.store(out, f32x4.div(f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(lo)), scale), 16);
      v128.store(out, f32x4.div(f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(hi)), scale), 32);
      v128.store(out, f32x4.div(f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(hi)), scale), 48);
    }
    for (; f < features; f++) store<f32>(dst + <usize>f * 4, <f32>load<u8>(src + f) / <f32>255);
    store<i32>(y + <usize>r * 4, load<u8>(labels + example));
  }
}

/**
 * Token windows for rows [r0, r1): x[r][f] = token[indices[r]][f] as a float (no scaling) and
 * y[r][p] = label[indices[r]][p] for each of the window's labelsPer positions.
 */
export function gatherTokens(tokens: usize, labels: usize, indices: usize, r0: i32, r1: i32, features: i32, labelsPer: i32, x: usize, y: usize): void {
  for (let r = r0; r < r1; r++) {
    const example = load<u32>(indices + <usize>r * 4);
    const src = tokens + <usize>example * features;
    const dst = x + <usize>r * features * 4;
    for (let f = 0; f < features; f++) store<f32>(dst + <usize>f * 4, <f32>load<u8>(src + f));
    const from = labels + <usize>example * labelsPer;
    const to = y + <usize>r * labelsPer * 4;
    for (let p = 0; p < labelsPer; p++) store<i32>(to + <usize>p * 4, load<u8>(from + p));
  }
}

/**
 * Softmax + cross-entropy for rows [r0, r1) of `classes` logits, in f64 (as the reference):
 *   loss_r = log Σ e^(x − max) − (x_label − max);  dlogits = (softmax − onehot)·scale;
 *   rowStats[r] = (loss_r, 1 if the first maximal logit is the label else 0).
 */
export function softmaxCrossEntropy(logits: usize, labels: usize, r0: i32, r1: i32, classes: i32, scale: f64, dlogits: usize, rowStats: usize): void {
  for (let r = r0; r < r1; r++) {
    const row = logits + <usize>r * classes * 4;
    const label = load<i32>(labels + <usize>r * 4);
    let max = <f64>load<f32>(row);
    let argmax = 0;
    for (let c = 1; c < classes; c++) {
      const x = <f64>load<f32>(row + <usize>c * 4);
      if (x > max) {
        max = x;
        argmax = c;
      }
    }
    let sumExp: f64 = 0;
    for (let c = 0; c < classes; c++) sumExp += Math.exp(<f64>load<f32>(row + <usize>c * 4) - max);
    const out = dlogits + <usize>r * classes * 4;
    for (let c = 0; c < classes; c++) {
      const p = Math.exp(<f64>load<f32>(row + <usize>c * 4) - max) / sumExp;
      store<f32>(out + <usize>c * 4, <f32>((p - (c == label ? 1 : 0)) * scale));
    }
    const loss = Math.log(sumExp) - (<f64>load<f32>(row + <usize>label * 4) - max);
    store<f32>(rowStats + <usize>r * 8, <f32>loss);
    store<f32>(rowStats + <usize>r * 8, argmax == label ? 1 : 0, 4);
  }
}

/** dst[j] = Σ_i src[i·cols + j] for columns [c0, c1), rows summed in order. */
export function columnSum(src: usize, rows: i32, cols: i32, c0: i32, c1: i32, dst: usize): void {
  let c = c0;
  // Sixteen columns (a cache line) at a time: four independent sums per row read.
  for (; c + 16 <= c1; c += 16) {
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
    for (let i = 0; i < rows; i++) {
      const at = src + (<usize>i * cols + c) * 4;
      s0 = f32x4.add(s0, v128.load(at));
      s1 = f32x4.add(s1, v128.load(at, 16));
      s2 = f32x4.add(s2, v128.load(at, 32));
      s3 = f32x4.add(s3, v128.load(at, 48));
    }
    const out = dst + <usize>c * 4;
    v128.store(out, s0);
    v128.store(out, s1, 16);
    v128.store(out, s2, 32);
    v128.store(out, s3, 48);
  }
  for (; c + 4 <= c1; c += 4) {
    let sum = f32x4.splat(0);
    for (let i = 0; i < rows; i++) sum = f32x4.add(sum, v128.load(src + (<usize>i * cols + c) * 4));
    v128.store(dst + <usize>c * 4, sum);
  }
  for (; c < c1; c++) {
    let sum: f32 = 0;
    for (let i = 0; i < rows; i++) sum += load<f32>(src + (<usize>i * cols + c) * 4);
    store<f32>(dst + <usize>c * 4, sum);
  }
}
