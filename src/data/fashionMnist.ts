// Fashion-MNIST: four gzipped IDX files. This module works in browsers, workers and Node
// (gunzip uses the standard DecompressionStream); reading from disk is in fashionMnistNode.ts.

import { imagesLabelsToDataset, type DatasetSplits } from './dataset.ts';
import { parseIdx } from './idx.ts';

export const FASHION_MNIST_FILES = {
  trainImages: 'train-images-idx3-ubyte.gz',
  trainLabels: 'train-labels-idx1-ubyte.gz',
  testImages: 't10k-images-idx3-ubyte.gz',
  testLabels: 't10k-labels-idx1-ubyte.gz',
} as const;

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

export async function gunzip(bytes: Uint8Array, source = 'gzip data'): Promise<Uint8Array> {
  try {
    const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (error) {
    throw new Error(`${source}: could not decompress (${(error as Error).message}); the file is corrupt or not gzip`);
  }
}

/** Build the splits from the four compressed files' bytes. */
export async function fashionMnistFromGzipFiles(read: (name: string) => Promise<Uint8Array>): Promise<DatasetSplits> {
  const f = FASHION_MNIST_FILES;
  const load = async (name: string) => parseIdx(await gunzip(await read(name), name), name);
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all([
    load(f.trainImages),
    load(f.trainLabels),
    load(f.testImages),
    load(f.testLabels),
  ]);
  return {
    train: imagesLabelsToDataset(trainImages, trainLabels, 'Fashion-MNIST train'),
    test: imagesLabelsToDataset(testImages, testLabels, 'Fashion-MNIST test'),
  };
}

/** Fetch the four files from `baseUrl` (e.g. "/data/fashion-mnist/"). */
export function loadFashionMnistFromUrl(baseUrl: string): Promise<DatasetSplits> {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  return fashionMnistFromGzipFiles(async (name) => {
    const url = new URL(base + name, globalThis.location?.href).href;
    let response: Response;
    try {
      response = await fetch(url);
    } catch (error) {
      throw new Error(`Could not fetch ${url}: ${(error as Error).message}`);
    }
    if (!response.ok) throw new Error(`Could not fetch ${url}: HTTP ${response.status} ${response.statusText}`);
    return new Uint8Array(await response.arrayBuffer());
  });
}
