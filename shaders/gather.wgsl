// Builds a micro-batch on the GPU from the resident dataset: X[r][f] = image[idx[r]][f] / 255
// and Y[r] = label[idx[r]]; for token windows (TOKENS) X[r][f] = the token id as it is and
// Y[r][p] = label[idx[r]][p], a label per position (labelsPer of them). Bytes are packed four
// to a u32 word, so the whole training set is uploaded once and a micro-batch costs only its
// index list. Template value: TOKENS.

struct Params { rows: u32, features: u32, examples: u32, labelsPer: u32 }

@group(0) @binding(0) var<storage, read> images: array<u32>;
@group(0) @binding(1) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<storage, read> indices: array<u32>;
@group(0) @binding(3) var<uniform> params: Params;
@group(0) @binding(4) var<storage, read_write> X: array<f32>;
@group(0) @binding(5) var<storage, read_write> Y: array<u32>;

fn byte_at(word: u32, byteIndex: u32) -> u32 {
  return (word >> ((byteIndex % 4u) * 8u)) & 0xffu;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.y * groups.x * 64u + gid.x;
  if (i >= params.rows * params.features) {
    return;
  }
  let row = i / params.features;
  let f = i % params.features;
  // Indices were validated on the host; the clamp only keeps a bad one from reading afar.
  let example = min(indices[row], params.examples - 1u);
  let b = example * params.features + f;
#if TOKENS
  X[i] = f32(byte_at(images[b / 4u], b));
#else
  X[i] = f32(byte_at(images[b / 4u], b)) / 255.0;
#endif
  // The first labelsPer invocations of a row copy its labels (labelsPer ≤ features).
  if (f < params.labelsPer) {
    let l = example * params.labelsPer + f;
    Y[row * params.labelsPer + f] = byte_at(labels[l / 4u], l);
  }
}
