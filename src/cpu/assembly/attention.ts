// The masked-softmax core of causal multi-head attention (src/model/layers/reference.ts),
// between the qkv and output projections the layer table runs as gemms. Per example n of
// [n0, n1) and head h (size d = C/H), on rows of QKV [T, 3C] = [q | k | v]:
//   forward   S_ij = q_i·k_j/√d (j ≤ i), P_i = softmax(S_i) saved with zeros above the diagonal, o_i = Σ_j P_ij·v_j
//   backward  dP_ij = do_i·v_j, dS_ij = P_ij·(dP_ij − Σ_j dP_ij·P_ij)/√d, dq_i = Σ_j dS_ij·k_j,
//             dk_j = Σ_{i ≥ j} dS_ij·q_i, dv_j = Σ_{i ≥ j} P_ij·do_i
// The five products are small gemms on gemm.ts's packed panels and 4×8 micro-kernel, skipping
// the tiles and terms the causal mask zeroes; every element sums its terms in ascending order.
// The softmax runs over j in four lanes (exp4 of activation.ts, the same bits for a lane or a
// one-element tail). Threads split the examples: nothing depends on the thread count.

import { exp4 } from './activation';
import { microKernel, MR, NR, packA, packB } from './gemm';

/** Bytes of MR-row panels of `rows` rows over k terms (src/cpu/memoryPlan.ts packedRowsBytes). */
// @ts-ignore: decorator
@inline function rowsBytes(rows: i32, k: i32): usize {
  return <usize>((rows + MR - 1) / MR) * MR * <usize>k * 4;
}

/** Bytes of NR-column panels of `cols` columns over k terms (packedColsBytes). */
// @ts-ignore: decorator
@inline function colsBytes(k: i32, cols: i32): usize {
  return <usize>((cols + NR - 1) / NR) * NR * <usize>k * 4;
}

/** Scratch one thread needs: an A operand of up to T×max(T, d) and a B operand, reused op by op. */
export function attentionScratch(t: i32, d: i32): i32 {
  const most = max(t, d);
  return <i32>(rowsBytes(t, most) + max(colsBytes(d, t), colsBytes(t, d)) + 128);
}

/**
 * dst = scale·A·B, tile by tile, on A packed as `rows` rows in MR panels and B as `cols`
 * columns in NR panels, both over k terms (dst's row stride ld floats). `terms` skips what
 * the causal mask zeroes: LOWER runs a row block's terms p ≤ its last row (P·V, dS·K), UPPER
 * its terms p ≥ its first row (Pᵀ·dO, dSᵀ·Q), ALL every term. `triangle`: only the columns
 * j ≤ i are computed and stored (the scores). Each element sums its terms in ascending order.
 */
function tiles(pa: usize, pb: usize, k: i32, rows: i32, cols: i32, dst: usize, ld: i32, scale: f32, terms: i32, triangle: bool, tile: usize): void {
  for (let rb = 0; rb * MR < rows; rb++) {
    const i0 = rb * MR;
    const p0 = terms == UPPER ? i0 : 0;
    const p1 = terms == LOWER ? min(k, i0 + MR) : k;
    const lastRow = min(rows, i0 + MR) - 1;
    for (let jp = 0; jp * NR < cols; jp++) {
      const j0 = jp * NR;
      if (triangle && j0 > lastRow) break;
      microKernel(pa + (<usize>rb * k + p0) * 16, pb + (<usize>jp * k + p0) * 32, p1 - p0, tile);
      const width = min(NR, cols - j0);
      for (let r = 0; r < MR && i0 + r < rows; r++) {
        const i = i0 + r;
        const end = triangle ? min(width, i - j0 + 1) : width;
        const out = dst + (<usize>i * ld + j0) * 4;
        for (let q = 0; q < end; q++) store<f32>(out + <usize>q * 4, load<f32>(tile + <usize>(r * NR + q) * 4) * scale);
      }
    }
  }
}

const ALL = 0;
const LOWER = 1;
const UPPER = 2;

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
    const e = exp4(f32x4.pmax(f32x4.sub(v128.load(row + <usize>j * 4), m), low));
    v128.store(row + <usize>j * 4, e);
    lanes = f32x4.add(lanes, e);
  }
  let sum = f32x4.extract_lane(lanes, 0) + f32x4.extract_lane(lanes, 1) + f32x4.extract_lane(lanes, 2) + f32x4.extract_lane(lanes, 3);
  for (let q = j; q < len; q++) {
    const e = f32x4.extract_lane(exp4(f32x4.pmax(f32x4.sub(f32x4.splat(load<f32>(row + <usize>q * 4)), m), low)), 0);
    store<f32>(row + <usize>q * 4, e);
    sum += e;
  }
  const s = f32x4.splat(sum);
  j = 0;
  for (; j + 4 <= len; j += 4) v128.store(row + <usize>j * 4, f32x4.div(v128.load(row + <usize>j * 4), s));
  for (; j < len; j++) store<f32>(row + <usize>j * 4, load<f32>(row + <usize>j * 4) / sum);
}

// The operands of each product are packed per (example, head) into the thread's scratch:
// A at scratch, B after it (attentionScratch), then gemm.ts's 4×8 micro-kernel runs on them.

export function attentionForward(qkv: usize, probs: usize, o: usize, t: i32, c: i32, heads: i32, n0: i32, n1: i32, scratch: usize, tile: usize): void {
  const d = c / heads;
  const s3 = 3 * c;
  const scale = <f32>(1 / Math.sqrt(<f64>d));
  const a = scratch;
  const b = scratch + rowsBytes(t, max(t, d));
  for (let n = n0; n < n1; n++) {
    const base = qkv + <usize>n * <usize>t * <usize>s3 * 4;
    for (let h = 0; h < heads; h++) {
      const p = probs + (<usize>(n * heads + h) * <usize>t * <usize>t) * 4;
      const q = base + <usize>(h * d) * 4;
      const kk = q + <usize>c * 4;
      const v = kk + <usize>c * 4;
      // S = Q·Kᵀ/√d on and below the diagonal: A(i, e) = q_i[e], B(e, j) = k_j[e].
      packA(q, s3, 1, t, d, 0, t, 0, d, a);
      packB(kk, 1, s3, d, t, 0, d, 0, (t + NR - 1) / NR, b);
      tiles(a, b, d, t, t, p, t, scale, ALL, true, tile);
      for (let i = 0; i < t; i++) {
        const row = p + <usize>i * <usize>t * 4;
        softmaxRow(row, i + 1);
        if (i + 1 < t) memory.fill(row + <usize>(i + 1) * 4, 0, <usize>(t - i - 1) * 4);
      }
      // O = P·V: A(i, j) = P_ij, B(j, e) = v_j[e].
      packA(p, t, 1, t, t, 0, t, 0, t, a);
      packB(v, s3, 1, t, d, 0, t, 0, (d + NR - 1) / NR, b);
      tiles(a, b, t, t, d, o + (<usize>n * <usize>t * <usize>c + <usize>(h * d)) * 4, c, 1, LOWER, false, tile);
    }
  }
}

export function attentionBackward(qkv: usize, probs: usize, dO: usize, dScores: usize, dQkv: usize, t: i32, c: i32, heads: i32, n0: i32, n1: i32, scratch: usize, tile: usize): void {
  const d = c / heads;
  const s3 = 3 * c;
  const scale = <f32>(1 / Math.sqrt(<f64>d));
  const a = scratch;
  const b = scratch + rowsBytes(t, max(t, d));
  const tPanels = (t + NR - 1) / NR;
  const dPanels = (d + NR - 1) / NR;
  for (let n = n0; n < n1; n++) {
    const base = qkv + <usize>n * <usize>t * <usize>s3 * 4;
    const dBase = dQkv + <usize>n * <usize>t * <usize>s3 * 4;
    const doBase = dO + (<usize>n * <usize>t * <usize>c) * 4;
    for (let h = 0; h < heads; h++) {
      const square = (<usize>(n * heads + h) * <usize>t * <usize>t) * 4;
      const p = probs + square;
      const dS = dScores + square;
      const hd = <usize>(h * d) * 4;
      const q = base + hd;
      const kk = q + <usize>c * 4;
      const v = kk + <usize>c * 4;
      const dq = dBase + hd;
      const dk = dq + <usize>c * 4;
      const dv = dk + <usize>c * 4;
      const dOh = doBase + hd;
      // dP = dO·Vᵀ on and below the diagonal, into dS: A(i, e) = do_i[e], B(e, j) = v_j[e].
      packA(dOh, c, 1, t, d, 0, t, 0, d, a);
      packB(v, 1, s3, d, t, 0, d, 0, tPanels, b);
      tiles(a, b, d, t, t, dS, t, 1, ALL, true, tile);
      for (let i = 0; i < t; i++) {
        const pi = p + <usize>i * <usize>t * 4;
        const si = dS + <usize>i * <usize>t * 4;
        let rowDot: f32 = 0;
        for (let j = 0; j <= i; j++) rowDot += load<f32>(si + <usize>j * 4) * load<f32>(pi + <usize>j * 4);
        for (let j = 0; j <= i; j++) {
          store<f32>(si + <usize>j * 4, load<f32>(pi + <usize>j * 4) * (load<f32>(si + <usize>j * 4) - rowDot) * scale);
        }
        if (i + 1 < t) memory.fill(si + <usize>(i + 1) * 4, 0, <usize>(t - i - 1) * 4);
      }
      // dQ = dS·K: A(i, j) = dS_ij, B(j, e) = k_j[e].
      packA(dS, t, 1, t, t, 0, t, 0, t, a);
      packB(kk, s3, 1, t, d, 0, t, 0, dPanels, b);
      tiles(a, b, t, t, d, dq, s3, 1, LOWER, false, tile);
      // dK = dSᵀ·Q: A(j, i) = dS_ij, B(i, e) = q_i[e].
      packA(dS, 1, t, t, t, 0, t, 0, t, a);
      packB(q, s3, 1, t, d, 0, t, 0, dPanels, b);
      tiles(a, b, t, t, d, dk, s3, 1, UPPER, false, tile);
      // dV = Pᵀ·dO: A(j, i) = P_ij, B(i, e) = do_i[e].
      packA(p, 1, t, t, t, 0, t, 0, t, a);
      packB(dOh, c, 1, t, d, 0, t, 0, dPanels, b);
      tiles(a, b, t, t, d, dv, s3, 1, UPPER, false, tile);
    }
  }
}
