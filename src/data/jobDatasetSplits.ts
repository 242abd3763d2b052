// The job owner's arrays (parsed .npy or IDX) made into the splits a job trains and
// evaluates on, checked against the job's model and example counts. Pure: the files are
// read by jobDataset.ts.

import { subsetDataset, type DatasetSplits, type ImageDataset } from './dataset.ts';
import type { IdxArray } from './idx.ts';
import { NpyFormatError, checkDatasetAgainstModel, npyDataset, type NpyArray } from './npy.ts';

/** The data does not fit the job: the message names the file and what to change. */
export class DatasetCheckError extends Error {
  override name = 'DatasetCheckError';
}

export interface ModelShape {
  inputShape: readonly number[];
  classes: number;
}

export interface JobSplits {
  splits: DatasetSplits;
  /** One example's shape as the files give it (without N). */
  exampleShape: number[];
  /** For the job owner's log: how float inputs became bytes. */
  notes: string[];
  /** A text's characters in token order. */
  vocabulary?: string[];
}

export interface Wanted {
  /** The job's data.trainExamples / testExamples, when it names them. */
  trainExamples?: number;
  testExamples?: number;
}

export interface NpySplitArrays {
  inputs: NpyArray;
  labels: NpyArray;
}

/** Both .npy splits as the model's datasets (float inputs rounded to bytes, see npyDataset). */
export function npyJobSplits(arrays: { train: NpySplitArrays; test: NpySplitArrays }, model: ModelShape, wanted: Wanted): JobSplits {
  const notes: string[] = [];
  const split = (which: 'train' | 'test') => {
    const { inputs, labels } = arrays[which];
    const ds = rethrow(() => npyDataset(inputs, labels, `data.${which}`, model.classes));
    if (ds.inputConversion.kind === 'floats-to-bytes') notes.push(`data.${which} (${inputs.source}): ${ds.inputConversion.note}`);
    return ds;
  };
  const train = split('train');
  const test = split('test');
  checkAgainstModel({ train, test }, model, { train: arrays.train.inputs.source, test: arrays.test.inputs.source });
  if (!sameShape(train.exampleShape, test.exampleShape)) {
    throw new DatasetCheckError(
      `data.test: its examples (${arrays.test.inputs.source}) have shape [${test.exampleShape.join(', ')}], the training examples (${arrays.train.inputs.source}) [${train.exampleShape.join(', ')}]; both splits must have the same shape`,
    );
  }
  return finish({ train, test }, train.exampleShape, wanted, { train: arrays.train.inputs.source, test: arrays.test.inputs.source }, notes);
}

export interface IdxSplitArrays {
  images: IdxArray & { source: string };
  labels: IdxArray & { source: string };
}

/** Both IDX splits: images [N, rows, cols] (or [N, features]) of bytes, labels [N]. */
export function idxJobSplits(arrays: { train: IdxSplitArrays; test: IdxSplitArrays }, model: ModelShape, wanted: Wanted): JobSplits {
  const split = (which: 'train' | 'test'): ImageDataset & { exampleShape: number[] } => {
    const { images, labels } = arrays[which];
    const fail = (why: string): never => {
      throw new DatasetCheckError(`data.${which}: ${why}`);
    };
    if (images.dims.length < 2 || images.dims.length > 4) fail(`the images ${images.source} are ${images.dims.length}-D (${images.dims.join('×')}); they must be [N, rows, cols] (or [N, features])`);
    if (labels.dims.length !== 1) fail(`the labels ${labels.source} are ${labels.dims.length}-D (${labels.dims.join('×')}); they must be 1-D, one class index per example`);
    const [count, ...exampleShape] = images.dims;
    if (count < 1) fail(`the images ${images.source} hold no examples: an empty split cannot be trained or evaluated on`);
    if (labels.dims[0] !== count) fail(`${count} images in ${images.source} but ${labels.dims[0]} labels in ${labels.source}; are the two files from the same split?`);
    const bad = labels.data.findIndex((l) => l >= model.classes);
    if (bad >= 0) fail(`the label of example ${bad} in ${labels.source} is ${labels.data[bad]}, outside the model's ${model.classes} classes 0..${model.classes - 1}; fix the labels or the model's last layer`);
    const features = exampleShape.reduce((a, b) => a * b, 1);
    return { images: images.data, labels: labels.data, count, features, classes: model.classes, exampleShape };
  };
  const train = split('train');
  const test = split('test');
  checkAgainstModel({ train, test }, model, { train: arrays.train.images.source, test: arrays.test.images.source });
  if (!sameShape(train.exampleShape, test.exampleShape)) {
    throw new DatasetCheckError(`data.test: its images (${arrays.test.images.source}) are ${test.exampleShape.join('×')}, the training images (${arrays.train.images.source}) ${train.exampleShape.join('×')}; both splits must have the same shape`);
  }
  return finish({ train, test }, train.exampleShape, wanted, { train: arrays.train.images.source, test: arrays.test.images.source }, []);
}

function checkAgainstModel(splits: Record<'train' | 'test', ImageDataset & { exampleShape: number[] }>, model: ModelShape, files: { train: string; test: string }): void {
  for (const which of ['train', 'test'] as const) {
    rethrow(() => checkDatasetAgainstModel(splits[which], model.inputShape, model.classes, `data.${which} (${files[which]})`));
  }
}

/** Keeps the examples the job asks for (data.trainExamples / testExamples), at most what the files hold. */
function finish(
  splits: { train: ImageDataset & { exampleShape: number[] }; test: ImageDataset & { exampleShape: number[] } },
  exampleShape: number[],
  wanted: Wanted,
  files: { train: string; test: string },
  notes: string[],
): JobSplits {
  const keep = (which: 'train' | 'test', asked: number | undefined) => {
    const ds = splits[which];
    if (asked === undefined) return ds;
    const field = which === 'train' ? 'trainExamples' : 'testExamples';
    if (asked > ds.count) throw new DatasetCheckError(`data.${field}: ${files[which]} holds ${ds.count} examples, the job asks for ${asked}; lower data.${field} or leave it out to use them all`);
    return subsetDataset(ds, 0, asked);
  };
  const strip = ({ images, labels, count, features, classes }: ImageDataset): ImageDataset => ({ images, labels, count, features, classes });
  return { splits: { train: strip(keep('train', wanted.trainExamples)), test: strip(keep('test', wanted.testExamples)) }, exampleShape, notes };
}

/** The npy and dataset checks' errors (NpyFormatError, or a plain Error) as DatasetCheckError: they already name the file. A bug's TypeError stays one. */
function rethrow<T>(f: () => T): T {
  try {
    return f();
  } catch (error) {
    if (error instanceof NpyFormatError || (error instanceof Error && error.constructor === Error)) throw new DatasetCheckError(error.message);
    throw error;
  }
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);
