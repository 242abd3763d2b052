import { describe, expect, it } from 'vitest';
import { encodedByteSize } from '../compression/index.ts';
import { exactNormals, expectCompressionError, sameBits } from '../compression/testVectors.ts';
import { decodeMessage, encodeMessage } from './codec.ts';
import { CONTRIBUTOR_MESSAGES, EncodingSpec, messageTable, type ContributorMessage } from './messages.ts';
import { decodeUpdate, describeSpec, encodeUpdate, roundTrip, type EncodedUpdate } from './updates.ts';

const toCoordinator = messageTable(CONTRIBUTOR_MESSAGES);

/** A result carrying `encoded`, through the codec's bytes and back, as the coordinator receives it. */
function overTheWire(encoded: EncodedUpdate): EncodedUpdate {
  const message: ContributorMessage = {
    type: 'result',
    body: {
      leaseId: 'L1', version: 3, loss: 0.5, correct: 7, exampleCount: 8, computeMs: 12.5, deviceTimeMs: null,
      encoding: encoded.encoding, resultHash: 'ab'.repeat(32), signature: 'A'.repeat(86),
    },
    tensors: { update: encoded.update },
  };
  const received = decodeMessage<ContributorMessage>(encodeMessage(message), toCoordinator);
  if (received.type !== 'result') throw new Error(`expected a result, got ${received.type}`);
  return { encoding: received.body.encoding, update: received.tensors.update };
}

const SPECS: EncodingSpec[] = [
  { scheme: 'f32' },
  { scheme: 'int8', blockSize: 128 },
  { scheme: 'int4', blockSize: 64 },
  { scheme: 'int4', blockSize: 128 },
  { scheme: 'int4', blockSize: 256 },
  { scheme: 'ternary', blockSize: 128 },
];

describe('updates in messages', () => {
  const length = 1001; // odd, with a partial last block for every block size
  const values = exactNormals(length, 5);
  for (const spec of SPECS) {
    it(`${describeSpec(spec)}: a result's update decodes to what roundTrip predicts, bit for bit`, () => {
      const encoded = encodeUpdate(values, EncodingSpec.parse(spec));
      expect(encoded.encoding).toEqual({ scheme: spec.scheme, length, blockSize: spec.scheme === 'f32' ? null : spec.blockSize, k: null });
      expect(4 * encoded.update.length).toBe(encodedByteSize(encoded.encoding));
      const decoded = decodeUpdate(overTheWire(encoded), spec, length);
      expect(sameBits(decoded, roundTrip(values, spec))).toBe(true);
      if (spec.scheme === 'f32') expect(sameBits(decoded, values)).toBe(true);
    });
  }

  it('int4 takes half the words of int8 and stays within s/2 of each value (s = absmax/7 per block)', () => {
    const int8 = encodeUpdate(values, { scheme: 'int8', blockSize: 128 });
    const int4 = encodeUpdate(values, { scheme: 'int4', blockSize: 128 });
    expect(4 * int4.update.length).toBe(4 * 8 + 504); // 8 scales, 501 code bytes padded to 504
    expect(int4.update.length).toBeLessThan(0.6 * int8.update.length);
    const decoded = decodeUpdate(int4, { scheme: 'int4', blockSize: 128 }, length);
    for (let start = 0; start < length; start += 128) {
      const block = values.subarray(start, Math.min(start + 128, length));
      const s = block.reduce((m, x) => Math.max(m, Math.abs(x)), 0) / 7;
      block.forEach((x, i) => expect(Math.abs(x - decoded[start + i])).toBeLessThanOrEqual((s / 2) * (1 + 1e-6)));
    }
  });

  it('rejects an update that is not what the job asked for', () => {
    const int4 = encodeUpdate(values, { scheme: 'int4', blockSize: 128 });
    expectCompressionError(() => decodeUpdate(int4, { scheme: 'int8', blockSize: 128 }, length), 'unknown-scheme', /this job's updates are int8 in blocks of 128, not int4 in blocks of 128/);
    expectCompressionError(() => decodeUpdate(int4, { scheme: 'int4', blockSize: 64 }, length), 'unknown-scheme', /int4 in blocks of 64, not int4 in blocks of 128/);
    expectCompressionError(() => decodeUpdate(int4, { scheme: 'int4', blockSize: 128 }, length + 1), 'length-mismatch', /the update has 1001 values, the model needs 1002/);
    const cut = { encoding: int4.encoding, update: int4.update.subarray(1) };
    expectCompressionError(() => decodeUpdate(cut, { scheme: 'int4', blockSize: 128 }, length), 'length-mismatch', /takes 536 payload bytes, got 532/);
  });

  it('EncodingSpec takes int4 with a block size in [64, 256], like the other block schemes', () => {
    expect(EncodingSpec.parse({ scheme: 'int4', blockSize: 128 })).toEqual({ scheme: 'int4', blockSize: 128 });
    expect(EncodingSpec.safeParse({ scheme: 'int4' }).success).toBe(false);
    expect(EncodingSpec.safeParse({ scheme: 'int4', blockSize: 32 }).success).toBe(false);
    expect(EncodingSpec.safeParse({ scheme: 'int2', blockSize: 128 }).success).toBe(false);
  });
});
