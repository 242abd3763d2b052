// The plain 16×16 workgroup-memory tiled matmul C = A·B (A is M×K, B is K×N), one output
// per invocation: the textbook kernel, kept as the benchmark's baseline and never used in
// training. Correct for any shape.

struct Dims { M: u32, N: u32, K: u32, pad: u32 }

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<uniform> dims: Dims;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;

var<workgroup> tileA: array<array<f32, 16>, 16>;
var<workgroup> tileB: array<array<f32, 16>, 16>;

@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let row = gid.y;
  let col = gid.x;
  var acc = 0.0;
  for (var t = 0u; t < dims.K; t += 16u) {
    let ka = t + lid.x;
    let kb = t + lid.y;
    tileA[lid.y][lid.x] = select(0.0, A[row * dims.K + ka], row < dims.M && ka < dims.K);
    tileB[lid.y][lid.x] = select(0.0, B[kb * dims.N + col], kb < dims.K && col < dims.N);
    workgroupBarrier();
    for (var k = 0u; k < 16u; k++) {
      acc += tileA[lid.y][k] * tileB[k][lid.x];
    }
    workgroupBarrier();
  }
  if (row < dims.M && col < dims.N) {
    C[row * dims.N + col] = acc;
  }
}
