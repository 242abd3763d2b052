// Compressed vectors for the wire: int8, int4 and 2-bit ternary block quantisation, masks of shared
// coordinates, and parameter deltas. Pure functions over typed arrays; no I/O, no DOM.
//
// On the wire: the header (a small JSON object) goes in a message body, the payload in a u32
// tensor (payloadWords), a mask in a u32 tensor or as the seed of sharedMask. A receiver checks
// encodedByteSize(header) against the tensor's length, then decodeVector (or applyDelta).

export { CompressionError, type CompressionErrorCode } from './errors.ts';
export {
  BLOCK_SCHEMES,
  DEFAULT_BLOCK_SIZE,
  MAX_BLOCK_SIZE,
  MIN_BLOCK_SIZE,
  SCHEMES,
  encodedByteSize,
  parseHeader,
  type BlockScheme,
  type Compressed,
  type CompressedHeader,
  type Scheme,
} from './header.ts';
export { checkMask, sharedMask, topKMask } from './mask.ts';
export { decodeVector, encodeVector, payloadWords, type EncodeOptions } from './vector.ts';
export { applyDelta, encodeDelta, type DeltaUpdate } from './delta.ts';
export { int8Scale } from './int8.ts';
export { int4Scale } from './int4.ts';
