import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FASHION_MNIST_CLASSES, gunzip } from './fashionMnist.ts';
import { defaultDataDir, loadFashionMnistFromDir } from './fashionMnistNode.ts';

const FIXTURE = 'test/fixtures/fashion-mnist-small';
const hasRealData = existsSync(`${defaultDataDir()}/train-images-idx3-ubyte.gz`);

describe('Fashion-MNIST loader', () => {
  it('loads the fixture subset', async () => {
    const { train, test } = await loadFashionMnistFromDir(FIXTURE);
    expect([train.count, train.features, train.classes]).toEqual([1000, 784, 10]);
    expect([test.count, test.features]).toEqual([500, 784]);
    expect(train.images.length).toBe(1000 * 784);
    expect(FASHION_MNIST_CLASSES).toHaveLength(10);
  });

  it.skipIf(!hasRealData)('loads the real dataset: 60000/10000 examples, balanced classes, the fixture is its prefix', async () => {
    const real = await loadFashionMnistFromDir();
    expect([real.train.count, real.test.count]).toEqual([60000, 10000]);
    const histogram = (labels: Uint8Array) => labels.reduce((h, l) => (h[l]++, h), new Array(10).fill(0));
    expect(histogram(real.train.labels)).toEqual(new Array(10).fill(6000));
    expect(histogram(real.test.labels)).toEqual(new Array(10).fill(1000));
    const fixture = await loadFashionMnistFromDir(FIXTURE);
    expect(fixture.train.images).toEqual(real.train.images.subarray(0, 1000 * 784));
    expect(fixture.test.labels).toEqual(real.test.labels.subarray(0, 500));
  });

  it('says where it looked when files are missing', async () => {
    await expect(loadFashionMnistFromDir('/nonexistent')).rejects.toThrow(/\/nonexistent\/.*is missing: install the dataset.*SWARMGRAD_DATA_DIR/);
  });

  it('rejects corrupt gzip data with the source name', async () => {
    await expect(gunzip(Uint8Array.of(1, 2, 3, 4), 'broken.gz')).rejects.toThrow(/broken\.gz: could not decompress/);
  });
});
