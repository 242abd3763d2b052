// The CPU reference: plain, readable maths that every WGSL kernel is checked against.
// Float64 accumulation throughout; inputs are any ArrayLike<number> (usually Float32Array),
// outputs are Float64Array unless stated. Slow on purpose: clarity over speed.
//
// Layer rules, forward | backward (dX is the gradient flowing back, one row per example):
//   matmul      C = op(A)·op(B)                 | (the three layouts cover every backward matmul)
//   linear      z = h·W + b                     | dh = dz·Wᵀ,  dW = hᵀ·dz,  db = Σ_rows dz
//   activation  h = act(z)                      | dz = dh ⊙ act'(z)
//   softmax-CE  loss = mean_i(lse(z_i) − z_iy)  | dz = (softmax(z) − onehot(y)) / rows

import type { ParamLayout, Segment } from './mlp.ts';

// ---------------------------------------------------------------------------------------
// Argument checks: a wrong size names the function, the argument, expected and actual.

function checkDim(fn: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${fn}: ${name} must be a positive integer, got ${value}`);
  }
}

function checkLength(fn: string, name: string, array: ArrayLike<number>, expected: number, formula: string): void {
  if (array == null || typeof array.length !== 'number') {
    throw new Error(`${fn}: ${name} must be an array of ${expected} numbers (${formula}), got ${String(array)}`);
  }
  if (array.length !== expected) {
    throw new Error(`${fn}: ${name} has ${array.length} elements, expected ${formula} = ${expected}`);
  }
}

// ---------------------------------------------------------------------------------------
// Matmul

export type MatmulLayout = 'nn' | 'nt' | 'tn';

/**
 * C[m×n] = op(A)·op(B), all row-major.
 * 'nn': A is m×k, B is k×n.  'nt': A is m×k, B is stored n×k (C = A·Bᵀ).
 * 'tn': A is stored k×m (C = Aᵀ·B), B is k×n.
 */
export function matmulRef(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  m: number,
  n: number,
  k: number,
  layout: MatmulLayout,
): Float64Array {
  const fn = 'matmulRef';
  checkDim(fn, 'm', m);
  checkDim(fn, 'n', n);
  checkDim(fn, 'k', k);
  // Element (row, col) of op(A) and op(B), whatever the storage order.
  let aAt: (i: number, p: number) => number;
  let bAt: (p: number, j: number) => number;
  switch (layout) {
    case 'nn':
      aAt = (i, p) => a[i * k + p];
      bAt = (p, j) => b[p * n + j];
      break;
    case 'nt':
      aAt = (i, p) => a[i * k + p];
      bAt = (p, j) => b[j * k + p];
      break;
    case 'tn':
      aAt = (i, p) => a[p * m + i];
      bAt = (p, j) => b[p * n + j];
      break;
    default:
      throw new Error(`${fn}: layout must be 'nn', 'nt' or 'tn', got ${JSON.stringify(layout)}`);
  }
  checkLength(fn, 'a', a, m * k, layout === 'tn' ? `k·m = ${k}·${m}` : `m·k = ${m}·${k}`);
  checkLength(fn, 'b', b, k * n, layout === 'nt' ? `n·k = ${n}·${k}` : `k·n = ${k}·${n}`);
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++) sum += aAt(i, p) * bAt(p, j);
      c[i * n + j] = sum;
    }
  }
  return c;
}

// ---------------------------------------------------------------------------------------
// Activations, forward and backward side by side

export type ActivationKind = 'none' | 'relu' | 'gelu';

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

/** GELU, tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))); the GPU uses the same formula. */
export function gelu(x: number): number {
  return 0.5 * x * (1 + Math.tanh(GELU_C * (x + GELU_A * x * x * x)));
}

/** d/dx gelu = 0.5·(1 + t) + 0.5·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²), t = tanh(u). */
export function geluGrad(x: number): number {
  const t = Math.tanh(GELU_C * (x + GELU_A * x * x * x));
  const sech2 = 1 - t * t;
  // Once tanh saturates the second term is exactly 0; skipping it avoids 0·∞ = NaN for huge |x|.
  if (sech2 === 0) return 0.5 * (1 + t);
  return 0.5 * (1 + t) + 0.5 * x * sech2 * GELU_C * (1 + 3 * GELU_A * x * x);
}

function checkActivation(fn: string, act: ActivationKind): void {
  if (act !== 'none' && act !== 'relu' && act !== 'gelu') {
    throw new Error(`${fn}: act must be 'none', 'relu' or 'gelu', got ${JSON.stringify(act)}`);
  }
}

/** Forward: out = act(z), elementwise. */
export function activationRef(z: ArrayLike<number>, act: ActivationKind): Float64Array {
  checkActivation('activationRef', act);
  const out = new Float64Array(z.length);
  for (let i = 0; i < z.length; i++) {
    const x = z[i];
    switch (act) {
      case 'none': out[i] = x; break;
      case 'relu': out[i] = x > 0 ? x : 0; break;
      case 'gelu': out[i] = gelu(x); break;
    }
  }
  return out;
}

/** Backward: dz = dh ⊙ act'(z). ReLU's derivative is taken as 0 at z = 0 (as PyTorch and the GPU do). */
export function activationBackwardRef(dh: ArrayLike<number>, z: ArrayLike<number>, act: ActivationKind): Float64Array {
  checkActivation('activationBackwardRef', act);
  checkLength('activationBackwardRef', 'dh', dh, z.length, 'z.length');
  const dz = new Float64Array(z.length);
  for (let i = 0; i < z.length; i++) {
    switch (act) {
      case 'none': dz[i] = dh[i]; break;
      case 'relu': dz[i] = z[i] > 0 ? dh[i] : 0; break;
      case 'gelu': dz[i] = dh[i] * geluGrad(z[i]); break;
    }
  }
  return dz;
}

// ---------------------------------------------------------------------------------------
// Bias, forward and backward side by side

/** Forward: out[i][j] = z[i][j] + bias[j]. */
export function addBiasRef(z: ArrayLike<number>, bias: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const fn = 'addBiasRef';
  checkDim(fn, 'rows', rows);
  checkDim(fn, 'cols', cols);
  checkLength(fn, 'z', z, rows * cols, `rows·cols = ${rows}·${cols}`);
  checkLength(fn, 'bias', bias, cols, 'cols');
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) out[i * cols + j] = z[i * cols + j] + bias[j];
  }
  return out;
}

/** Backward of addBias: db[j] = Σ_i dz[i][j] (column sums). */
export function columnSumRef(dz: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const fn = 'columnSumRef';
  checkDim(fn, 'rows', rows);
  checkDim(fn, 'cols', cols);
  checkLength(fn, 'dz', dz, rows * cols, `rows·cols = ${rows}·${cols}`);
  const db = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) db[j] += dz[i * cols + j];
  }
  return db;
}

// ---------------------------------------------------------------------------------------
// Softmax + cross-entropy, forward and backward fused

export interface SoftmaxCrossEntropyResult {
  /** Mean over rows of −log softmax(logits)[label]. */
  loss: number;
  rowLoss: Float64Array;
  /** Gradient of the mean loss: (softmax − onehot) / rows. */
  dlogits: Float64Array;
  /** Rows whose argmax (first maximum on ties) equals the label. */
  correct: number;
}

/** Fused softmax + cross-entropy over `rows` rows of `classes` logits; stable (subtracts the row max). */
export function softmaxCrossEntropyRef(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  rows: number,
  classes: number,
): SoftmaxCrossEntropyResult {
  const fn = 'softmaxCrossEntropyRef';
  checkDim(fn, 'rows', rows);
  checkDim(fn, 'classes', classes);
  checkLength(fn, 'logits', logits, rows * classes, `rows·classes = ${rows}·${classes}`);
  checkLength(fn, 'labels', labels, rows, 'rows');
  const rowLoss = new Float64Array(rows);
  const dlogits = new Float64Array(rows * classes);
  let correct = 0;
  let total = 0;
  for (let i = 0; i < rows; i++) {
    const label = labels[i];
    if (!Number.isInteger(label) || label < 0 || label >= classes) {
      throw new Error(`${fn}: labels[${i}] = ${label} is not a class index in [0, ${classes}); check the data set's label range`);
    }
    const base = i * classes;
    let max = logits[base];
    let argmax = 0;
    for (let c = 1; c < classes; c++) {
      if (logits[base + c] > max) {
        max = logits[base + c];
        argmax = c;
      }
    }
    let sumExp = 0;
    for (let c = 0; c < classes; c++) sumExp += Math.exp(logits[base + c] - max);
    // −log p[label] = log Σ e^(x − max) − (x_label − max)
    rowLoss[i] = Math.log(sumExp) - (logits[base + label] - max);
    total += rowLoss[i];
    for (let c = 0; c < classes; c++) {
      const p = Math.exp(logits[base + c] - max) / sumExp;
      dlogits[base + c] = (p - (c === label ? 1 : 0)) / rows;
    }
    if (argmax === label) correct++;
  }
  return { loss: total / rows, rowLoss, dlogits, correct };
}

// ---------------------------------------------------------------------------------------
// Optimizers

/** ‖g‖₂ = √(Σ g²) over the whole vector. */
export function globalNormRef(g: ArrayLike<number>): number {
  let sumSquares = 0;
  for (let i = 0; i < g.length; i++) sumSquares += g[i] * g[i];
  return Math.sqrt(sumSquares);
}

/** Factor that brings the gradient's global norm down to maxGradNorm; 1 when off or already within. */
function clipScale(grads: ArrayLike<number>, maxGradNorm: number): number {
  if (maxGradNorm <= 0) return 1;
  const norm = globalNormRef(grads);
  return norm > maxGradNorm ? maxGradNorm / norm : 1;
}

function checkHyper(fn: string, h: object, ranges: Record<string, [number, number]>): void {
  for (const [name, [lo, hi]] of Object.entries(ranges)) {
    const value = (h as Record<string, unknown>)[name];
    if (typeof value !== 'number' || !(value >= lo && value <= hi)) {
      throw new Error(`${fn}: hyperparameter ${name} must be a number in [${lo}, ${hi}], got ${String(value)}`);
    }
  }
}

function checkOptimizerState(fn: string, params: Float32Array, decayEnd: number, state: Record<string, ArrayLike<number>>): void {
  for (const [name, array] of Object.entries(state)) checkLength(fn, name, array, params.length, 'params.length');
  if (!Number.isInteger(decayEnd) || decayEnd < 0 || decayEnd > params.length) {
    throw new Error(`${fn}: decayEnd must be an integer in [0, ${params.length}] (params.length), got ${decayEnd}`);
  }
}

export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Clip the global gradient norm to this (0 = off). */
  maxGradNorm: number;
}

/**
 * One AdamW step (decoupled weight decay, bias-corrected moments) for step t (1-based), in
 * place on params, m and v. Indices below decayEnd (weights) get weight decay; the rest
 * (biases) do not. Maths in f64; results are rounded to f32 only when stored.
 *   g' = g·clip;  m = β1·m + (1−β1)·g';  v = β2·v + (1−β2)·g'²
 *   p = p − lr·( (m/(1−β1^t)) / (√(v/(1−β2^t)) + ε) + wd·p )
 */
export function adamwStepRef(
  params: Float32Array,
  grads: ArrayLike<number>,
  m: Float32Array,
  v: Float32Array,
  t: number,
  h: AdamWHyper,
  decayEnd: number,
): void {
  const fn = 'adamwStepRef';
  checkOptimizerState(fn, params, decayEnd, { grads, m, v });
  if (!Number.isInteger(t) || t < 1) throw new Error(`${fn}: step t is 1-based and must be an integer ≥ 1, got ${t}`);
  checkHyper(fn, h, {
    lr: [0, Infinity], beta1: [0, 1 - Number.EPSILON], beta2: [0, 1 - Number.EPSILON],
    eps: [0, Infinity], weightDecay: [0, Infinity], maxGradNorm: [0, Infinity],
  });
  const clip = clipScale(grads, h.maxGradNorm);
  const bc1 = 1 - h.beta1 ** t;
  const bc2 = 1 - h.beta2 ** t;
  for (let i = 0; i < params.length; i++) {
    const g = grads[i] * clip;
    const mi = h.beta1 * m[i] + (1 - h.beta1) * g;
    const vi = h.beta2 * v[i] + (1 - h.beta2) * g * g;
    const wd = i < decayEnd ? h.weightDecay : 0;
    const p = params[i];
    m[i] = mi;
    v[i] = vi;
    params[i] = p - h.lr * (mi / bc1 / (Math.sqrt(vi / bc2) + h.eps) + wd * p);
  }
}

export interface SgdHyper {
  lr: number;
  momentum: number;
  weightDecay: number;
  /** Clip the global gradient norm to this (0 = off). */
  maxGradNorm: number;
}

/**
 * SGD with momentum, PyTorch convention, in place on params and buf:
 *   g' = g·clip + wd·p (wd only below decayEnd);  buf = momentum·buf + g';  p = p − lr·buf
 */
export function sgdMomentumStepRef(params: Float32Array, grads: ArrayLike<number>, buf: Float32Array, h: SgdHyper, decayEnd: number): void {
  const fn = 'sgdMomentumStepRef';
  checkOptimizerState(fn, params, decayEnd, { grads, buf });
  checkHyper(fn, h, { lr: [0, Infinity], momentum: [0, 1], weightDecay: [0, Infinity], maxGradNorm: [0, Infinity] });
  const clip = clipScale(grads, h.maxGradNorm);
  for (let i = 0; i < params.length; i++) {
    const p = params[i];
    const g = grads[i] * clip + (i < decayEnd ? h.weightDecay * p : 0);
    const b = h.momentum * buf[i] + g;
    buf[i] = b;
    params[i] = p - h.lr * b;
  }
}

// ---------------------------------------------------------------------------------------
// The whole MLP

export interface MlpForwardTrace {
  /** z_l = h_l·W_l + b_l, one per layer (batch × widths[l+1]). */
  preacts: Float64Array[];
  /** h_0 = x, h_1 … h_L; the last is the logits (the output layer is linear). */
  acts: Float64Array[];
  logits: Float64Array;
}

/** A copy of one segment of a flat vector, in f64. */
function readSegment(flat: ArrayLike<number>, s: Segment): Float64Array {
  const out = new Float64Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = flat[s.offset + i];
  return out;
}

function layerActivation(layout: ParamLayout, l: number): ActivationKind {
  return l === layout.weights.length - 1 ? 'none' : layout.spec.activation;
}

function checkMlpInputs(fn: string, layout: ParamLayout, params: ArrayLike<number>, x: ArrayLike<number>, batch: number): void {
  checkDim(fn, 'batch', batch);
  checkLength(fn, 'params', params, layout.total, 'layout.total');
  const inputs = layout.spec.widths[0];
  checkLength(fn, 'x', x, batch * inputs, `batch·widths[0] = ${batch}·${inputs}`);
}

/** Linear forward: z = h·W + b, h is batch × fanIn, W is fanIn × fanOut. */
function linearForward(h: Float64Array, w: Float64Array, b: Float64Array, batch: number, fanIn: number, fanOut: number): Float64Array {
  return addBiasRef(matmulRef(h, w, batch, fanOut, fanIn, 'nn'), b, batch, fanOut);
}

/** Linear backward: dW = hᵀ·dz, db = Σ_rows dz, dh = dz·Wᵀ (null when the caller needs no dh). */
function linearBackward(
  dz: Float64Array, h: Float64Array, w: Float64Array, batch: number, fanIn: number, fanOut: number, needDh: boolean,
): { dW: Float64Array; db: Float64Array; dh: Float64Array | null } {
  return {
    dW: matmulRef(h, dz, fanIn, fanOut, batch, 'tn'),
    db: columnSumRef(dz, batch, fanOut),
    dh: needDh ? matmulRef(dz, w, batch, fanIn, fanOut, 'nt') : null,
  };
}

/**
 * Forward of the whole MLP on `batch` rows of x (batch × widths[0]), keeping what backward
 * needs. params may be Float64Array (finite-difference checks run the maths in f64).
 */
export function mlpForwardRef(layout: ParamLayout, params: ArrayLike<number>, x: ArrayLike<number>, batch: number): MlpForwardTrace {
  checkMlpInputs('mlpForwardRef', layout, params, x, batch);
  const acts: Float64Array[] = [Float64Array.from(x)];
  const preacts: Float64Array[] = [];
  for (let l = 0; l < layout.weights.length; l++) {
    const W = layout.weights[l];
    const z = linearForward(acts[l], readSegment(params, W), readSegment(params, layout.biases[l]), batch, W.rows, W.cols);
    preacts.push(z);
    acts.push(activationRef(z, layerActivation(layout, l)));
  }
  return { preacts, acts, logits: acts[acts.length - 1] };
}

/** Loss, accuracy count and the gradient of the MEAN loss over the batch, flat in `layout` (padding zero). */
export function mlpLossAndGradientRef(
  layout: ParamLayout,
  params: ArrayLike<number>,
  x: ArrayLike<number>,
  labels: ArrayLike<number>,
  batch: number,
): { loss: number; correct: number; gradient: Float64Array; trace: MlpForwardTrace } {
  const fn = 'mlpLossAndGradientRef';
  checkMlpInputs(fn, layout, params, x, batch);
  checkLength(fn, 'labels', labels, batch, 'batch');
  const trace = mlpForwardRef(layout, params, x, batch);
  const classes = layout.spec.widths[layout.spec.widths.length - 1];
  const { loss, correct, dlogits } = softmaxCrossEntropyRef(trace.logits, labels, batch, classes);

  const gradient = new Float64Array(layout.total);
  let dh: Float64Array = dlogits; // gradient w.r.t. h_{l+1}, walking back from the logits
  for (let l = layout.weights.length - 1; l >= 0; l--) {
    const W = layout.weights[l];
    const dz = activationBackwardRef(dh, trace.preacts[l], layerActivation(layout, l));
    const back = linearBackward(dz, trace.acts[l], readSegment(params, W), batch, W.rows, W.cols, l > 0);
    gradient.set(back.dW, W.offset);
    gradient.set(back.db, layout.biases[l].offset);
    if (back.dh) dh = back.dh;
  }
  return { loss, correct, gradient, trace };
}
