// GELU, tanh approximation, in f32 as shaders/gelu.wgsl computes it:
// gelu(x) = x·σ(2u), u = √(2/π)·(x + 0.044715·x³) clamped to ±40, σ(2u) = 1 / (1 + e^(−2u)).
// Four lanes at a time; the one-element forms run the same lanes, so the fused epilogue
// (gemm.ts), the elementwise kernels and every edge path give the same bits. Plain
// multiplies and adds only (no fused multiply-add), so the relaxed build agrees too.

const GELU_C: f32 = 0.7978845608028654;
const GELU_A: f32 = 0.044715;

// e^t for t in [−80, 80] (what the clamp on u allows): t = n·ln 2 + r with n = round(t/ln 2)
// and |r| ≤ ln 2 / 2 (ln 2 split in two so that r is exact), e^r from a degree-6 polynomial
// (relative error under 2 ulp on that range), 2^n put straight into the exponent bits
// (n in [−116, 116], so 2^n is a normal float).
const LOG2E: f32 = 1.4426950408889634;
const ROUNDER: f32 = 12582912;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
const P0: f32 = 1.9875691500e-4;
const P1: f32 = 1.3981999507e-3;
const P2: f32 = 8.3334519073e-3;
const P3: f32 = 4.1665795894e-2;
const P4: f32 = 1.6666665459e-1;
const P5: f32 = 5.0000001201e-1;

/** e^t in four lanes for t in [−80, 80] (the attention softmax's t ≤ 0 is clamped to it). */
// @ts-ignore: decorator
@inline export function exp4(t: v128): v128 {
  // Adding 1.5·2²³ rounds to the nearest integer (ties to even), which then sits in the low
  // mantissa bits: n as a float and, subtracting the bit patterns, as an integer.
  const kf = f32x4.add(f32x4.mul(t, f32x4.splat(LOG2E)), f32x4.splat(ROUNDER));
  const n = f32x4.sub(kf, f32x4.splat(ROUNDER));
  let r = f32x4.sub(t, f32x4.mul(n, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(LN2_LO)));
  let p = f32x4.add(f32x4.mul(f32x4.splat(P0), r), f32x4.splat(P1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P4));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P5));
  p = f32x4.add(f32x4.add(f32x4.mul(p, f32x4.mul(r, r)), r), f32x4.splat(1));
  const scale = i32x4.shl(i32x4.add(i32x4.sub(kf, f32x4.splat(ROUNDER)), i32x4.splat(127)), 23);
  return f32x4.mul(p, scale);
}

/** σ(2u) for four lanes. */
// @ts-ignore: decorator
@inline export function geluGate4(x: v128): v128 {
  const x3 = f32x4.mul(f32x4.mul(f32x4.mul(f32x4.splat(GELU_A), x), x), x);
  let u = f32x4.mul(f32x4.splat(GELU_C), f32x4.add(x, x3));
  // pmin/pmax: one instruction each where min/max's NaN rules take several.
  u = f32x4.pmin(f32x4.pmax(u, f32x4.splat(-40)), f32x4.splat(40));
  const one = f32x4.splat(1);
  return f32x4.div(one, f32x4.add(one, exp4(f32x4.mul(f32x4.splat(-2), u))));
}

/** gelu(x) for four lanes. */
// @ts-ignore: decorator
@inline export function gelu4(x: v128): v128 {
  return f32x4.mul(x, geluGate4(x));
}

/** gelu'(x) from x and its gate s = σ(2u): s + x·2s(1 − s)·√(2/π)·(1 + 3·0.044715·x²), four lanes. */
// @ts-ignore: decorator
@inline export function geluGradOfGate4(x: v128, s: v128): v128 {
  const one = f32x4.splat(1);
  const slope = f32x4.add(one, f32x4.mul(f32x4.mul(f32x4.splat(<f32>3 * GELU_A), x), x));
  const t = f32x4.mul(f32x4.mul(f32x4.mul(f32x4.mul(x, f32x4.splat(2)), s), f32x4.sub(one, s)), f32x4.splat(GELU_C));
  return f32x4.add(s, f32x4.mul(t, slope));
}

/** gelu'(x), four lanes. */
// @ts-ignore: decorator
@inline export function geluGrad4(x: v128): v128 {
  return geluGradOfGate4(x, geluGate4(x));
}

export function gelu(x: f32): f32 {
  return f32x4.extract_lane(gelu4(f32x4.splat(x)), 0);
}

export function geluGrad(x: f32): f32 {
  return f32x4.extract_lane(geluGrad4(f32x4.splat(x)), 0);
}
