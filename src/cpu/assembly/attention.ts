// The masked-softmax core of causal multi-head attention (src/model/layers/reference.ts),
// between the qkv and output projections the layer table runs as gemms. Per example n of
// [n0, n1) and head h (size d = C/H), on rows of QKV [T, 3C] = [q | k | v]:
//   forward   S_ij = q_i·k_j/√d (j ≤ i), P_i = softmax(S_i) saved with zeros above the diagonal, o_i = Σ_j P_ij·v_j
//   backward  dP_ij = do_i·v_j, dS_ij = P_ij·(dP_ij − Σ_j dP_ij·P_ij)/√d, dq_i = Σ_j dS_ij·k_j,
//             dk_j = Σ_{i ≥ j} dS_ij·q_i, dv_j = Σ_{i ≥ j} P_ij·do_i
// The d features run in f32x4 lanes, each block of four summed over j (or i) in a register
// in ascending order, with a scalar tail when d is no multiple of 4; the softmax runs over
// j in four lanes too (exp4 of activation.ts, the same bits for a lane or a one-element tail).
// Nothing depends on the thread count.

import { exp4 } from './activation';

// @ts-ignore: RELAXED is a compile-time constant from `asc --use RELAXED=0|1`.
const FUSED: bool = RELAXED != 0;

// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, acc: v128): v128 {
  return FUSED ? f32x4.relaxed_madd(a, b, acc) : f32x4.add(acc, f32x4.mul(a, b));
}

/** Σ_e a[e]·b[e] over d floats: four lanes, then their sum, then the tail. */
// @ts-ignore: decorator
@inline function dot(a: usize, b: usize, d: i32): f32 {
  let acc = f32x4.splat(0);
  let e = 0;
  for (; e + 4 <= d; e += 4) acc = madd(v128.load(a + <usize>e * 4), v128.load(b + <usize>e * 4), acc);
  let s = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
  for (; e < d; e++) s += load<f32>(a + <usize>e * 4) * load<f32>(b + <usize>e * 4);
  return s;
}

/**
 * y[e] = Σ_{j = j0}^{j1−1} w[j·wStep]·x_j[e] over d floats, x_j = x + j·xStep bytes: per block
 * of four lanes one register summed in ascending j, then each tail float the same way.
 */
// @ts-ignore: decorator
@inline function weightedSum(w: usize, wStep: usize, x: usize, xStep: usize, j0: i32, j1: i32, y: usize, d: i32): void {
  let e = 0;
  for (; e + 4 <= d; e += 4) {
    let acc = f32x4.splat(0);
    const xe = x + <usize>e * 4;
    for (let j = j0; j < j1; j++) acc = madd(v128.load32_splat(w + <usize>j * wStep), v128.load(xe + <usize>j * xStep), acc);
    v128.store(y + <usize>e * 4, acc);
  }
  for (; e < d; e++) {
    let s: f32 = 0;
    const xe = x + <usize>e * 4;
    for (let j = j0; j < j1; j++) s += load<f32>(w + <usize>j * wStep) * load<f32>(xe + <usize>j * xStep);
    store<f32>(y + <usize>e * 4, s);
  }
}

/** row[0..len) = softmax(row[0..len)) in f32: e^(s − max) in four lanes, their sum, then e/sum. */
// @ts-ignore: decorator
@inline function softmaxRow(row: usize, len: i32): void {
  let max = load<f32>(row);
  for (let j = 1; j < len; j++) max = Mathf.max(max, load<f32>(row + <usize>j * 4));
  const m = f32x4.splat(max);
  const low = f32x4.splat(-80);
  let lanes = f32x4.splat(0);
  let j = 0;
  for (; j + 4 <= len; j += 4) {
    const e = exp4(f32x4.max(f32x4.sub(v128.load(row + <usize>j * 4), m), low));
    v128.store(row + <usize>j * 4, e);
    lanes = f32x4.add(lanes, e);
  }
  let sum = f32x4.extract_lane(lanes, 0) + f32x4.extract_lane(lanes, 1) + f32x4.extract_lane(lanes, 2) + f32x4.extract_lane(lanes, 3);
  for (let q = j; q < len; q++) {
    const e = f32x4.extract_lane(exp4(f32x4.max(f32x4.sub(f32x4.splat(load<f32>(row + <usize>q * 4)), m), low)), 0);
    store<f32>(row + <usize>q * 4, e);
    sum += e;
  }
  const s = f32x4.splat(sum);
  j = 0;
  for (; j + 4 <= len; j += 4) v128.store(row + <usize>j * 4, f32x4.div(v128.load(row + <usize>j * 4), s));
  for (; j < len; j++) store<f32>(row + <usize>j * 4, load<f32>(row + <usize>j * 4) / sum);
}

export function attentionForward(qkv: usize, probs: usize, o: usize, t: i32, c: i32, heads: i32, n0: i32, n1: i32): void {
  const d = c / heads;
  const stride = <usize>(3 * c) * 4;
  const scale = <f32>(1 / Math.sqrt(<f64>d));
  for (let n = n0; n < n1; n++) {
    const base = qkv + <usize>n * <usize>t * stride;
    for (let h = 0; h < heads; h++) {
      const p = probs + (<usize>(n * heads + h) * <usize>t * <usize>t) * 4;
      const hq = <usize>(h * d) * 4;
      const hk = <usize>(c + h * d) * 4;
      const hv = <usize>(2 * c + h * d) * 4;
      for (let i = 0; i < t; i++) {
        const q = base + <usize>i * stride + hq;
        const row = p + <usize>i * <usize>t * 4;
        for (let j = 0; j <= i; j++) store<f32>(row + <usize>j * 4, dot(q, base + <usize>j * stride + hk, d) * scale);
        softmaxRow(row, i + 1);
        if (i + 1 < t) memory.fill(row + <usize>(i + 1) * 4, 0, <usize>(t - i - 1) * 4);
        weightedSum(row, 4, base + hv, stride, 0, i + 1, o + (<usize>(n * t + i) * <usize>c) * 4 + hq, d);
      }
    }
  }
}

export function attentionBackward(qkv: usize, probs: usize, dO: usize, dScores: usize, dQkv: usize, t: i32, c: i32, heads: i32, n0: i32, n1: i32): void {
  const d = c / heads;
  const stride = <usize>(3 * c) * 4;
  const scale = <f32>(1 / Math.sqrt(<f64>d));
  const rowBytes = <usize>t * 4;
  for (let n = n0; n < n1; n++) {
    const base = qkv + <usize>n * <usize>t * stride;
    const dBase = dQkv + <usize>n * <usize>t * stride;
    const doBase = dO + (<usize>n * <usize>t * <usize>c) * 4;
    const doStride = <usize>c * 4;
    for (let h = 0; h < heads; h++) {
      const square = (<usize>(n * heads + h) * <usize>t * <usize>t) * 4;
      const p = probs + square;
      const dS = dScores + square;
      const hq = <usize>(h * d) * 4;
      const hk = <usize>(c + h * d) * 4;
      const hv = <usize>(2 * c + h * d) * 4;
      for (let i = 0; i < t; i++) {
        const doRow = doBase + <usize>i * doStride + hq;
        const pi = p + <usize>i * rowBytes;
        const si = dS + <usize>i * rowBytes;
        let rowDot: f32 = 0;
        for (let j = 0; j <= i; j++) {
          const dp = dot(doRow, base + <usize>j * stride + hv, d);
          store<f32>(si + <usize>j * 4, dp);
          rowDot += dp * load<f32>(pi + <usize>j * 4);
        }
        for (let j = 0; j <= i; j++) {
          store<f32>(si + <usize>j * 4, load<f32>(pi + <usize>j * 4) * (load<f32>(si + <usize>j * 4) - rowDot) * scale);
        }
        if (i + 1 < t) memory.fill(si + <usize>(i + 1) * 4, 0, <usize>(t - i - 1) * 4);
        weightedSum(si, 4, base + hk, stride, 0, i + 1, dBase + <usize>i * stride + hq, d);
      }
      // Column j of dS and P, down from the diagonal.
      for (let j = 0; j < t; j++) {
        const col = <usize>j * 4;
        weightedSum(dS + col, rowBytes, base + hq, stride, j, t, dBase + <usize>j * stride + hk, d);
        weightedSum(p + col, rowBytes, doBase + hq, doStride, j, t, dBase + <usize>j * stride + hv, d);
      }
    }
  }
}
