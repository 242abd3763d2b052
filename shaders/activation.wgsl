// Activations elementwise over `count` values, four per invocation:
//   FORWARD:  Y = act(X), for an activation that no matmul epilogue absorbed (after a conv2d,
//             a pooling, a layernorm);
//   else:     dZ = dH ⊙ act'(Z), the backward. ReLU's derivative is taken as 0 at z = 0, as
//             in the CPU reference.
// Needs gelu.wgsl prepended. Template values: FORWARD, ACT_RELU, ACT_GELU.

struct Params { count: u32, pad0: u32, pad1: u32, pad2: u32 }

#if FORWARD
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let base = (gid.y * groups.x * 64u + gid.x) * 4u;
  if (base >= params.count) {
    return;
  }
  var x = vec4f(0.0);
  for (var e = 0u; e < 4u; e++) {
    if (base + e < params.count) {
      x[e] = X[base + e];
    }
  }
#if ACT_RELU
  let y = max(x, vec4f(0.0));
#endif
#if ACT_GELU
  let y = gelu(x);
#endif
  for (var e = 0u; e < 4u; e++) {
    if (base + e < params.count) {
      Y[base + e] = y[e];
    }
  }
}
#else

@group(0) @binding(0) var<storage, read> dH: array<f32>;
@group(0) @binding(1) var<storage, read> Z: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;
@group(0) @binding(3) var<storage, read_write> dZ: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let base = (gid.y * groups.x * 64u + gid.x) * 4u;
  if (base >= params.count) {
    return;
  }
  var z = vec4f(0.0);
  var dh = vec4f(0.0);
  for (var e = 0u; e < 4u; e++) {
    if (base + e < params.count) {
      z[e] = Z[base + e];
      dh[e] = dH[base + e];
    }
  }
#if ACT_RELU
  let dz = select(vec4f(0.0), dh, z > vec4f(0.0));
#endif
#if ACT_GELU
  let dz = dh * gelu_grad(z);
#endif
  for (var e = 0u; e < 4u; e++) {
    if (base + e < params.count) {
      dZ[base + e] = dz[e];
    }
  }
}
#endif
