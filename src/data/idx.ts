// The IDX format of (Fashion-)MNIST: a 4-byte magic number (two zero bytes, a type code,
// the number of dimensions), one big-endian u32 per dimension, then the payload.
// Magic 0x00000803 is a u8 3-D array (images), 0x00000801 a u8 1-D array (labels).

export interface IdxArray {
  dims: number[];
  /** The payload, a view into the input (no copy). */
  data: Uint8Array;
}

const U8 = 0x08;

export class IdxFormatError extends Error {
  override name = 'IdxFormatError';
}

const hex32 = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;

/** The magic number of a u8 array of `rank` dimensions. */
export function idxMagicU8(rank: number): number {
  return (U8 << 8) | rank;
}

/**
 * Parse IDX bytes (already decompressed). Only unsigned-byte payloads are supported.
 * `expectedRank` (3 for images, 1 for labels) makes the magic number check exact.
 */
export function parseIdx(bytes: Uint8Array, source = 'IDX data', expectedRank?: number): IdxArray {
  if (bytes.length < 4) throw new IdxFormatError(`${source}: ${bytes.length} bytes is too short for an IDX header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);
  const wanted = expectedRank === undefined ? 'a u8 IDX magic 0x000008NN' : `magic ${hex32(idxMagicU8(expectedRank))}`;
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    throw new IdxFormatError(`${source}: the bytes are still gzip-compressed (magic ${hex32(magic)}); gunzip them before parsing`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) throw new IdxFormatError(`${source}: not an IDX file (magic ${hex32(magic)}, expected ${wanted})`);
  const type = bytes[2];
  if (type !== U8) throw new IdxFormatError(`${source}: element type 0x${type.toString(16)} is not supported (only unsigned bytes, 0x08)`);
  const rank = bytes[3];
  if (rank < 1) throw new IdxFormatError(`${source}: an IDX array needs at least one dimension`);
  if (expectedRank !== undefined && rank !== expectedRank) {
    throw new IdxFormatError(`${source}: magic ${hex32(magic)} is a ${rank}-D array, expected ${wanted} (${expectedRank}-D); is it the wrong file?`);
  }
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) {
    throw new IdxFormatError(`${source}: the header declares ${rank} dimensions but the file ends after ${bytes.length} bytes`);
  }
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const expected = dims.reduce((a, b) => a * b, 1);
  const actual = bytes.length - headerBytes;
  if (actual !== expected) {
    throw new IdxFormatError(
      `${source}: dimensions ${dims.join('×')} need ${expected} payload bytes, the file has ${actual} (${actual < expected ? 'truncated' : 'trailing data'})`,
    );
  }
  return { dims, data: bytes.subarray(headerBytes) };
}

/** Encode a u8 IDX array (fixtures, tests). */
export function encodeIdx(dims: number[], data: Uint8Array): Uint8Array {
  const expected = dims.reduce((a, b) => a * b, 1);
  if (data.length !== expected) throw new Error(`encodeIdx: dimensions ${dims.join('×')} need ${expected} bytes, got ${data.length}`);
  const headerBytes = 4 + 4 * dims.length;
  const out = new Uint8Array(headerBytes + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, idxMagicU8(dims.length));
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  out.set(data, headerBytes);
  return out;
}
