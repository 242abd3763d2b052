import { describe, expect, it } from 'vitest';
import { SCHEMES, decodeVector, encodeVector, sharedMask, topKMask } from './index.ts';
import { MLP_PARAMETERS, normals } from './testVectors.ts';

function isStrictlyIncreasing(mask: Uint32Array, length: number): boolean {
  for (let j = 0; j < mask.length; j++) if (mask[j] >= length || (j > 0 && mask[j] <= mask[j - 1])) return false;
  return true;
}

describe('sharedMask', () => {
  it('draws k distinct sorted coordinates, the same for the same seed on every call', () => {
    const a = sharedMask(MLP_PARAMETERS, 2352, 17);
    expect(a.length).toBe(2352);
    expect(isStrictlyIncreasing(a, MLP_PARAMETERS)).toBe(true);
    expect(sharedMask(MLP_PARAMETERS, 2352, 17)).toEqual(a);
    const b = sharedMask(MLP_PARAMETERS, 2352, 18);
    expect(b).not.toEqual(a);
    // Pinned: splitmix32 and selection sampling use exact arithmetic, so every engine agrees.
    expect(Array.from(sharedMask(1000, 5, 1))).toEqual(PINNED_MASK);
  });

  it('covers the edges: k = 0, k = length, length 0 and 1', () => {
    expect(sharedMask(10, 0, 3).length).toBe(0);
    expect(Array.from(sharedMask(5, 5, 3))).toEqual([0, 1, 2, 3, 4]);
    expect(sharedMask(0, 0, 3).length).toBe(0);
    expect(Array.from(sharedMask(1, 1, 3))).toEqual([0]);
  });

  it('spreads its draws: each half of the vector gets about half of them', () => {
    const mask = sharedMask(100_000, 10_000, 99);
    const low = mask.filter((i) => i < 50_000).length;
    expect(Math.abs(low - 5000)).toBeLessThan(300);
  });
});

describe('topKMask', () => {
  it('takes the k largest magnitudes, ascending by index', () => {
    const values = Float32Array.of(0.1, -5, 3, 0, -0.2, 4, -3.5);
    expect(Array.from(topKMask(values, 3))).toEqual([1, 5, 6]);
    expect(Array.from(topKMask(values, 0))).toEqual([]);
    expect(Array.from(topKMask(values, 7))).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('breaks ties by the lower index, whatever the signs', () => {
    const values = Float32Array.of(1, -2, 2, -2, 2, 1);
    expect(Array.from(topKMask(values, 2))).toEqual([1, 2]);
    expect(Array.from(topKMask(values, 4))).toEqual([1, 2, 3, 4]);
    expect(Array.from(topKMask(values, 5))).toEqual([0, 1, 2, 3, 4]);
    expect(Array.from(topKMask(new Float32Array(6), 3))).toEqual([0, 1, 2]);
  });

  it('agrees with a plain sort on a gradient-sized vector', () => {
    const values = normals(MLP_PARAMETERS, 4);
    const k = 2352;
    const byMagnitude = Array.from(values.keys()).sort((a, b) => Math.abs(values[b]) - Math.abs(values[a]) || a - b);
    expect(Array.from(topKMask(values, k))).toEqual(byMagnitude.slice(0, k).sort((a, b) => a - b));
  });
});

describe('values on a mask', () => {
  for (const scheme of SCHEMES) {
    it(`${scheme}: decode puts the carried values at the mask and zero elsewhere`, () => {
      const values = normals(MLP_PARAMETERS, 6);
      const mask = sharedMask(MLP_PARAMETERS, 2352, 7);
      const encoded = encodeVector(values, { scheme }, mask);
      expect(encoded.header.k).toBe(2352);
      const dense = encodeVector(Float32Array.from(mask, (i) => values[i]), { scheme });
      const decoded = decodeVector(encoded, mask);
      expect(decoded.length).toBe(MLP_PARAMETERS);
      // The carried values are the dense encoding of the gathered vector, coordinate for coordinate.
      const gathered = decodeVector(dense);
      let nonzeroOff = 0;
      const onMask = new Uint8Array(MLP_PARAMETERS);
      mask.forEach((i, j) => {
        onMask[i] = 1;
        expect(decoded[i]).toBe(gathered[j]);
      });
      decoded.forEach((x, i) => {
        if (!onMask[i] && x !== 0) nonzeroOff++;
      });
      expect(nonzeroOff).toBe(0);
      if (scheme === 'f32') mask.forEach((i) => expect(decoded[i]).toBe(values[i]));
    });
  }

  it('carries k = 0 coordinates as an empty payload', () => {
    const encoded = encodeVector(normals(50, 1), { scheme: 'int8' }, new Uint32Array(0));
    expect(encoded.payload.length).toBe(0);
    expect(decodeVector(encoded, new Uint32Array(0))).toEqual(new Float32Array(50));
  });
});

const PINNED_MASK = [111, 434, 469, 512, 893];
