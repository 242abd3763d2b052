// 2-D pooling over NCHW activations, no padding (as src/model/layers/spec.ts resolves it):
// windows kH×kW every sH×sW, outH = ⌊(H − kH)/sH⌋ + 1. One invocation per output in the
// forwards, one per input in the backwards, which gather from the outputs whose window
// holds them (oy in [⌈(iy − kH + 1)/sH⌉, ⌊iy/sH⌋]): no atomics, a fixed order (oy, ox
// ascending), so overlapping windows (stride < kernel) are summed deterministically.
//   MAXPOOL_FORWARD   Y = max over the window; argmax = the flat input index of the first
//                     maximum in (ky, kx) order (PyTorch's tie rule, the reference's)
//   MAXPOOL_BACKWARD  dX[i] = Σ dY[o] over the covering o with argmax[o] = i
//   AVGPOOL_FORWARD   Y = Σ window / (kH·kW)
//   AVGPOOL_BACKWARD  dX[i] = Σ dY[o] / (kH·kW) over the covering o
// Template values: MAXPOOL_FORWARD, MAXPOOL_BACKWARD, AVGPOOL_FORWARD, AVGPOOL_BACKWARD
// (exactly one set).

struct Pool {
  planes: u32, inH: u32, inW: u32, outH: u32,
  outW: u32, kH: u32, kW: u32, strideH: u32,
  strideW: u32, pad0: u32, pad1: u32, pad2: u32,
}

fn flatIndex(gid: vec3u, groups: vec3u) -> u32 {
  return gid.y * groups.x * 64u + gid.x;
}

// The outputs whose window covers input row (or column) i: [lo, hi], empty when lo > hi.
fn covering(i: u32, k: u32, s: u32, outN: u32) -> vec2u {
  let lo = select(0u, (i + s - k) / s, i + 1u >= k);
  let hi = min(i / s, outN - 1u);
  return vec2u(lo, hi);
}

#if MAXPOOL_FORWARD
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<uniform> pool: Pool;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<storage, read_write> argmax: array<u32>;
#endif
#if AVGPOOL_FORWARD
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<uniform> pool: Pool;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
#endif

#if MAXPOOL_BACKWARD
@group(0) @binding(0) var<storage, read> dY: array<f32>;
@group(0) @binding(1) var<storage, read> argmax: array<u32>;
@group(0) @binding(2) var<uniform> pool: Pool;
@group(0) @binding(3) var<storage, read_write> dX: array<f32>;
#endif
#if AVGPOOL_BACKWARD
@group(0) @binding(0) var<storage, read> dY: array<f32>;
@group(0) @binding(1) var<uniform> pool: Pool;
@group(0) @binding(2) var<storage, read_write> dX: array<f32>;
#endif

#if MAXPOOL_FORWARD
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let t = flatIndex(gid, groups);
  let outHW = pool.outH * pool.outW;
  if (t >= pool.planes * outHW) {
    return;
  }
  let o = t % outHW;
  let corner = (t / outHW) * pool.inH * pool.inW + (o / pool.outW) * pool.strideH * pool.inW + (o % pool.outW) * pool.strideW;
  var best = X[corner];
  var at = corner;
  for (var ky = 0u; ky < pool.kH; ky++) {
    for (var kx = 0u; kx < pool.kW; kx++) {
      let i = corner + ky * pool.inW + kx;
      let v = X[i];
      if (v > best) {
        best = v;
        at = i;
      }
    }
  }
  Y[t] = best;
  argmax[t] = at;
}
#endif

#if AVGPOOL_FORWARD
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let t = flatIndex(gid, groups);
  let outHW = pool.outH * pool.outW;
  if (t >= pool.planes * outHW) {
    return;
  }
  let o = t % outHW;
  let corner = (t / outHW) * pool.inH * pool.inW + (o / pool.outW) * pool.strideH * pool.inW + (o % pool.outW) * pool.strideW;
  var sum = 0.0;
  for (var ky = 0u; ky < pool.kH; ky++) {
    for (var kx = 0u; kx < pool.kW; kx++) {
      sum += X[corner + ky * pool.inW + kx];
    }
  }
  Y[t] = sum / f32(pool.kH * pool.kW);
}
#endif

#if MAXPOOL_BACKWARD
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flatIndex(gid, groups);
  let inHW = pool.inH * pool.inW;
  if (i >= pool.planes * inHW) {
    return;
  }
  let outHW = pool.outH * pool.outW;
  let plane = (i / inHW) * outHW;
  let ys = covering((i % inHW) / pool.inW, pool.kH, pool.strideH, pool.outH);
  let xs = covering(i % pool.inW, pool.kW, pool.strideW, pool.outW);
  var sum = 0.0;
  for (var oy = ys.x; oy <= ys.y; oy++) {
    for (var ox = xs.x; ox <= xs.y; ox++) {
      let o = plane + oy * pool.outW + ox;
      if (argmax[o] == i) {
        sum += dY[o];
      }
    }
  }
  dX[i] = sum;
}
#endif

#if AVGPOOL_BACKWARD
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = flatIndex(gid, groups);
  let inHW = pool.inH * pool.inW;
  if (i >= pool.planes * inHW) {
    return;
  }
  let outHW = pool.outH * pool.outW;
  let plane = (i / inHW) * outHW;
  let ys = covering((i % inHW) / pool.inW, pool.kH, pool.strideH, pool.outH);
  let xs = covering(i % pool.inW, pool.kW, pool.strideW, pool.outW);
  let area = f32(pool.kH * pool.kW);
  var sum = 0.0;
  for (var oy = ys.x; oy <= ys.y; oy++) {
    for (var ox = xs.x; ox <= xs.y; ox++) {
      sum += dY[plane + oy * pool.outW + ox] / area;
    }
  }
  dX[i] = sum;
}
#endif
