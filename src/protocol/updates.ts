// Vectors as they travel in messages: a result's update (gradient or Δ) and a parameter delta
// are an encoding header in the body and a u32 tensor of payload, per the job's compression
// (src/compression). Both ends use these functions, so what one encodes the other decodes.

import { CompressionError, decodeVector, encodeVector, payloadWords, type CompressedHeader, type EncodeOptions } from '../compression/index.ts';
import type { EncodingSpec } from './messages.ts';

export interface EncodedUpdate {
  encoding: CompressedHeader;
  update: Uint32Array;
}

export function encodeOptions(spec: EncodingSpec): EncodeOptions {
  return spec.scheme === 'f32' ? { scheme: 'f32' } : { scheme: spec.scheme, blockSize: spec.blockSize };
}

/** Encodes a dense vector the way `spec` says; throws CompressionError on NaN/Inf. */
export function encodeUpdate(values: Float32Array, spec: EncodingSpec): EncodedUpdate {
  const { header, payload } = encodeVector(values, encodeOptions(spec));
  return { encoding: header, update: payloadWords(payload) };
}

/** An f32 update of any values, NaN included, without the encoder's checks: what a careless or hostile sender may send (tests, adversaries). */
export function rawF32Update(values: Float32Array): EncodedUpdate {
  const update = new Uint32Array(values.length);
  const view = new DataView(update.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(4 * i, values[i], true);
  return { encoding: { scheme: 'f32', length: values.length, blockSize: null, k: null }, update };
}

/**
 * Decodes a received update after checking it is what the job asked for: the job's scheme and
 * block size, every coordinate of a vector of `length`. Throws CompressionError saying what is wrong.
 */
export function decodeUpdate(encoded: EncodedUpdate, spec: EncodingSpec, length: number): Float32Array {
  const { encoding } = encoded;
  const blockSize = spec.scheme === 'f32' ? null : spec.blockSize;
  if (encoding.scheme !== spec.scheme || encoding.blockSize !== blockSize) {
    throw new CompressionError('unknown-scheme', `this job's updates are ${describeSpec(spec)}, not ${encoding.scheme}${encoding.blockSize === null ? '' : ` in blocks of ${encoding.blockSize}`}`);
  }
  if (encoding.length !== length) throw new CompressionError('length-mismatch', `the update has ${encoding.length} values, the model needs ${length}`);
  if (encoding.k !== null) throw new CompressionError('bad-mask', 'this job sends every coordinate; an update on a mask is not expected');
  return decodeVector({ header: encoding, payload: encoded.update });
}

/** What the receiver rebuilds from `values` sent with `spec`: a recomputation is compared with a claim after the same rounding. */
export function roundTrip(values: Float32Array, spec: EncodingSpec): Float32Array {
  if (spec.scheme === 'f32') return values;
  const { header, payload } = encodeVector(values, encodeOptions(spec));
  return decodeVector({ header, payload });
}

export function describeSpec(spec: EncodingSpec): string {
  return spec.scheme === 'f32' ? 'f32' : `${spec.scheme} in blocks of ${spec.blockSize}`;
}
