// Token and position embeddings over sequences of T positions, C features each:
//   TOKEN_FORWARD      y[r, c] = E[tokens[r], c], one invocation per output (tokens are the
//                      input's f32 ids, exact below 2²⁴).
//   TOKEN_BACKWARD     dE[v, c] = (accumulate ? dE[v, c] : 0) + Σ_r [tokens[r] = v]·dy[r, c]: the
//                      owner of each table entry walks the rows in order, so the scatter-add is
//                      deterministic without atomics (accumulate when a tied head wrote dE first).
//   POSITION_FORWARD   y[i] = x[i] + P[i mod T·C]; its backward is a column sum (reduce.wgsl).
// Template values: TOKEN_FORWARD, TOKEN_BACKWARD, POSITION_FORWARD (exactly one set).

struct Shape { rows: u32, features: u32, vocabulary: u32, accumulate: u32 }

#if TOKEN_FORWARD
@group(0) @binding(0) var<storage, read> tokens: array<f32>;
@group(0) @binding(1) var<storage, read> E: array<f32>;
@group(0) @binding(2) var<uniform> shape: Shape;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
#endif
#if TOKEN_BACKWARD
@group(0) @binding(0) var<storage, read> tokens: array<f32>;
@group(0) @binding(1) var<storage, read> dY: array<f32>;
@group(0) @binding(2) var<uniform> shape: Shape;
@group(0) @binding(3) var<storage, read_write> dE: array<f32>;
#endif
#if POSITION_FORWARD
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> P: array<f32>;
@group(0) @binding(2) var<uniform> shape: Shape;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
#endif

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.y * groups.x * 64u + gid.x;
  let C = shape.features;
#if TOKEN_FORWARD
  if (i >= shape.rows * C) {
    return;
  }
  let r = i / C;
  Y[i] = E[u32(tokens[r]) * C + i % C];
#endif
#if TOKEN_BACKWARD
  if (i >= shape.vocabulary * C) {
    return;
  }
  let v = f32(i / C);
  let c = i % C;
  var acc = 0.0;
  if (shape.accumulate != 0u) {
    acc = dE[i];
  }
  for (var r = 0u; r < shape.rows; r++) {
    if (tokens[r] == v) {
      acc += dY[r * C + c];
    }
  }
  dE[i] = acc;
#endif
#if POSITION_FORWARD
  // rows = batch, features = T·C here: P repeats for every example.
  if (i >= shape.rows * C) {
    return;
  }
  Y[i] = X[i] + P[i % C];
#endif
}
