// Optimizer updates over the whole flat parameter vector, one dispatch each. Indices below
// decayEnd are weights (decayed); the rest are biases (not decayed). The gradient is first
// scaled by clip = min(1, maxGradNorm / ‖g‖) when maxGradNorm > 0, ‖g‖ from reduce.wgsl.
//   ADAMW: m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²;
//          p −= lr·( (m/bc1) / (√(v/bc2) + ε) + wd·p ),  bc = 1 − β^t  (from the host, in f64)
//   SGD:   b = μ·b + g + wd·p;  p −= lr·b                           (PyTorch convention)
// Template values: ADAMW, SGD (exactly one set).

struct Hyper {
  lr: f32,
  beta1: f32,   // SGD: momentum
  beta2: f32,
  eps: f32,
  weightDecay: f32,
  bc1: f32,
  bc2: f32,
  maxGradNorm: f32,
  decayEnd: u32,
  count: u32,
  pad0: u32,
  pad1: u32,
}

@group(0) @binding(0) var<storage, read> grads: array<f32>;
// [Σg², ‖g‖]
@group(0) @binding(1) var<storage, read> norm: array<f32>;
@group(0) @binding(2) var<uniform> h: Hyper;
@group(0) @binding(3) var<storage, read_write> params: array<f32>;
@group(0) @binding(4) var<storage, read_write> state1: array<f32>;
#if ADAMW
@group(0) @binding(5) var<storage, read_write> state2: array<f32>;
#endif

fn clip_scale() -> f32 {
  let n = norm[1];
  return select(1.0, h.maxGradNorm / n, h.maxGradNorm > 0.0 && n > h.maxGradNorm);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.y * groups.x * 64u + gid.x;
  if (i >= h.count) {
    return;
  }
  let g = grads[i] * clip_scale();
  let p = params[i];
  let wd = select(0.0, h.weightDecay, i < h.decayEnd);
#if ADAMW
  let m = h.beta1 * state1[i] + (1.0 - h.beta1) * g;
  let v = h.beta2 * state2[i] + (1.0 - h.beta2) * g * g;
  state1[i] = m;
  state2[i] = v;
  params[i] = p - h.lr * ((m / h.bc1) / (sqrt(v / h.bc2) + h.eps) + wd * p);
#endif
#if SGD
  let b = h.beta1 * state1[i] + g + wd * p;
  state1[i] = b;
  params[i] = p - h.lr * b;
#endif
}
