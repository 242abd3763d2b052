// GELU, tanh approximation, and its derivative: functions only, prepended to the kernels
// that use them (matmul's epilogue, activation backward). Same function as the CPU
// reference, gelu(x) = 0.5·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³), written with
// 0.5·(1 + tanh u) = σ(2u):
//  - no cancellation in 1 + tanh(u) for negative x (f32 lost ~3 digits of the gradient);
//  - no tanh, which some drivers compute as (e^2u − 1)/(e^2u + 1) = inf/inf = NaN for large u.
// u is clamped to ±40 so that e^(−2u) stays finite; σ is then 0 or 1 to f32 precision.

const GELU_C = 0.7978845608028654; // √(2/π)
const GELU_A = 0.044715;

// σ(2u) for the GELU argument u.
fn gelu_gate(x: vec4f) -> vec4f {
  let u = clamp(GELU_C * (x + GELU_A * x * x * x), vec4f(-40.0), vec4f(40.0));
  return 1.0 / (1.0 + exp(-2.0 * u));
}

fn gelu(x: vec4f) -> vec4f {
  return x * gelu_gate(x);
}

// d/dx [x·σ(2u)] = σ + x·2σ(1 − σ)·u',  u' = √(2/π)·(1 + 3·0.044715·x²)
fn gelu_grad(x: vec4f) -> vec4f {
  let s = gelu_gate(x);
  return s + x * 2.0 * s * (1.0 - s) * GELU_C * (1.0 + 3.0 * GELU_A * x * x);
}
