// 2-bit ternary block quantisation. Each block of B values keeps one f32 scale s = absmax and
// one code per value for x̂ ∈ {−s, 0, +s}: ±s where |x| ≥ s/2 (ties away from zero), else 0.
// Bound: |x − x̂| ≤ s/2, exactly (2|x| ≥ s is compared exactly in f64; ±s and 0 are exact f32).
// Exact zeros stay zero, which a 4-level {±s, ±s/3} grid would not keep.
// Codes: 0 → 0, 1 → +s, 2 → −s; 3 is never written and is rejected.

import { CompressionError } from './errors.ts';
import { padTo4 } from './header.ts';
import { absMax, blockCount, checkZeroPadding, readScale, zeroScaleError } from './scales.ts';

const CODE_PLUS = 1;
const CODE_MINUS = 2;

export function encodeTernary(values: Float32Array, blockSize: number): Uint8Array {
  const n = values.length;
  const blocks = blockCount(n, blockSize);
  const codeBytes = Math.ceil(n / 4);
  const payload = new Uint8Array(4 * blocks + padTo4(codeBytes));
  const view = new DataView(payload.buffer);
  const codes = payload.subarray(4 * blocks, 4 * blocks + codeBytes);
  for (let block = 0, start = 0; start < n; block++, start += blockSize) {
    const end = Math.min(start + blockSize, n);
    const scale = absMax(values, start, end);
    view.setFloat32(4 * block, scale, true);
    if (scale === 0) continue;
    for (let i = start; i < end; i++) {
      const x = values[i];
      if (2 * Math.abs(x) < scale) continue;
      codes[i >> 2] |= (x < 0 ? CODE_MINUS : CODE_PLUS) << (2 * (i & 3));
    }
  }
  return payload;
}

export function decodeTernary(payload: Uint8Array, n: number, blockSize: number): Float32Array {
  const blocks = blockCount(n, blockSize);
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const codes = payload.subarray(4 * blocks);
  const out = new Float32Array(n);
  for (let block = 0, start = 0; start < n; block++, start += blockSize) {
    const end = Math.min(start + blockSize, n);
    const scale = readScale(view, block, 'ternary', 1);
    for (let i = start; i < end; i++) {
      const code = (codes[i >> 2] >> (2 * (i & 3))) & 3;
      if (code === 0) continue;
      if (code === 3) throw new CompressionError('bad-payload', `ternary value ${i} has code 3; codes are 0, 1 (+s) and 2 (−s)`);
      if (scale === 0) throw zeroScaleError('ternary', block, i);
      out[i] = code === CODE_PLUS ? scale : -scale;
    }
  }
  // Unused 2-bit slots of the last code byte, then the padding, must be zero.
  const lastSlots = n & 3;
  if (lastSlots !== 0 && codes[n >> 2] >> (2 * lastSlots) !== 0) {
    throw new CompressionError('bad-payload', `ternary payload has nonzero codes past value ${n - 1}`);
  }
  checkZeroPadding(payload, 4 * blocks + Math.ceil(n / 4), 'ternary');
  return out;
}
