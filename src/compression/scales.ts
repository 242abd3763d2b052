// What the block quantisers share: the block walk, the scale of an integer grid, reading a
// block's f32 scale with its checks, and the rule that padding bytes are zero (so one vector
// has one encoding).

import { CompressionError } from './errors.ts';
import type { Scheme } from './header.ts';

export function blockCount(n: number, blockSize: number): number {
  return Math.ceil(n / blockSize);
}

/** Largest |value| in values[start, end); +0 for an empty or all-zero range. */
export function absMax(values: Float32Array, start: number, end: number): number {
  let max = 0;
  for (let i = start; i < end; i++) {
    const a = Math.abs(values[i]);
    if (a > max) max = a;
  }
  return max;
}

const bits = new Float32Array(1);
const bitsAsUint = new Uint32Array(bits.buffer);

/**
 * The smallest float32 s ≥ 0 with maxCode·s ≥ absmax (+0 for an all-zero block), so that
 * round(|x|/s) ≤ maxCode even where absmax/maxCode rounds down (subnormal blocks).
 */
export function gridScale(absmax: number, maxCode: number): number {
  let scale = Math.fround(absmax / maxCode);
  if (maxCode * scale < absmax) {
    // One float32 step up: the rounding went below absmax/maxCode (maxCode·scale is exact in f64).
    bits[0] = scale;
    bitsAsUint[0] += 1;
    scale = bits[0];
  }
  return scale;
}

/**
 * Reads block `block`'s scale and checks it is one the encoder could have written: finite,
 * +0 or positive, and `maxCode`·scale finite in f32 (so no decoded value overflows).
 */
export function readScale(view: DataView, block: number, scheme: Scheme, maxCode: number): number {
  const scale = view.getFloat32(4 * block, true);
  if (!Number.isFinite(scale)) throw new CompressionError('non-finite', `${scheme} block ${block} has scale ${scale}`);
  if (scale < 0 || Object.is(scale, -0)) throw new CompressionError('bad-payload', `${scheme} block ${block} has negative scale ${scale}`);
  if (!Number.isFinite(Math.fround(maxCode * scale))) {
    throw new CompressionError('non-finite', `${scheme} block ${block} has scale ${scale}: ${maxCode}·scale overflows float32`);
  }
  return scale;
}

/** Rejects a nonzero byte in payload[from, end): the encoder writes padding as zeros. */
export function checkZeroPadding(payload: Uint8Array, from: number, scheme: Scheme): void {
  for (let i = from; i < payload.length; i++) {
    if (payload[i] !== 0) throw new CompressionError('bad-payload', `${scheme} payload has nonzero padding at byte ${i}`);
  }
}

export function zeroScaleError(scheme: Scheme, block: number, index: number): CompressionError {
  return new CompressionError('bad-payload', `${scheme} block ${block} has scale 0 but a nonzero code at value ${index}`);
}
