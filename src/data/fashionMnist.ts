// Fashion-MNIST: four gzipped IDX files. This module works in browsers, workers and Node
// (gunzip uses the standard DecompressionStream); reading from disk is in fashionMnistNode.ts.

import { imagesLabelsToDataset, type DatasetSplits } from './dataset.ts';
import { datasetBaseUrl, fetchDatasetFile } from './fetchFile.ts';
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

/** Decompress gzip bytes with the standard DecompressionStream (browsers, workers, Node ≥ 18). */
export async function gunzip(bytes: Uint8Array, source = 'gzip data'): Promise<Uint8Array> {
  try {
    const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (error) {
    throw new Error(`${source}: could not decompress (${(error as Error).message}); the file is corrupt or not gzip`);
  }
}

/** Images are 3-D (count × 28 × 28), labels 1-D; parseIdx checks the magic number against this. */
const RANK_OF_FILE: Record<string, number> = {
  [FASHION_MNIST_FILES.trainImages]: 3,
  [FASHION_MNIST_FILES.trainLabels]: 1,
  [FASHION_MNIST_FILES.testImages]: 3,
  [FASHION_MNIST_FILES.testLabels]: 1,
};

/**
 * Build the splits from the four compressed files' bytes. `location` (a directory or base
 * URL) only names the files in error messages.
 */
export async function fashionMnistFromGzipFiles(read: (name: string) => Promise<Uint8Array>, location: string): Promise<DatasetSplits> {
  const f = FASHION_MNIST_FILES;
  const load = async (name: string) => {
    const source = `${location.replace(/\/+$/, '')}/${name}`;
    return parseIdx(await gunzip(await read(name), source), source, RANK_OF_FILE[name]);
  };
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all([
    load(f.trainImages),
    load(f.trainLabels),
    load(f.testImages),
    load(f.testLabels),
  ]);
  const classes = FASHION_MNIST_CLASSES.length;
  return {
    train: imagesLabelsToDataset(trainImages, trainLabels, `Fashion-MNIST train (${location})`, classes),
    test: imagesLabelsToDataset(testImages, testLabels, `Fashion-MNIST test (${location})`, classes),
  };
}

/** Fetch the four files from `baseUrl` (e.g. "/data/fashion-mnist/"; relative only inside a page or worker). */
export async function loadFashionMnistFromUrl(baseUrl: string): Promise<DatasetSplits> {
  const base = datasetBaseUrl(baseUrl, 'Fashion-MNIST');
  return fashionMnistFromGzipFiles((name) => fetchDatasetFile(new URL(name, base).href), base);
}
