// The masked-softmax core of causal multi-head attention (src/model/layers/reference.ts),
// between the qkv and output projections the layer table runs as gemms. Per example n of
// [n0, n1) and head h (size d = C/H), on rows of QKV [T, 3C] = [q | k | v]:
//   forward   S_ij = q_i·k_j/√d (j ≤ i), P_i = softmax(S_i) saved with zeros above the diagonal, o_i = Σ_j P_ij·v_j
//   backward  dP_ij = do_i·v_j, dS_ij = P_ij·(dP_ij − Σ_j dP_ij·P_ij)/√d, dq_i = Σ_j dS_ij·k_j,
//             dk_j = Σ_{i ≥ j} dS_ij·q_i, dv_j = Σ_{i ≥ j} P_ij·do_i
// The d features run in f32x4 lanes (a scalar tail when d is no multiple of 4); every output
// element sums over j (or i) in ascending order, so the bits do not depend on the thread
// count. Softmax runs in f64, as the reference.

// @ts-ignore: RELAXED is a compile-time constant from `asc --use RELAXED=0|1`.
const FUSED: bool = RELAXED != 0;

@inline function madd(a: v128, b: v128, acc: v128): v128 {
  return FUSED ? f32x4.relaxed_madd(a, b, acc) : f32x4.add(acc, f32x4.mul(a, b));
}

/** Σ_e a[e]·b[e] over d floats: four lanes, then their sum, then the tail. */
@inline function dot(a: usize, b: usize, d: i32): f32 {
  let acc = f32x4.splat(0);
  let e = 0;
  for (; e + 4 <= d; e += 4) acc = madd(v128.load(a + <usize>e * 4), v128.load(b + <usize>e * 4), acc);
  let s = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
  for (; e < d; e++) s += load<f32>(a + <usize>e * 4) * load<f32>(b + <usize>e * 4);
  return s;
}

/** y[e] += s·x[e] over d floats. */
@inline function axpy(s: f32, x: usize, y: usize, d: i32): void {
  const sv = f32x4.splat(s);
  let e = 0;
  for (; e + 4 <= d; e += 4) v128.store(y + <usize>e * 4, madd(sv, v128.load(x + <usize>e * 4), v128.load(y + <usize>e * 4)));
  for (; e < d; e++) store<f32>(y + <usize>e * 4, load<f32>(y + <usize>e * 4) + s * load<f32>(x + <usize>e * 4));
}

@inline function zero(y: usize, d: i32): void {
  memory.fill(y, 0, <usize>d * 4);
}

export function attentionForward(qkv: usize, probs: usize, o: usize, t: i32, c: i32, heads: i32, n0: i32, n1: i32): void {
  const d = c / heads;
  const stride = <usize>(3 * c) * 4;
  const scale = 1 / Math.sqrt(<f64>d);
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
        let max = -Infinity;
        for (let j = 0; j <= i; j++) {
          const s = <f64>dot(q, base + <usize>j * stride + hk, d) * scale;
          store<f32>(row + <usize>j * 4, <f32>s);
          if (s > max) max = s;
        }
        // exp of the f32-rounded scores, in f64, as the TypeScript kernel of this layer did.
        let sum: f64 = 0;
        for (let j = 0; j <= i; j++) sum += Math.exp(<f64>load<f32>(row + <usize>j * 4) - <f64><f32>max);
        for (let j = 0; j <= i; j++) store<f32>(row + <usize>j * 4, <f32>(Math.exp(<f64>load<f32>(row + <usize>j * 4) - <f64><f32>max) / sum));
        if (i + 1 < t) memory.fill(row + <usize>(i + 1) * 4, 0, <usize>(t - i - 1) * 4);
        const out = o + (<usize>(n * t + i) * <usize>c) * 4 + hq;
        zero(out, d);
        for (let j = 0; j <= i; j++) axpy(load<f32>(row + <usize>j * 4), base + <usize>j * stride + hv, out, d);
      }
    }
  }
}

export function attentionBackward(qkv: usize, probs: usize, dO: usize, dScores: usize, dQkv: usize, t: i32, c: i32, heads: i32, n0: i32, n1: i32): void {
  const d = c / heads;
  const stride = <usize>(3 * c) * 4;
  const scale = <f32>(1 / Math.sqrt(<f64>d));
  for (let n = n0; n < n1; n++) {
    const base = qkv + <usize>n * <usize>t * stride;
    const dBase = dQkv + <usize>n * <usize>t * stride;
    const doBase = dO + (<usize>n * <usize>t * <usize>c) * 4;
    for (let h = 0; h < heads; h++) {
      const square = (<usize>(n * heads + h) * <usize>t * <usize>t) * 4;
      const p = probs + square;
      const dS = dScores + square;
      const hq = <usize>(h * d) * 4;
      const hk = <usize>(c + h * d) * 4;
      const hv = <usize>(2 * c + h * d) * 4;
      for (let i = 0; i < t; i++) {
        const doRow = doBase + (<usize>i * <usize>c) * 4 + hq;
        const pi = p + <usize>i * <usize>t * 4;
        const si = dS + <usize>i * <usize>t * 4;
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
        const dq = dBase + <usize>i * stride + hq;
        zero(dq, d);
        for (let j = 0; j <= i; j++) axpy(load<f32>(si + <usize>j * 4), base + <usize>j * stride + hk, dq, d);
      }
      for (let j = 0; j < t; j++) {
        const dk = dBase + <usize>j * stride + hk;
        const dv = dBase + <usize>j * stride + hv;
        zero(dk, d);
        zero(dv, d);
        for (let i = j; i < t; i++) {
          const at = <usize>(i * t + j) * 4;
          axpy(load<f32>(dS + at), base + <usize>i * stride + hq, dk, d);
          axpy(load<f32>(p + at), doBase + (<usize>i * <usize>c) * 4 + hq, dv, d);
        }
      }
    }
  }
}
