// GELU, tanh approximation, in f32 exactly as shaders/gelu.wgsl computes it:
// gelu(x) = x·σ(2u), u = √(2/π)·(x + 0.044715·x³) clamped to ±40, σ(2u) = 0.5·(1 + tanh u).

const GELU_C: f32 = 0.7978845608028654;
const GELU_A: f32 = 0.044715;

// @ts-ignore: decorator
@inline function geluGate(x: f32): f32 {
  const u = min(max(GELU_C * (x + GELU_A * x * x * x), <f32>-40), <f32>40);
  return <f32>1 / (<f32>1 + Mathf.exp(<f32>-2 * u));
}

export function gelu(x: f32): f32 {
  return x * geluGate(x);
}

/** d/dx [x·σ(2u)] = σ + x·2σ(1 − σ)·√(2/π)·(1 + 3·0.044715·x²). */
export function geluGrad(x: f32): f32 {
  const s = geluGate(x);
  return s + x * <f32>2 * s * (<f32>1 - s) * GELU_C * (<f32>1 + <f32>3 * GELU_A * x * x);
}
