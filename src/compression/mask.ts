// Masks: the sorted coordinates a round carries. Every contributor and every coordinate-wise
// robust rule must see the same ones, so a mask is either drawn from a seed (sharedMask) or
// chosen by the coordinator from its own update (topKMask) and sent to everyone.

import { Random } from '../util/random.ts';
import { CompressionError } from './errors.ts';
import { checkFinite } from './finite.ts';
import { MAX_LENGTH } from './header.ts';

/**
 * k distinct coordinates of [0, length), ascending, drawn from `seed` by selection sampling
 * (Knuth's algorithm S: take i with probability needed/remaining), one draw per coordinate.
 * The seed is taken modulo 2³² (src/util/random.ts); derive it from the job seed and the round.
 */
export function sharedMask(length: number, k: number, seed: number): Uint32Array {
  checkCount('length', length, MAX_LENGTH);
  checkCount('k', k, length);
  if (!Number.isSafeInteger(seed)) throw new CompressionError('bad-argument', `sharedMask: seed must be an integer, got ${seed}`);
  const random = new Random(seed);
  const mask = new Uint32Array(k);
  let taken = 0;
  for (let i = 0; i < length && taken < k; i++) {
    if (random.int(length - i) < k - taken) mask[taken++] = i;
  }
  return mask;
}

/**
 * The k coordinates of largest |value|, ascending; among equal magnitudes the lower index wins,
 * so the mask is a function of the values alone.
 */
export function topKMask(values: Float32Array, k: number): Uint32Array {
  checkCount('k', k, values.length);
  checkFinite(values);
  const n = values.length;
  const mask = new Uint32Array(k);
  if (k === 0) return mask;
  const magnitudes = new Float32Array(n);
  for (let i = 0; i < n; i++) magnitudes[i] = Math.abs(values[i]);
  const threshold = magnitudes.slice().sort()[n - k]; // typed-array sort is numeric
  let above = 0;
  for (let i = 0; i < n; i++) if (magnitudes[i] > threshold) above++;
  let ties = k - above;
  let taken = 0;
  for (let i = 0; i < n && taken < k; i++) {
    const m = magnitudes[i];
    if (m > threshold || (m === threshold && ties-- > 0)) mask[taken++] = i;
  }
  return mask;
}

/** Checks a mask received from elsewhere: k indices, each in [0, length), strictly increasing. */
export function checkMask(mask: Uint32Array, length: number, k: number): void {
  if (!(mask instanceof Uint32Array)) throw new CompressionError('bad-mask', 'A mask must be a Uint32Array of coordinate indices');
  if (mask.length !== k) throw new CompressionError('length-mismatch', `The header carries k = ${k} coordinates but the mask has ${mask.length}`);
  let previous = -1;
  for (let j = 0; j < mask.length; j++) {
    const index = mask[j];
    if (index >= length) throw new CompressionError('bad-mask', `Mask entry ${j} is coordinate ${index}, outside a vector of length ${length}`);
    if (index <= previous) {
      throw new CompressionError('bad-mask', `Mask entry ${j} is coordinate ${index}, not above entry ${j - 1} (${previous}); masks are strictly increasing`);
    }
    previous = index;
  }
}

export function gather(values: Float32Array, mask: Uint32Array): Float32Array {
  const out = new Float32Array(mask.length);
  for (let j = 0; j < mask.length; j++) out[j] = values[mask[j]];
  return out;
}

/** The full-length vector: `carried` at the mask's coordinates, zero everywhere else. */
export function scatter(carried: Float32Array, mask: Uint32Array, length: number): Float32Array {
  const out = new Float32Array(length);
  for (let j = 0; j < mask.length; j++) out[mask[j]] = carried[j];
  return out;
}

function checkCount(name: string, value: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new CompressionError('bad-argument', `${name} must be an integer in [0, ${max}], got ${value}`);
  }
}
