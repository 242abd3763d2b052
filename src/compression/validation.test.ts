import { describe, expect, it } from 'vitest';
import { SCHEMES, decodeVector, encodeVector, encodedByteSize, sharedMask, topKMask, type Compressed } from './index.ts';
import { expectCompressionError as rejects, normals } from './testVectors.ts';

const header = (fields: Record<string, unknown> = {}) => ({ scheme: 'int8', length: 200, blockSize: 128, k: null, ...fields });
const int8Of200 = (): Compressed => encodeVector(normals(200, 1), { scheme: 'int8' });
const int4Of200 = (): Compressed => encodeVector(normals(200, 11), { scheme: 'int4' }); // 8 scale bytes, 100 code bytes

/** A copy of a valid encoding with its payload edited, to forge what a broken peer might send. */
function forged(encoded: Compressed, edit: (payload: Uint8Array, view: DataView) => void): Compressed {
  const payload = encoded.payload.slice();
  edit(payload, new DataView(payload.buffer));
  return { header: encoded.header, payload };
}

describe('decoding rejects malformed headers', () => {
  const payload = int8Of200().payload;
  it('that are not an object of exactly {scheme, length, blockSize, k}', () => {
    for (const bad of [null, 'int8', [1, 2], 42]) rejects(() => decodeVector({ header: bad, payload }), 'malformed-header', /must be an object/);
    rejects(() => decodeVector({ header: { scheme: 'int8', length: 200, blockSize: 128 }, payload }), 'malformed-header', /exactly the keys .* got blockSize, length, scheme/);
    rejects(() => decodeVector({ header: header({ extra: 1 }), payload }), 'malformed-header', /got blockSize, extra, k, length, scheme/);
  });

  it('with unknown schemes', () => {
    rejects(() => decodeVector({ header: header({ scheme: 'int2' }), payload }), 'unknown-scheme', /Unknown compression scheme "int2"; known: f32, int8, int4, ternary/);
    rejects(() => decodeVector({ header: header({ scheme: 8 }), payload }), 'malformed-header', /scheme must be a string, got 8/);
  });

  it('with lengths or k that are not counts', () => {
    for (const length of [-1, 1.5, NaN, 2 ** 31 + 1, '200']) {
      rejects(() => decodeVector({ header: header({ length }), payload }), 'malformed-header', /length must be an integer in \[0, 2147483648\]/);
    }
    for (const k of [201, -1, 0.5, 'all']) rejects(() => decodeVector({ header: header({ k }), payload }), 'malformed-header', /k must be null or an integer in \[0, length 200\]/);
  });

  it('with block sizes out of range, or one given to f32', () => {
    for (const blockSize of [63, 257, 128.5, null, 0]) {
      rejects(() => decodeVector({ header: header({ blockSize }), payload }), 'block-size', /Scheme int8 needs an integer blockSize in \[64, 256\]/);
    }
    rejects(() => decodeVector({ header: header({ scheme: 'f32', blockSize: 128 }), payload }), 'block-size', /f32 has no blocks: blockSize must be null, got 128/);
  });
});

describe('decoding rejects payloads that do not add up', () => {
  it('with the wrong byte count, before reading any of it', () => {
    const { header: h, payload } = int8Of200();
    expect(encodedByteSize(h)).toBe(payload.length);
    rejects(() => decodeVector({ header: h, payload: payload.subarray(0, payload.length - 4) }), 'length-mismatch', /Scheme int8 \(length 200, blockSize 128\) takes 208 payload bytes, got 204/);
    rejects(() => decodeVector({ header: { ...h, length: 201 }, payload }), 'length-mismatch', /takes 212 payload bytes, got 208/);
    rejects(() => decodeVector({ header: h, payload: [1, 2] as unknown as Uint8Array }), 'bad-payload', /must be a Uint8Array or a Uint32Array/);
    const int4 = int4Of200();
    expect(encodedByteSize(int4.header)).toBe(108);
    rejects(() => decodeVector({ header: int4.header, payload: int4.payload.subarray(0, 104) }), 'length-mismatch', /Scheme int4 \(length 200, blockSize 128\) takes 108 payload bytes, got 104/);
    rejects(() => decodeVector({ header: { ...int4.header, length: 201 }, payload: int4.payload }), 'length-mismatch', /takes 112 payload bytes, got 108/);
    rejects(() => decodeVector({ header: { ...int4.header, blockSize: 64 }, payload: int4.payload }), 'length-mismatch', /blockSize 64\) takes 116 payload bytes, got 108/);
  });

  it('with NaN, infinite, negative or overflowing scales', () => {
    rejects(() => decodeVector(forged(int8Of200(), (_, v) => v.setFloat32(4, NaN, true))), 'non-finite', /int8 block 1 has scale NaN/);
    rejects(() => decodeVector(forged(int8Of200(), (_, v) => v.setFloat32(0, Infinity, true))), 'non-finite', /int8 block 0 has scale Infinity/);
    rejects(() => decodeVector(forged(int8Of200(), (_, v) => v.setFloat32(0, -1e-3, true))), 'bad-payload', /int8 block 0 has negative scale -0.001/);
    rejects(() => decodeVector(forged(int8Of200(), (_, v) => v.setFloat32(0, -0, true))), 'bad-payload', /negative scale 0/);
    rejects(() => decodeVector(forged(int8Of200(), (_, v) => v.setFloat32(0, 3e37, true))), 'non-finite', /127·scale overflows float32/);
    const ternary = encodeVector(normals(200, 2), { scheme: 'ternary' });
    rejects(() => decodeVector(forged(ternary, (_, v) => v.setFloat32(4, NaN, true))), 'non-finite', /ternary block 1 has scale NaN/);
    rejects(() => decodeVector(forged(int4Of200(), (_, v) => v.setFloat32(4, NaN, true))), 'non-finite', /int4 block 1 has scale NaN/);
    rejects(() => decodeVector(forged(int4Of200(), (_, v) => v.setFloat32(0, -0.25, true))), 'bad-payload', /int4 block 0 has negative scale -0.25/);
    rejects(() => decodeVector(forged(int4Of200(), (_, v) => v.setFloat32(0, 5e37, true))), 'non-finite', /int4 block 0 has scale [\d.]+e\+37: 7·scale overflows float32/);
  });

  it('with codes the encoder never writes', () => {
    rejects(() => decodeVector(forged(int8Of200(), (p) => (p[8 + 17] = 0x80))), 'bad-payload', /int8 value 17 has code −128/);
    rejects(() => decodeVector(forged(int8Of200(), (p, v) => v.setFloat32(0, 0, true))), 'bad-payload', /int8 block 0 has scale 0 but a nonzero code at value \d+/);
    const int8Of202 = encodeVector(normals(202, 2), { scheme: 'int8' }); // 8 scale bytes, 202 codes, 2 padding
    rejects(() => decodeVector(forged(int8Of202, (p) => (p[211] = 1))), 'bad-payload', /int8 payload has nonzero padding at byte 211/);
    const ternary = encodeVector(normals(201, 3), { scheme: 'ternary' }); // 8 scale bytes, 51 code bytes, 1 padding
    rejects(() => decodeVector(forged(ternary, (p) => (p[8 + 2] = 0b11_00_00_00))), 'bad-payload', /ternary value 11 has code 3/);
    rejects(() => decodeVector(forged(ternary, (p) => (p[8 + 50] |= 0b100))), 'bad-payload', /nonzero codes past value 200/);
    rejects(() => decodeVector(forged(ternary, (p) => (p[59] = 1))), 'bad-payload', /ternary payload has nonzero padding at byte 59/);
    const int4 = int4Of200();
    rejects(() => decodeVector(forged(int4, (p) => (p[8 + 5] = 0x80 | (p[8 + 5] & 0xf)))), 'bad-payload', /int4 value 11 has code −8 \(nibble 0x8\); codes lie in \[−7, 7\]/);
    rejects(() => decodeVector(forged(int4, (p) => (p[8 + 5] = 0x08 | (p[8 + 5] & 0xf0)))), 'bad-payload', /int4 value 10 has code −8/);
    rejects(() => decodeVector(forged(int4, (p, v) => v.setFloat32(4, 0, true))), 'bad-payload', /int4 block 1 has scale 0 but a nonzero code at value \d+/);
    const int4ZeroBlock = forged(int4, (p, v) => {
      v.setFloat32(0, 0, true);
      p.fill(0, 8, 8 + 64);
      p[8 + 3] = 0x10;
    });
    rejects(() => decodeVector(int4ZeroBlock), 'bad-payload', /int4 block 0 has scale 0 but a nonzero code at value 7/);
    const int4Of201 = encodeVector(normals(201, 12), { scheme: 'int4' }); // 8 scale bytes, 101 code bytes, 3 padding
    rejects(() => decodeVector(forged(int4Of201, (p) => (p[8 + 100] |= 0x10))), 'bad-payload', /int4 payload has a nonzero code past value 200/);
    rejects(() => decodeVector(forged(int4Of201, (p) => (p[111] = 1))), 'bad-payload', /int4 payload has nonzero padding at byte 111/);
    const withCode = forged(ternary, (p, v) => {
      v.setFloat32(0, 0, true);
      p.fill(0, 8, 8 + 32);
      p[8 + 3] = 0b01;
    });
    rejects(() => decodeVector(withCode), 'bad-payload', /ternary block 0 has scale 0 but a nonzero code at value 12/);
  });

  it('with NaN or infinite f32 values, naming the coordinate', () => {
    const f32 = encodeVector(normals(10, 4), { scheme: 'f32' });
    rejects(() => decodeVector(forged(f32, (_, v) => v.setFloat32(4 * 6, NaN, true))), 'non-finite', /Decoded f32 value at index 6 is NaN/);
    const mask = Uint32Array.of(3, 40, 77);
    const masked = encodeVector(normals(100, 5), { scheme: 'f32' }, mask);
    rejects(() => decodeVector(forged(masked, (_, v) => v.setFloat32(4, -Infinity, true)), mask), 'non-finite', /Decoded f32 value at index 40 is -Infinity/);
  });
});

describe('decoding rejects masks', () => {
  const mask = Uint32Array.of(2, 9, 15, 100);
  const encoded = encodeVector(normals(128, 6), { scheme: 'int8' }, mask);
  it('that are missing, unexpected or of the wrong length', () => {
    rejects(() => decodeVector(encoded), 'bad-mask', /needs the round's mask of 4 coordinates/);
    rejects(() => decodeVector(int8Of200(), mask), 'bad-mask', /carries every coordinate and takes no mask/);
    rejects(() => decodeVector(encoded, Uint32Array.of(2, 9, 15)), 'length-mismatch', /k = 4 coordinates but the mask has 3/);
    rejects(() => decodeVector(encoded, [2, 9, 15, 100] as unknown as Uint32Array), 'bad-mask', /must be a Uint32Array/);
  });

  it('with indices out of range or not strictly increasing', () => {
    rejects(() => decodeVector(encoded, Uint32Array.of(2, 9, 15, 128)), 'bad-mask', /Mask entry 3 is coordinate 128, outside a vector of length 128/);
    rejects(() => decodeVector(encoded, Uint32Array.of(2, 9, 9, 100)), 'bad-mask', /Mask entry 2 is coordinate 9, not above entry 1 \(9\)/);
    rejects(() => decodeVector(encoded, Uint32Array.of(2, 15, 9, 100)), 'bad-mask', /Mask entry 2 is coordinate 9, not above entry 1 \(15\)/);
  });
});

describe('encoding rejects', () => {
  it('NaN and infinite input, naming the first bad index', () => {
    const values = normals(300, 7);
    values[205] = NaN;
    values[250] = Infinity;
    for (const scheme of SCHEMES) rejects(() => encodeVector(values, { scheme }), 'non-finite', /Input value at index 205 is NaN/);
    rejects(() => encodeVector(Float32Array.of(0, -Infinity), { scheme: 'int8' }), 'non-finite', /Input value at index 1 is -Infinity/);
    rejects(() => encodeVector(Float32Array.of(0, 1, Infinity), { scheme: 'int4' }), 'non-finite', /Input value at index 2 is Infinity/);
    // Checked over the whole vector, also where a mask would not carry it: a broken gradient is not sent.
    rejects(() => encodeVector(values, { scheme: 'int8' }, Uint32Array.of(0, 1)), 'non-finite', /index 205/);
    rejects(() => topKMask(values, 3), 'non-finite', /index 205 is NaN/);
  });

  it('values too close to the float32 maximum for an int8 scale', () => {
    rejects(() => encodeVector(Float32Array.of(1, 3.4028234e38), { scheme: 'int8' }), 'non-finite', /int8 block 0 \(values 0–1\) is too close to the float32 maximum/);
  });

  it('bad options and arguments', () => {
    const values = normals(10, 8);
    rejects(() => encodeVector(values, { scheme: 'int2' as never }), 'unknown-scheme', /Unknown compression scheme "int2"; known: f32, int8, int4, ternary/);
    rejects(() => encodeVector(values, { scheme: 'int4', blockSize: 32 }), 'block-size', /Scheme int4 needs an integer blockSize in \[64, 256\], got 32/);
    rejects(() => encodeVector(values, { scheme: 'int8', blockSize: 512 }), 'block-size', /in \[64, 256\], got 512/);
    rejects(() => encodeVector(values, { scheme: 'f32', blockSize: 128 }), 'block-size', /f32 has no blocks/);
    rejects(() => encodeVector([1, 2] as unknown as Float32Array, { scheme: 'int8' }), 'bad-argument', /takes a Float32Array/);
    rejects(() => encodeVector(values, { scheme: 'int8' }, Uint32Array.of(3, 2)), 'bad-mask', /not above entry 0 \(3\)/);
    rejects(() => encodeVector(values, { scheme: 'int8' }, Uint32Array.of(3, 10)), 'bad-mask', /coordinate 10, outside a vector of length 10/);
    rejects(() => sharedMask(10, 11, 1), 'bad-argument', /k must be an integer in \[0, 10\], got 11/);
    rejects(() => sharedMask(-1, 0, 1), 'bad-argument', /length must be an integer/);
    rejects(() => sharedMask(10, 2, 1.5), 'bad-argument', /seed must be an integer, got 1.5/);
    rejects(() => topKMask(values, 11), 'bad-argument', /k must be an integer in \[0, 10\]/);
    rejects(() => encodedByteSize(header({ blockSize: 8 }) as never), 'block-size', /got 8/);
  });
});
