// Matrix multiply on packed panels, the CPU backend's one hot loop.
//   C[m×n] = op(A)·op(B), with A packed in panels of MR = 4 rows (for each k, the 4 rows'
//   values side by side) and B packed in panels of NR = 8 columns (for each k, 8 values).
// The micro-kernel keeps a 4×8 tile of C in eight f32x4 registers and sums over k in order,
// one multiply then one add per term (one fused multiply-add in the relaxed build): every
// element is rounded the same way whichever thread, tile or edge path computes it, so
// results do not depend on the thread count.
// Packing reads any layout through (row stride, k stride), so 'nn', 'nt' and 'tn' all run
// the same kernel; a k-range lets each thread pack the rows it owns.

import { gelu, geluGate4, geluGrad, geluGrad4, geluGradOfGate4 } from './activation';

/** Rows of an A panel and columns of a B panel (the micro-kernel's tile). */
export const MR: i32 = 4;
export const NR: i32 = 8;

// @ts-ignore: RELAXED is a compile-time constant from `asc --use RELAXED=0|1`.
const FUSED: bool = RELAXED != 0;

/** acc + a·b: a multiply and an add, or a fused multiply-add in the relaxed build. */
// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, acc: v128): v128 {
  return FUSED ? f32x4.relaxed_madd(a, b, acc) : f32x4.add(acc, f32x4.mul(a, b));
}

/** tile[4×8] = Apanel·Bpanel over k terms; pa steps 16 bytes per k, pb 32. */
export function microKernel(pa: usize, pb: usize, k: i32, tile: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let p = 0; p < k; p++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let a = v128.load32_splat(pa);
    c00 = madd(a, b0, c00);
    c01 = madd(a, b1, c01);
    a = v128.load32_splat(pa, 4);
    c10 = madd(a, b0, c10);
    c11 = madd(a, b1, c11);
    a = v128.load32_splat(pa, 8);
    c20 = madd(a, b0, c20);
    c21 = madd(a, b1, c21);
    a = v128.load32_splat(pa, 12);
    c30 = madd(a, b0, c30);
    c31 = madd(a, b1, c31);
    pa += 16;
    pb += 32;
  }
  v128.store(tile, c00, 0);
  v128.store(tile, c01, 16);
  v128.store(tile, c10, 32);
  v128.store(tile, c11, 48);
  v128.store(tile, c20, 64);
  v128.store(tile, c21, 80);
  v128.store(tile, c30, 96);
  v128.store(tile, c31, 112);
}

export const ACT_NONE = 0;
export const ACT_RELU = 1;
export const ACT_GELU = 2;
/** GELU whose pre-activation buffer keeps gelu'(z) instead of z: forward stores it, backward multiplies by it. */
export const ACT_GELU_SAVED = 3;

/** Row blocks per cache block: 64 rows of packed A stay in L2 while B panels stream by. */
const ROW_BLOCKS_PER_CHUNK = 16;

/**
 * C rows [4·rowBlock0, 4·rowBlock1) × columns [8·panel0, 8·panel1), clipped to m × n.
 * Epilogue, per element: z = acc + bias[j] (bias ≠ 0); preact[i,j] = z (preact ≠ 0; gelu'(z)
 * for ACT_GELU_SAVED); then either C = act(z), or, when actInput ≠ 0, C = z·act'(actInput[i,j])
 * (activation backward; z·actInput[i,j] for ACT_GELU_SAVED). preact and actInput share C's
 * row stride ldc.
 */
export function gemm(
  packedA: usize, packedB: usize, k: i32,
  rowBlock0: i32, rowBlock1: i32, panel0: i32, panel1: i32,
  c: usize, ldc: i32, m: i32, n: i32,
  bias: usize, act: i32, preact: usize, actInput: usize, tile: usize,
): void {
  const panelABytes = <usize>k * 16;
  const panelBBytes = <usize>k * 32;
  for (let chunk = rowBlock0; chunk < rowBlock1; chunk += ROW_BLOCKS_PER_CHUNK) {
    const chunkEnd = min(chunk + ROW_BLOCKS_PER_CHUNK, rowBlock1);
    for (let jp = panel0; jp < panel1; jp++) {
      const pb = packedB + <usize>jp * panelBBytes;
      for (let rb = chunk; rb < chunkEnd; rb++) {
        microKernel(packedA + <usize>rb * panelABytes, pb, k, tile);
        storeTile(tile, rb * 4, jp * 8, m, n, c, ldc, bias, act, preact, actInput);
      }
    }
  }
}

function storeTile(
  tile: usize, i0: i32, j0: i32, m: i32, n: i32, c: usize, ldc: i32,
  bias: usize, act: i32, preact: usize, actInput: usize,
): void {
  const rows = min(4, m - i0);
  const cols = min(8, n - j0);
  if (cols == 8) {
    const zero = f32x4.splat(0);
    const b0 = bias ? v128.load(bias + <usize>j0 * 4) : zero;
    const b1 = bias ? v128.load(bias + <usize>j0 * 4, 16) : zero;
    for (let r = 0; r < rows; r++) {
      const at = (<usize>(i0 + r) * ldc + j0) * 4;
      let v0 = v128.load(tile + <usize>r * 32);
      let v1 = v128.load(tile + <usize>r * 32, 16);
      if (bias) {
        v0 = f32x4.add(v0, b0);
        v1 = f32x4.add(v1, b1);
      }
      if (preact && act != ACT_GELU_SAVED) {
        v128.store(preact + at, v0);
        v128.store(preact + at, v1, 16);
      }
      if (actInput) {
        if (act == ACT_RELU) {
          // z > 0 ? dz : 0, as the reference takes ReLU's derivative at 0 to be 0.
          v0 = v128.and(v0, f32x4.gt(v128.load(actInput + at), zero));
          v1 = v128.and(v1, f32x4.gt(v128.load(actInput + at, 16), zero));
        } else if (act == ACT_GELU) {
          v0 = f32x4.mul(v0, geluGrad4(v128.load(actInput + at)));
          v1 = f32x4.mul(v1, geluGrad4(v128.load(actInput + at, 16)));
        } else if (act == ACT_GELU_SAVED) {
          v0 = f32x4.mul(v0, v128.load(actInput + at));
          v1 = f32x4.mul(v1, v128.load(actInput + at, 16));
        }
      } else if (act == ACT_GELU || act == ACT_GELU_SAVED) {
        const s0 = geluGate4(v0);
        const s1 = geluGate4(v1);
        if (preact && act == ACT_GELU_SAVED) {
          v128.store(preact + at, geluGradOfGate4(v0, s0));
          v128.store(preact + at, geluGradOfGate4(v1, s1), 16);
        }
        v0 = f32x4.mul(v0, s0);
        v1 = f32x4.mul(v1, s1);
      } else if (act == ACT_RELU) {
        // pmax(0, z) = 0 < z ? z : 0, exactly the reference's ReLU.
        v0 = f32x4.pmax(zero, v0);
        v1 = f32x4.pmax(zero, v1);
      }
      v128.store(c + at, v0);
      v128.store(c + at, v1, 16);
    }
    return;
  }
  for (let r = 0; r < rows; r++) {
    for (let q = 0; q < cols; q++) {
      const at = (<usize>(i0 + r) * ldc + j0 + q) * 4;
      let z = load<f32>(tile + <usize>(r * 8 + q) * 4);
      if (bias) z += load<f32>(bias + <usize>(j0 + q) * 4);
      if (preact) store<f32>(preact + at, act == ACT_GELU_SAVED ? geluGrad(z) : z);
      store<f32>(c + at, actInput ? backward(z, load<f32>(actInput + at), act) : forward(z, act));
    }
  }
}

// @ts-ignore: decorator
@inline function forward(z: f32, act: i32): f32 {
  if (act == ACT_RELU) return z > 0 ? z : 0;
  if (act == ACT_GELU || act == ACT_GELU_SAVED) return gelu(z);
  return z;
}

// @ts-ignore: decorator
@inline function backward(dh: f32, z: f32, act: i32): f32 {
  if (act == ACT_RELU) return z > 0 ? dh : 0;
  if (act == ACT_GELU) return dh * geluGrad(z);
  if (act == ACT_GELU_SAVED) return dh * z;
  return dh;
}

/**
 * Packs rows [i0, i1) (i0 a multiple of 4), terms [p0, p1) of op(A) into MR-row panels at
 * dst (panel b at dst + b·k·16 bytes); A(i, p) = src[i·strideI + p·strideP] (in floats).
 * Rows past m are zero.
 */
export function packA(src: usize, strideI: i32, strideP: i32, m: i32, k: i32, i0: i32, i1: i32, p0: i32, p1: i32, dst: usize): void {
  for (let i = i0; i < i1; i += 4) {
    const panel = dst + <usize>(i >> 2) * k * 16;
    const full = i + 4 <= m;
    let p = p0;
    if (full && strideI == 1) {
      for (; p < p1; p++) v128.store(panel + <usize>p * 16, v128.load(src + (<usize>p * strideP + i) * 4));
    } else if (full && strideP == 1) {
      const r0 = src + <usize>i * strideI * 4;
      const rs = <usize>strideI * 4;
      for (; p + 4 <= p1; p += 4) {
        const at = <usize>p * 4;
        transpose4Store(v128.load(r0 + at), v128.load(r0 + rs + at), v128.load(r0 + 2 * rs + at), v128.load(r0 + 3 * rs + at), panel + <usize>p * 16, 16);
      }
    }
    for (; p < p1; p++) {
      for (let r = 0; r < 4; r++) {
        const value: f32 = i + r < m ? load<f32>(src + (<usize>(i + r) * strideI + <usize>p * strideP) * 4) : 0;
        store<f32>(panel + <usize>p * 16 + <usize>r * 4, value);
      }
    }
  }
}

/**
 * Packs columns of panels [panel0, panel1), terms [p0, p1) of op(B) into NR-column panels
 * at dst (panel j at dst + j·k·32 bytes); B(p, j) = src[p·strideP + j·strideJ]. Columns
 * past n are zero.
 */
export function packB(src: usize, strideP: i32, strideJ: i32, k: i32, n: i32, p0: i32, p1: i32, panel0: i32, panel1: i32, dst: usize): void {
  for (let jp = panel0; jp < panel1; jp++) {
    const j = jp * 8;
    const panel = dst + <usize>jp * k * 32;
    const full = j + 8 <= n;
    let p = p0;
    if (full && strideJ == 1) {
      for (; p < p1; p++) {
        const from = src + (<usize>p * strideP + j) * 4;
        v128.store(panel + <usize>p * 32, v128.load(from));
        v128.store(panel + <usize>p * 32, v128.load(from, 16), 16);
      }
    } else if (full && strideP == 1) {
      const c0 = src + <usize>j * strideJ * 4;
      const cs = <usize>strideJ * 4;
      for (; p + 4 <= p1; p += 4) {
        const at = <usize>p * 4;
        const out = panel + <usize>p * 32;
        transpose4Store(v128.load(c0 + at), v128.load(c0 + cs + at), v128.load(c0 + 2 * cs + at), v128.load(c0 + 3 * cs + at), out, 32);
        transpose4Store(v128.load(c0 + 4 * cs + at), v128.load(c0 + 5 * cs + at), v128.load(c0 + 6 * cs + at), v128.load(c0 + 7 * cs + at), out + 16, 32);
      }
    }
    for (; p < p1; p++) {
      for (let q = 0; q < 8; q++) {
        const value: f32 = j + q < n ? load<f32>(src + (<usize>p * strideP + <usize>(j + q) * strideJ) * 4) : 0;
        store<f32>(panel + <usize>p * 32 + <usize>q * 4, value);
      }
    }
  }
}

/** Stores the transpose of the 4×4 block with rows r0..r3 as four rows `step` bytes apart. */
// @ts-ignore: decorator
@inline export function transpose4Store(r0: v128, r1: v128, r2: v128, r3: v128, dst: usize, step: usize): void {
  const t0 = i32x4.shuffle(r0, r1, 0, 4, 1, 5);
  const t1 = i32x4.shuffle(r0, r1, 2, 6, 3, 7);
  const t2 = i32x4.shuffle(r2, r3, 0, 4, 1, 5);
  const t3 = i32x4.shuffle(r2, r3, 2, 6, 3, 7);
  v128.store(dst, i32x4.shuffle(t0, t2, 0, 1, 4, 5));
  v128.store(dst + step, i32x4.shuffle(t0, t2, 2, 3, 6, 7));
  v128.store(dst + 2 * step, i32x4.shuffle(t1, t3, 0, 1, 4, 5));
  v128.store(dst + 3 * step, i32x4.shuffle(t1, t3, 2, 3, 6, 7));
}
