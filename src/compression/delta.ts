// Parameter deltas for the down direction. The coordinator keeps, per stream, the vector the
// receivers hold (their reconstruction), never assumes they hold its exact parameters, and
// encodes current − reconstruction: quantisation error is carried into the next delta instead
// of accumulating, and both sides compute the new reconstruction with the same code on the
// same bytes, so they never drift by even one bit. The first delta is from a zero vector.

import { CompressionError } from './errors.ts';
import { checkFinite } from './finite.ts';
import type { Compressed } from './header.ts';
import { decodeVector, encodeVector, type EncodeOptions } from './vector.ts';

export interface DeltaUpdate {
  /** What travels: the compressed current − previous. */
  delta: Compressed;
  /** What the receiver will hold after applyDelta(previous, delta): the sender's next `previous`. */
  reconstruction: Float32Array;
}

/**
 * Encodes the step from `previous` (what the receiver holds, i.e. the last reconstruction) to
 * `current`, and returns the reconstruction the receiver will compute from it.
 */
export function encodeDelta(previous: Float32Array, current: Float32Array, options: EncodeOptions, mask?: Uint32Array): DeltaUpdate {
  if (previous.length !== current.length) {
    throw new CompressionError('length-mismatch', `encodeDelta: previous has ${previous.length} values, current ${current.length}`);
  }
  checkFinite(previous, 'Previous');
  checkFinite(current, 'Current');
  const step = new Float32Array(current.length);
  for (let i = 0; i < step.length; i++) step[i] = current[i] - previous[i];
  checkFinite(step, 'Delta'); // a finite − finite step may still overflow float32
  const delta = encodeVector(step, options, mask);
  // The receiver's own path on the bytes it will get, so the two sides agree by construction.
  return { delta, reconstruction: applyDelta(previous, delta, mask) };
}

/** The receiver's side: previous + decoded delta, rounded to float32 once per coordinate. */
export function applyDelta(previous: Float32Array, delta: { header: unknown; payload: Uint8Array | Uint32Array }, mask?: Uint32Array): Float32Array {
  const step = decodeVector(delta, mask);
  if (previous.length !== step.length) {
    throw new CompressionError('length-mismatch', `The delta is for ${step.length} values but the receiver holds ${previous.length}`);
  }
  const next = new Float32Array(previous.length);
  for (let i = 0; i < next.length; i++) next[i] = previous[i] + step[i];
  checkFinite(next, 'Reconstructed');
  return next;
}
