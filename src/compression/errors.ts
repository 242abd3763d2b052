// The one error type of src/compression: a code a caller can branch on, and a message that
// says what was wrong and where.

export type CompressionErrorCode =
  /** The header is not a {scheme, length, blockSize, k} object of the right types. */
  | 'malformed-header'
  | 'unknown-scheme'
  /** A block size outside [MIN_BLOCK_SIZE, MAX_BLOCK_SIZE], or one given to a scheme without blocks. */
  | 'block-size'
  /** Payload bytes, a previous vector or a mask do not have the length the header implies. */
  | 'length-mismatch'
  /** NaN or ±Infinity in an input vector, a scale or an f32 value. */
  | 'non-finite'
  /** Mask indices out of range or not strictly increasing, or a mask missing or unexpected. */
  | 'bad-mask'
  /** A code the encoder never writes: int8 −128, int4 −8, 2-bit code 3, a negative scale, nonzero padding. */
  | 'bad-payload'
  /** An encoder-side argument out of range (k above the length, a non-integer seed). */
  | 'bad-argument';

export class CompressionError extends Error {
  override name = 'CompressionError';
  constructor(
    readonly code: CompressionErrorCode,
    message: string,
  ) {
    super(message);
  }
}
