// The in-memory image classification dataset used everywhere: u8 pixels, u8 labels.

import type { IdxArray } from './idx.ts';

export interface ImageDataset {
  /** count × features bytes, row-major. */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  /** Pixels per example (784 for 28×28). */
  features: number;
  classes: number;
}

export interface DatasetSplits {
  train: ImageDataset;
  test: ImageDataset;
}

/** Pair an images array (count × rows × cols) with a labels array (count), validated. */
export function imagesLabelsToDataset(images: IdxArray, labels: IdxArray, source: string, classes = 10): ImageDataset {
  if (images.dims.length !== 3) throw new Error(`${source}: images must be 3-D (count × rows × cols), got ${images.dims.join('×')}`);
  if (labels.dims.length !== 1) throw new Error(`${source}: labels must be 1-D, got ${labels.dims.join('×')}`);
  const [count, rows, cols] = images.dims;
  if (labels.dims[0] !== count) throw new Error(`${source}: ${count} images but ${labels.dims[0]} labels`);
  const bad = labels.data.findIndex((l) => l >= classes);
  if (bad >= 0) throw new Error(`${source}: label ${bad} is ${labels.data[bad]}, outside 0..${classes - 1}`);
  return { images: images.data, labels: labels.data, count, features: rows * cols, classes };
}

/** Examples [start, start + count) as views, bounds-checked. */
export function subsetDataset(ds: ImageDataset, start: number, count: number): ImageDataset {
  if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > ds.count) {
    throw new Error(`Subset [${start}, ${start + count}) is outside the dataset's ${ds.count} examples`);
  }
  return {
    ...ds,
    images: ds.images.subarray(start * ds.features, (start + count) * ds.features),
    labels: ds.labels.subarray(start, start + count),
    count,
  };
}

/** Inputs of the examples `indices` as floats in [0, 1] (pixel / 255), row-major. */
export function toFloatBatch(ds: ImageDataset, indices: ArrayLike<number>): Float32Array {
  const { features } = ds;
  const x = new Float32Array(indices.length * features);
  for (let r = 0; r < indices.length; r++) {
    const e = indices[r];
    if (!Number.isInteger(e) || e < 0 || e >= ds.count) throw new Error(`Example index ${e} is outside the dataset's ${ds.count} examples`);
    for (let f = 0; f < features; f++) x[r * features + f] = ds.images[e * features + f] / 255;
  }
  return x;
}

export function labelsOf(ds: ImageDataset, indices: ArrayLike<number>): Uint8Array {
  return Uint8Array.from(indices as ArrayLike<number>, (e) => ds.labels[e]);
}
