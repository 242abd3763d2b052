import { describe, expect, it } from 'vitest';
import { DEFAULT_BLOCK_SIZE, decodeVector, encodeVector, int8Scale } from './index.ts';
import { LENGTHS, exactNormals, fingerprint, normals } from './testVectors.ts';

const PINNED_INT8 = '19990a9f'; // written by this encoder on Node 20 (V8); any engine must match it

/** Per block, the worst |x − x̂| / (scale/2), allowing half an f32 ulp of x̂ for its storage. */
function worstBoundRatio(values: Float32Array, decoded: Float32Array, blockSize: number): number {
  let worst = 0;
  for (let start = 0; start < values.length; start += blockSize) {
    const block = values.subarray(start, Math.min(start + blockSize, values.length));
    const scale = int8Scale(block.reduce((m, x) => Math.max(m, Math.abs(x)), 0));
    for (let i = 0; i < block.length; i++) {
      const error = Math.abs(block[i] - decoded[start + i]);
      const allowed = scale / 2 + Math.abs(decoded[start + i]) * 2 ** -24;
      if (error > allowed) return Infinity;
      if (scale > 0) worst = Math.max(worst, error / (scale / 2));
    }
  }
  return worst;
}

describe('int8 block quantisation', () => {
  for (const length of LENGTHS) {
    it(`round-trips ${length} values within scale/2 per block`, () => {
      const values = normals(length, length + 1);
      const encoded = encodeVector(values, { scheme: 'int8' });
      expect(encoded.header).toEqual({ scheme: 'int8', length, blockSize: DEFAULT_BLOCK_SIZE, k: null });
      const decoded = decodeVector(encoded);
      expect(decoded.length).toBe(length);
      expect(worstBoundRatio(values, decoded, DEFAULT_BLOCK_SIZE)).toBeLessThanOrEqual(1.0001);
    });
  }

  it('holds the bound for block sizes 64, 100 and 256, with a partial last block', () => {
    const values = normals(1000, 7, 3);
    for (const blockSize of [64, 100, 256]) {
      const decoded = decodeVector(encodeVector(values, { scheme: 'int8', blockSize }));
      expect(worstBoundRatio(values, decoded, blockSize)).toBeLessThanOrEqual(1.0001);
    }
  });

  it('keeps exact zeros zero, and an all-zero block has scale 0 and zero codes', () => {
    const values = normals(300, 3);
    for (let i = 0; i < 300; i += 7) values[i] = 0;
    values.fill(0, 128, 256); // the whole second block
    values[5] = -0;
    const encoded = encodeVector(values, { scheme: 'int8' });
    const view = new DataView(encoded.payload.buffer);
    expect(view.getFloat32(4, true)).toBe(0);
    expect(encoded.payload.subarray(12 + 128, 12 + 256).every((b) => b === 0)).toBe(true);
    const decoded = decodeVector(encoded);
    for (let i = 0; i < 300; i++) if (values[i] === 0) expect(decoded[i]).toBe(0);
  });

  it('rounds to nearest with ties away from zero', () => {
    // absmax 127 gives scale exactly 1, so the codes are the rounded values themselves.
    const values = Float32Array.of(127, 63.5, -63.5, 0.5, -0.5, 0.49999997, 2.5, -126.5);
    const encoded = encodeVector(values, { scheme: 'int8', blockSize: 64 });
    expect(new DataView(encoded.payload.buffer).getFloat32(0, true)).toBe(1);
    expect(Array.from(new Int8Array(encoded.payload.buffer, 4, values.length))).toEqual([127, 64, -64, 1, -1, 0, 3, -127]);
  });

  it('picks the smallest float32 scale with 127·scale ≥ absmax, also for subnormal blocks', () => {
    for (const absmax of [1, 3.3e-8, 1e-40, 189 * 2 ** -149, 2 ** -149, 3e38]) {
      const a = Math.fround(absmax);
      const scale = int8Scale(a);
      expect(127 * scale).toBeGreaterThanOrEqual(a);
      expect(Math.fround(scale)).toBe(scale);
      // One step down would not cover absmax.
      const below = new Float32Array([scale]);
      new Uint32Array(below.buffer)[0] -= 1;
      expect(127 * below[0]).toBeLessThan(a);
    }
    // 189 ulps of the smallest subnormal: absmax/127 rounds down to 1 ulp, which would need code 189.
    const values = Float32Array.of(189 * 2 ** -149, -5 * 2 ** -149);
    const decoded = decodeVector(encodeVector(values, { scheme: 'int8', blockSize: 64 }));
    expect(worstBoundRatio(values, decoded, 64)).toBeLessThanOrEqual(1);
  });

  it('gives bit-identical bytes on every encoding, pinned by a fingerprint', () => {
    const values = exactNormals(235_200, 42);
    const first = encodeVector(values, { scheme: 'int8' }).payload;
    const second = encodeVector(Float32Array.from(values), { scheme: 'int8' }).payload;
    expect(fingerprint(second)).toBe(fingerprint(first));
    expect(second.length).toBe(first.length);
    // Inputs and encoding use only exact IEEE arithmetic, so this holds on every engine.
    expect(fingerprint(first)).toBe(PINNED_INT8);
  });

  it('decodes from the u32 tensor the protocol carries', () => {
    const values = normals(129, 9);
    const { header, payload } = encodeVector(values, { scheme: 'int8' });
    const words = new Uint32Array(payload.buffer.slice(0));
    expect(decodeVector({ header: JSON.parse(JSON.stringify(header)), payload: words })).toEqual(decodeVector({ header, payload }));
  });
});
