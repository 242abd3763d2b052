// The multilayer perceptron: its specification, the layout of its parameters in one flat
// vector, initialisation and cost. Pure data, shared by the GPU path, the CPU reference,
// the coordinator and the ONNX export.

import { Random } from '../util/random.ts';

export type Activation = 'relu' | 'gelu';

export interface MlpSpec {
  /** Layer widths from input to output, e.g. [784, 256, 128, 10]. */
  widths: number[];
  /** Hidden-layer activation; the output layer is linear (logits). */
  activation: Activation;
}

export const DEFAULT_MLP: MlpSpec = { widths: [784, 256, 128, 10], activation: 'relu' };

/**
 * Every segment starts on a 64-float boundary: 256 bytes is the largest
 * minStorageBufferOffsetAlignment WebGPU allows, so each weight or bias can be bound on
 * its own with a buffer offset, and kernels need no offset arithmetic.
 */
export const SEGMENT_ALIGN_FLOATS = 64;

export interface Segment {
  name: string;
  kind: 'weight' | 'bias';
  layer: number;
  /** Offset into the flat vector, in floats. */
  offset: number;
  length: number;
  /** A weight is [rows = fan-in] × [cols = fan-out], row-major; a bias is 1 × cols. */
  rows: number;
  cols: number;
}

export interface ParamLayout {
  spec: MlpSpec;
  segments: Segment[];
  /** Length of the flat vector in floats, padding included. */
  total: number;
  /**
   * Weights come first, biases after: indices below decayEnd get weight decay, the rest
   * do not, so one optimizer dispatch serves the whole vector.
   */
  decayEnd: number;
  weights: Segment[];
  biases: Segment[];
}

const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

export function validateSpec(spec: MlpSpec): void {
  const { widths, activation } = spec;
  if (!Array.isArray(widths) || widths.length < 2) {
    throw new Error(`MLP widths must list at least an input and an output width, got ${JSON.stringify(widths)}`);
  }
  for (const w of widths) {
    if (!Number.isInteger(w) || w < 1 || w > 65536) {
      throw new Error(`MLP width must be an integer in [1, 65536], got ${w} in ${JSON.stringify(widths)}`);
    }
  }
  if (activation !== 'relu' && activation !== 'gelu') {
    throw new Error(`MLP activation must be 'relu' or 'gelu', got ${JSON.stringify(activation)}`);
  }
}

export function mlpLayout(spec: MlpSpec): ParamLayout {
  validateSpec(spec);
  const layers = spec.widths.length - 1;
  const weights: Segment[] = [];
  const biases: Segment[] = [];
  let offset = 0;
  for (let l = 0; l < layers; l++) {
    const rows = spec.widths[l];
    const cols = spec.widths[l + 1];
    weights.push({ name: `layer${l}.weight`, kind: 'weight', layer: l, offset, length: rows * cols, rows, cols });
    offset = alignUp(offset + rows * cols, SEGMENT_ALIGN_FLOATS);
  }
  const decayEnd = offset;
  for (let l = 0; l < layers; l++) {
    const cols = spec.widths[l + 1];
    biases.push({ name: `layer${l}.bias`, kind: 'bias', layer: l, offset, length: cols, rows: 1, cols });
    offset = alignUp(offset + cols, SEGMENT_ALIGN_FLOATS);
  }
  return { spec, segments: [...weights, ...biases], total: offset, decayEnd, weights, biases };
}

/** Number of real parameters, padding excluded. */
export function parameterCount(layout: ParamLayout): number {
  return layout.segments.reduce((n, s) => n + s.length, 0);
}

/**
 * Kaiming-uniform weights (suited to ReLU/GELU: keeps activation variance steady with
 * depth) and zero biases; padding stays zero.
 */
export function initParameters(layout: ParamLayout, seed: number): Float32Array {
  const rng = new Random(seed);
  const params = new Float32Array(layout.total);
  for (const w of layout.weights) {
    const bound = Math.sqrt(6 / w.rows);
    for (let i = 0; i < w.length; i++) params[w.offset + i] = rng.uniform(-bound, bound);
  }
  return params;
}

/** Floating-point operations of one forward and one backward pass over `batch` examples. */
export function mlpFlops(spec: MlpSpec, batch: number): { forward: number; backward: number } {
  let matmul = 0;
  for (let l = 0; l + 1 < spec.widths.length; l++) matmul += 2 * batch * spec.widths[l] * spec.widths[l + 1];
  // Backward does two matmuls per layer (dW and dX), except that the first layer needs no dX.
  const firstLayer = 2 * batch * spec.widths[0] * spec.widths[1];
  return { forward: matmul, backward: 2 * matmul - firstLayer };
}

/** A view of one segment of a flat vector. */
export function segmentView(flat: Float32Array, s: Segment): Float32Array {
  return flat.subarray(s.offset, s.offset + s.length);
}
