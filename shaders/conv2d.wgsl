// Conv2d, NCHW, any batch, kernel, stride and padding, as implicit GEMM: the im2col matrix
// is never written; each invocation computes a register block of the matmul
// patches·W and finds its patch values by index maths. Weights are [inC·kH·kW × outC], row
// k = (ci·kH + ky)·kW + kx (src/model/layers/spec.ts). Four entries:
//   FORWARD          Y[n,co,o] = b[co] + Σ_k W[k,co]·x[n, patch(o, k)]
//                    TC output channels × 4 output pixels per invocation; k in order.
//   BACKWARD_INPUT   dX[n,ci,i] = Σ_{ky,kx} Σ_co W[(ci,ky,kx),co]·dY[n,co,o] over the o whose
//                    window puts tap (ky,kx) on i; TC input channels × 4 pixels; a gather,
//                    so no atomics: each dX element is one invocation's sum, (ky,kx,co) in order.
//   WEIGHT_PARTIAL   partial[g][k][co] = Σ_{r in chunk g} patch[r][k]·dY[r][co], r = (n, o), for
//                    k ≤ K where row K is the bias's (patch value 1); 4 k × 4 co per invocation.
//   WEIGHT_FINAL     dW[k,co] = Σ_g partial[g][k][co] in g order (k = K: db[co]).
// The split over chunks (a fixed number of rows each, set by the shape only) keeps the
// weight gradient parallel with a fixed summation order: no float atomics, bit-identical
// repeats, and the same order on every device.
//
// Why implicit GEMM rather than im2col + matmul.wgsl: measured faster on both small CNN
// shapes (2026-12-02, SwiftShader in headless Chromium, 2 cores shared with other jobs at
// load ~20, so best of 5 and the two versions interleaved; batch 32; im2col with the best
// of three matmul configurations per pass: 4x4/4x8 direct, 4x8 shared):
//                          forward             forward + dX + dW + db
//   1→8 ch 28×28 k3 p1:   implicit 13–30 ms   implicit  48–54 ms
//                         im2col   60–62 ms   im2col   202–251 ms   (dW alone: 10 vs 132 ms)
//   8→16 ch 14×14 k3 p1:  implicit 36–42 ms   implicit  92–100 ms
//                         im2col   45–47 ms   im2col   123 ms       (dW alone: 33–39 vs 35 ms)
// im2col writes and rereads K = inC·kH·kW values per output pixel (9× the input for 3×3),
// its matmul leaves rows in NHWC order so NCHW costs a permute each way, dX needs a col2im
// gather after the dY·Wᵀ matmul, and dW as one K × R × outC matmul (R = batch·outH·outW,
// 25,088 here) sums all R rows on a handful of invocations. Implicit GEMM reads the input
// in place and splits dW's R rows into chunks. The im2col harness was a throwaway test.
// Template values: FORWARD, BACKWARD_INPUT, WEIGHT_PARTIAL, WEIGHT_FINAL (exactly one set);
// TC (output channels per invocation in FORWARD, input channels in BACKWARD_INPUT).

struct Conv {
  batch: u32, inC: u32, inH: u32, inW: u32,
  outC: u32, outH: u32, outW: u32, kH: u32,
  kW: u32, strideH: u32, strideW: u32, padH: u32,
  padW: u32, chunk: u32, chunks: u32, pad: u32,
}

// The 64-wide 1-D invocation index, folded over two dimensions past the per-dimension limit.
fn flatIndex(gid: vec3u, groups: vec3u) -> u32 {
  return gid.y * groups.x * 64u + gid.x;
}

#if FORWARD
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> Wt: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<uniform> conv: Conv;
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  // Pixel blocks vary fastest, so a workgroup shares its weights and reads neighbouring inputs.
  let t = flatIndex(gid, groups);
  let outHW = conv.outH * conv.outW;
  let pixelBlocks = (outHW + 3u) / 4u;
  let coBlocks = (conv.outC + ${TC - 1}u) / ${TC}u;
  if (t >= pixelBlocks * conv.batch * coBlocks) {
    return;
  }
  let p0 = (t % pixelBlocks) * 4u;
  let n = (t / pixelBlocks) % conv.batch;
  let co0 = (t / pixelBlocks / conv.batch) * ${TC}u;
  let H = i32(conv.inH);
  let W = i32(conv.inW);
  // Top-left input position of each pixel's window (a pixel past the end computes garbage
  // from in-bounds reads and is not stored).
#for j in 4
  let wy${j} = i32((p0 + ${j}u) / conv.outW) * i32(conv.strideH) - i32(conv.padH);
  let wx${j} = i32((p0 + ${j}u) % conv.outW) * i32(conv.strideW) - i32(conv.padW);
#endfor
#for c in TC
  var acc${c} = vec4f(0.0);
#endfor
  let lastW = conv.inC * conv.kH * conv.kW * conv.outC - 1u;
  var k = 0u;
  for (var ci = 0u; ci < conv.inC; ci++) {
    let plane = i32((n * conv.inC + ci) * conv.inH * conv.inW);
    for (var ky = 0; ky < i32(conv.kH); ky++) {
#for j in 4
      let iy${j} = wy${j} + ky;
      let rowIn${j} = iy${j} >= 0 && iy${j} < H;
      let row${j} = plane + iy${j} * W;
#endfor
      for (var kx = 0; kx < i32(conv.kW); kx++) {
        var xv = vec4f(0.0);
#for j in 4
        let ix${j} = wx${j} + kx;
        if (rowIn${j} && ix${j} >= 0 && ix${j} < W) {
          xv[${j}] = X[row${j} + ix${j}];
        }
#endfor
        let w0 = k * conv.outC + co0;
#for c in TC
        acc${c} += Wt[min(w0 + ${c}u, lastW)] * xv;
#endfor
        k++;
      }
    }
  }
#for c in TC
  if (co0 + ${c}u < conv.outC) {
    let b = bias[co0 + ${c}u];
    let base = (n * conv.outC + co0 + ${c}u) * outHW + p0;
    for (var j = 0u; j < 4u; j++) {
      if (p0 + j < outHW) {
        Y[base + j] = acc${c}[j] + b;
      }
    }
  }
#endfor
}
#endif

#if BACKWARD_INPUT
@group(0) @binding(0) var<storage, read> dY: array<f32>;
@group(0) @binding(1) var<storage, read> Wt: array<f32>;
@group(0) @binding(2) var<uniform> conv: Conv;
@group(0) @binding(3) var<storage, read_write> dX: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let t = flatIndex(gid, groups);
  let inHW = conv.inH * conv.inW;
  let outHW = conv.outH * conv.outW;
  let pixelBlocks = (inHW + 3u) / 4u;
  let ciBlocks = (conv.inC + ${TC - 1}u) / ${TC}u;
  if (t >= pixelBlocks * conv.batch * ciBlocks) {
    return;
  }
  let p0 = (t % pixelBlocks) * 4u;
  let n = (t / pixelBlocks) % conv.batch;
  let ci0 = (t / pixelBlocks / conv.batch) * ${TC}u;
  let sH = i32(conv.strideH);
  let sW = i32(conv.strideW);
  let OH = i32(conv.outH);
  let OW = i32(conv.outW);
  // Output o sees input i through tap k when o·s + k − p = i, i.e. o = (i + p − k)/s exactly.
#for j in 4
  let py${j} = i32((p0 + ${j}u) / conv.inW) + i32(conv.padH);
  let px${j} = i32((p0 + ${j}u) % conv.inW) + i32(conv.padW);
#endfor
#for c in TC
  var acc${c} = vec4f(0.0);
#endfor
  let lastW = conv.inC * conv.kH * conv.kW * conv.outC - 1u;
  let tapStride = conv.kH * conv.kW * conv.outC;
  let dyBase = n * conv.outC * outHW;
  for (var ky = 0; ky < i32(conv.kH); ky++) {
#for j in 4
    let ty${j} = py${j} - ky;
    let oy${j} = ty${j} / sH;
    let rowOk${j} = ty${j} >= 0 && ty${j} % sH == 0 && oy${j} < OH;
#endfor
    for (var kx = 0; kx < i32(conv.kW); kx++) {
#for j in 4
      let tx${j} = px${j} - kx;
      let ox${j} = tx${j} / sW;
      let ok${j} = rowOk${j} && tx${j} >= 0 && tx${j} % sW == 0 && ox${j} < OW;
      let o${j} = u32(select(0, oy${j} * OW + ox${j}, ok${j}));
#endfor
      // With stride > 1 most taps reach no output for any of the four pixels.
      if (ok0 || ok1 || ok2 || ok3) {
        let w0 = u32(ky * i32(conv.kW) + kx) * conv.outC;
        for (var co = 0u; co < conv.outC; co++) {
          let plane = dyBase + co * outHW;
          var dyv = vec4f(0.0);
#for j in 4
          if (ok${j}) {
            dyv[${j}] = dY[plane + o${j}];
          }
#endfor
#for c in TC
          acc${c} += Wt[min((ci0 + ${c}u) * tapStride + w0 + co, lastW)] * dyv;
#endfor
        }
      }
    }
  }
#for c in TC
  if (ci0 + ${c}u < conv.inC) {
    let base = (n * conv.inC + ci0 + ${c}u) * inHW + p0;
    for (var j = 0u; j < 4u; j++) {
      if (p0 + j < inHW) {
        dX[base + j] = acc${c}[j];
      }
    }
  }
#endfor
}
#endif

#if WEIGHT_PARTIAL
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> dY: array<f32>;
@group(0) @binding(2) var<uniform> conv: Conv;
// [chunks][K + 1][outC]
@group(0) @binding(3) var<storage, read_write> partial: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let t = flatIndex(gid, groups);
  let taps = conv.kH * conv.kW;
  let K = conv.inC * taps;
  let kBlocks = (K + 4u) / 4u;
  let coBlocks = (conv.outC + 3u) / 4u;
  if (t >= kBlocks * coBlocks * conv.chunks) {
    return;
  }
  let k0 = (t % kBlocks) * 4u;
  let co0 = ((t / kBlocks) % coBlocks) * 4u;
  let g = t / kBlocks / coBlocks;
  let inHW = conv.inH * conv.inW;
  let outHW = conv.outH * conv.outW;
  let H = i32(conv.inH);
  let W = i32(conv.inW);
  // Each of the four rows k: its input plane and its offset from the window's corner; the
  // bias row K reads a constant 1, rows past it 0.
#for j in 4
  let kk${j} = min(k0 + ${j}u, K - 1u);
  let plane${j} = (kk${j} / taps) * inHW;
  let dy${j} = i32((kk${j} % taps) / conv.kW) - i32(conv.padH);
  let dx${j} = i32(kk${j} % conv.kW) - i32(conv.padW);
  let isBias${j} = k0 + ${j}u == K;
  let isTap${j} = k0 + ${j}u < K;
#endfor
  let lastDy = conv.batch * conv.outC * outHW - 1u;
  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);
  let r0 = g * conv.chunk;
  let r1 = min(r0 + conv.chunk, conv.batch * outHW);
  // Row r = (n, oy, ox), walked with counters instead of a division per row.
  var n = r0 / outHW;
  var oy = (r0 % outHW) / conv.outW;
  var ox = r0 % conv.outW;
  for (var r = r0; r < r1; r++) {
    let dyAt = (n * conv.outC + co0) * outHW + oy * conv.outW + ox;
    let dyv = vec4f(
      dY[min(dyAt, lastDy)], dY[min(dyAt + outHW, lastDy)],
      dY[min(dyAt + 2u * outHW, lastDy)], dY[min(dyAt + 3u * outHW, lastDy)]);
    let image = n * conv.inC * inHW;
    let wy = i32(oy * conv.strideH);
    let wx = i32(ox * conv.strideW);
#for j in 4
    var x${j} = select(0.0, 1.0, isBias${j});
    let iy${j} = wy + dy${j};
    let ix${j} = wx + dx${j};
    if (isTap${j} && iy${j} >= 0 && iy${j} < H && ix${j} >= 0 && ix${j} < W) {
      x${j} = X[image + plane${j} + u32(iy${j} * W + ix${j})];
    }
    acc${j} += x${j} * dyv;
#endfor
    ox++;
    if (ox == conv.outW) {
      ox = 0u;
      oy++;
      if (oy == conv.outH) {
        oy = 0u;
        n++;
      }
    }
  }
  let rowsOut = K + 1u;
#for j in 4
  if (k0 + ${j}u < rowsOut) {
    let base = (g * rowsOut + k0 + ${j}u) * conv.outC + co0;
    for (var c = 0u; c < 4u; c++) {
      if (co0 + c < conv.outC) {
        partial[base + c] = acc${j}[c];
      }
    }
  }
#endfor
}
#endif

#if WEIGHT_FINAL
@group(0) @binding(0) var<storage, read> partial: array<f32>;
@group(0) @binding(1) var<uniform> conv: Conv;
@group(0) @binding(2) var<storage, read_write> dW: array<f32>;
@group(0) @binding(3) var<storage, read_write> db: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let t = flatIndex(gid, groups);
  let K = conv.inC * conv.kH * conv.kW;
  let outputs = (K + 1u) * conv.outC;
  if (t >= outputs) {
    return;
  }
  var sum = 0.0;
  for (var g = 0u; g < conv.chunks; g++) {
    sum += partial[g * outputs + t];
  }
  if (t < K * conv.outC) {
    dW[t] = sum;
  } else {
    db[t - K * conv.outC] = sum;
  }
}
#endif
