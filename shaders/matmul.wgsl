// Register-tiled matrix multiply C[M×N] = op(A)·op(B), with a fused epilogue
// (bias, pre-activation store, ReLU/GELU). Three layouts, no transpose ever materialised:
//   nn: A is M×K, B is K×N     forward        H·W
//   nt: A is M×K, B is N×K     backward       dX = dZ·Wᵀ
//   tn: A is K×M, B is K×N     backward       dW = Xᵀ·dZ
// Each invocation computes a TM × (4·VN) block of C held in named registers.
// SHARED: a W×W workgroup stages A and B tiles of depth 4·W in workgroup memory (the usual
// GPU schedule). Without it each invocation reads its blocks straight from storage, which
// is faster where barriers are costly and caches do the staging (SwiftShader, CPUs).
// Every version sums over k in the same order, four k at a time.
//
// Template values: A_TRANS, B_TRANS (layout); A_VEC4, B_VEC4, C_VEC4 (the storage-
// contiguous extent is a multiple of 4, so vec4 accesses are aligned); TM, TM4 = TM/4, VN,
// TN = 4·VN; WG_X, WG_Y; SHARED; BIAS, ACT_RELU, ACT_GELU, PREACT; BIAS_BINDING,
// PREACT_BINDING.

struct Dims { M: u32, N: u32, K: u32, pad: u32 }

#if A_VEC4
@group(0) @binding(0) var<storage, read> A: array<vec4f>;
#else
@group(0) @binding(0) var<storage, read> A: array<f32>;
#endif
#if B_VEC4
@group(0) @binding(1) var<storage, read> B: array<vec4f>;
#else
@group(0) @binding(1) var<storage, read> B: array<f32>;
#endif
@group(0) @binding(2) var<uniform> dims: Dims;
#if C_VEC4
@group(0) @binding(3) var<storage, read_write> C: array<vec4f>;
#else
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
#endif
#if BIAS
@group(0) @binding(${BIAS_BINDING}) var<storage, read> bias: array<f32>;
#endif
#if PREACT
#if C_VEC4
@group(0) @binding(${PREACT_BINDING}) var<storage, read_write> Z: array<vec4f>;
#else
@group(0) @binding(${PREACT_BINDING}) var<storage, read_write> Z: array<f32>;
#endif
#endif

// Four consecutive elements of A along its storage-contiguous dimension, starting at
// A(row, k): along k when A is M×K, along rows when A is K×M. Zero outside the matrix.
// The unaligned path is a short guarded loop, not four select()s: with select()s in both
// loaders SwiftShader's compiler took 74 s for one pipeline (a loop: 45 ms).
fn loadA4(row: u32, k: u32) -> vec4f {
#if A_TRANS
  let start = k * dims.M + row;
  let inside = k < dims.K;
  let along = row;
  let extent = dims.M;
#else
  let start = row * dims.K + k;
  let inside = row < dims.M;
  let along = k;
  let extent = dims.K;
#endif
#if A_VEC4
  // extent and along are multiples of 4: the four elements are all inside or all outside.
  return select(vec4f(0.0), A[start / 4u], inside && along < extent);
#else
  var v = vec4f(0.0);
  if (inside) {
    let n = min(extent - min(along, extent), 4u);
    for (var e = 0u; e < n; e++) {
      v[e] = A[start + e];
    }
  }
  return v;
#endif
}

// Four consecutive elements of B along its storage-contiguous dimension, starting at
// B(k, col): along columns when B is K×N, along k when B is N×K.
fn loadB4(k: u32, col: u32) -> vec4f {
#if B_TRANS
  let start = col * dims.K + k;
  let inside = col < dims.N;
  let along = k;
  let extent = dims.K;
#else
  let start = k * dims.N + col;
  let inside = k < dims.K;
  let along = col;
  let extent = dims.N;
#endif
#if B_VEC4
  return select(vec4f(0.0), B[start / 4u], inside && along < extent);
#else
  var v = vec4f(0.0);
  if (inside) {
    let n = min(extent - min(along, extent), 4u);
    for (var e = 0u; e < n; e++) {
      v[e] = B[start + e];
    }
  }
  return v;
#endif
}

// A block: for each of the TM rows, A(row, k..k+3).
struct ABlock {
#for r in TM
  r${r}: vec4f,
#endfor
}

// B block: for each of k..k+3, VN vec4s of B(k, col..col+4·VN-1).
struct BBlock {
#for j in 4
#for v in VN
  k${j}_${v}: vec4f,
#endfor
#endfor
}

fn loadABlock(row0: u32, k: u32) -> ABlock {
  var a: ABlock;
#if A_TRANS
  // A is K×M: read four rows at once for each k, then transpose in registers.
#for q in TM4
#for j in 4
  let t${j}_${q} = loadA4(row0 + ${4 * q}u, k + ${j}u);
#endfor
#for i in 4
  a.r${4 * q + i} = vec4f(t0_${q}[${i}], t1_${q}[${i}], t2_${q}[${i}], t3_${q}[${i}]);
#endfor
#endfor
#else
#for r in TM
  a.r${r} = loadA4(row0 + ${r}u, k);
#endfor
#endif
  return a;
}

fn loadBBlock(k: u32, col0: u32) -> BBlock {
  var b: BBlock;
#if B_TRANS
  // B is N×K: read four k at once for each column, then transpose in registers.
#for c in TN
  let u${c} = loadB4(k, col0 + ${c}u);
#endfor
#for j in 4
#for v in VN
  b.k${j}_${v} = vec4f(u${4 * v}[${j}], u${4 * v + 1}[${j}], u${4 * v + 2}[${j}], u${4 * v + 3}[${j}]);
#endfor
#endfor
#else
#for j in 4
#for v in VN
  b.k${j}_${v} = loadB4(k + ${j}u, col0 + ${4 * v}u);
#endfor
#endfor
#endif
  return b;
}

fn activate(z: vec4f) -> vec4f {
#if ACT_RELU
  return max(z, vec4f(0.0));
#else
#if ACT_GELU
  return gelu(z);
#else
  return z;
#endif
#endif
}

// Epilogue for one vec4 of C at (row, col..col+3): bias, pre-activation, activation.
fn storeC(row: u32, col: u32, acc: vec4f) {
  if (row >= dims.M || col >= dims.N) {
    return;
  }
  var z = acc;
#if BIAS
  z += vec4f(
    select(0.0, bias[col], col < dims.N),
    select(0.0, bias[col + 1u], col + 1u < dims.N),
    select(0.0, bias[col + 2u], col + 2u < dims.N),
    select(0.0, bias[col + 3u], col + 3u < dims.N));
#endif
  let h = activate(z);
  let i = row * dims.N + col;
#if C_VEC4
  C[i / 4u] = h;
#if PREACT
  Z[i / 4u] = z;
#endif
#else
  for (var e = 0u; e < 4u; e++) {
    if (col + e < dims.N) {
      C[i + e] = h[e];
#if PREACT
      Z[i + e] = z[e];
#endif
    }
  }
#endif
}

#if SHARED
// A tile: WG_Y·TM rows × WG_X vec4s of k. B tile: 4·WG_Y rows of k × WG_X·VN vec4s of columns.
var<workgroup> tileA: array<vec4f, ${WG_Y * TM * WG_X}>;
var<workgroup> tileB: array<vec4f, ${4 * WG_Y * WG_X * VN}>;
#endif

@compute @workgroup_size(${WG_X}, ${WG_Y})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let row0 = (wg.y * ${WG_Y}u + lid.y) * ${TM}u;
  let col0 = (wg.x * ${WG_X}u + lid.x) * ${TN}u;
#for r in TM
#for v in VN
  var acc${r}_${v} = vec4f(0.0);
#endfor
#endfor
#if SHARED
  // The tile depth is 4·WG_X = 4·WG_Y: invocation (x, y) stages its own rows of A at
  // k = kt + 4x and its own columns of B at k = kt + 4y.
  for (var kt = 0u; kt < dims.K; kt += ${4 * WG_X}u) {
    let sa = loadABlock(row0, kt + 4u * lid.x);
#for r in TM
    tileA[(lid.y * ${TM}u + ${r}u) * ${WG_X}u + lid.x] = sa.r${r};
#endfor
    let sb = loadBBlock(kt + 4u * lid.y, col0);
#for j in 4
#for v in VN
    tileB[(4u * lid.y + ${j}u) * ${WG_X * VN}u + lid.x * ${VN}u + ${v}u] = sb.k${j}_${v};
#endfor
#endfor
    workgroupBarrier();
    for (var kk = 0u; kk < ${WG_X}u; kk++) {
      var a: ABlock;
#for r in TM
      a.r${r} = tileA[(lid.y * ${TM}u + ${r}u) * ${WG_X}u + kk];
#endfor
      var b: BBlock;
#for j in 4
#for v in VN
      b.k${j}_${v} = tileB[(4u * kk + ${j}u) * ${WG_X * VN}u + lid.x * ${VN}u + ${v}u];
#endfor
#endfor
#for r in TM
#for v in VN
      acc${r}_${v} += a.r${r}.x * b.k0_${v} + a.r${r}.y * b.k1_${v} + a.r${r}.z * b.k2_${v} + a.r${r}.w * b.k3_${v};
#endfor
#endfor
    }
    workgroupBarrier();
  }
#else
  for (var k = 0u; k < dims.K; k += 4u) {
    let a = loadABlock(row0, k);
    let b = loadBBlock(k, col0);
#for r in TM
#for v in VN
    acc${r}_${v} += a.r${r}.x * b.k0_${v} + a.r${r}.y * b.k1_${v} + a.r${r}.z * b.k2_${v} + a.r${r}.w * b.k3_${v};
#endfor
#endfor
  }
#endif
#for r in TM
#for v in VN
  storeC(row0 + ${r}u, col0 + ${4 * v}u, acc${r}_${v});
#endfor
#endfor
}
