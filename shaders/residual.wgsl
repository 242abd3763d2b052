// The residual add, y = a + b elementwise over `count` values: the forward's x + branch(x)
// and the backward's dy + the branch's dx. One f32 add per value, so repeats are bit-identical.

struct Params { count: u32, pad0: u32, pad1: u32, pad2: u32 }

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.y * groups.x * 64u + gid.x;
  if (i >= params.count) {
    return;
  }
  Y[i] = A[i] + B[i];
}
