// The JSON-able header that travels beside a compressed payload, its validation, and the
// payload size it implies (so a receiver can check sizes before decoding anything).
//
// Payload layout, every number little-endian, total length a multiple of 4 bytes:
//   'f32'      n f32 values
//   'int8'     ⌈n/B⌉ f32 scales · n int8 values · zero padding to 4 bytes
//   'int4'     ⌈n/B⌉ f32 scales · n 4-bit two's-complement codes in [−7, 7], 2 to a byte,
//              low nibble first (nibble 0x8, i.e. −8, is never written) · zero padding
//   'ternary'  ⌈n/B⌉ f32 scales · n 2-bit codes, 4 to a byte, low bits first · zero padding
// where n is `k` when only a mask's coordinates are carried, else `length`.

import { CompressionError } from './errors.ts';

/** The schemes with an f32 scale per block of values, i.e. every scheme but 'f32'. */
export const BLOCK_SCHEMES = ['int8', 'int4', 'ternary'] as const;
export const SCHEMES = ['f32', ...BLOCK_SCHEMES] as const;
export type Scheme = (typeof SCHEMES)[number];
export type BlockScheme = (typeof BLOCK_SCHEMES)[number];

/** Bits of one value's code in each block scheme's payload. */
const CODE_BITS: Record<BlockScheme, number> = { int8: 8, int4: 4, ternary: 2 };

export const MIN_BLOCK_SIZE = 64;
export const MAX_BLOCK_SIZE = 256;
export const DEFAULT_BLOCK_SIZE = 128;
/** Same bound as the protocol's counts: a length must fit a u32 tensor header comfortably. */
export const MAX_LENGTH = 2 ** 31;

export interface CompressedHeader {
  scheme: Scheme;
  /** Coordinates in the full vector the receiver rebuilds. */
  length: number;
  /** Values per f32 scale; null for 'f32', which has no scales. */
  blockSize: number | null;
  /** Coordinates carried, in mask order; null when every coordinate is carried. */
  k: number | null;
}

export interface Compressed {
  header: CompressedHeader;
  /** The encoded values; its length is a multiple of 4, so it also travels as a u32 tensor. */
  payload: Uint8Array;
}

const HEADER_KEYS = ['blockSize', 'k', 'length', 'scheme'];

/** Validates a header received from elsewhere; throws CompressionError saying what is wrong. */
export function parseHeader(raw: unknown): CompressedHeader {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new CompressionError('malformed-header', `A compressed header must be an object {scheme, length, blockSize, k}, got ${describe(raw)}`);
  }
  const keys = Object.keys(raw).sort();
  if (keys.length !== HEADER_KEYS.length || keys.some((key, i) => key !== HEADER_KEYS[i])) {
    throw new CompressionError('malformed-header', `A compressed header has exactly the keys blockSize, k, length, scheme; got ${keys.join(', ') || 'none'}`);
  }
  const { scheme, length, blockSize, k } = raw as Record<string, unknown>;
  if (typeof scheme !== 'string') throw new CompressionError('malformed-header', `Header scheme must be a string, got ${describe(scheme)}`);
  if (!(SCHEMES as readonly string[]).includes(scheme)) {
    throw new CompressionError('unknown-scheme', `Unknown compression scheme ${JSON.stringify(scheme.slice(0, 40))}; known: ${SCHEMES.join(', ')}`);
  }
  if (!isCount(length, MAX_LENGTH)) {
    throw new CompressionError('malformed-header', `Header length must be an integer in [0, ${MAX_LENGTH}], got ${describe(length)}`);
  }
  if (k !== null && !isCount(k, length)) {
    throw new CompressionError('malformed-header', `Header k must be null or an integer in [0, length ${length}], got ${describe(k)}`);
  }
  checkBlockSize(scheme as Scheme, blockSize);
  return { scheme: scheme as Scheme, length, blockSize: blockSize as number | null, k: k as number | null };
}

/** 'f32' takes no block size; the quantised schemes take an integer in [64, 256]. */
export function checkBlockSize(scheme: Scheme, blockSize: unknown): void {
  if (scheme === 'f32') {
    if (blockSize !== null) throw new CompressionError('block-size', `Scheme f32 has no blocks: blockSize must be null, got ${describe(blockSize)}`);
    return;
  }
  if (!Number.isInteger(blockSize) || (blockSize as number) < MIN_BLOCK_SIZE || (blockSize as number) > MAX_BLOCK_SIZE) {
    throw new CompressionError(
      'block-size',
      `Scheme ${scheme} needs an integer blockSize in [${MIN_BLOCK_SIZE}, ${MAX_BLOCK_SIZE}], got ${describe(blockSize)}`,
    );
  }
}

/** Bytes of the payload a header describes, before any is read. Throws on an invalid header. */
export function encodedByteSize(header: CompressedHeader): number {
  const { scheme, length, blockSize, k } = parseHeader(header);
  const n = k ?? length;
  if (scheme === 'f32') return 4 * n;
  const scaleBytes = 4 * Math.ceil(n / blockSize!);
  const valueBytes = Math.ceil((n * CODE_BITS[scheme]) / 8);
  return scaleBytes + padTo4(valueBytes);
}

export function padTo4(bytes: number): number {
  return Math.ceil(bytes / 4) * 4;
}

function isCount(value: unknown, max: number): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= max;
}

function describe(value: unknown): string {
  if (typeof value === 'number') return String(value); // JSON would print NaN as null
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
