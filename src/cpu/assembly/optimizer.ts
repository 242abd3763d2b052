// Optimizer steps over index ranges of the flat parameter vector, in f32 with the same
// operation order as shaders/optimizer.wgsl. Indices below decayEnd are weights (decayed),
// the rest biases. clip = min(1, maxGradNorm/‖g‖) comes from the caller.
//   AdamW: m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²;  p −= lr·((m/bc1)/(√(v/bc2) + ε) + wd·p)
//   SGD:   b = μ·b + g + wd·p;  p −= lr·b

/** Σ g² over [i0, i1) in f64, four interleaved partial sums combined as (s0 + s1) + (s2 + s3). */
export function sumSquares(g: usize, i0: i32, i1: i32): f64 {
  let a = f64x2.splat(0);
  let b = f64x2.splat(0);
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    const x = v128.load(g + <usize>i * 4);
    const lo = f64x2.promote_low_f32x4(x);
    const hi = f64x2.promote_low_f32x4(i32x4.shuffle(x, x, 2, 3, 0, 1));
    a = f64x2.add(a, f64x2.mul(lo, lo));
    b = f64x2.add(b, f64x2.mul(hi, hi));
  }
  let tail: f64 = 0;
  for (; i < i1; i++) {
    const x = <f64>load<f32>(g + <usize>i * 4);
    tail += x * x;
  }
  return (f64x2.extract_lane(a, 0) + f64x2.extract_lane(a, 1)) + (f64x2.extract_lane(b, 0) + f64x2.extract_lane(b, 1)) + tail;
}

export function adamw(
  params: usize, grads: usize, m: usize, v: usize, i0: i32, i1: i32,
  lr: f32, beta1: f32, beta2: f32, eps: f32, weightDecay: f32, bc1: f32, bc2: f32, clip: f32, decayEnd: i32,
): void {
  // Four at a time; decayEnd is a multiple of 64, so a 4-aligned vector is all weights or all biases.
  const vb1 = f32x4.splat(beta1), vb2 = f32x4.splat(beta2);
  const vc1 = f32x4.splat(<f32>1 - beta1), vc2 = f32x4.splat(<f32>1 - beta2);
  const vlr = f32x4.splat(lr), veps = f32x4.splat(eps), vbc1 = f32x4.splat(bc1), vbc2 = f32x4.splat(bc2), vclip = f32x4.splat(clip);
  let i = i0;
  for (; i + 4 <= i1 && (i & 3) == 0; i += 4) {
    const at = <usize>i * 4;
    const g = f32x4.mul(v128.load(grads + at), vclip);
    const p = v128.load(params + at);
    const wd = f32x4.splat(i < decayEnd ? weightDecay : 0);
    const mi = f32x4.add(f32x4.mul(vb1, v128.load(m + at)), f32x4.mul(vc1, g));
    const vi = f32x4.add(f32x4.mul(vb2, v128.load(v + at)), f32x4.mul(f32x4.mul(vc2, g), g));
    v128.store(m + at, mi);
    v128.store(v + at, vi);
    const update = f32x4.add(f32x4.div(f32x4.div(mi, vbc1), f32x4.add(f32x4.sqrt(f32x4.div(vi, vbc2)), veps)), f32x4.mul(wd, p));
    v128.store(params + at, f32x4.sub(p, f32x4.mul(vlr, update)));
  }
  for (; i < i1; i++) {
    const at = <usize>i * 4;
    const g = load<f32>(grads + at) * clip;
    const p = load<f32>(params + at);
    const wd: f32 = i < decayEnd ? weightDecay : 0;
    const mi = beta1 * load<f32>(m + at) + (<f32>1 - beta1) * g;
    const vi = beta2 * load<f32>(v + at) + (<f32>1 - beta2) * g * g;
    store<f32>(m + at, mi);
    store<f32>(v + at, vi);
    store<f32>(params + at, p - lr * ((mi / bc1) / (Mathf.sqrt(vi / bc2) + eps) + wd * p));
  }
}

export function sgd(params: usize, grads: usize, buf: usize, i0: i32, i1: i32, lr: f32, momentum: f32, weightDecay: f32, clip: f32, decayEnd: i32): void {
  const vmu = f32x4.splat(momentum), vlr = f32x4.splat(lr), vclip = f32x4.splat(clip);
  let i = i0;
  for (; i + 4 <= i1 && (i & 3) == 0; i += 4) {
    const at = <usize>i * 4;
    const g = f32x4.mul(v128.load(grads + at), vclip);
    const p = v128.load(params + at);
    const wd = f32x4.splat(i < decayEnd ? weightDecay : 0);
    const b = f32x4.add(f32x4.add(f32x4.mul(vmu, v128.load(buf + at)), g), f32x4.mul(wd, p));
    v128.store(buf + at, b);
    v128.store(params + at, f32x4.sub(p, f32x4.mul(vlr, b)));
  }
  for (; i < i1; i++) {
    const at = <usize>i * 4;
    const g = load<f32>(grads + at) * clip;
    const p = load<f32>(params + at);
    const wd: f32 = i < decayEnd ? weightDecay : 0;
    const b = momentum * load<f32>(buf + at) + g + wd * p;
    store<f32>(buf + at, b);
    store<f32>(params + at, p - lr * b);
  }
}
