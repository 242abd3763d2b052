import { describe, expect, it } from 'vitest';
import { encodeIdx, parseIdx } from './idx.ts';
import { imagesLabelsToDataset, labelsOf, subsetDataset, toFloatBatch } from './dataset.ts';

describe('parseIdx', () => {
  it('round-trips u8 arrays of any rank, returning a view', () => {
    const data = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => i);
    const bytes = encodeIdx([2, 3, 4], data);
    const parsed = parseIdx(bytes);
    expect(parsed.dims).toEqual([2, 3, 4]);
    expect([...parsed.data]).toEqual([...data]);
    expect(parsed.data.buffer).toBe(bytes.buffer);
    expect(parseIdx(encodeIdx([3], Uint8Array.of(7, 8, 9))).dims).toEqual([3]);
  });

  it('reads big-endian dimensions', () => {
    const bytes = encodeIdx([300], new Uint8Array(300));
    expect([...bytes.subarray(4, 8)]).toEqual([0, 0, 1, 44]);
  });

  it('rejects bad input with what is wrong and where', () => {
    expect(() => parseIdx(Uint8Array.of(0, 0), 'x.idx')).toThrow(/x\.idx: 2 bytes is too short/);
    expect(() => parseIdx(Uint8Array.of(0x1f, 0x8b, 8, 0), 'x.idx')).toThrow(/x\.idx: not an IDX file.*gzip-compressed/);
    expect(() => parseIdx(Uint8Array.of(0, 0, 0x0d, 1, 0, 0, 0, 0), 'x.idx')).toThrow(/element type 0xd is not supported/);
    expect(() => parseIdx(Uint8Array.of(0, 0, 8, 0), 'x.idx')).toThrow(/at least one dimension/);
    expect(() => parseIdx(Uint8Array.of(0, 0, 8, 3, 0, 0, 0, 1), 'x.idx')).toThrow(/declares 3 dimensions but the file ends after 8 bytes/);
    const good = encodeIdx([2, 2], Uint8Array.of(1, 2, 3, 4));
    expect(() => parseIdx(good.subarray(0, good.length - 1), 'x.idx')).toThrow(/need 4 payload bytes, the file has 3 \(truncated\)/);
    const long = new Uint8Array(good.length + 1);
    long.set(good);
    expect(() => parseIdx(long, 'x.idx')).toThrow(/has 5 \(trailing data\)/);
  });
});

describe('ImageDataset', () => {
  const images = parseIdx(encodeIdx([3, 2, 2], Uint8Array.from({ length: 12 }, (_, i) => i * 20)));
  const labels = parseIdx(encodeIdx([3], Uint8Array.of(2, 0, 9)));
  const ds = imagesLabelsToDataset(images, labels, 'tiny');

  it('pairs images with labels', () => {
    expect(ds).toMatchObject({ count: 3, features: 4, classes: 10 });
    expect(labelsOf(ds, [2, 0])).toEqual(Uint8Array.of(9, 2));
  });

  it('rejects mismatched pairs and out-of-range labels', () => {
    expect(() => imagesLabelsToDataset(images, parseIdx(encodeIdx([2], Uint8Array.of(1, 1))), 'p')).toThrow(/p: 3 images but 2 labels/);
    expect(() => imagesLabelsToDataset(images, parseIdx(encodeIdx([3], Uint8Array.of(1, 10, 1))), 'p')).toThrow(/label 1 is 10, outside 0..9/);
    expect(() => imagesLabelsToDataset(labels, labels, 'p')).toThrow(/images must be 3-D/);
  });

  it('takes bounds-checked subsets as views', () => {
    const sub = subsetDataset(ds, 1, 2);
    expect(sub.count).toBe(2);
    expect([...sub.labels]).toEqual([0, 9]);
    expect(sub.images.buffer).toBe(ds.images.buffer);
    expect(() => subsetDataset(ds, 2, 2)).toThrow(/Subset \[2, 4\) is outside the dataset's 3 examples/);
  });

  it('turns examples into floats in [0, 1]', () => {
    expect([...toFloatBatch(ds, [1])]).toEqual([80, 100, 120, 140].map((v) => Math.fround(v / 255)));
    expect(() => toFloatBatch(ds, [3])).toThrow(/Example index 3 is outside/);
  });
});
