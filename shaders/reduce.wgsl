// Reductions, all in a fixed order (no atomics), so results are bit-identical run to run.
//   COLUMN_SUM:          out[j] = Σ_i X[i·cols + j]  (the bias gradient); one invocation per
//                        column walks the rows in order.
//   SUM_SQUARES_PARTIAL: partial[g] = Σ x² over the g-th chunk of `chunk` values; each
//                        invocation sums a strided slice, then a tree in workgroup memory.
//   SUM_SQUARES_FINAL:   out = [Σ partial, √Σ partial] by one workgroup (the global norm).
// Template values: COLUMN_SUM, SUM_SQUARES_PARTIAL, SUM_SQUARES_FINAL (exactly one set).

struct Params { rows: u32, cols: u32, count: u32, chunk: u32 }

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

#if COLUMN_SUM
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let col = gid.x;
  if (col >= params.cols) {
    return;
  }
  var sum = 0.0;
  for (var i = 0u; i < params.rows; i++) {
    sum += X[i * params.cols + col];
  }
  out[col] = sum;
}
#endif

#if !COLUMN_SUM
var<workgroup> scratch: array<f32, 256>;

// Sums scratch[0..256) into scratch[0] by halving, the same tree every time.
fn reduce_scratch(lid: u32) {
  for (var stride = 128u; stride > 0u; stride >>= 1u) {
    workgroupBarrier();
    if (lid < stride) {
      scratch[lid] += scratch[lid + stride];
    }
  }
  workgroupBarrier();
}
#endif

#if SUM_SQUARES_PARTIAL
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let start = wg.x * params.chunk;
  let end = min(start + params.chunk, params.count);
  var sum = 0.0;
  for (var i = start + lid.x; i < end; i += 256u) {
    let x = X[i];
    sum += x * x;
  }
  scratch[lid.x] = sum;
  reduce_scratch(lid.x);
  if (lid.x == 0u) {
    out[wg.x] = scratch[0];
  }
}
#endif

#if SUM_SQUARES_FINAL
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_id) lid: vec3u) {
  var sum = 0.0;
  for (var i = lid.x; i < params.count; i += 256u) {
    sum += X[i];
  }
  scratch[lid.x] = sum;
  reduce_scratch(lid.x);
  if (lid.x == 0u) {
    out[0] = scratch[0];
    out[1] = sqrt(scratch[0]);
  }
}
#endif
