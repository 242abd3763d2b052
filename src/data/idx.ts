// The IDX format of (Fashion-)MNIST: a 4-byte magic number (two zero bytes, a type code,
// the number of dimensions), one big-endian u32 per dimension, then the payload.

export interface IdxArray {
  dims: number[];
  /** The payload, a view into the input (no copy). */
  data: Uint8Array;
}

const U8 = 0x08;

export class IdxFormatError extends Error {
  override name = 'IdxFormatError';
}

/** Parse IDX bytes (already decompressed). Only unsigned-byte payloads are supported. */
export function parseIdx(bytes: Uint8Array, source = 'IDX data'): IdxArray {
  if (bytes.length < 4) throw new IdxFormatError(`${source}: ${bytes.length} bytes is too short for an IDX header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const magic = view.getUint32(0).toString(16).padStart(8, '0');
    throw new IdxFormatError(`${source}: not an IDX file (magic 0x${magic}; is it still gzip-compressed?)`);
  }
  const type = bytes[2];
  if (type !== U8) throw new IdxFormatError(`${source}: element type 0x${type.toString(16)} is not supported (only unsigned bytes, 0x08)`);
  const rank = bytes[3];
  if (rank < 1) throw new IdxFormatError(`${source}: an IDX array needs at least one dimension`);
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
  const headerBytes = 4 + 4 * dims.length;
  const out = new Uint8Array(headerBytes + data.length);
  const view = new DataView(out.buffer);
  out[2] = U8;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  out.set(data, headerBytes);
  return out;
}
