// int8 block quantisation. Each block of B values keeps one f32 scale s and B codes
// q = round(x/s) in [−127, 127], rounded to nearest with ties away from zero; x̂ = q·s.
// s is the smallest float32 with 127·s ≥ absmax(block), so |q| ≤ 127 even where absmax/127
// rounds down (subnormal blocks). Bound: |x − x̂| ≤ s/2, plus half an f32 ulp of x̂ from
// storing q·s as float32. Pure arithmetic in f64 then Math.fround: the same bytes everywhere.

import { CompressionError } from './errors.ts';
import { padTo4 } from './header.ts';
import { absMax, blockCount, checkZeroPadding, gridScale, readScale, zeroScaleError } from './scales.ts';

const MAX_CODE = 127;

/** The smallest float32 s ≥ 0 with 127·s ≥ absmax; +0 for an all-zero block. */
export function int8Scale(absmax: number): number {
  return gridScale(absmax, MAX_CODE);
}

export function encodeInt8(values: Float32Array, blockSize: number): Uint8Array {
  const n = values.length;
  const blocks = blockCount(n, blockSize);
  const payload = new Uint8Array(4 * blocks + padTo4(n));
  const view = new DataView(payload.buffer);
  const codes = new Int8Array(payload.buffer, 4 * blocks, n);
  for (let block = 0, start = 0; start < n; block++, start += blockSize) {
    const end = Math.min(start + blockSize, n);
    const scale = int8Scale(absMax(values, start, end));
    if (!Number.isFinite(Math.fround(MAX_CODE * scale))) {
      throw new CompressionError('non-finite', `int8 block ${block} (values ${start}–${end - 1}) is too close to the float32 maximum to quantise`);
    }
    view.setFloat32(4 * block, scale, true);
    if (scale === 0) continue; // the codes are already zero
    for (let i = start; i < end; i++) {
      const x = values[i];
      // Math.round on |x| rounds ties up, i.e. away from zero once the sign is put back.
      const q = Math.round(Math.abs(x) / scale);
      codes[i] = x < 0 ? -q : q;
    }
  }
  return payload;
}

export function decodeInt8(payload: Uint8Array, n: number, blockSize: number): Float32Array {
  const blocks = blockCount(n, blockSize);
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const codes = new Int8Array(payload.buffer, payload.byteOffset + 4 * blocks, n);
  const out = new Float32Array(n);
  for (let block = 0, start = 0; start < n; block++, start += blockSize) {
    const end = Math.min(start + blockSize, n);
    const scale = readScale(view, block, 'int8', MAX_CODE);
    for (let i = start; i < end; i++) {
      const q = codes[i];
      if (q === -128) throw new CompressionError('bad-payload', `int8 value ${i} has code −128; codes lie in [−127, 127]`);
      if (scale === 0 && q !== 0) throw zeroScaleError('int8', block, i);
      out[i] = q * scale; // exact in f64 (8 × 24 bits), rounded once on store
    }
  }
  checkZeroPadding(payload, 4 * blocks + n, 'int8');
  return out;
}
