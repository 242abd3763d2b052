// The MLP in plain TypeScript, f32, one thread, synchronous: test-set evaluation in the
// coordinator's process, and the gradients of simulated contributors in scripts and tests
// (the WebAssembly, multi-threaded CPU backend for contributors is src/cpu/cpuMlp.ts).
// Checked against the f64 reference (model/reference.ts). Speed comes from three habits:
// rows are processed in blocks with buffers allocated once, matmuls run i-k-j so the inner
// loop walks a weight row contiguously, and zero inputs (blank pixels, inactive ReLUs) skip
// their weight row.

import type { ImageDataset } from '../data/dataset.ts';
import type { ParamLayout } from '../model/mlp.ts';
import { mlpLayoutOf, type ResolvedModel } from '../model/layers/spec.ts';
import { gelu, geluGrad } from '../model/reference.ts';
import { KINK_REL_TOL, type KinkModel, type LossAndCorrect, type NearKink } from './kinkModel.ts';

export type { LossAndCorrect } from './kinkModel.ts';

export class JsMlp implements KinkModel {
  private readonly widths: number[];
  /** acts[0] is the input block, acts[l + 1] = act(preacts[l]); the last is the logits. */
  private readonly acts: Float32Array[];
  private readonly preacts: Float32Array[];
  /** Gradients flowing back, one block-sized buffer per layer output. */
  private readonly deltas: Float32Array[];
  private readonly rowLoss: Float64Array;
  private readonly rowCorrect: Uint8Array;
  /** One row's nonzero inputs: flat offsets of their weight rows, and their values. */
  private readonly nzIndex: Int32Array;
  private readonly nzValue: Float32Array;
  private readonly widest: number;

  readonly layout: ParamLayout;
  readonly total: number;
  readonly decayEnd: number;
  readonly unitOf: Int32Array;

  constructor(
    /** The MLP's layout, or a resolved model that is an MLP (the same offsets). */
    model: ParamLayout | ResolvedModel,
    /** Rows per block; buffers hold one block, so memory is blockRows × Σ widths floats. */
    readonly blockRows = 64,
  ) {
    const layout = 'segments' in model ? model : mlpLayoutOf(model, 'JsMlp');
    this.layout = layout;
    this.total = layout.total;
    this.decayEnd = layout.decayEnd;
    this.unitOf = unitIndex(layout);
    if (!Number.isInteger(blockRows) || blockRows < 1) throw new Error(`JsMlp: blockRows must be a positive integer, got ${blockRows}`);
    this.widths = layout.spec.widths;
    this.acts = this.widths.map((w) => new Float32Array(blockRows * w));
    this.preacts = this.widths.slice(1).map((w) => new Float32Array(blockRows * w));
    this.deltas = this.widths.slice(1).map((w) => new Float32Array(blockRows * w));
    this.rowLoss = new Float64Array(blockRows);
    this.rowCorrect = new Uint8Array(blockRows);
    this.widest = Math.max(...this.widths);
    this.nzIndex = new Int32Array(this.widest);
    this.nzValue = new Float32Array(this.widest);
  }

  /** Loss and accuracy over the first `limit` examples of a dataset (all by default). */
  evaluate(params: Float32Array, ds: ImageDataset, limit = ds.count): LossAndCorrect {
    this.checkParams(params);
    this.checkDataset(ds);
    if (!Number.isInteger(limit) || limit < 1 || limit > ds.count) {
      throw new Error(`JsMlp.evaluate: limit must be an integer in [1, ${ds.count}], got ${limit}`);
    }
    let loss = 0;
    let correct = 0;
    for (let start = 0; start < limit; start += this.blockRows) {
      const rows = Math.min(this.blockRows, limit - start);
      this.loadRange(ds, start, rows);
      this.forwardBlock(params, rows);
      this.lossBlock(ds.labels, null, start, rows, 0);
      for (let r = 0; r < rows; r++) {
        loss += this.rowLoss[r];
        correct += this.rowCorrect[r];
      }
    }
    return { loss: loss / limit, correct, count: limit };
  }

  /** Logits of the examples [start, start + rows), rows ≤ blockRows; a view valid until the next call. */
  logits(params: Float32Array, ds: ImageDataset, start: number, rows: number): Float32Array {
    this.checkParams(params);
    this.checkDataset(ds);
    if (!Number.isInteger(rows) || rows < 1 || rows > this.blockRows || start < 0 || start + rows > ds.count) {
      throw new Error(`JsMlp.logits: rows [${start}, ${start + rows}) must be 1–${this.blockRows} examples inside the dataset's ${ds.count}`);
    }
    this.loadRange(ds, start, rows);
    this.forwardBlock(params, rows);
    return this.acts[this.acts.length - 1].subarray(0, rows * this.widths[this.widths.length - 1]);
  }

  /**
   * The gradient of the MEAN loss over the examples `indices`, written into `gradient`
   * (layout.total floats, padding zero), as a contributor computes it.
   */
  lossAndGradient(params: Float32Array, ds: ImageDataset, indices: ArrayLike<number>, gradient: Float32Array, forced?: ReadonlyMap<number, boolean>, found?: NearKink[]): LossAndCorrect {
    if (found) for (const k of this.nearKinks(params, ds, indices)) if (!forced?.has(k.key)) found.push(k);
    this.checkParams(params);
    this.checkDataset(ds);
    const count = indices.length;
    if (count < 1) throw new Error('JsMlp.lossAndGradient: a micro-batch needs at least one example');
    if (gradient.length !== this.layout.total) {
      throw new Error(`JsMlp.lossAndGradient: gradient has ${gradient.length} floats, the layout needs ${this.layout.total}`);
    }
    for (let i = 0; i < count; i++) {
      const e = indices[i];
      if (!Number.isInteger(e) || e < 0 || e >= ds.count) {
        throw new Error(`JsMlp.lossAndGradient: example index ${e} (position ${i}) is outside the dataset's ${ds.count} examples`);
      }
    }
    gradient.fill(0);
    let loss = 0;
    let correct = 0;
    for (let start = 0; start < count; start += this.blockRows) {
      const rows = Math.min(this.blockRows, count - start);
      this.loadIndices(ds, indices, start, rows);
      this.forwardBlock(params, rows);
      this.lossBlock(ds.labels, indices, start, rows, 1 / count);
      for (let r = 0; r < rows; r++) {
        loss += this.rowLoss[r];
        correct += this.rowCorrect[r];
      }
      this.backwardBlock(params, rows, gradient, start, forced);
    }
    return { loss: loss / count, correct, count };
  }

  /**
   * ReLU units whose pre-activation lies within float error of zero (|z| ≤ relTol · (|b| + Σ|a·w|)),
   * where two correct f32 implementations may take opposite sides of the kink; with the side
   * this implementation takes. Keys as kinkKey.
   */
  nearKinks(params: Float32Array, ds: ImageDataset, indices: ArrayLike<number>, relTol = KINK_REL_TOL): NearKink[] {
    if (this.layout.spec.activation !== 'relu') return [];
    const found: NearKink[] = [];
    for (let start = 0; start < indices.length; start += this.blockRows) {
      const rows = Math.min(this.blockRows, indices.length - start);
      this.loadIndices(ds, indices, start, rows);
      this.forwardBlock(params, rows);
      for (let l = 0; l + 2 < this.widths.length; l++) {
        const W = this.layout.weights[l];
        const bOff = this.layout.biases[l].offset;
        const input = this.acts[l];
        const z = this.preacts[l];
        for (let r = 0; r < rows; r++) {
          for (let j = 0; j < W.cols; j++) {
            let scale = Math.abs(params[bOff + j]);
            for (let p = 0; p < W.rows; p++) scale += Math.abs(input[r * W.rows + p] * params[W.offset + p * W.cols + j]);
            const zj = z[r * W.cols + j];
            if (Math.abs(zj) <= relTol * scale) found.push({ key: this.kinkKey(start + r, l, j), active: zj > 0 });
          }
        }
      }
    }
    return found;
  }

  /** A hidden unit of one example of a micro-batch: (position, layer, unit) as one number. */
  kinkKey(position: number, layer: number, unit: number): number {
    return (position * this.widths.length + layer) * this.widest + unit;
  }

  /** The unit of a kink key, numbered as unitOf: the inverse of kinkKey. */
  kinkUnit(key: number): number {
    const unit = key % this.widest;
    const layer = Math.floor(key / this.widest) % this.widths.length;
    let first = 0;
    for (let l = 0; l < layer; l++) first += this.layout.weights[l].cols;
    return first + unit;
  }

  private checkParams(params: Float32Array): void {
    if (!(params instanceof Float32Array) || params.length !== this.layout.total) {
      throw new Error(`JsMlp: parameters must be a Float32Array of ${this.layout.total} floats (layout.total), got ${params?.length}`);
    }
  }

  private checkDataset(ds: ImageDataset): void {
    if (ds.features !== this.widths[0]) {
      throw new Error(`JsMlp: the dataset has ${ds.features} features per example, the model's input width is ${this.widths[0]}`);
    }
    if (ds.classes > this.widths[this.widths.length - 1]) {
      throw new Error(`JsMlp: the dataset has ${ds.classes} classes, the model has ${this.widths[this.widths.length - 1]} outputs`);
    }
  }

  private loadRange(ds: ImageDataset, start: number, rows: number): void {
    const x = this.acts[0];
    const n = rows * ds.features;
    const base = start * ds.features;
    for (let i = 0; i < n; i++) x[i] = ds.images[base + i] / 255;
  }

  private loadIndices(ds: ImageDataset, indices: ArrayLike<number>, start: number, rows: number): void {
    const x = this.acts[0];
    const f = ds.features;
    for (let r = 0; r < rows; r++) {
      const base = indices[start + r] * f;
      for (let i = 0; i < f; i++) x[r * f + i] = ds.images[base + i] / 255;
    }
  }

  private forwardBlock(params: Float32Array, rows: number): void {
    const layers = this.widths.length - 1;
    const gelus = this.layout.spec.activation === 'gelu';
    const nzIndex = this.nzIndex;
    const nzValue = this.nzValue;
    for (let l = 0; l < layers; l++) {
      const W = this.layout.weights[l];
      const bOff = this.layout.biases[l].offset;
      const k = W.rows;
      const n = W.cols;
      const input = this.acts[l];
      const z = this.preacts[l];
      for (let r = 0; r < rows; r++) {
        const zo = r * n;
        for (let j = 0; j < n; j++) z[zo + j] = params[bOff + j];
        // Gather the row's nonzero inputs first, then add four weight rows per pass over z.
        const io = r * k;
        let m = 0;
        for (let p = 0; p < k; p++) {
          const a = input[io + p];
          if (a !== 0) {
            nzIndex[m] = W.offset + p * n;
            nzValue[m++] = a;
          }
        }
        let q = 0;
        for (; q + 4 <= m; q += 4) {
          const a0 = nzValue[q], a1 = nzValue[q + 1], a2 = nzValue[q + 2], a3 = nzValue[q + 3];
          const w0 = nzIndex[q], w1 = nzIndex[q + 1], w2 = nzIndex[q + 2], w3 = nzIndex[q + 3];
          for (let j = 0; j < n; j++) {
            z[zo + j] += a0 * params[w0 + j] + a1 * params[w1 + j] + a2 * params[w2 + j] + a3 * params[w3 + j];
          }
        }
        for (; q < m; q++) {
          const a = nzValue[q];
          const w = nzIndex[q];
          for (let j = 0; j < n; j++) z[zo + j] += a * params[w + j];
        }
      }
      const out = this.acts[l + 1];
      const count = rows * n;
      if (l === layers - 1) out.set(z.subarray(0, count));
      else if (gelus) for (let i = 0; i < count; i++) out[i] = gelu(z[i]);
      else for (let i = 0; i < count; i++) out[i] = z[i] > 0 ? z[i] : 0;
    }
  }

  /** Row losses and correctness; with scale > 0 also the logits' gradient, scaled (1/count for a mean). */
  private lossBlock(labels: Uint8Array, indices: ArrayLike<number> | null, start: number, rows: number, scale: number): void {
    const classes = this.widths[this.widths.length - 1];
    const logits = this.acts[this.acts.length - 1];
    const dlogits = this.deltas[this.deltas.length - 1];
    for (let r = 0; r < rows; r++) {
      const label = labels[indices ? indices[start + r] : start + r];
      const o = r * classes;
      let max = logits[o];
      let argmax = 0;
      for (let c = 1; c < classes; c++) {
        if (logits[o + c] > max) {
          max = logits[o + c];
          argmax = c;
        }
      }
      let sumExp = 0;
      for (let c = 0; c < classes; c++) sumExp += Math.exp(logits[o + c] - max);
      this.rowLoss[r] = Math.log(sumExp) - (logits[o + label] - max);
      this.rowCorrect[r] = argmax === label ? 1 : 0;
      if (scale > 0) {
        for (let c = 0; c < classes; c++) {
          dlogits[o + c] = (Math.exp(logits[o + c] - max) / sumExp - (c === label ? 1 : 0)) * scale;
        }
      }
    }
  }

  /** Adds this block's dW and db into `gradient`; deltas of the last layer are already set. */
  private backwardBlock(params: Float32Array, rows: number, gradient: Float32Array, start: number, forced?: ReadonlyMap<number, boolean>): void {
    const gelus = this.layout.spec.activation === 'gelu';
    const forcing = forced !== undefined && forced.size > 0;
    for (let l = this.widths.length - 2; l >= 0; l--) {
      const W = this.layout.weights[l];
      const bOff = this.layout.biases[l].offset;
      const k = W.rows;
      const n = W.cols;
      const dz = this.deltas[l];
      const h = this.acts[l];
      for (let r = 0; r < rows; r++) {
        const zo = r * n;
        for (let j = 0; j < n; j++) gradient[bOff + j] += dz[zo + j];
      }
      // dW += hᵀ·dz, four rows per pass over a dW row; a row of dW is skipped when all four inputs are zero.
      let r = 0;
      for (; r + 4 <= rows; r += 4) {
        const h0 = r * k, h1 = h0 + k, h2 = h1 + k, h3 = h2 + k;
        const d0 = r * n, d1 = d0 + n, d2 = d1 + n, d3 = d2 + n;
        for (let p = 0; p < k; p++) {
          const a0 = h[h0 + p], a1 = h[h1 + p], a2 = h[h2 + p], a3 = h[h3 + p];
          if (a0 === 0 && a1 === 0 && a2 === 0 && a3 === 0) continue;
          const go = W.offset + p * n;
          for (let j = 0; j < n; j++) gradient[go + j] += a0 * dz[d0 + j] + a1 * dz[d1 + j] + a2 * dz[d2 + j] + a3 * dz[d3 + j];
        }
      }
      for (; r < rows; r++) {
        const zo = r * n;
        const ho = r * k;
        for (let p = 0; p < k; p++) {
          const a = h[ho + p];
          if (a === 0) continue;
          const go = W.offset + p * n;
          for (let j = 0; j < n; j++) gradient[go + j] += a * dz[zo + j];
        }
      }
      if (l === 0) break;
      // dh = dz·Wᵀ, then through the previous layer's activation: dz_prev = dh ⊙ act'(z_prev).
      const dPrev = this.deltas[l - 1];
      const zPrev = this.preacts[l - 1];
      for (let r = 0; r < rows; r++) {
        const zo = r * n;
        for (let p = 0; p < k; p++) {
          const i = r * k + p;
          const active = gelus || (forcing ? (forced.get(this.kinkKey(start + r, l - 1, p)) ?? zPrev[i] > 0) : zPrev[i] > 0);
          if (!active) {
            dPrev[i] = 0;
            continue;
          }
          const wo = W.offset + p * n;
          let sum = 0;
          for (let j = 0; j < n; j++) sum += dz[zo + j] * params[wo + j];
          dPrev[i] = gelus ? sum * geluGrad(zPrev[i]) : sum;
        }
      }
    }
  }
}

/** For every parameter, the unit it feeds: weight column j and bias j of layer l are unit Σ_{k<l} widths[k+1] + j; −1 for padding. */
function unitIndex(layout: ParamLayout): Int32Array {
  const unit = new Int32Array(layout.total).fill(-1);
  let first = 0;
  for (let l = 0; l < layout.weights.length; l++) {
    const W = layout.weights[l];
    for (let p = 0; p < W.rows; p++) for (let j = 0; j < W.cols; j++) unit[W.offset + p * W.cols + j] = first + j;
    for (let j = 0; j < W.cols; j++) unit[layout.biases[l].offset + j] = first + j;
    first += W.cols;
  }
  return unit;
}
