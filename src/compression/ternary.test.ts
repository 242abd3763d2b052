import { describe, expect, it } from 'vitest';
import { decodeVector, encodeVector } from './index.ts';
import { LENGTHS, exactNormals, fingerprint, normals, sameBits } from './testVectors.ts';

const PINNED_TERNARY = '62c60d4c'; // written by this encoder on Node 20 (V8); any engine must match it

/** Checks |x − x̂| ≤ s/2 exactly with s = absmax of the block, and x̂ ∈ {−s, 0, +s}. */
function checkTernaryBound(values: Float32Array, decoded: Float32Array, blockSize: number): void {
  for (let start = 0; start < values.length; start += blockSize) {
    const end = Math.min(start + blockSize, values.length);
    let s = 0;
    for (let i = start; i < end; i++) s = Math.max(s, Math.abs(values[i]));
    for (let i = start; i < end; i++) {
      const x = decoded[i];
      if (x !== -s && x !== 0 && x !== s) throw new Error(`value ${i} decoded to ${x}, not one of −${s}, 0, ${s}`);
      if (!(Math.abs(values[i] - x) <= s / 2)) throw new Error(`value ${i}: |${values[i]} − ${x}| > ${s / 2}`);
    }
  }
}

describe('2-bit ternary block quantisation', () => {
  for (const length of LENGTHS) {
    it(`round-trips ${length} values to {−s, 0, +s} within s/2 per block (s = absmax)`, () => {
      const values = normals(length, length + 11);
      const encoded = encodeVector(values, { scheme: 'ternary' });
      expect(encoded.header).toEqual({ scheme: 'ternary', length, blockSize: 128, k: null });
      expect(encoded.payload.length % 4).toBe(0);
      checkTernaryBound(values, decodeVector(encoded), 128);
    });
  }

  it('holds the bound for block sizes 64, 97 and 256', () => {
    const values = normals(1001, 5, 2);
    for (const blockSize of [64, 97, 256]) checkTernaryBound(values, decodeVector(encodeVector(values, { scheme: 'ternary', blockSize })), blockSize);
  });

  it('sends ±s where |x| ≥ s/2 (ties away from zero) and 0 below', () => {
    const values = Float32Array.of(4, 2, -2, 1.9999999, 0, -4, -0, 3);
    expect(Array.from(decodeVector(encodeVector(values, { scheme: 'ternary', blockSize: 64 })))).toEqual([4, 4, -4, 0, 0, -4, 0, 4]);
  });

  it('keeps exact zeros and all-zero blocks zero', () => {
    const values = normals(400, 8);
    values.fill(0, 128, 256);
    for (let i = 0; i < 400; i += 3) values[i] = 0;
    const encoded = encodeVector(values, { scheme: 'ternary' });
    expect(new DataView(encoded.payload.buffer).getFloat32(4, true)).toBe(0);
    const decoded = decodeVector(encoded);
    for (let i = 0; i < 400; i++) if (values[i] === 0) expect(decoded[i]).toBe(0);
  });

  it('gives bit-identical bytes on every encoding, pinned by a fingerprint', () => {
    const values = exactNormals(235_200, 43);
    const first = encodeVector(values, { scheme: 'ternary' }).payload;
    expect(fingerprint(encodeVector(Float32Array.from(values), { scheme: 'ternary' }).payload)).toBe(fingerprint(first));
    // Inputs and encoding use only exact IEEE arithmetic, so this holds on every engine.
    expect(fingerprint(first)).toBe(PINNED_TERNARY);
    const header = { scheme: 'ternary', length: 235_200, blockSize: 128, k: null };
    expect(sameBits(decodeVector({ header, payload: first }), decodeVector({ header, payload: first.slice() }))).toBe(true);
  });
});
