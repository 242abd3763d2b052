import { describe, expect, it } from 'vitest';
import { encodeIdx, IdxFormatError, parseIdx } from './idx.ts';
import { imagesLabelsToDataset, labelsOf, subsetDataset, toFloatBatch } from './dataset.ts';

describe('parseIdx', () => {
  it('parses a hand-built 3-D u8 buffer with big-endian dimensions', () => {
    // magic 0x00000803, dims 2 × 1 × 3 (the 2 written as 0x00000002), then 6 payload bytes.
    const bytes = Uint8Array.of(0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 3, 10, 11, 12, 13, 14, 15);
    const parsed = parseIdx(bytes, 'hand.idx', 3);
    expect(parsed.dims).toEqual([2, 1, 3]);
    expect([...parsed.data]).toEqual([10, 11, 12, 13, 14, 15]);
  });

  it('reads dimensions above 255 big-endian', () => {
    const bytes = new Uint8Array(8 + 300);
    bytes.set([0, 0, 8, 1, 0, 0, 1, 44]); // 0x0000012c = 300
    expect(parseIdx(bytes, 'labels.idx', 1).dims).toEqual([300]);
  });

  it('returns a view into the input, also when the input is itself a view', () => {
    const inner = encodeIdx([2, 2], Uint8Array.of(1, 2, 3, 4));
    const outer = new Uint8Array(inner.length + 5);
    outer.set(inner, 5);
    const parsed = parseIdx(outer.subarray(5));
    expect(parsed.dims).toEqual([2, 2]);
    expect([...parsed.data]).toEqual([1, 2, 3, 4]);
    expect(parsed.data.buffer).toBe(outer.buffer);
    expect(parsed.data.byteOffset).toBe(5 + 12);
  });

  it('round-trips encodeIdx, which writes magic 0x08NN', () => {
    const data = Uint8Array.from({ length: 24 }, (_, i) => i);
    const bytes = encodeIdx([2, 3, 4], data);
    expect([...bytes.subarray(0, 4)]).toEqual([0, 0, 8, 3]);
    expect(parseIdx(bytes).dims).toEqual([2, 3, 4]);
    expect(() => encodeIdx([2, 2], new Uint8Array(3))).toThrow(/need 4 bytes, got 3/);
  });

  describe('rejects bad input, saying what is wrong and in which file', () => {
    const good = encodeIdx([2, 2], Uint8Array.of(1, 2, 3, 4));
    const cases: [string, Uint8Array, RegExp, number?][] = [
      ['too short', Uint8Array.of(0, 0), /^x\.idx: 2 bytes is too short for an IDX header/],
      ['still gzipped', Uint8Array.of(0x1f, 0x8b, 8, 0), /^x\.idx: the bytes are still gzip-compressed.*gunzip them/],
      ['wrong magic', Uint8Array.of(0x50, 0x4b, 3, 4), /^x\.idx: not an IDX file \(magic 0x504b0304, expected magic 0x00000803\)/, 3],
      ['unsupported dtype (i32)', Uint8Array.of(0, 0, 0x0c, 1, 0, 0, 0, 0), /^x\.idx: element type 0xc is not supported/],
      ['no dimensions', Uint8Array.of(0, 0, 8, 0), /^x\.idx: an IDX array needs at least one dimension/],
      ['labels where images were expected', encodeIdx([4], new Uint8Array(4)), /^x\.idx: magic 0x00000801 is a 1-D array, expected magic 0x00000803 \(3-D\)/, 3],
      ['images where labels were expected', encodeIdx([1, 2, 2], new Uint8Array(4)), /^x\.idx: magic 0x00000803 is a 3-D array, expected magic 0x00000801/, 1],
      ['header cut short', Uint8Array.of(0, 0, 8, 3, 0, 0, 0, 1), /declares 3 dimensions but the file ends after 8 bytes/],
      ['payload shorter than the dims', good.subarray(0, good.length - 1), /^x\.idx: dimensions 2×2 need 4 payload bytes, the file has 3 \(truncated\)/],
      ['payload longer than the dims', Uint8Array.of(...good, 9), /^x\.idx: dimensions 2×2 need 4 payload bytes, the file has 5 \(trailing data\)/],
    ];
    it.each(cases)('%s', (_, bytes, message, expectedRank) => {
      expect(() => parseIdx(bytes, 'x.idx', expectedRank)).toThrow(IdxFormatError);
      expect(() => parseIdx(bytes, 'x.idx', expectedRank)).toThrow(message);
    });
  });
});

describe('ImageDataset', () => {
  const images = parseIdx(encodeIdx([3, 2, 2], Uint8Array.from({ length: 12 }, (_, i) => i * 20)));
  const labels = parseIdx(encodeIdx([3], Uint8Array.of(2, 0, 9)));
  const ds = imagesLabelsToDataset(images, labels, 'tiny');

  it('pairs images with labels', () => {
    expect(ds).toMatchObject({ count: 3, features: 4, classes: 10 });
    expect(ds.images.buffer).toBe(images.data.buffer);
    expect(labelsOf(ds, [2, 0])).toEqual(Uint8Array.of(9, 2));
    expect(() => labelsOf(ds, [0, 3])).toThrow(/Example index 3 \(position 1 of the batch\) is outside the dataset's 3 examples/);
  });

  it('rejects mismatched pairs, out-of-range labels and wrong ranks', () => {
    const twoLabels = parseIdx(encodeIdx([2], Uint8Array.of(1, 1)));
    expect(() => imagesLabelsToDataset(images, twoLabels, 'p')).toThrow(/^p: 3 images but 2 labels; are the two files from the same split\?/);
    const badLabel = parseIdx(encodeIdx([3], Uint8Array.of(1, 10, 1)));
    expect(() => imagesLabelsToDataset(images, badLabel, 'p')).toThrow(/^p: the label of example 1 is 10, outside the 10 classes 0\.\.9/);
    expect(() => imagesLabelsToDataset(images, labels, 'p', 5)).toThrow(/label of example 2 is 9, outside the 5 classes 0\.\.4/);
    expect(() => imagesLabelsToDataset(labels, labels, 'p')).toThrow(/^p: images must be 3-D \(count × rows × cols\), got 3/);
    expect(() => imagesLabelsToDataset(images, images, 'p')).toThrow(/^p: labels must be 1-D, got 3×2×2/);
  });

  it('takes bounds-checked subsets as views', () => {
    const sub = subsetDataset(ds, 1, 2);
    expect(sub).toMatchObject({ count: 2, features: 4, classes: 10 });
    expect([...sub.labels]).toEqual([0, 9]);
    expect([...sub.images]).toEqual([80, 100, 120, 140, 160, 180, 200, 220]);
    expect(sub.images.buffer).toBe(ds.images.buffer);
    expect(subsetDataset(ds, 3, 0).count).toBe(0);
    expect(() => subsetDataset(ds, 2, 2)).toThrow(/Subset \[2, 4\) is outside the dataset's 3 examples/);
    expect(() => subsetDataset(ds, -1, 1)).toThrow(/outside the dataset's 3 examples/);
    expect(() => subsetDataset(ds, 0.5, 1)).toThrow(/must be integers/);
  });

  it('turns examples into floats pixel / 255, row-major, in the order of the indices', () => {
    const x = toFloatBatch(ds, [1, 0, 1]);
    expect(x).toHaveLength(3 * 4);
    expect([...x]).toEqual([80, 100, 120, 140, 0, 20, 40, 60, 80, 100, 120, 140].map((v) => Math.fround(v / 255)));
    const extremes = imagesLabelsToDataset(parseIdx(encodeIdx([1, 1, 2], Uint8Array.of(0, 255))), parseIdx(encodeIdx([1], Uint8Array.of(0))), 'e');
    expect([...toFloatBatch(extremes, Uint32Array.of(0))]).toEqual([0, 1]);
    expect(toFloatBatch(ds, [])).toHaveLength(0);
  });

  it('rejects batch indices outside the dataset', () => {
    expect(() => toFloatBatch(ds, [0, 3])).toThrow(/Example index 3 \(position 1 of the batch\) is outside the dataset's 3 examples/);
    expect(() => toFloatBatch(ds, [-1])).toThrow(/Example index -1/);
    expect(() => toFloatBatch(ds, [1.5])).toThrow(/Example index 1\.5/);
  });
});
