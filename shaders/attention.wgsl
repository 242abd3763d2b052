// The core of causal multi-head self-attention, after the qkv projection and before the output
// projection (src/model/gpuLayers.ts wraps it in matmuls). QKV holds each position's row
// [q | k | v], C = H·d wide each; head h reads columns h·d … h·d + d − 1 of every part.
//   FORWARD        per (example, head, position i): S_ij = q_i·k_j/√d for j ≤ i, P_i = softmax(S_i)
//                  (P_ij = 0 above the diagonal, written so the buffer is whole); o_i = Σ_j P_ij·v_j.
//   BACKWARD_ROWS  per (example, head, i): dP_ij = do_i·v_j; dS_ij = P_ij·(dP_ij − Σ_j dP_ij·P_ij)/√d
//                  (saved for the next kernel); dq_i = Σ_{j ≤ i} dS_ij·k_j.
//   BACKWARD_KEYS  per (example, head, j): dk_j = Σ_{i ≥ j} dS_ij·q_i, dv_j = Σ_{i ≥ j} P_ij·do_i.
// One invocation owns each output and sums in index order: no atomics, repeats bit-identical.
// Template values: FORWARD, BACKWARD_ROWS, BACKWARD_KEYS (exactly one set).

struct Shape { batch: u32, context: u32, features: u32, heads: u32, headSize: u32, scale: f32, pad0: u32, pad1: u32 }

#if FORWARD
@group(0) @binding(0) var<storage, read> QKV: array<f32>;
@group(0) @binding(1) var<uniform> shape: Shape;
@group(0) @binding(2) var<storage, read_write> P: array<f32>;
@group(0) @binding(3) var<storage, read_write> O: array<f32>;
#endif
#if BACKWARD_ROWS
@group(0) @binding(0) var<storage, read> QKV: array<f32>;
@group(0) @binding(1) var<storage, read> P: array<f32>;
@group(0) @binding(2) var<storage, read> dO: array<f32>;
@group(0) @binding(3) var<uniform> shape: Shape;
@group(0) @binding(4) var<storage, read_write> dS: array<f32>;
@group(0) @binding(5) var<storage, read_write> dQKV: array<f32>;
#endif
#if BACKWARD_KEYS
@group(0) @binding(0) var<storage, read> QKV: array<f32>;
@group(0) @binding(1) var<storage, read> P: array<f32>;
@group(0) @binding(2) var<storage, read> dO: array<f32>;
@group(0) @binding(3) var<storage, read> dS: array<f32>;
@group(0) @binding(4) var<uniform> shape: Shape;
@group(0) @binding(5) var<storage, read_write> dQKV: array<f32>;
#endif

// Where column k of head h's part (0 q, 1 k, 2 v) of position t of example n sits in QKV.
fn qkvAt(n: u32, t: u32, part: u32, h: u32, k: u32) -> u32 {
  let C = shape.features;
  return (n * shape.context + t) * 3u * C + part * C + h * shape.headSize + k;
}

// Column k of head h of position t of example n in a [batch·T, C] buffer (O, dO).
fn rowAt(n: u32, t: u32, h: u32, k: u32) -> u32 {
  return (n * shape.context + t) * shape.features + h * shape.headSize + k;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let g = gid.y * groups.x * 64u + gid.x;
  let T = shape.context;
  if (g >= shape.batch * shape.heads * T) {
    return;
  }
  // g = (n·H + h)·T + t: the invocation's example, head and position.
  let t = g % T;
  let h = (g / T) % shape.heads;
  let n = g / (T * shape.heads);
  let d = shape.headSize;
  let square = (n * shape.heads + h) * T * T;
#if FORWARD
  let i = t;
  let row = square + i * T;
  var best = bitcast<f32>(0xff7fffffu); // the lowest finite f32
  for (var j = 0u; j <= i; j++) {
    var s = 0.0;
    for (var k = 0u; k < d; k++) {
      s += QKV[qkvAt(n, i, 0u, h, k)] * QKV[qkvAt(n, j, 1u, h, k)];
    }
    s *= shape.scale;
    P[row + j] = s;
    best = max(best, s);
  }
  var sum = 0.0;
  for (var j = 0u; j <= i; j++) {
    let e = exp(P[row + j] - best);
    P[row + j] = e;
    sum += e;
  }
  for (var j = 0u; j <= i; j++) {
    P[row + j] = P[row + j] / sum;
  }
  for (var j = i + 1u; j < T; j++) {
    P[row + j] = 0.0;
  }
  for (var k = 0u; k < d; k++) {
    var acc = 0.0;
    for (var j = 0u; j <= i; j++) {
      acc += P[row + j] * QKV[qkvAt(n, j, 2u, h, k)];
    }
    O[rowAt(n, i, h, k)] = acc;
  }
#endif
#if BACKWARD_ROWS
  let i = t;
  let row = square + i * T;
  // dP first (kept in dS), and Σ_j dP_ij·P_ij.
  var rowDot = 0.0;
  for (var j = 0u; j <= i; j++) {
    var dp = 0.0;
    for (var k = 0u; k < d; k++) {
      dp += dO[rowAt(n, i, h, k)] * QKV[qkvAt(n, j, 2u, h, k)];
    }
    dS[row + j] = dp;
    rowDot += dp * P[row + j];
  }
  for (var j = 0u; j <= i; j++) {
    dS[row + j] = P[row + j] * (dS[row + j] - rowDot) * shape.scale;
  }
  for (var j = i + 1u; j < T; j++) {
    dS[row + j] = 0.0;
  }
  for (var k = 0u; k < d; k++) {
    var acc = 0.0;
    for (var j = 0u; j <= i; j++) {
      acc += dS[row + j] * QKV[qkvAt(n, j, 1u, h, k)];
    }
    dQKV[qkvAt(n, i, 0u, h, k)] = acc;
  }
#endif
#if BACKWARD_KEYS
  let j = t;
  for (var k = 0u; k < d; k++) {
    var dk = 0.0;
    var dv = 0.0;
    for (var i = j; i < T; i++) {
      let s = square + i * T + j;
      dk += dS[s] * QKV[qkvAt(n, i, 0u, h, k)];
      dv += P[s] * dO[rowAt(n, i, h, k)];
    }
    dQKV[qkvAt(n, j, 1u, h, k)] = dk;
    dQKV[qkvAt(n, j, 2u, h, k)] = dv;
  }
#endif
}
