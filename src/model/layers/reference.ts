// The f64 reference as one table: for each layer kind, its forward and its backward side by
// side, so a reader can check one against the other (tinygrad's gradient table, llm.c's
// forward/backward pairs). Every kernel of every backend is checked against it; slow on
// purpose (direct loops, conv included), clarity over speed.
//
// Activations are Float64Array, batch × features, each example's features in the layer's
// shape order ([C,H,W] channel-major). The table's type is a mapped type over LayerKind, so
// a kind without a rule is a compile error. Parameters are read from the flat vector at the
// offsets of src/model/layers/spec.ts; the gradient is written there too (padding zero).
//
// Forward | backward (dy is the gradient flowing back, one row per example):
//   linear     y = x·W + b                              | dx = dy·Wᵀ, dW = xᵀ·dy, db = Σ_rows dy
//   conv2d     y[co,o] = b[co] + Σ_{ci,k} W[ci,k,co]·x[ci, o·s + k − p]  | the same sum, read three ways
//   maxpool2d  y = max over the window (argmax kept)     | dx[argmax] += dy
//   avgpool2d  y = mean over the window                  | dx[window] += dy / area
//   flatten    y = x (the shape changes, not the data)   | dx = dy
//   relu       y = max(x, 0)                             | dx = dy·[x > 0]
//   gelu       y = gelu(x), tanh approximation           | dx = dy·gelu'(x)
//   layernorm  x̂ = (x − μ)/√(σ² + ε), y = γ⊙x̂ + β       | dx = (dx̂ − mean(dx̂) − x̂·mean(dx̂⊙x̂))/√(σ² + ε), dx̂ = γ⊙dy
//   dropout    y = x⊙m/(1 − p), m hashed (dropout.ts)    | dx = dy⊙m/(1 − p)
//   residual   y = x + f(x)                              | dx = dy + f'(x)ᵀ·dy
//   softmax-CE y_i = lse(z_i) − z_iy (one loss per row)  | dz_i = dy_i·(softmax(z_i) − onehot(y_i))
//   embedding  y[t] = E[x_t]                             | dE[x_t] += dy[t] (in position order: deterministic)
//   position   y[t] = x[t] + P[t]                        | dx = dy, dP[t] += dy[t]
//   attention  q,k,v = x·W + b; per head S = q·kᵀ/√d, masked above the diagonal; P = softmax(S); o = P·v; y = o·Wo + bo
//              | do = dy·Woᵀ; dP = do·vᵀ, dv = Pᵀ·do; dS = P ⊙ (dP − rowsum(dP ⊙ P)); dq = dS·k/√d, dk = dSᵀ·q/√d
//   lm-head    y = x·Eᵀ (tied) or x·W                    | dx = dy·E, dE += dyᵀ·x (or as linear without bias)
//
// A sequence [T, C] is T rows of C per example: linear, layernorm and the loss act row by row.

import { gelu, geluGrad } from '../reference.ts';
import { checkU32, dropoutKeeps } from './dropout.ts';
import { checkTokenIds, findDropout, type LayerKind, type ParamTensor, type ResolvedLayer, type ResolvedLayers, type ResolvedModel } from './spec.ts';

/** Dropout's randomness in training: the lease's seed and each example's dataset position. */
export interface DropoutContext {
  seed: number;
  /** positions[i] is the dataset position of example i of the batch. */
  positions: ArrayLike<number>;
}

/** What a forward pass knows besides its input. */
interface Pass {
  params: ArrayLike<number>;
  batch: number;
  /** Training with dropout on; null in evaluation (dropout is the identity). */
  dropout: DropoutContext | null;
  /** Labels, for the loss layer. */
  labels: ArrayLike<number> | null;
  /** The flat gradient backward rules add into; null in a forward-only pass. */
  gradient: Float64Array | null;
}

/** What each kind's forward keeps for its backward. */
interface Saved {
  linear: { x: Float64Array };
  conv2d: { x: Float64Array };
  maxpool2d: { argmax: Int32Array };
  avgpool2d: null;
  flatten: null;
  relu: { x: Float64Array };
  gelu: { x: Float64Array };
  layernorm: { xhat: Float64Array; invStd: Float64Array };
  /** The per-unit factor m/(1 − p), or null when the layer is the identity. */
  dropout: { factor: Float64Array | null };
  residual: { saved: unknown[] };
  'softmax-cross-entropy': { probs: Float64Array };
  embedding: { tokens: Float64Array };
  'position-embedding': null;
  attention: { x: Float64Array; qkv: Float64Array; probs: Float64Array; o: Float64Array };
  'lm-head': { x: Float64Array };
}

export interface LayerRule<K extends LayerKind> {
  forward(layer: ResolvedLayers[K], x: Float64Array, pass: Pass): { y: Float64Array; saved: Saved[K] };
  /** Adds the layer's parameter gradients into pass.gradient and returns dx. */
  backward(layer: ResolvedLayers[K], dy: Float64Array, saved: Saved[K], pass: Pass): Float64Array;
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const at = (params: ArrayLike<number>, t: ParamTensor, i: number) => params[t.offset + i];

// ---------------------------------------------------------------------------------------
// The table

export const referenceTable: { [K in LayerKind]: LayerRule<K> } = {
  linear: {
    forward: (l, x, { params, batch }) => ({ y: affine(x, batch * l.positions, l.inFeatures, l.outFeatures, params, l.weight, l.bias), saved: { x } }),
    backward: (l, dy, { x }, { params, batch, gradient }) =>
      affineBackward(x, dy, batch * l.positions, l.inFeatures, l.outFeatures, params, l.weight, l.bias, gradient!),
  },

  conv2d: {
    forward(l, x, { params, batch }) {
      const y = new Float64Array(batch * size(l.outShape));
      convLoops(l, batch, (xi, wi, yi, n) => {
        if (wi < 0) y[yi] += at(params, l.bias, n);
        else if (xi >= 0) y[yi] += x[xi] * at(params, l.weight, wi);
      });
      return { y, saved: { x } };
    },
    backward(l, dy, { x }, { params, batch, gradient }) {
      const dx = new Float64Array(x.length);
      const g = gradient!;
      convLoops(l, batch, (xi, wi, yi, co) => {
        if (wi < 0) g[l.bias.offset + co] += dy[yi];
        else if (xi >= 0) {
          g[l.weight.offset + wi] += x[xi] * dy[yi];
          dx[xi] += at(params, l.weight, wi) * dy[yi];
        }
      });
      return dx;
    },
  },

  maxpool2d: {
    forward(l, x, { batch }) {
      const y = new Float64Array(batch * size(l.outShape));
      const argmax = new Int32Array(y.length);
      poolLoops(l, batch, (yi, window) => {
        let best = window[0];
        // The first maximum wins a tie, as PyTorch's CPU kernel.
        for (const xi of window) if (x[xi] > x[best]) best = xi;
        y[yi] = x[best];
        argmax[yi] = best;
      });
      return { y, saved: { argmax } };
    },
    backward(l, dy, { argmax }, { batch }) {
      const dx = new Float64Array(batch * size(l.inShape));
      for (let yi = 0; yi < dy.length; yi++) dx[argmax[yi]] += dy[yi];
      return dx;
    },
  },

  avgpool2d: {
    forward(l, x, { batch }) {
      const y = new Float64Array(batch * size(l.outShape));
      poolLoops(l, batch, (yi, window) => {
        let sum = 0;
        for (const xi of window) sum += x[xi];
        y[yi] = sum / window.length;
      });
      return { y, saved: null };
    },
    backward(l, dy, _saved, { batch }) {
      const dx = new Float64Array(batch * size(l.inShape));
      poolLoops(l, batch, (yi, window) => {
        for (const xi of window) dx[xi] += dy[yi] / window.length;
      });
      return dx;
    },
  },

  flatten: {
    forward: (_l, x) => ({ y: x, saved: null }),
    backward: (_l, dy) => dy,
  },

  relu: {
    forward: (_l, x) => ({ y: x.map((v) => (v > 0 ? v : 0)), saved: { x } }),
    // The derivative at 0 is taken as 0, as PyTorch and every kernel do.
    backward: (_l, dy, { x }) => dy.map((d, i) => (x[i] > 0 ? d : 0)),
  },

  gelu: {
    forward: (_l, x) => ({ y: x.map(gelu), saved: { x } }),
    backward: (_l, dy, { x }) => dy.map((d, i) => d * geluGrad(x[i])),
  },

  layernorm: {
    forward(l, x, { params, batch }) {
      const f = l.features;
      const rows = batch * l.positions;
      const y = new Float64Array(x.length);
      const xhat = new Float64Array(x.length);
      const invStd = new Float64Array(rows);
      for (let n = 0; n < rows; n++) {
        const row = x.subarray(n * f, (n + 1) * f);
        const mean = row.reduce((a, b) => a + b, 0) / f;
        // Biased variance (divide by f), as PyTorch's LayerNorm.
        const variance = row.reduce((a, v) => a + (v - mean) * (v - mean), 0) / f;
        invStd[n] = 1 / Math.sqrt(variance + l.eps);
        for (let i = 0; i < f; i++) {
          xhat[n * f + i] = (row[i] - mean) * invStd[n];
          y[n * f + i] = at(params, l.weight, i) * xhat[n * f + i] + at(params, l.bias, i);
        }
      }
      return { y, saved: { xhat, invStd } };
    },
    backward(l, dy, { xhat, invStd }, { params, batch, gradient }) {
      const f = l.features;
      const g = gradient!;
      const dx = new Float64Array(dy.length);
      const dxhat = new Float64Array(f);
      for (let n = 0; n < batch * l.positions; n++) {
        let meanD = 0;
        let meanDX = 0;
        for (let i = 0; i < f; i++) {
          const k = n * f + i;
          g[l.weight.offset + i] += dy[k] * xhat[k];
          g[l.bias.offset + i] += dy[k];
          dxhat[i] = dy[k] * at(params, l.weight, i);
          meanD += dxhat[i] / f;
          meanDX += (dxhat[i] * xhat[k]) / f;
        }
        for (let i = 0; i < f; i++) dx[n * f + i] = (dxhat[i] - meanD - xhat[n * f + i] * meanDX) * invStd[n];
      }
      return dx;
    },
  },

  dropout: {
    forward(l, x, { batch, dropout }) {
      if (dropout === null || l.p === 0) return { y: x, saved: { factor: null } };
      const f = size(l.inShape);
      const factor = new Float64Array(x.length);
      const scale = 1 / (1 - l.p);
      for (let n = 0; n < batch; n++) {
        for (let u = 0; u < f; u++) {
          factor[n * f + u] = dropoutKeeps(dropout.seed, dropout.positions[n], l.ordinal, u, l.threshold) ? scale : 0;
        }
      }
      return { y: x.map((v, i) => v * factor[i]), saved: { factor } };
    },
    backward: (_l, dy, { factor }) => (factor === null ? dy : dy.map((d, i) => d * factor[i])),
  },

  residual: {
    forward(l, x, pass) {
      const branch = forwardList(l.layers, x, pass);
      return { y: x.map((v, i) => v + branch.y[i]), saved: { saved: branch.saved } };
    },
    backward(l, dy, { saved }, pass) {
      const dBranch = backwardList(l.layers, dy, saved, pass);
      return dy.map((d, i) => d + dBranch[i]);
    },
  },

  'softmax-cross-entropy': {
    forward(l, z, { batch, labels }) {
      const c = l.classes;
      const rows = batch * l.positions;
      const y = new Float64Array(rows);
      const probs = new Float64Array(z.length);
      for (let n = 0; n < rows; n++) {
        const row = z.subarray(n * c, (n + 1) * c);
        const label = labels![n];
        const max = row.reduce((a, b) => Math.max(a, b), -Infinity);
        let sumExp = 0;
        for (let k = 0; k < c; k++) sumExp += Math.exp(row[k] - max);
        // −log p[label] = log Σ e^(z − max) − (z_label − max): stable for any logits.
        y[n] = Math.log(sumExp) - (row[label] - max);
        for (let k = 0; k < c; k++) probs[n * c + k] = Math.exp(row[k] - max) / sumExp;
      }
      return { y, saved: { probs } };
    },
    backward(l, dy, { probs }, { batch, labels }) {
      const c = l.classes;
      const dz = new Float64Array(probs.length);
      for (let n = 0; n < batch * l.positions; n++) {
        for (let k = 0; k < c; k++) dz[n * c + k] = dy[n] * (probs[n * c + k] - (k === labels![n] ? 1 : 0));
      }
      return dz;
    },
  },

  embedding: {
    forward(l, tokens, { params, batch }) {
      const { context: t, features: c } = l;
      const y = new Float64Array(batch * t * c);
      for (let r = 0; r < batch * t; r++) {
        for (let i = 0; i < c; i++) y[r * c + i] = at(params, l.weight, tokens[r] * c + i);
      }
      return { y, saved: { tokens } };
    },
    // Rows are added in position order, one after another: the same sum every time, ties included.
    backward(l, dy, { tokens }, { batch, gradient }) {
      const c = l.features;
      const g = gradient!;
      for (let r = 0; r < batch * l.context; r++) {
        for (let i = 0; i < c; i++) g[l.weight.offset + tokens[r] * c + i] += dy[r * c + i];
      }
      // Token ids have no gradient; the walk ignores what the first layer gives back.
      return new Float64Array(tokens.length);
    },
  },

  'position-embedding': {
    forward(l, x, { params }) {
      const tc = l.context * l.features;
      return { y: x.map((v, i) => v + at(params, l.weight, i % tc)), saved: null };
    },
    backward(l, dy, _saved, { gradient }) {
      const tc = l.context * l.features;
      for (let i = 0; i < dy.length; i++) gradient![l.weight.offset + (i % tc)] += dy[i];
      return dy;
    },
  },

  attention: {
    forward(l, x, { params, batch }) {
      const { context: t, features: c, heads, headSize: d } = l;
      const scale = 1 / Math.sqrt(d);
      const qkv = affine(x, batch * t, c, 3 * c, params, l.qkvWeight, l.qkvBias);
      const probs = new Float64Array(batch * heads * t * t);
      const o = new Float64Array(batch * t * c);
      for (let n = 0; n < batch; n++) {
        for (let h = 0; h < heads; h++) {
          const q = (i: number, k: number) => qkv[(n * t + i) * 3 * c + h * d + k];
          const key = (j: number, k: number) => qkv[(n * t + j) * 3 * c + c + h * d + k];
          const v = (j: number, k: number) => qkv[(n * t + j) * 3 * c + 2 * c + h * d + k];
          const p = probs.subarray((n * heads + h) * t * t, (n * heads + h + 1) * t * t);
          for (let i = 0; i < t; i++) {
            // Position i sees positions 0..i; the masked scores are −∞, their probabilities 0.
            let max = -Infinity;
            for (let j = 0; j <= i; j++) {
              let sij = 0;
              for (let k = 0; k < d; k++) sij += q(i, k) * key(j, k);
              p[i * t + j] = sij * scale;
              max = Math.max(max, p[i * t + j]);
            }
            let sum = 0;
            for (let j = 0; j <= i; j++) sum += (p[i * t + j] = Math.exp(p[i * t + j] - max));
            for (let j = 0; j <= i; j++) p[i * t + j] /= sum;
            for (let k = 0; k < d; k++) {
              let acc = 0;
              for (let j = 0; j <= i; j++) acc += p[i * t + j] * v(j, k);
              o[(n * t + i) * c + h * d + k] = acc;
            }
          }
        }
      }
      const y = affine(o, batch * t, c, c, params, l.projectionWeight, l.projectionBias);
      return { y, saved: { x, qkv, probs, o } };
    },
    backward(l, dy, { x, qkv, probs, o }, { params, batch, gradient }) {
      const { context: t, features: c, heads, headSize: d } = l;
      const scale = 1 / Math.sqrt(d);
      const g = gradient!;
      const dO = affineBackward(o, dy, batch * t, c, c, params, l.projectionWeight, l.projectionBias, g);
      const dQkv = new Float64Array(qkv.length);
      const dP = new Float64Array(t);
      for (let n = 0; n < batch; n++) {
        for (let h = 0; h < heads; h++) {
          const col = (j: number, part: number, k: number) => (n * t + j) * 3 * c + part * c + h * d + k;
          const p = probs.subarray((n * heads + h) * t * t, (n * heads + h + 1) * t * t);
          for (let i = 0; i < t; i++) {
            const doRow = (k: number) => dO[(n * t + i) * c + h * d + k];
            // dP[i,j] = do_i·v_j, and dv_j += P[i,j]·do_i, over the positions i sees.
            let rowDot = 0;
            for (let j = 0; j <= i; j++) {
              let acc = 0;
              for (let k = 0; k < d; k++) {
                acc += doRow(k) * qkv[col(j, 2, k)];
                dQkv[col(j, 2, k)] += p[i * t + j] * doRow(k);
              }
              dP[j] = acc;
              rowDot += acc * p[i * t + j];
            }
            // dS = P ⊙ (dP − Σ_j dP ⊙ P), then through the scores' scale into q and k.
            for (let j = 0; j <= i; j++) {
              const dS = p[i * t + j] * (dP[j] - rowDot) * scale;
              for (let k = 0; k < d; k++) {
                dQkv[col(i, 0, k)] += dS * qkv[col(j, 1, k)];
                dQkv[col(j, 1, k)] += dS * qkv[col(i, 0, k)];
              }
            }
          }
        }
      }
      return affineBackward(x, dQkv, batch * t, c, 3 * c, params, l.qkvWeight, l.qkvBias, g);
    },
  },

  'lm-head': {
    forward(l, x, { params, batch }) {
      const { features: c, vocabulary: v } = l;
      const rows = batch * l.context;
      const y = new Float64Array(rows * v);
      // Tied: W[i, j] is the embedding's E[j, i], the table read transposed.
      const w = (i: number, j: number) => (l.tied ? at(params, l.weight, j * c + i) : at(params, l.weight, i * v + j));
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < v; j++) {
          let sum = 0;
          for (let i = 0; i < c; i++) sum += x[r * c + i] * w(i, j);
          y[r * v + j] = sum;
        }
      }
      return { y, saved: { x } };
    },
    backward(l, dy, { x }, { params, batch, gradient }) {
      const { features: c, vocabulary: v } = l;
      const rows = batch * l.context;
      const dx = new Float64Array(rows * c);
      const g = gradient!;
      const index = (i: number, j: number) => l.weight.offset + (l.tied ? j * c + i : i * v + j);
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < v; j++) {
          const d = dy[r * v + j];
          for (let i = 0; i < c; i++) {
            g[index(i, j)] += x[r * c + i] * d;
            dx[r * c + i] += d * params[index(i, j)];
          }
        }
      }
      return dx;
    },
  },
};

/** rows × fanOut = x·W + b, W stored [fanIn, fanOut] (linear's rule, for the layers that hold projections). */
function affine(x: Float64Array, rows: number, fanIn: number, fanOut: number, params: ArrayLike<number>, w: ParamTensor, b: ParamTensor): Float64Array {
  const y = new Float64Array(rows * fanOut);
  for (let n = 0; n < rows; n++) {
    for (let j = 0; j < fanOut; j++) {
      let sum = at(params, b, j);
      for (let i = 0; i < fanIn; i++) sum += x[n * fanIn + i] * at(params, w, i * fanOut + j);
      y[n * fanOut + j] = sum;
    }
  }
  return y;
}

/** affine's backward: adds dW = xᵀ·dy and db = Σ_rows dy into g, returns dx = dy·Wᵀ. */
function affineBackward(
  x: Float64Array, dy: Float64Array, rows: number, fanIn: number, fanOut: number, params: ArrayLike<number>, w: ParamTensor, b: ParamTensor, g: Float64Array,
): Float64Array {
  const dx = new Float64Array(rows * fanIn);
  for (let n = 0; n < rows; n++) {
    for (let j = 0; j < fanOut; j++) {
      const d = dy[n * fanOut + j];
      g[b.offset + j] += d;
      for (let i = 0; i < fanIn; i++) {
        g[w.offset + i * fanOut + j] += x[n * fanIn + i] * d;
        dx[n * fanIn + i] += d * at(params, w, i * fanOut + j);
      }
    }
  }
  return dx;
}

// ---------------------------------------------------------------------------------------
// Loops shared by a forward and its backward, so both visit the very same index triples

/**
 * Visits every term of the conv sum: visit(xi, wi, yi, co) with xi the input index (−1 when
 * the tap falls on padding), wi the weight index, yi the output index; and once per output
 * visit(−1, −1, yi, co) for the bias.
 */
function convLoops(l: ResolvedLayers['conv2d'], batch: number, visit: (xi: number, wi: number, yi: number, co: number) => void): void {
  const [c, h, w] = l.inShape;
  const [, oh, ow] = l.outShape;
  const [kh, kw] = l.kernel;
  const [sh, sw] = l.stride;
  const [ph, pw] = l.padding;
  const co = l.outChannels;
  for (let n = 0; n < batch; n++) {
    for (let o = 0; o < co; o++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          const yi = ((n * co + o) * oh + oy) * ow + ox;
          visit(-1, -1, yi, o);
          for (let ci = 0; ci < c; ci++) {
            for (let ky = 0; ky < kh; ky++) {
              const iy = oy * sh + ky - ph;
              for (let kx = 0; kx < kw; kx++) {
                const ix = ox * sw + kx - pw;
                const inside = iy >= 0 && iy < h && ix >= 0 && ix < w;
                const xi = inside ? ((n * c + ci) * h + iy) * w + ix : -1;
                visit(xi, ((ci * kh + ky) * kw + kx) * co + o, yi, o);
              }
            }
          }
        }
      }
    }
  }
}

/** Visits every pooling window: visit(yi, the input indices of its window). */
function poolLoops(l: ResolvedLayers['maxpool2d' | 'avgpool2d'], batch: number, visit: (yi: number, window: number[]) => void): void {
  const [c, h, w] = l.inShape;
  const [, oh, ow] = l.outShape;
  const [kh, kw] = l.kernel;
  const [sh, sw] = l.stride;
  const window: number[] = [];
  for (let n = 0; n < batch; n++) {
    for (let ch = 0; ch < c; ch++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          window.length = 0;
          for (let ky = 0; ky < kh; ky++) {
            for (let kx = 0; kx < kw; kx++) window.push(((n * c + ch) * h + oy * sh + ky) * w + ox * sw + kx);
          }
          visit(((n * c + ch) * oh + oy) * ow + ox, window);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// The walk

/** The rule of a layer's kind; the one cast TypeScript needs to pair a union member with its table entry. */
function ruleFor<K extends LayerKind>(layer: ResolvedLayers[K]): LayerRule<K> {
  return referenceTable[layer.kind as K] as LayerRule<K>;
}

function forwardList(layers: readonly ResolvedLayer[], x: Float64Array, pass: Pass): { y: Float64Array; saved: unknown[] } {
  const saved: unknown[] = [];
  let h = x;
  for (const layer of layers) {
    const out = ruleFor(layer).forward(layer, h, pass);
    saved.push(out.saved);
    h = out.y;
  }
  return { y: h, saved };
}

function backwardList(layers: readonly ResolvedLayer[], dy: Float64Array, saved: unknown[], pass: Pass): Float64Array {
  let d = dy;
  for (let i = layers.length - 1; i >= 0; i--) {
    const layer = layers[i];
    d = ruleFor(layer).backward(layer, d, saved[i] as never, pass);
  }
  return d;
}

function checkInputs(fn: string, model: ResolvedModel, params: ArrayLike<number>, inputs: ArrayLike<number>, batch: number): void {
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`${fn}: batch must be a positive integer, got ${batch}`);
  if (params.length !== model.total) throw new Error(`${fn}: params has ${params.length} floats, the model's layout has ${model.total}`);
  if (inputs.length !== batch * model.inputSize) {
    throw new Error(`${fn}: inputs has ${inputs.length} values, expected batch·inputSize = ${batch}·${model.inputSize} = ${batch * model.inputSize}`);
  }
  checkTokenIds(fn, model, inputs, 'inputs');
}

/** Examples in a batch of labels: labels.length / labelsPerExample, which must divide. */
function batchOf(fn: string, model: ResolvedModel, labels: ArrayLike<number>): number {
  const per = model.labelsPerExample;
  if (labels.length % per !== 0) throw new Error(`${fn}: labels has ${labels.length} values, not a multiple of the ${per} labels (one per position) of an example`);
  return labels.length / per;
}

function checkLabels(fn: string, model: ResolvedModel, labels: ArrayLike<number>): void {
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= model.classes) {
      throw new Error(`${fn}: labels[${i}] = ${y} is not a class index in [0, ${model.classes}); check the data set's label range`);
    }
  }
}

/** Rows whose argmax (first maximum on ties) is the label: examples, or positions of a sequence. */
function countCorrect(logits: Float64Array, labels: ArrayLike<number>, classes: number): number {
  let correct = 0;
  for (let n = 0; n < labels.length; n++) {
    let best = 0;
    for (let k = 1; k < classes; k++) if (logits[n * classes + k] > logits[n * classes + best]) best = k;
    if (best === labels[n]) correct++;
  }
  return correct;
}

export interface ForwardBackwardResult {
  /** Mean loss over the batch's labels (every position of every sequence, as PyTorch's cross_entropy over B·T). */
  loss: number;
  /** Labels whose argmax logit is right. */
  correct: number;
  /** Gradient of the mean loss, flat in the model's layout (padding zero). */
  gradient: Float64Array;
  logits: Float64Array;
}

/**
 * Loss, correct count and the gradient of the mean loss over the batch (labels.length /
 * labelsPerExample examples; a next-token model's labels are batch × T). Training mode: a dropout layer with p > 0 needs options.dropout. params may be
 * a Float64Array (finite differences run in f64).
 */
export function forwardBackward(
  model: ResolvedModel,
  params: ArrayLike<number>,
  inputs: ArrayLike<number>,
  labels: ArrayLike<number>,
  options: { dropout?: DropoutContext } = {},
): ForwardBackwardResult {
  const fn = 'forwardBackward';
  const batch = batchOf(fn, model, labels);
  checkInputs(fn, model, params, inputs, batch);
  checkLabels(fn, model, labels);
  const dropout = options.dropout ?? null;
  if (dropout) {
    checkU32('seed', dropout.seed);
    if (dropout.positions.length !== batch) throw new Error(`${fn}: dropout.positions has ${dropout.positions.length} entries, one per example (${batch}) expected`);
    for (let i = 0; i < batch; i++) checkU32(`positions[${i}]`, dropout.positions[i]);
  } else {
    const stochastic = findDropout(model.layers);
    if (stochastic) throw new Error(`${fn}: dropout at layer ${stochastic.path} (p = ${stochastic.p}) needs options.dropout = { seed, positions } in training`);
  }
  const pass: Pass = { params, batch, dropout, labels, gradient: new Float64Array(model.total) };
  const body = model.layers.slice(0, -1);
  const lossLayer = model.layers[model.layers.length - 1];
  const trunk = forwardList(body, Float64Array.from(inputs), pass);
  const head = ruleFor(lossLayer).forward(lossLayer, trunk.y, pass);
  const count = labels.length;
  const loss = head.y.reduce((a, b) => a + b, 0) / count;
  // The mean's derivative: each label's loss weighs 1/count.
  const dLogits = ruleFor(lossLayer).backward(lossLayer, new Float64Array(count).fill(1 / count), head.saved as never, pass);
  backwardList(body, dLogits, trunk.saved, pass);
  return { loss, correct: countCorrect(trunk.y, labels, model.classes), gradient: pass.gradient!, logits: trunk.y };
}

/** Logits (batch × classes, or batch × T × vocabulary) in evaluation mode: dropout is the identity. */
export function forward(model: ResolvedModel, params: ArrayLike<number>, inputs: ArrayLike<number>, batch: number): Float64Array {
  checkInputs('forward', model, params, inputs, batch);
  const pass: Pass = { params, batch, dropout: null, labels: null, gradient: null };
  return forwardList(model.layers.slice(0, -1), Float64Array.from(inputs), pass).y;
}

/** Mean loss and correct count in evaluation mode. */
export function evaluate(model: ResolvedModel, params: ArrayLike<number>, inputs: ArrayLike<number>, labels: ArrayLike<number>): { loss: number; correct: number } {
  checkLabels('evaluate', model, labels);
  const batch = batchOf('evaluate', model, labels);
  const logits = forward(model, params, inputs, batch);
  const lossLayer = model.layers[model.layers.length - 1];
  const pass: Pass = { params, batch, dropout: null, labels, gradient: null };
  const rows = ruleFor(lossLayer).forward(lossLayer, logits, pass).y;
  return { loss: rows.reduce((a, b) => a + b, 0) / labels.length, correct: countCorrect(logits, labels, model.classes) };
}

