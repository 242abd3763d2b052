// Fused softmax + cross-entropy, forward and backward in one pass, one invocation per row:
//   p = softmax(logits[i]);  loss_i = −log p[label_i]
//   dlogits[i] = (p − onehot(label_i)) · scale      (scale = 1/rows: gradient of the mean;
//                the label's entry as −Σ of the others' p, see below)
//   correct_i = 1 if the first maximal logit is the label, else 0
// Stable: the row maximum is subtracted before exp, and −log p = log Σ e^(x−max) − (x_label − max).

struct Params { rows: u32, classes: u32, scale: f32, pad: u32 }

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;
@group(0) @binding(3) var<storage, read_write> dlogits: array<f32>;
// Per row: (loss, correct).
@group(0) @binding(4) var<storage, read_write> rowStats: array<vec2f>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let row = gid.x;
  if (row >= params.rows) {
    return;
  }
  let base = row * params.classes;
  let label = labels[row];
  var maxLogit = logits[base];
  var argmax = 0u;
  for (var c = 1u; c < params.classes; c++) {
    let x = logits[base + c];
    if (x > maxLogit) {
      maxLogit = x;
      argmax = c;
    }
  }
  var sumExp = 0.0;
  for (var c = 0u; c < params.classes; c++) {
    sumExp += exp(logits[base + c] - maxLogit);
  }
  let logSumExp = log(sumExp);
  // The label's p − 1 is −Σ_{c≠label} p_c, summed apart: for a confident example p_label − 1
  // in f32 would cancel most of its digits (AdamW then amplifies the noise to full size).
  var others = 0.0;
  for (var c = 0u; c < params.classes; c++) {
    if (c == label) {
      continue;
    }
    let p = exp(logits[base + c] - maxLogit) / sumExp;
    dlogits[base + c] = p * params.scale;
    others += p;
  }
  dlogits[base + label] = -others * params.scale;
  let loss = logSumExp - (logits[base + label] - maxLogit);
  rowStats[row] = vec2f(loss, select(0.0, 1.0, argmax == label));
}
