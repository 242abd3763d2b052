// int4 block quantisation. Each block of B values keeps one f32 scale s and B codes
// q = round(x/s) in [−7, 7], rounded to nearest with ties away from zero; x̂ = q·s.
// s is the smallest float32 with 7·s ≥ absmax(block) (int8's rule with 7 for 127), so |q| ≤ 7.
// Bound: |x − x̂| ≤ s/2, plus half an f32 ulp of x̂ from storing q·s as float32.
// Codes are 4-bit two's complement, two to a byte, value 2j in the low nibble: zero is nibble 0,
// so all-zero blocks and padding are zero bytes; −8 (nibble 0x8) is never written and is rejected.

import { CompressionError } from './errors.ts';
import { padTo4 } from './header.ts';
import { absMax, blockCount, checkZeroPadding, gridScale, readScale, zeroScaleError } from './scales.ts';

const MAX_CODE = 7;
const NIBBLE_MINUS_8 = 0x8;

/** The smallest float32 s ≥ 0 with 7·s ≥ absmax; +0 for an all-zero block. */
export function int4Scale(absmax: number): number {
  return gridScale(absmax, MAX_CODE);
}

export function encodeInt4(values: Float32Array, blockSize: number): Uint8Array {
  const n = values.length;
  const blocks = blockCount(n, blockSize);
  const codeBytes = Math.ceil(n / 2);
  const payload = new Uint8Array(4 * blocks + padTo4(codeBytes));
  const view = new DataView(payload.buffer);
  const codes = payload.subarray(4 * blocks, 4 * blocks + codeBytes);
  for (let block = 0, start = 0; start < n; block++, start += blockSize) {
    const end = Math.min(start + blockSize, n);
    const scale = int4Scale(absMax(values, start, end));
    if (!Number.isFinite(Math.fround(MAX_CODE * scale))) {
      throw new CompressionError('non-finite', `int4 block ${block} (values ${start}–${end - 1}) is too close to the float32 maximum to quantise`);
    }
    view.setFloat32(4 * block, scale, true);
    if (scale === 0) continue; // the codes are already zero
    for (let i = start; i < end; i++) {
      const x = values[i];
      // Math.round on |x| rounds ties up, i.e. away from zero once the sign is put back.
      const q = Math.round(Math.abs(x) / scale);
      codes[i >> 1] |= ((x < 0 ? -q : q) & 0xf) << (4 * (i & 1));
    }
  }
  return payload;
}

export function decodeInt4(payload: Uint8Array, n: number, blockSize: number): Float32Array {
  const blocks = blockCount(n, blockSize);
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const codes = payload.subarray(4 * blocks);
  const out = new Float32Array(n);
  for (let block = 0, start = 0; start < n; block++, start += blockSize) {
    const end = Math.min(start + blockSize, n);
    const scale = readScale(view, block, 'int4', MAX_CODE);
    for (let i = start; i < end; i++) {
      const nibble = (codes[i >> 1] >> (4 * (i & 1))) & 0xf;
      if (nibble === 0) continue;
      if (nibble === NIBBLE_MINUS_8) throw new CompressionError('bad-payload', `int4 value ${i} has code −8 (nibble 0x8); codes lie in [−7, 7]`);
      if (scale === 0) throw zeroScaleError('int4', block, i);
      out[i] = (nibble < 8 ? nibble : nibble - 16) * scale; // exact in f64, rounded once on store
    }
  }
  // The unused high nibble of the last code byte (odd n), then the padding, must be zero.
  if ((n & 1) === 1 && codes[n >> 1] >> 4 !== 0) {
    throw new CompressionError('bad-payload', `int4 payload has a nonzero code past value ${n - 1}`);
  }
  checkZeroPadding(payload, 4 * blocks + Math.ceil(n / 2), 'int4');
  return out;
}
