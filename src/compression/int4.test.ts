import { describe, expect, it } from 'vitest';
import { DEFAULT_BLOCK_SIZE, decodeVector, encodeVector, int4Scale } from './index.ts';
import { LENGTHS, exactNormals, fingerprint, normals, sameBits } from './testVectors.ts';

const PINNED_INT4 = 'a62e0d3a'; // written by this encoder on Node 20 (V8); any engine must match it

/** Per block, the worst |x − x̂| / (s/2) with s = int4Scale(absmax), allowing half an f32 ulp of x̂ for its storage. */
function worstBoundRatio(values: Float32Array, decoded: Float32Array, blockSize: number): number {
  let worst = 0;
  for (let start = 0; start < values.length; start += blockSize) {
    const block = values.subarray(start, Math.min(start + blockSize, values.length));
    const scale = int4Scale(block.reduce((m, x) => Math.max(m, Math.abs(x)), 0));
    for (let i = 0; i < block.length; i++) {
      const x̂ = decoded[start + i];
      if (Math.abs(x̂) > Math.fround(7 * scale)) return Infinity; // |q| ≤ 7
      const error = Math.abs(block[i] - x̂);
      if (error > scale / 2 + Math.abs(x̂) * 2 ** -24) return Infinity;
      if (scale > 0) worst = Math.max(worst, error / (scale / 2));
    }
  }
  return worst;
}

/** The codes of a payload with `blocks` scales, as signed integers, two's complement nibbles low first. */
function codesOf(payload: Uint8Array, blocks: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => {
    const nibble = (payload[4 * blocks + (i >> 1)] >> (4 * (i & 1))) & 0xf;
    return nibble < 8 ? nibble : nibble - 16;
  });
}

describe('int4 block quantisation', () => {
  for (const length of LENGTHS) {
    it(`round-trips ${length} values within s/2 per block (s = absmax/7)`, () => {
      const values = normals(length, length + 21);
      const encoded = encodeVector(values, { scheme: 'int4' });
      expect(encoded.header).toEqual({ scheme: 'int4', length, blockSize: DEFAULT_BLOCK_SIZE, k: null });
      expect(encoded.payload.length % 4).toBe(0);
      const decoded = decodeVector(encoded);
      expect(decoded.length).toBe(length);
      expect(worstBoundRatio(values, decoded, DEFAULT_BLOCK_SIZE)).toBeLessThanOrEqual(1.0001);
    });
  }

  it('holds the bound on odd lengths for block sizes 64, 128 and 256, with a partial last block', () => {
    for (const length of [1, 63, 199, 1001, 4097]) {
      const values = normals(length, length, 3);
      for (const blockSize of [64, 128, 256]) {
        const decoded = decodeVector(encodeVector(values, { scheme: 'int4', blockSize }));
        expect(worstBoundRatio(values, decoded, blockSize), `length ${length}, B=${blockSize}`).toBeLessThanOrEqual(1.0001);
      }
    }
  });

  it('writes two codes a byte, low nibble first, rounding to nearest with ties away from zero', () => {
    // absmax 7 gives scale exactly 1, so the codes are the rounded values themselves.
    const values = Float32Array.of(7, 3.5, -3.5, 0.5, -0.5, 0.49999997, 2.5, -6.5, -7);
    const encoded = encodeVector(values, { scheme: 'int4', blockSize: 64 });
    const view = new DataView(encoded.payload.buffer);
    expect(view.getFloat32(0, true)).toBe(1);
    expect(codesOf(encoded.payload, 1, values.length)).toEqual([7, 4, -4, 1, -1, 0, 3, -7, -7]);
    expect(Array.from(encoded.payload.subarray(4))).toEqual([0x47, 0x1c, 0x0f, 0x93, 0x09, 0, 0, 0]);
    expect(Array.from(decodeVector(encoded))).toEqual([7, 4, -4, 1, -1, 0, 3, -7, -7]);
  });

  it('decodes every grid value k·s, k in −7…7, exactly', () => {
    // s of at most 21 significant bits, so k·s (≤ 3 more) is exact in float32 and absmax/7 is s.
    for (const s of [1, 0.3125, Math.round(1e-3 * 2 ** 30) * 2 ** -30, 2 ** -120, 2 ** -140, 3 * 2 ** 100]) {
      // Every 15 consecutive i take every k once, so each block of 64 (and the last, of 22) has absmax 7·s.
      const values = Float32Array.from({ length: 150 }, (_, i) => (((i * 4) % 15) - 7) * s);
      const decoded = decodeVector(encodeVector(values, { scheme: 'int4', blockSize: 64 }));
      expect(sameBits(decoded, values), `s = ${s}`).toBe(true);
      expect(decoded.includes(7 * s) && decoded.includes(-7 * s)).toBe(true);
    }
  });

  it('keeps exact zeros zero, and an all-zero block has scale 0 and zero codes', () => {
    const values = normals(301, 3);
    for (let i = 0; i < 301; i += 7) values[i] = 0;
    values.fill(0, 128, 256); // the whole second block
    values[5] = -0;
    const encoded = encodeVector(values, { scheme: 'int4' });
    expect(new DataView(encoded.payload.buffer).getFloat32(4, true)).toBe(0);
    expect(encoded.payload.subarray(12 + 64, 12 + 128).every((b) => b === 0)).toBe(true);
    const decoded = decodeVector(encoded);
    for (let i = 0; i < 301; i++) if (values[i] === 0) expect(decoded[i]).toBe(0);
  });

  it('picks the smallest float32 scale with 7·scale ≥ absmax, also for subnormal and huge blocks', () => {
    for (const absmax of [1, 3.3e-8, 1e-40, 8 * 2 ** -149, 2 ** -149, 3e38, 3.4028234e38]) {
      const a = Math.fround(absmax);
      const scale = int4Scale(a);
      expect(7 * scale).toBeGreaterThanOrEqual(a);
      expect(Math.fround(scale)).toBe(scale);
      const below = new Float32Array([scale]);
      new Uint32Array(below.buffer)[0] -= 1;
      expect(7 * below[0]).toBeLessThan(a);
    }
    // 8 ulps of the smallest subnormal: absmax/7 rounds down to 1 ulp, which would need code 8.
    for (const values of [Float32Array.of(8 * 2 ** -149, -5 * 2 ** -149), Float32Array.of(3.4028234e38, -1e38, 2e37)]) {
      const decoded = decodeVector(encodeVector(values, { scheme: 'int4', blockSize: 64 }));
      expect(worstBoundRatio(values, decoded, 64)).toBeLessThanOrEqual(1.0001);
    }
  });

  it('takes half the bytes of int8, and gives bit-identical bytes on every encoding, pinned by a fingerprint', () => {
    const values = exactNormals(235_200, 44);
    const first = encodeVector(values, { scheme: 'int4' }).payload;
    expect(first.length).toBe(7_352 + 117_600);
    expect(fingerprint(encodeVector(Float32Array.from(values), { scheme: 'int4' }).payload)).toBe(fingerprint(first));
    // Inputs and encoding use only exact IEEE arithmetic, so this holds on every engine.
    expect(fingerprint(first)).toBe(PINNED_INT4);
  });

  it('decodes from the u32 tensor the protocol carries', () => {
    const values = normals(129, 9);
    const { header, payload } = encodeVector(values, { scheme: 'int4' });
    const words = new Uint32Array(payload.buffer.slice(0));
    expect(decodeVector({ header: JSON.parse(JSON.stringify(header)), payload: words })).toEqual(decodeVector({ header, payload }));
  });
});
