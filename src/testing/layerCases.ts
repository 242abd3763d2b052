// Shared by the layer kernel tests (src/kernels/*.gpu.test.ts): one layer resolved on its
// own against an input shape, the f64 reference table's forward and backward for it, and
// the bit-for-bit comparison of two runs.

import { referenceTable } from '../model/layers/reference.ts';
import { resolveModel, type HiddenLayerSpec, type ResolvedLayers, type ResolvedModel } from '../model/layers/spec.ts';
import { Random } from '../util/random.ts';

type Kind = Exclude<keyof ResolvedLayers, 'softmax-cross-entropy' | 'residual'>;

/** A model of the one layer (then flatten and the loss, which resolveModel needs) and that layer resolved. */
export function singleLayer<K extends Kind>(input: number[], spec: HiddenLayerSpec & { kind: K }): { model: ResolvedModel; layer: ResolvedLayers[K] } {
  const model = resolveModel({ input, layers: [spec, { kind: 'flatten' }, { kind: 'softmax-cross-entropy' }] });
  return { model, layer: model.layers[0] as ResolvedLayers[K] };
}

/** A flat parameter vector with every real entry uniform in [−1, 1) (padding zero). */
export function randomParams(model: ResolvedModel, rng: Random): Float32Array {
  const params = new Float32Array(model.total);
  for (const t of model.tensors) params.set(rng.uniformArray(t.length), t.offset);
  return params;
}

/** The reference table's forward then backward for one layer, in f64 from f32 inputs. */
export function referenceLayer<K extends Kind>(
  model: ResolvedModel, layer: ResolvedLayers[K], params: Float32Array, x: Float32Array, dy: Float32Array, batch: number,
): { y: Float64Array; dx: Float64Array; gradient: Float64Array; saved: unknown } {
  const gradient = new Float64Array(model.total);
  const pass = { params, batch, dropout: null, labels: null, gradient };
  const rule = referenceTable[layer.kind] as unknown as {
    forward(l: unknown, x: Float64Array, p: typeof pass): { y: Float64Array; saved: unknown };
    backward(l: unknown, dy: Float64Array, saved: unknown, p: typeof pass): Float64Array;
  };
  const { y, saved } = rule.forward(layer, Float64Array.from(x), pass);
  const dx = rule.backward(layer, Float64Array.from(dy), saved, pass);
  return { y, dx, gradient, saved };
}

/** Throws unless the two arrays hold the same bits (a deterministic kernel run twice). */
export function assertBitIdentical(a: Float32Array | Uint32Array, b: Float32Array | Uint32Array, what: string): void {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  if (x.length !== y.length) throw new Error(`${what}: lengths differ, ${x.length} vs ${y.length}`);
  for (let i = 0; i < x.length; i++) {
    if (x[i] !== y[i]) throw new Error(`${what}: runs differ at [${i}]: 0x${x[i].toString(16)} vs 0x${y[i].toString(16)}`);
  }
}
