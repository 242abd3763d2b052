// Conv2d over NCHW activations, weights [inC·kh·kw rows × outC cols] (src/model/layers/spec.ts,
// row r = (ci·kh + ky)·kw + kx), as implicit GEMMs on a 4×8 register tile:
//   forward  y[n,co,oy,ox] = b[co] + Σ_{ci,ky,kx} W[r,co]·x[n, ci, oy·s + ky − p, ox·s + kx − p]
//            tile rows: 4 output channels; columns: 8 pixels of one output row, whose im2col
//            panel is packed just before the tile (L1-sized, never the whole im2col)
//   dx       dx[n,ci,iy,ix] = Σ_{co,ky,kx} W[r,co]·dy[n, co, (iy + p − ky)/s, (ix + p − kx)/s]
//            a gather (terms whose division is inexact or falls outside are zero): no scatter,
//            so threads own disjoint outputs; rows: 4 input channels, columns: 8 input pixels
//   dW, db   C[r,co] = Σ_q patch[q,r]·dy[q,co] over positions q = (n, oy, ox), db as an extra
//            row of ones; partial sums over fixed chunks of WEIGHT_CHUNK positions (one chunk
//            per item), then conv2dWeightSum adds the chunks in order. A chunk's patches are
//            packed a run of an output row at a time, four positions × four rows per 4×4
//            transpose where every tap is inside (2026-12: 1.4–1.9× faster dW than one value
//            at a time, the same bits)
// Every output is summed by one call in one fixed order (the bias first, then the terms in r
// or (co, ky, kx) order; chunk partials in chunk order), so how the items are split over
// threads does not change a bit. The relaxed build fuses each multiply-add, as gemm.ts.
// Measured (2026-12, Node 20, plain SIMD128, 1 thread, batch 32, k3 p1, medians of 30 on a
// 2-core machine busy with other benchmarks, so ±2×): 1→8 ch 28×28 forward 0.36 ms, dx 4.9–7.6
// ms, dW+db 1.1–2.2 ms; 8→16 ch 14×14 forward 0.9–1.9 ms, dx 2.0–6.0 ms, dW+db 2.1–3.6 ms. dx
// with few input channels is the slow one (its tile rows are input channels, 1 of 4 used for
// 1 channel, and each pixel gathers outC·kh·kw taps); a CNN never needs its first layer's dx.

import { packB, transpose4Store } from './gemm';

// @ts-ignore: RELAXED is a compile-time constant from `asc --use RELAXED=0|1`.
const FUSED: bool = RELAXED != 0;

/** Positions (n, oy, ox) per weight-gradient chunk: fixed, so the order depends on the shape alone. */
export const CONV_WEIGHT_CHUNK = 256;

// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, acc: v128): v128 {
  return FUSED ? f32x4.relaxed_madd(a, b, acc) : f32x4.add(acc, f32x4.mul(a, b));
}

/** tile[4×8] = start[row] + Apanel·Bpanel over k terms; pa steps 16 bytes per k, pb 32. */
function tileKernel(pa: usize, pb: usize, k: i32, s0: f32, s1: f32, s2: f32, s3: f32, tile: usize): void {
  let c00 = f32x4.splat(s0), c01 = c00;
  let c10 = f32x4.splat(s1), c11 = c10;
  let c20 = f32x4.splat(s2), c21 = c20;
  let c30 = f32x4.splat(s3), c31 = c30;
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

/** Copies `rows` × `cols` of the tile to dst, its rows `rowStride` floats apart. */
function storeTile(tile: usize, dst: usize, rowStride: i32, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    const to = dst + <usize>r * rowStride * 4;
    const from = tile + <usize>r * 32;
    if (cols == 8) {
      v128.store(to, v128.load(from));
      v128.store(to, v128.load(from, 16), 16);
    } else {
      for (let q = 0; q < cols; q++) store<f32>(to + <usize>q * 4, load<f32>(from + <usize>q * 4));
    }
  }
}

/**
 * panel[0..7] = src[start + q] where 0 ≤ start + q < limit, else 0 (a stride-1 run of a row):
 * two vector loads when the run is inside, else zeros and the inside part one by one.
 */
// @ts-ignore: decorator
@inline function copyRun(dst: usize, src: usize, start: i32, limit: i32): void {
  if (start >= 0 && start + 8 <= limit) {
    v128.store(dst, v128.load(src + <usize>start * 4));
    v128.store(dst, v128.load(src + <usize>start * 4, 16), 16);
    return;
  }
  const zero = f32x4.splat(0);
  v128.store(dst, zero);
  v128.store(dst, zero, 16);
  const hi = min(8, limit - start);
  for (let q = max(0, -start); q < hi; q++) store<f32>(dst + <usize>q * 4, load<f32>(src + <usize>(start + q) * 4));
}

/** Output size of a window sliding over a padded dimension: ⌊(n + 2p − k)/s⌋ + 1. */
// @ts-ignore: decorator
@inline function outSize(n: i32, k: i32, s: i32, p: i32): i32 {
  return (n + 2 * p - k) / s + 1;
}

/** Bytes of scratch one thread needs for conv2dForward (its packed weights, a panel, a tile). */
export function conv2dForwardScratch(c: i32, co: i32, kh: i32, kw: i32): i32 {
  const depth = c * kh * kw;
  return ((co + 3) >> 2) * depth * 16 + depth * 32 + 128;
}

/** Bytes of scratch one thread needs for conv2dBackwardInput. */
export function conv2dBackwardInputScratch(c: i32, co: i32, kh: i32, kw: i32): i32 {
  const depth = co * kh * kw;
  return ((c + 3) >> 2) * depth * 16 + depth * 32 + 128;
}

/** Bytes of scratch one thread needs for conv2dWeightPartials (a chunk's packed patches and dy). */
export function conv2dWeightScratch(c: i32, co: i32, kh: i32, kw: i32): i32 {
  const rows = c * kh * kw + 1;
  return ((rows + 3) >> 2) * CONV_WEIGHT_CHUNK * 16 + ((co + 7) >> 3) * CONV_WEIGHT_CHUNK * 32 + 128;
}

/**
 * y for items [item0, item1) of batch·outH·⌈outW/8⌉: item = (n, oy, a run of 8 ox).
 * Every call packs Wᵀ into 4-channel panels in its scratch first (a few KiB).
 */
export function conv2dForward(
  x: usize, weight: usize, bias: usize, y: usize,
  c: i32, h: i32, w: i32, co: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32,
  item0: i32, item1: i32, scratch: usize,
): void {
  const oh = outSize(h, kh, sh, ph);
  const ow = outSize(w, kw, sw, pw);
  const depth = c * kh * kw;
  const rowBlocks = (co + 3) >> 2;
  const packedW = scratch;
  const panel = packedW + <usize>rowBlocks * depth * 16;
  const tile = panel + <usize>depth * 32;
  // Panel rb, term r: W[r, 4rb .. 4rb+3], zero past the last channel.
  for (let rb = 0; rb < rowBlocks; rb++) {
    for (let r = 0; r < depth; r++) {
      for (let i = 0; i < 4; i++) {
        const o = rb * 4 + i;
        store<f32>(packedW + (<usize>(rb * depth + r) * 4 + i) * 4, o < co ? load<f32>(weight + (<usize>r * co + o) * 4) : 0);
      }
    }
  }
  const runs = (ow + 7) >> 3;
  const imageIn = <usize>c * h * w;
  const plane = oh * ow;
  for (let item = item0; item < item1; item++) {
    const ox0 = (item % runs) * 8;
    const row = item / runs;
    const oy = row % oh;
    const n = row / oh;
    packPatches(x + <usize>n * imageIn * 4, c, h, w, kh, kw, sh, sw, ph, pw, oy, ox0, panel);
    const cols = min(8, ow - ox0);
    for (let rb = 0; rb < rowBlocks; rb++) {
      const o = rb * 4;
      const b0 = load<f32>(bias + <usize>o * 4);
      const b1: f32 = o + 1 < co ? load<f32>(bias + <usize>(o + 1) * 4) : 0;
      const b2: f32 = o + 2 < co ? load<f32>(bias + <usize>(o + 2) * 4) : 0;
      const b3: f32 = o + 3 < co ? load<f32>(bias + <usize>(o + 3) * 4) : 0;
      tileKernel(packedW + <usize>rb * depth * 16, panel, depth, b0, b1, b2, b3, tile);
      const at = (<usize>(n * co + o) * plane + <usize>oy * ow + ox0) * 4;
      storeTile(tile, y + at, plane, min(4, co - o), cols);
    }
  }
}

/** The im2col panel of output pixels (oy, ox0 .. ox0+7): term r, column q at panel + (8r + q)·4; padding reads 0. */
function packPatches(
  xn: usize, c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32,
  oy: i32, ox0: i32, panel: usize,
): void {
  const zero = f32x4.splat(0);
  let dst = panel;
  for (let ci = 0; ci < c; ci++) {
    for (let ky = 0; ky < kh; ky++) {
      const iy = oy * sh + ky - ph;
      const inside = iy >= 0 && iy < h;
      const src = xn + (<usize>ci * h + iy) * w * 4;
      for (let kx = 0; kx < kw; kx++) {
        const ix0 = ox0 * sw + kx - pw;
        if (!inside) {
          v128.store(dst, zero);
          v128.store(dst, zero, 16);
        } else if (sw == 1) {
          copyRun(dst, src, ix0, w);
        } else {
          for (let q = 0; q < 8; q++) {
            const ix = ix0 + q * sw;
            store<f32>(dst + <usize>q * 4, ix >= 0 && ix < w ? load<f32>(src + <usize>ix * 4) : 0);
          }
        }
        dst += 32;
      }
    }
  }
}

/**
 * dx for items [item0, item1) of batch·H·⌈W/8⌉: item = (n, iy, a run of 8 ix); dx is
 * overwritten. Every call packs W, read as [inC × (outC·kh·kw)], into its scratch first.
 */
export function conv2dBackwardInput(
  dy: usize, weight: usize, dx: usize,
  c: i32, h: i32, w: i32, co: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32,
  item0: i32, item1: i32, scratch: usize,
): void {
  const oh = outSize(h, kh, sh, ph);
  const ow = outSize(w, kw, sw, pw);
  const depth = co * kh * kw;
  const rowBlocks = (c + 3) >> 2;
  const packedW = scratch;
  const panel = packedW + <usize>rowBlocks * depth * 16;
  const tile = panel + <usize>depth * 32;
  // Panel rb, term t = (o·kh + ky)·kw + kx: W[(ci·kh + ky)·kw + kx, o] for ci = 4rb .. 4rb+3.
  const taps = kh * kw;
  for (let rb = 0; rb < rowBlocks; rb++) {
    for (let t = 0; t < depth; t++) {
      const o = t / taps;
      const tap = t % taps;
      for (let i = 0; i < 4; i++) {
        const ci = rb * 4 + i;
        store<f32>(packedW + (<usize>(rb * depth + t) * 4 + i) * 4, ci < c ? load<f32>(weight + (<usize>(ci * taps + tap) * co + o) * 4) : 0);
      }
    }
  }
  const runs = (w + 7) >> 3;
  const imageOut = <usize>co * oh * ow;
  const plane = h * w;
  for (let item = item0; item < item1; item++) {
    const ix0 = (item % runs) * 8;
    const row = item / runs;
    const iy = row % h;
    const n = row / h;
    packOutputTaps(dy + <usize>n * imageOut * 4, co, oh, ow, kh, kw, sh, sw, ph, pw, iy, ix0, panel);
    const cols = min(8, w - ix0);
    for (let rb = 0; rb < rowBlocks; rb++) {
      tileKernel(packedW + <usize>rb * depth * 16, panel, depth, 0, 0, 0, 0, tile);
      const ci = rb * 4;
      storeTile(tile, dx + (<usize>(n * c + ci) * plane + <usize>iy * w + ix0) * 4, plane, min(4, c - ci), cols);
    }
  }
}

/** The dy values each input pixel (iy, ix0 .. ix0+7) gathers: term (o, ky, kx), column q; taps between strides read 0. */
function packOutputTaps(
  dyn: usize, co: i32, oh: i32, ow: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32,
  iy: i32, ix0: i32, panel: usize,
): void {
  const zero = f32x4.splat(0);
  let dst = panel;
  for (let o = 0; o < co; o++) {
    for (let ky = 0; ky < kh; ky++) {
      const ty = iy + ph - ky;
      const oy = ty / sh;
      const inside = ty >= 0 && oy * sh == ty && oy < oh;
      const src = dyn + (<usize>o * oh + oy) * ow * 4;
      for (let kx = 0; kx < kw; kx++) {
        const tx0 = ix0 + pw - kx;
        if (!inside) {
          v128.store(dst, zero);
          v128.store(dst, zero, 16);
        } else if (sw == 1) {
          copyRun(dst, src, tx0, ow);
        } else {
          for (let q = 0; q < 8; q++) {
            const tx = tx0 + q;
            const ox = tx / sw;
            store<f32>(dst + <usize>q * 4, tx >= 0 && ox * sw == tx && ox < ow ? load<f32>(src + <usize>ox * 4) : 0);
          }
        }
        dst += 32;
      }
    }
  }
}

/**
 * The patches of positions q0 .. q0+len−1 (in (n, oy, ox) order) as A panels of 4 rows r (r =
 * (ci·kh + ky)·kw + kx, then the row of ones for db, then zero rows), one term per position:
 * row r of position j at panel + (r >> 2)·CHUNK·16 + j·16 + (r & 3)·4. Within an output row,
 * four positions × four rows whose taps are all inside (stride 1) are four loads and a 4×4
 * transpose; the rest is element by element. The values are the same either way.
 */
function packChunkPatches(
  x: usize, c: i32, h: i32, w: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, oh: i32, ow: i32,
  q0: i32, len: i32, packedA: usize,
): void {
  const depth = c * kh * kw;
  const rowBlocks = (depth + 1 + 3) >> 2;
  const plane = oh * ow;
  const taps = kh * kw;
  const panelA = <usize>CONV_WEIGHT_CHUNK * 16;
  for (let j = 0; j < len; ) {
    // A run of positions in one output row (n, oy): ox .. ox + run − 1.
    const q = q0 + j;
    const n = q / plane;
    const p = q % plane;
    const oy = p / ow;
    const ox = p % ow;
    const run = min(len - j, ow - ox);
    const xn = x + <usize>n * c * h * w * 4;
    for (let rb = 0; rb < rowBlocks; rb++) {
      const dst = packedA + <usize>rb * panelA + <usize>j * 16;
      // Per lane: the row's source (its ix = first + t·sw for position t of the run), or a constant.
      let vector = sw == 1;
      let src0: usize = 0, src1: usize = 0, src2: usize = 0, src3: usize = 0;
      let first0 = 0, first1 = 0, first2 = 0, first3 = 0;
      for (let i = 0; i < 4; i++) {
        const r = rb * 4 + i;
        let src: usize = 0;
        let first = 0;
        if (r < depth) {
          const ci = r / taps;
          const ky = (r % taps) / kw;
          const kx = r % kw;
          const iy = oy * sh + ky - ph;
          first = ox * sw + kx - pw;
          if (iy >= 0 && iy < h) src = xn + (<usize>ci * h + iy) * w * 4;
          else vector = false;
        } else vector = false;
        if (i == 0) { src0 = src; first0 = first; }
        else if (i == 1) { src1 = src; first1 = first; }
        else if (i == 2) { src2 = src; first2 = first; }
        else { src3 = src; first3 = first; }
      }
      let t = 0;
      if (vector) {
        // Positions t .. t+3 are inside for every lane when each lane's first tap and last tap are.
        const lo = max(max(-first0, -first1), max(-first2, -first3));
        const hi = min(min(w - first0, w - first1), min(w - first2, w - first3));
        // Element by element up to the first inside group, then groups of four while inside.
        const start = min(max(lo, 0), run);
        for (; t < start; t++) packPatchColumn(dst + <usize>t * 16, rb, depth, src0, src1, src2, src3, first0 + t, first1 + t, first2 + t, first3 + t, w);
        for (; t + 4 <= run && t + 4 <= hi; t += 4) {
          transpose4Store(
            v128.load(src0 + <usize>(first0 + t) * 4), v128.load(src1 + <usize>(first1 + t) * 4),
            v128.load(src2 + <usize>(first2 + t) * 4), v128.load(src3 + <usize>(first3 + t) * 4),
            dst + <usize>t * 16, 16,
          );
        }
      }
      for (; t < run; t++) {
        packPatchColumn(dst + <usize>t * 16, rb, depth, src0, src1, src2, src3, first0 + t * sw, first1 + t * sw, first2 + t * sw, first3 + t * sw, w);
      }
    }
    j += run;
  }
}

/** One position's four rows of a patch panel: x at ix where the lane has a source and ix is inside, 1 for the ones row, else 0. */
// @ts-ignore: decorator
@inline function packPatchColumn(
  dst: usize, rb: i32, depth: i32, src0: usize, src1: usize, src2: usize, src3: usize, ix0: i32, ix1: i32, ix2: i32, ix3: i32, w: i32,
): void {
  store<f32>(dst, patchValue(rb * 4, depth, src0, ix0, w));
  store<f32>(dst, patchValue(rb * 4 + 1, depth, src1, ix1, w), 4);
  store<f32>(dst, patchValue(rb * 4 + 2, depth, src2, ix2, w), 8);
  store<f32>(dst, patchValue(rb * 4 + 3, depth, src3, ix3, w), 12);
}

// @ts-ignore: decorator
@inline function patchValue(r: i32, depth: i32, src: usize, ix: i32, w: i32): f32 {
  if (r >= depth) return r == depth ? 1 : 0;
  // src 0 marks a row of padding: x never starts at address 0 (the header does).
  return src != 0 && ix >= 0 && ix < w ? load<f32>(src + <usize>ix * 4) : 0;
}

/**
 * Partial dW and db of chunks [chunk0, chunk1) of ⌈batch·outH·outW / WEIGHT_CHUNK⌉: chunk j
 * writes (inC·kh·kw + 1) × outC floats at partials + j·that, the last row being db's part.
 */
export function conv2dWeightPartials(
  x: usize, dy: usize, partials: usize,
  batch: i32, c: i32, h: i32, w: i32, co: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32,
  chunk0: i32, chunk1: i32, scratch: usize,
): void {
  const oh = outSize(h, kh, sh, ph);
  const ow = outSize(w, kw, sw, pw);
  const depth = c * kh * kw;
  const rows = depth + 1;
  const rowBlocks = (rows + 3) >> 2;
  const colPanels = (co + 7) >> 3;
  const packedA = scratch;
  const packedB = packedA + <usize>rowBlocks * CONV_WEIGHT_CHUNK * 16;
  const tile = packedB + <usize>colPanels * CONV_WEIGHT_CHUNK * 32;
  // Padding rows and columns stay zero: packing writes only real ones.
  memory.fill(scratch, 0, tile - scratch);
  const plane = oh * ow;
  const positions = batch * plane;
  const panelA = <usize>CONV_WEIGHT_CHUNK * 16;
  const panelB = <usize>CONV_WEIGHT_CHUNK * 32;
  for (let chunk = chunk0; chunk < chunk1; chunk++) {
    const q0 = chunk * CONV_WEIGHT_CHUNK;
    const len = min(CONV_WEIGHT_CHUNK, positions - q0);
    packChunkPatches(x, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow, q0, len, packedA);
    // dy of the chunk's positions, per image: B(j, o) = dy[n, o, p] with p the position's pixel.
    for (let j = 0; j < len; ) {
      const q = q0 + j;
      const n = q / plane;
      const p = q % plane;
      const run = min(len - j, plane - p);
      // Row j of the packed panels reads src[j + o·plane]: src is the image's dy shifted back by j.
      const src = dy + ((<usize>n * co * plane + p) - <usize>j) * 4;
      packB(src, 1, plane, CONV_WEIGHT_CHUNK, co, j, j + run, 0, colPanels, packedB);
      j += run;
    }
    const out = partials + <usize>chunk * rows * co * 4;
    for (let rb = 0; rb < rowBlocks; rb++) {
      for (let cp = 0; cp < colPanels; cp++) {
        tileKernel(packedA + <usize>rb * panelA, packedB + <usize>cp * panelB, len, 0, 0, 0, 0, tile);
        storeTile(tile, out + (<usize>rb * 4 * co + cp * 8) * 4, co, min(4, rows - rb * 4), min(8, co - cp * 8));
      }
    }
  }
}

/**
 * dW and db from the partials of every chunk, for elements [e0, e1) of (inC·kh·kw + 1)·outC
 * (element e < inC·kh·kw·outC is dW[e], the rest db): the chunks summed in order from 0.
 */
export function conv2dWeightSum(partials: usize, chunks: i32, depth: i32, co: i32, e0: i32, e1: i32, dweight: usize, dbias: usize): void {
  const elements = (depth + 1) * co;
  const weights = depth * co;
  const stride = <usize>elements * 4;
  let e = e0;
  for (; e + 4 <= e1 && e + 4 <= weights; e += 4) {
    let sum = f32x4.splat(0);
    for (let j = 0; j < chunks; j++) sum = f32x4.add(sum, v128.load(partials + <usize>j * stride + <usize>e * 4));
    v128.store(dweight + <usize>e * 4, sum);
  }
  for (; e < e1; e++) {
    let sum: f32 = 0;
    for (let j = 0; j < chunks; j++) sum += load<f32>(partials + <usize>j * stride + <usize>e * 4);
    store<f32>(e < weights ? dweight + <usize>e * 4 : dbias + <usize>(e - weights) * 4, sum);
  }
}
