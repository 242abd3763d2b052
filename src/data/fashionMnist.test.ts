import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatasetSplits } from './dataset.ts';
import { FASHION_MNIST_CLASSES, FASHION_MNIST_FILES, gunzip, loadFashionMnistFromUrl } from './fashionMnist.ts';
import { encodeIdx } from './idx.ts';
import { defaultDataDir, loadFashionMnistFromDir } from './fashionMnistNode.ts';

const FIXTURE = 'test/fixtures/fashion-mnist-small';
const hasRealData = existsSync(join(defaultDataDir(), FASHION_MNIST_FILES.trainImages));
const sum = (bytes: Uint8Array) => bytes.reduce((a, b) => a + b, 0);

/** Byte equality that reports the first difference; toEqual on ~10⁶-element arrays takes seconds. */
function expectSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.length).toBe(expected.length);
  const at = actual.findIndex((v, i) => v !== expected[i]);
  expect(at < 0 ? null : { at, actual: actual[at], expected: expected[at] }).toBeNull();
}

/** A copy of the fixture directory with `name` replaced by `bytes`. */
async function fixtureWith(name: string, bytes: Uint8Array): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'swarmgrad-fmnist-'));
  for (const file of Object.values(FASHION_MNIST_FILES)) await copyFile(join(FIXTURE, file), join(dir, file));
  await writeFile(join(dir, name), bytes);
  return dir;
}

describe('Fashion-MNIST constants', () => {
  it('names the four files and the ten classes', () => {
    expect(Object.values(FASHION_MNIST_FILES).sort()).toEqual([
      't10k-images-idx3-ubyte.gz',
      't10k-labels-idx1-ubyte.gz',
      'train-images-idx3-ubyte.gz',
      'train-labels-idx1-ubyte.gz',
    ]);
    expect(FASHION_MNIST_CLASSES).toEqual(['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']);
  });
});

describe('gunzip', () => {
  it('decompresses gzip bytes', async () => {
    const plain = Uint8Array.from({ length: 5000 }, (_, i) => i % 251);
    expect(await gunzip(gzipSync(plain))).toEqual(plain);
  });

  it('rejects corrupt or truncated gzip data, naming the source', async () => {
    await expect(gunzip(Uint8Array.of(1, 2, 3, 4), 'broken.gz')).rejects.toThrow(/^broken\.gz: could not decompress .*corrupt or not gzip/);
    const gz = gzipSync(new Uint8Array(10000));
    await expect(gunzip(gz.subarray(0, gz.length - 8), 'cut.gz')).rejects.toThrow(/^cut\.gz: could not decompress/);
  });
});

describe('loadFashionMnistFromDir', () => {
  it('loads the fixture: 1000 train and 500 test examples of 784 pixels, 10 classes', async () => {
    const { train, test } = await loadFashionMnistFromDir(FIXTURE);
    expect([train.count, train.features, train.classes]).toEqual([1000, 784, 10]);
    expect([test.count, test.features, test.classes]).toEqual([500, 784, 10]);
    expect([train.images.length, train.labels.length, test.images.length, test.labels.length]).toEqual([1000 * 784, 1000, 500 * 784, 500]);
    // Known first examples of the real files: both splits start with an ankle boot (class 9).
    expect([...train.labels.subarray(0, 10)]).toEqual([9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
    expect([...test.labels.subarray(0, 10)]).toEqual([9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
    expect([sum(train.images.subarray(0, 784)), sum(test.images.subarray(0, 784))]).toEqual([76247, 33456]);
  });

  it.skipIf(!hasRealData)('loads the real dataset: 60000/10000 examples, 6000/1000 per class, the fixture is its prefix', async () => {
    const real = await loadFashionMnistFromDir();
    expect([real.train.count, real.test.count, real.train.features, real.test.features]).toEqual([60000, 10000, 784, 784]);
    const histogram = (labels: Uint8Array) => labels.reduce((h, l) => (h[l]++, h), new Array<number>(10).fill(0));
    expect(histogram(real.train.labels)).toEqual(new Array(10).fill(6000));
    expect(histogram(real.test.labels)).toEqual(new Array(10).fill(1000));
    const fixture = await loadFashionMnistFromDir(FIXTURE);
    expectSameBytes(fixture.train.images, real.train.images.subarray(0, 1000 * 784));
    expectSameBytes(fixture.train.labels, real.train.labels.subarray(0, 1000));
    expectSameBytes(fixture.test.images, real.test.images.subarray(0, 500 * 784));
    expectSameBytes(fixture.test.labels, real.test.labels.subarray(0, 500));
  });

  it('says where it looked and how to fix it when a file is missing', async () => {
    await expect(loadFashionMnistFromDir('/nonexistent')).rejects.toThrow(
      /\/nonexistent\/.*-ubyte\.gz is missing: install the dataset with `apt-get install dataset-fashion-mnist` or set SWARMGRAD_DATA_DIR/,
    );
  });

  describe('names the bad file', () => {
    const dirs: string[] = [];
    afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

    it('when it is corrupt gzip', async () => {
      const gz = await readFile(join(FIXTURE, FASHION_MNIST_FILES.testImages));
      const dir = await fixtureWith(FASHION_MNIST_FILES.testImages, gz.subarray(0, gz.length / 2));
      dirs.push(dir);
      await expect(loadFashionMnistFromDir(dir)).rejects.toThrow(`${dir}/t10k-images-idx3-ubyte.gz: could not decompress`);
    });

    it('when images and labels files are swapped', async () => {
      const labels = await readFile(join(FIXTURE, FASHION_MNIST_FILES.trainLabels));
      const dir = await fixtureWith(FASHION_MNIST_FILES.trainImages, labels);
      dirs.push(dir);
      await expect(loadFashionMnistFromDir(dir)).rejects.toThrow(`${dir}/train-images-idx3-ubyte.gz: magic 0x00000801 is a 1-D array, expected magic 0x00000803`);
    });

    it('when the label count does not match the images', async () => {
      const dir = await fixtureWith(FASHION_MNIST_FILES.testLabels, gzipSync(encodeIdx([499], new Uint8Array(499))));
      dirs.push(dir);
      await expect(loadFashionMnistFromDir(dir)).rejects.toThrow(/Fashion-MNIST test \(.*\): 500 images but 499 labels/);
    });
  });
});

describe('loadFashionMnistFromUrl', () => {
  let server: Server;
  let origin: string;

  beforeAll(async () => {
    // A real HTTP server over the fixture: /ok/<file> serves it, anything else is a 404.
    server = createServer(async (req, res) => {
      const name = (req.url ?? '').replace(/^\/ok\//, '');
      if (!req.url?.startsWith('/ok/') || !Object.values(FASHION_MNIST_FILES).includes(name as never)) {
        res.writeHead(404, 'Not Found').end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(await readFile(join(FIXTURE, name)));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))));

  it('fetches the four files and gives the same splits as the directory loader', async () => {
    const expectSame = (a: DatasetSplits, b: DatasetSplits) => {
      expectSameBytes(a.train.images, b.train.images);
      expectSameBytes(a.train.labels, b.train.labels);
      expectSameBytes(a.test.images, b.test.images);
      expectSameBytes(a.test.labels, b.test.labels);
    };
    const fromDir = await loadFashionMnistFromDir(FIXTURE);
    expectSame(await loadFashionMnistFromUrl(`${origin}/ok/`), fromDir);
    expectSame(await loadFashionMnistFromUrl(`${origin}/ok`), fromDir);
  });

  it('names the URL and the HTTP status when a file is not served', async () => {
    await expect(loadFashionMnistFromUrl(`${origin}/missing/`)).rejects.toThrow(
      new RegExp(`Could not fetch ${origin}/missing/[a-z0-9-]+\\.gz: HTTP 404 Not Found`),
    );
  });

  it('refuses a relative base URL when there is no page to resolve it against', async () => {
    await expect(loadFashionMnistFromUrl('/data/fashion-mnist/')).rejects.toThrow(/"\/data\/fashion-mnist\/" is relative .*pass an absolute URL/);
  });
});
