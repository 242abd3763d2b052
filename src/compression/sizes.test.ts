import { describe, expect, it } from 'vitest';
import { SCHEMES, encodeVector, encodedByteSize, sharedMask } from './index.ts';
import { LENGTHS, MLP_PARAMETERS, normals } from './testVectors.ts';

describe('encodedByteSize', () => {
  it('is the payload length of every encoding, always a multiple of 4', () => {
    for (const length of [...LENGTHS, 2, 3, 5, 63, 64, 65, 255, 257]) {
      const values = normals(length, length);
      for (const scheme of SCHEMES) {
        for (const blockSize of scheme === 'f32' ? [undefined] : [64, 100, 128, 256]) {
          const dense = encodeVector(values, { scheme, blockSize });
          expect(dense.payload.length % 4).toBe(0);
          expect(encodedByteSize(dense.header)).toBe(dense.payload.length);
          const k = Math.floor(length / 3);
          const masked = encodeVector(values, { scheme, blockSize }, sharedMask(length, k, 1));
          expect(encodedByteSize(masked.header)).toBe(masked.payload.length);
        }
      }
    }
  });

  // fp32 940,800 bytes. int8: ⌈235200/B⌉ scales of 4 bytes plus one byte a value, 1 + 4/B bytes
  // a value. int4: half a byte a value, 1/2 + 4/B. ternary: a quarter byte a value, 1/4 + 4/B.
  const cases = [
    ['f32', null, null, 940_800],
    ['int8', 64, null, 249_900], //        3.76× smaller than fp32
    ['int8', 128, null, 242_552], //       3.88×: 1838 scales (7,352 bytes) + 235,200 codes
    ['int8', 256, null, 238_876], //       3.94×
    ['int4', 64, null, 132_300], //        7.11×
    ['int4', 128, null, 124_952], //       7.53×: 7,352 scale bytes + 117,600 code bytes
    ['int4', 256, null, 121_276], //       7.76×
    ['ternary', 64, null, 73_500], //     12.80×
    ['ternary', 128, null, 66_152], //    14.22×: 7,352 scale bytes + 58,800 code bytes
    ['ternary', 256, null, 62_476], //    15.06×
    ['f32', null, 2352, 9_408], //       100×: 1% of the coordinates on a shared mask
    ['int8', 128, 2352, 2_428], //       387×
    ['int4', 128, 2352, 1_252], //       751×
    ['ternary', 128, 2352, 664], //     1417×
  ] as const;
  for (const [scheme, blockSize, k, bytes] of cases) {
    const ratio = (940_800 / bytes).toFixed(2);
    it(`235,200 floats as ${scheme}${blockSize ? ` B=${blockSize}` : ''}${k ? ` on ${k} masked coordinates` : ''}: ${bytes.toLocaleString('en')} bytes, ${ratio}× under fp32`, () => {
      expect(encodedByteSize({ scheme, length: MLP_PARAMETERS, blockSize, k })).toBe(bytes);
    });
  }
});
