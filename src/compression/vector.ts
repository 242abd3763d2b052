// Encoding and decoding of one vector, dense or on a mask: the entry points the protocol uses.
// Encoding is a pure function of (values, options, mask): no state, no randomness, so a replica
// that recomputes the same gradient sends the same bytes, and its hash matches.

import { CompressionError } from './errors.ts';
import { checkFinite } from './finite.ts';
import { DEFAULT_BLOCK_SIZE, MAX_LENGTH, checkBlockSize, encodedByteSize, parseHeader, SCHEMES, type Compressed, type CompressedHeader, type Scheme } from './header.ts';
import { decodeInt4, encodeInt4 } from './int4.ts';
import { decodeInt8, encodeInt8 } from './int8.ts';
import { checkMask, gather, scatter } from './mask.ts';
import { decodeTernary, encodeTernary } from './ternary.ts';

export interface EncodeOptions {
  scheme: Scheme;
  /** Values per scale for the block schemes 'int8', 'int4' and 'ternary' (64–256, default 128); must be absent for 'f32'. */
  blockSize?: number;
}

/**
 * Compresses `values`; with a mask, only the values at its coordinates (sorted, distinct) are
 * carried, and the same mask must be given to decodeVector. Throws CompressionError on NaN/Inf.
 */
export function encodeVector(values: Float32Array, options: EncodeOptions, mask?: Uint32Array): Compressed {
  if (!(values instanceof Float32Array)) throw new CompressionError('bad-argument', 'encodeVector takes a Float32Array');
  if (values.length > MAX_LENGTH) throw new CompressionError('bad-argument', `A vector of ${values.length} values exceeds ${MAX_LENGTH}`);
  const { scheme } = options;
  if (!(SCHEMES as readonly string[]).includes(scheme)) throw new CompressionError('unknown-scheme', `Unknown compression scheme ${JSON.stringify(scheme)}; known: ${SCHEMES.join(', ')}`);
  const blockSize = scheme === 'f32' ? (options.blockSize ?? null) : (options.blockSize ?? DEFAULT_BLOCK_SIZE);
  checkBlockSize(scheme, blockSize);
  checkFinite(values);
  if (mask !== undefined) checkMask(mask, values.length, mask.length);
  const carried = mask === undefined ? values : gather(values, mask);
  const header: CompressedHeader = { scheme, length: values.length, blockSize, k: mask === undefined ? null : mask.length };
  return { header, payload: encodeValues(carried, scheme, blockSize) };
}

/**
 * Rebuilds the full-length vector from a header and payload received from elsewhere (a u32
 * tensor is fine). Sizes and the mask are checked before any value is read, each scale and code
 * as it is read; on anything unexpected it throws CompressionError and returns nothing.
 */
export function decodeVector(compressed: { header: unknown; payload: Uint8Array | Uint32Array }, mask?: Uint32Array): Float32Array {
  const header = parseHeader(compressed.header);
  const bytes = payloadBytes(compressed.payload);
  const expected = encodedByteSize(header);
  if (bytes.length !== expected) {
    throw new CompressionError('length-mismatch', `${describeHeader(header)} takes ${expected} payload bytes, got ${bytes.length}`);
  }
  if (header.k === null && mask !== undefined) throw new CompressionError('bad-mask', `${describeHeader(header)} carries every coordinate and takes no mask`);
  if (header.k !== null) {
    if (mask === undefined) throw new CompressionError('bad-mask', `${describeHeader(header)} needs the round's mask of ${header.k} coordinates`);
    checkMask(mask, header.length, header.k);
  }
  const n = header.k ?? header.length;
  const carried = decodeValues(bytes, n, header.scheme, header.blockSize, mask);
  return mask === undefined ? carried : scatter(carried, mask, header.length);
}

/** The payload as the u32 tensor the protocol codec carries (a view when it is aligned). */
export function payloadWords(payload: Uint8Array): Uint32Array {
  if (payload.length % 4 !== 0) throw new CompressionError('length-mismatch', `A payload of ${payload.length} bytes is not a whole number of u32 words`);
  const aligned = payload.byteOffset % 4 === 0 ? payload : payload.slice();
  return new Uint32Array(aligned.buffer, aligned.byteOffset, aligned.length / 4);
}

function encodeValues(values: Float32Array, scheme: Scheme, blockSize: number | null): Uint8Array {
  switch (scheme) {
    case 'f32':
      return encodeF32(values);
    case 'int8':
      return encodeInt8(values, blockSize!);
    case 'int4':
      return encodeInt4(values, blockSize!);
    case 'ternary':
      return encodeTernary(values, blockSize!);
  }
}

function decodeValues(bytes: Uint8Array, n: number, scheme: Scheme, blockSize: number | null, mask: Uint32Array | undefined): Float32Array {
  switch (scheme) {
    case 'f32':
      return decodeF32(bytes, n, mask);
    case 'int8':
      return decodeInt8(bytes, n, blockSize!);
    case 'int4':
      return decodeInt4(bytes, n, blockSize!);
    case 'ternary':
      return decodeTernary(bytes, n, blockSize!);
  }
}

function encodeF32(values: Float32Array): Uint8Array {
  const payload = new Uint8Array(4 * values.length);
  const view = new DataView(payload.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(4 * i, values[i], true);
  return payload;
}

function decodeF32(bytes: Uint8Array, n: number, mask: Uint32Array | undefined): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
  checkFinite(out, 'Decoded f32', mask === undefined ? undefined : (j) => mask[j]);
  return out;
}

function payloadBytes(payload: unknown): Uint8Array {
  if (payload instanceof Uint8Array) return payload;
  if (payload instanceof Uint32Array) return new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
  throw new CompressionError('bad-payload', 'A compressed payload must be a Uint8Array or a Uint32Array');
}

function describeHeader({ scheme, length, blockSize, k }: CompressedHeader): string {
  return `Scheme ${scheme} (length ${length}${blockSize === null ? '' : `, blockSize ${blockSize}`}${k === null ? '' : `, k ${k}`})`;
}
