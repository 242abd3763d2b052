// LayerNorm over each row's F features (an example's every feature, src/model/layers/spec.ts),
// with an elementwise gain γ and shift β:
//   FORWARD         μ = mean(x), σ² = mean((x − μ)²) (biased, two passes), r = 1/√(σ² + ε),
//                   x̂ = (x − μ)·r, y = γ⊙x̂ + β; stats[2n] = μ, stats[2n + 1] = r.
//   BACKWARD_INPUT  g = γ⊙dy; dx = (g − mean(g) − x̂·mean(g⊙x̂))·r, x̂ recomputed from stats.
//   PARAM_GRAD      dγ[f] = Σ_n dy[n,f]·x̂[n,f], dβ[f] = Σ_n dy[n,f]: one invocation per
//                   feature walks the rows in order.
// The row kernels are one 64-wide workgroup per row: strided partial sums, then the same
// halving tree in workgroup memory every time. No atomics; every sum in a fixed order.
// Template values: FORWARD, BACKWARD_INPUT, PARAM_GRAD (exactly one set).

struct Norm { rows: u32, features: u32, eps: f32, pad: u32 }

#if FORWARD
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> gamma: array<f32>;
@group(0) @binding(2) var<storage, read> beta: array<f32>;
@group(0) @binding(3) var<uniform> norm: Norm;
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;
#endif
#if BACKWARD_INPUT
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> stats: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> dY: array<f32>;
@group(0) @binding(4) var<uniform> norm: Norm;
@group(0) @binding(5) var<storage, read_write> dX: array<f32>;
#endif
#if PARAM_GRAD
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> stats: array<f32>;
@group(0) @binding(2) var<storage, read> dY: array<f32>;
@group(0) @binding(3) var<uniform> norm: Norm;
@group(0) @binding(4) var<storage, read_write> dGamma: array<f32>;
@group(0) @binding(5) var<storage, read_write> dBeta: array<f32>;
#endif

#if !PARAM_GRAD
var<workgroup> scratch: array<vec2f, 64>;

// The workgroup's sum of v, two sums at once, by the same halving tree every time.
fn workgroupSum(lid: u32, v: vec2f) -> vec2f {
  scratch[lid] = v;
  for (var stride = 32u; stride > 0u; stride >>= 1u) {
    workgroupBarrier();
    if (lid < stride) {
      scratch[lid] += scratch[lid + stride];
    }
  }
  workgroupBarrier();
  let total = scratch[0];
  // Everyone has read the total before the next call overwrites scratch.
  workgroupBarrier();
  return total;
}
#endif

#if FORWARD
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let row = wg.y * groups.x + wg.x;
  if (row >= norm.rows) {
    return;
  }
  let F = norm.features;
  let base = row * F;
  var s = 0.0;
  for (var i = lid.x; i < F; i += 64u) {
    s += X[base + i];
  }
  let mean = workgroupSum(lid.x, vec2f(s, 0.0)).x / f32(F);
  var v = 0.0;
  for (var i = lid.x; i < F; i += 64u) {
    let d = X[base + i] - mean;
    v += d * d;
  }
  let rstd = 1.0 / sqrt(workgroupSum(lid.x, vec2f(v, 0.0)).x / f32(F) + norm.eps);
  for (var i = lid.x; i < F; i += 64u) {
    Y[base + i] = gamma[i] * ((X[base + i] - mean) * rstd) + beta[i];
  }
  if (lid.x == 0u) {
    stats[2u * row] = mean;
    stats[2u * row + 1u] = rstd;
  }
}
#endif

#if BACKWARD_INPUT
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let row = wg.y * groups.x + wg.x;
  if (row >= norm.rows) {
    return;
  }
  let F = norm.features;
  let base = row * F;
  let mean = stats[2u * row];
  let rstd = stats[2u * row + 1u];
  var sums = vec2f(0.0);
  for (var i = lid.x; i < F; i += 64u) {
    let g = gamma[i] * dY[base + i];
    sums += vec2f(g, g * ((X[base + i] - mean) * rstd));
  }
  let means = workgroupSum(lid.x, sums) / f32(F);
  for (var i = lid.x; i < F; i += 64u) {
    let xhat = (X[base + i] - mean) * rstd;
    dX[base + i] = (gamma[i] * dY[base + i] - means.x - xhat * means.y) * rstd;
  }
}
#endif

#if PARAM_GRAD
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let f = gid.x;
  let F = norm.features;
  if (f >= F) {
    return;
  }
  var dg = 0.0;
  var db = 0.0;
  for (var n = 0u; n < norm.rows; n++) {
    let d = dY[n * F + f];
    dg += d * ((X[n * F + f] - stats[2u * n]) * stats[2u * n + 1u]);
    db += d;
  }
  dGamma[f] = dg;
  dBeta[f] = db;
}
#endif
