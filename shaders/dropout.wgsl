// Inverted dropout by a counter-based hash, the rule of src/model/layers/dropout.ts bit for
// bit: unit u of example n is kept iff hash(seed, position[n], ordinal, u) ≥ threshold, and a
// kept unit is scaled by 1/(1 − p). Only u32 multiplies (mod 2³², as Math.imul), xors, shifts
// and adds, so every backend draws the same mask. The backward is the same kernel on dy:
// dx = dy ⊙ m/(1 − p), the mask recomputed rather than stored.
// randomness = [seed, position of example 0, position of example 1, …].

struct Params { rows: u32, features: u32, ordinal: u32, threshold: u32, scale: f32, pad0: u32, pad1: u32, pad2: u32 }

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> randomness: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;

const GOLDEN = 0x9e3779b9u;

// splitmix32's finaliser (mix32 in dropout.ts).
fn mix32(v: u32) -> u32 {
  var z = (v ^ (v >> 16u)) * 0x21f0aaadu;
  z = (z ^ (z >> 15u)) * 0x735a2d97u;
  return z ^ (z >> 15u);
}

fn dropout_hash(seed: u32, position: u32, layer: u32, unit: u32) -> u32 {
  var h = mix32(seed + GOLDEN);
  h = mix32((h ^ position) + GOLDEN);
  h = mix32((h ^ layer) + GOLDEN);
  return mix32((h ^ unit) + GOLDEN);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.y * groups.x * 64u + gid.x;
  if (i >= params.rows * params.features) {
    return;
  }
  let row = i / params.features;
  let unit = i % params.features;
  let keep = dropout_hash(randomness[0], randomness[1u + row], params.ordinal, unit) >= params.threshold;
  Y[i] = select(0.0, X[i] * params.scale, keep);
}
