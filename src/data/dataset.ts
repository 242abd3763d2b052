// The in-memory dataset used everywhere: u8 pixels and a u8 label per example, or (for a
// next-token model) u8 token ids and a label per position, the next token of each.

import type { Random } from '../util/random.ts';
import type { IdxArray } from './idx.ts';

export interface ImageDataset {
  /** count × features bytes, row-major. */
  images: Uint8Array;
  /** count × labelsPerExample bytes. */
  labels: Uint8Array;
  count: number;
  /** Pixels per example (784 for 28×28), or token ids per window. */
  features: number;
  classes: number;
  /** Token windows: the bytes are token ids (read as they are, not /255) and each example has a label per position. */
  tokens?: TokenWindows;
}

/** How a dataset of token windows differs: its labels per example (T, the next token of each position). */
export interface TokenWindows { labelsPerExample: number }

/** Labels per example: 1, or T for token windows. */
export const labelsPerExample = (ds: Pick<ImageDataset, 'tokens'>): number => ds.tokens?.labelsPerExample ?? 1;

export interface DatasetSplits {
  train: ImageDataset;
  test: ImageDataset;
}

/**
 * How contributors fetch a job's dataset from the coordinator: the four gzipped IDX files of
 * Fashion-MNIST, or swarmgrad's own form of any dataset (swarmgradU8.ts: a manifest and raw bytes).
 */
export const DATASET_FORMATS = ['fashion-mnist-idx-gz', 'swarmgrad-u8'] as const;
export type DatasetFormat = (typeof DATASET_FORMATS)[number];

/** Pair an images array (count × rows × cols) with a labels array (count), validated. */
export function imagesLabelsToDataset(images: IdxArray, labels: IdxArray, source: string, classes = 10): ImageDataset {
  if (images.dims.length !== 3) throw new Error(`${source}: images must be 3-D (count × rows × cols), got ${images.dims.join('×')}`);
  if (labels.dims.length !== 1) throw new Error(`${source}: labels must be 1-D, got ${labels.dims.join('×')}`);
  const [count, rows, cols] = images.dims;
  if (labels.dims[0] !== count) throw new Error(`${source}: ${count} images but ${labels.dims[0]} labels; are the two files from the same split?`);
  const bad = labels.data.findIndex((l) => l >= classes);
  if (bad >= 0) throw new Error(`${source}: the label of example ${bad} is ${labels.data[bad]}, outside the ${classes} classes 0..${classes - 1}`);
  return { images: images.data, labels: labels.data, count, features: rows * cols, classes };
}

/** Examples [start, start + count) as views, bounds-checked. */
export function subsetDataset(ds: ImageDataset, start: number, count: number): ImageDataset {
  if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > ds.count) {
    throw new Error(`Subset [${start}, ${start + count}) is outside the dataset's ${ds.count} examples; start and count must be integers ≥ 0`);
  }
  return {
    ...ds,
    images: ds.images.subarray(start * ds.features, (start + count) * ds.features),
    labels: ds.labels.subarray(start * labelsPerExample(ds), (start + count) * labelsPerExample(ds)),
    count,
  };
}

function checkExampleIndex(ds: ImageDataset, e: number, position: number): void {
  if (!Number.isInteger(e) || e < 0 || e >= ds.count) {
    throw new Error(`Example index ${e} (position ${position} of the batch) is outside the dataset's ${ds.count} examples`);
  }
}

/** Inputs of the examples `indices` as floats in [0, 1] (pixel / 255, as the GPU does), row-major. */
export function toFloatBatch(ds: ImageDataset, indices: ArrayLike<number>): Float32Array {
  const { features } = ds;
  if (ds.tokens) throw new Error('toFloatBatch reads pixels; a dataset of token windows holds ids (textBatch builds its batches)');
  const x = new Float32Array(indices.length * features);
  for (let r = 0; r < indices.length; r++) {
    const e = indices[r];
    checkExampleIndex(ds, e, r);
    for (let f = 0; f < features; f++) x[r * features + f] = ds.images[e * features + f] / 255;
  }
  return x;
}

/** Labels of the examples `indices`, bounds-checked like toFloatBatch. */
export function labelsOf(ds: ImageDataset, indices: ArrayLike<number>): Uint8Array {
  if (ds.tokens) throw new Error('labelsOf gives one label per example; a dataset of token windows has one per position (textBatch)');
  const y = new Uint8Array(indices.length);
  for (let r = 0; r < indices.length; r++) {
    checkExampleIndex(ds, indices[r], r);
    y[r] = ds.labels[indices[r]];
  }
  return y;
}

/**
 * Uniformly random pixels and labels, or (tokens) random token ids below `classes` and a label
 * per position: for self-tests, timing and kernel tests, never training.
 */
export function randomDataset(rng: Random, count: number, features: number, classes: number, tokens?: TokenWindows | null): ImageDataset {
  const per = tokens?.labelsPerExample ?? 1;
  return {
    images: Uint8Array.from({ length: count * features }, () => rng.int(tokens ? classes : 256)),
    labels: Uint8Array.from({ length: count * per }, () => rng.int(classes)),
    count,
    features,
    classes,
    ...(tokens ? { tokens: { ...tokens } } : {}),
  };
}

/** The windows a model reads, when it is a next-token model (for randomDataset); null otherwise. */
export function tokenWindowsOf(model: { tokens: unknown; labelsPerExample: number }): TokenWindows | null {
  return model.tokens ? { labelsPerExample: model.labelsPerExample } : null;
}
