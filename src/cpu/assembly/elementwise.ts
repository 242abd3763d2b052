// Elementwise kernels of the CPU layer table (src/cpu/cpuModelLayers.ts), each over an
// element or row range so that threads split them without changing a bit:
//   activationForward   y = act(x)                 (ReLU: pmax(0, x); GELU as activation.ts)
//   activationBackward  dx = dy·act'(x)            (ReLU's derivative at 0 is 0, as gemm.ts)
//   addFloats           out = a + b                (the residual's y = x + f(x) and its dx)
//   copyFloats          dst = src                  (dropout in evaluation)
//   dropoutApply        dst = keep ? src·scale : 0, keep = hash(seed, position, layer, unit) ≥ threshold,
//                       the hash of src/model/layers/dropout.ts in u32 arithmetic (same bits)

import { gelu, gelu4, geluGrad, geluGrad4 } from './activation';

const ACT_RELU = 1;
const ACT_GELU = 2;
const ACT_GELU_SAVED = 3;

/** y[i] = act(x[i]) for i in [i0, i1). */
export function activationForward(x: usize, y: usize, i0: i32, i1: i32, act: i32): void {
  let i = i0;
  if (act == ACT_RELU) {
    const zero = f32x4.splat(0);
    for (; i + 4 <= i1; i += 4) v128.store(y + <usize>i * 4, f32x4.pmax(zero, v128.load(x + <usize>i * 4)));
    for (; i < i1; i++) {
      const v = load<f32>(x + <usize>i * 4);
      store<f32>(y + <usize>i * 4, v > 0 ? v : 0);
    }
  } else if (act == ACT_GELU) {
    for (; i + 4 <= i1; i += 4) v128.store(y + <usize>i * 4, gelu4(v128.load(x + <usize>i * 4)));
    for (; i < i1; i++) store<f32>(y + <usize>i * 4, gelu(load<f32>(x + <usize>i * 4)));
  } else {
    memory.copy(y + <usize>i0 * 4, x + <usize>i0 * 4, <usize>(i1 - i0) * 4);
  }
}

/** dx[i] = dy[i]·act'(x[i]) for i in [i0, i1); for ACT_GELU_SAVED x holds gelu' already (gemm.ts): dx = dy·x. */
export function activationBackward(dy: usize, x: usize, dx: usize, i0: i32, i1: i32, act: i32): void {
  let i = i0;
  if (act == ACT_RELU) {
    const zero = f32x4.splat(0);
    for (; i + 4 <= i1; i += 4) {
      const at = <usize>i * 4;
      v128.store(dx + at, v128.and(v128.load(dy + at), f32x4.gt(v128.load(x + at), zero)));
    }
    for (; i < i1; i++) {
      const at = <usize>i * 4;
      store<f32>(dx + at, load<f32>(x + at) > 0 ? load<f32>(dy + at) : 0);
    }
  } else if (act == ACT_GELU) {
    for (; i + 4 <= i1; i += 4) {
      const at = <usize>i * 4;
      v128.store(dx + at, f32x4.mul(v128.load(dy + at), geluGrad4(v128.load(x + at))));
    }
    for (; i < i1; i++) {
      const at = <usize>i * 4;
      store<f32>(dx + at, load<f32>(dy + at) * geluGrad(load<f32>(x + at)));
    }
  } else if (act == ACT_GELU_SAVED) {
    for (; i + 4 <= i1; i += 4) {
      const at = <usize>i * 4;
      v128.store(dx + at, f32x4.mul(v128.load(dy + at), v128.load(x + at)));
    }
    for (; i < i1; i++) {
      const at = <usize>i * 4;
      store<f32>(dx + at, load<f32>(dy + at) * load<f32>(x + at));
    }
  } else {
    memory.copy(dx + <usize>i0 * 4, dy + <usize>i0 * 4, <usize>(i1 - i0) * 4);
  }
}

/** out[i] = a[i] + b[i] for i in [i0, i1). */
export function addFloats(a: usize, b: usize, out: usize, i0: i32, i1: i32): void {
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    const at = <usize>i * 4;
    v128.store(out + at, f32x4.add(v128.load(a + at), v128.load(b + at)));
  }
  for (; i < i1; i++) {
    const at = <usize>i * 4;
    store<f32>(out + at, load<f32>(a + at) + load<f32>(b + at));
  }
}

/** dst[i] = src[i] for i in [i0, i1). */
export function copyFloats(src: usize, dst: usize, i0: i32, i1: i32): void {
  memory.copy(dst + <usize>i0 * 4, src + <usize>i0 * 4, <usize>(i1 - i0) * 4);
}

const GOLDEN: u32 = 0x9e3779b9;

/** splitmix32's finaliser, as dropout.ts mix32 (u32 multiplies wrap as Math.imul). */
// @ts-ignore: decorator
@inline function mix32(z: u32): u32 {
  z = (z ^ (z >>> 16)) * 0x21f0aaad;
  z = (z ^ (z >>> 15)) * 0x735a2d97;
  return z ^ (z >>> 15);
}

/** The hash of dropout.ts dropoutHash for one unit, from the row's prefix h = mix(mix(mix(seed + φ) ^ position + φ) ^ layer + φ). */
// @ts-ignore: decorator
@inline function unitHash(rowPrefix: u32, unit: u32): u32 {
  return mix32((rowPrefix ^ unit) + GOLDEN);
}

/**
 * Rows [row0, row1) of `features` units: dst = src·scale where the unit is kept, else 0.
 * positions[r] (u32) is row r's dataset position; layer is the dropout layer's ordinal.
 */
export function dropoutApply(
  src: usize, dst: usize, positions: usize, seed: u32, layer: u32, threshold: u32, scale: f32, features: i32, row0: i32, row1: i32,
): void {
  const seedHash = mix32(seed + GOLDEN);
  for (let r = row0; r < row1; r++) {
    const position = load<u32>(positions + <usize>r * 4);
    const prefix = mix32((mix32((seedHash ^ position) + GOLDEN) ^ layer) + GOLDEN);
    const from = src + <usize>r * features * 4;
    const to = dst + <usize>r * features * 4;
    for (let u = 0; u < features; u++) {
      const keep = unitHash(prefix, <u32>u) >= threshold;
      store<f32>(to + <usize>u * 4, keep ? load<f32>(from + <usize>u * 4) * scale : 0);
    }
  }
}
