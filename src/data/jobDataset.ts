// A job's dataset, read once in Node before anything runs (npm start, --plan): the installed
// Fashion-MNIST package, or the job owner's own files (.npy or IDX, gzipped or not, or a UTF-8
// text for a next-token model), checked
// against the model and made into the splits the coordinator trains, spot-checks, evaluates
// and serves. The checks themselves are pure (jobDatasetSplits.ts); this file reads.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { JobError, installedDataJob, sampleSettings, withFileDataSizes, type Job, type JobDefinition, type JobFileData } from '../coordinator/job.ts';
import { resolveModel } from '../model/layers/spec.ts';
import { DatasetUnavailableError, defaultDataDir, loadFashionMnistFromDir } from './fashionMnistNode.ts';
import { IdxFormatError, parseIdx } from './idx.ts';
import { DatasetCheckError, idxJobSplits, npyJobSplits, type JobSplits } from './jobDatasetSplits.ts';
import { NpyFormatError } from './npy.ts';
import { TextDatasetError, buildTextCorpus, textWindowsDataset } from './text.ts';
import { subsetDataset, type DatasetSplits, type ImageDataset } from './dataset.ts';
import { loadNpyFile } from './npyNode.ts';
import { u8Files } from './swarmgradU8.ts';

export type JobDataset =
  | { kind: 'fashion-mnist'; splits: DatasetSplits; dir: string }
  | {
      kind: 'files';
      /** The job's first trainExamples / testExamples of each split, as bytes (what contributors get). */
      splits: DatasetSplits;
      exampleShape: number[];
      /** SHA-256 (hex) of the four canonical files, and of them all (data.digest, the served directory). */
      sha256: Record<keyof ReturnType<typeof u8Files>, string>;
      digest: string;
      /** How float inputs became bytes, for the log. */
      notes: string[];
      /** A text's characters in token order (token i is vocabulary[i]); null for other data. */
      vocabulary: string[] | null;
    };

export interface LoadJobDatasetOptions {
  /** Where the installed Fashion-MNIST files are (default: SWARMGRAD_DATA_DIR or the Debian package's folder). */
  fashionMnistDir?: string;
  /** Names the job in errors (its path). */
  source?: string;
}

/**
 * Reads the job's data and gives the Job with its sizes: relative paths in `data` are taken
 * from `baseDir` (the job file's folder). A missing file is a DatasetUnavailableError; a file
 * that is not what it should be (magic, dtype, shape, labels, NaN, an empty split, more
 * examples asked for than it holds) is a JobError naming the file and the fix.
 */
export async function loadJobDataset(definition: JobDefinition, baseDir: string, options: LoadJobDatasetOptions = {}): Promise<{ job: Job; dataset: JobDataset }> {
  const source = options.source ?? 'the job';
  if ('dataset' in definition.data) {
    const job = installedDataJob(definition, source);
    const dir = options.fashionMnistDir ?? defaultDataDir();
    return { job, dataset: { kind: 'fashion-mnist', splits: await loadFashionMnistFromDir(dir), dir } };
  }
  const data = definition.data;
  const model = resolveModel(definition.model);
  const wanted = { trainExamples: data.trainExamples, testExamples: data.testExamples };
  let built: JobSplits;
  try {
    built =
      data.kind === 'npy' ? await npySplits(data, baseDir, model, wanted)
      : data.kind === 'idx' ? await idxSplits(data, baseDir, model, wanted)
      : await textSplits(data, baseDir, model, wanted, source);
  } catch (error) {
    if (error instanceof NpyFormatError || error instanceof IdxFormatError || error instanceof DatasetCheckError || error instanceof TextDatasetError) {
      throw new JobError(`${source}: its data cannot be used: ${error.message}`);
    }
    throw error;
  }
  const sample = sampleSettings(definition);
  if (sample && built.vocabulary) {
    const known = new Set(built.vocabulary);
    const missing = [...new Set(sample.prompt)].filter((c) => !known.has(c));
    if (missing.length) {
      throw new JobError(`${source}: sample.prompt has ${missing.map((c) => JSON.stringify(c)).join(', ')}, not in the vocabulary of ${data.kind === 'text' ? data.file : 'the text'}; the model cannot read it`);
    }
  }
  const files = u8Files(built.splits);
  const sha256 = Object.fromEntries(Object.entries(files).map(([name, bytes]) => [name, createHash('sha256').update(bytes).digest('hex')])) as Record<keyof typeof files, string>;
  const all = createHash('sha256');
  all.update(JSON.stringify({ exampleShape: built.exampleShape, classes: built.splits.train.classes }));
  for (const name of Object.keys(files).sort()) all.update(sha256[name as keyof typeof files]);
  const digest = all.digest('hex').slice(0, 16);
  const job = withFileDataSizes(definition, { train: built.splits.train.count, test: built.splits.test.count, digest }, source);
  return { job, dataset: { kind: 'files', splits: built.splits, exampleShape: built.exampleShape, sha256, digest, notes: built.notes, vocabulary: built.vocabulary ?? null } };
}

type Model = { inputShape: readonly number[]; classes: number; tokens: { vocabulary: number; context: number } | null };
type Wanted = { trainExamples?: number; testExamples?: number };

async function npySplits(data: Extract<JobFileData, { kind: 'npy' }>, baseDir: string, model: Model, wanted: Wanted): Promise<JobSplits> {
  const at = (path: string) => loadNpyFile(resolve(baseDir, path));
  const [trainInputs, trainLabels, testInputs, testLabels] = await Promise.all([at(data.train.inputs), at(data.train.labels), at(data.test.inputs), at(data.test.labels)]);
  return npyJobSplits({ train: { inputs: trainInputs, labels: trainLabels }, test: { inputs: testInputs, labels: testLabels } }, model, wanted);
}

async function idxSplits(data: Extract<JobFileData, { kind: 'idx' }>, baseDir: string, model: Model, wanted: Wanted): Promise<JobSplits> {
  const at = (path: string, rank: number | undefined) => loadIdxFile(resolve(baseDir, path), rank);
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all([
    at(data.train.images, undefined),
    at(data.train.labels, 1),
    at(data.test.images, undefined),
    at(data.test.labels, 1),
  ]);
  return idxJobSplits({ train: { images: trainImages, labels: trainLabels }, test: { images: testImages, labels: testLabels } }, model, wanted);
}

/** A UTF-8 text as windows of the model's context: the first trainFraction trains, the rest validates. */
async function textSplits(data: Extract<JobFileData, { kind: 'text' }>, baseDir: string, model: Model, wanted: Wanted, source: string): Promise<JobSplits> {
  const path = resolve(baseDir, data.file);
  if (!model.tokens) throw new DatasetCheckError('a text dataset needs a next-token model (an embedding first)');
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DatasetUnavailableError(`${path} is missing: check data.file in ${source} (relative paths are from the job file's folder)`);
    throw new DatasetUnavailableError(`Could not read ${path}: ${(error as Error).message}`);
  }
  const { context, vocabulary } = model.tokens;
  if (data.stride !== undefined && data.stride > context) {
    throw new DatasetCheckError(`data.stride is ${data.stride}, more than the model's context of ${context}: the tokens between windows would never train; use at most ${context}`);
  }
  const corpus = buildTextCorpus(bytes, { context, stride: data.stride, maxVocabulary: vocabulary, trainFraction: data.trainFraction, source: data.file });
  const take = (ds: ImageDataset, n: number | undefined, which: string) => {
    if (n !== undefined && n > ds.count) throw new DatasetCheckError(`data.${which}Examples: ${data.file} gives ${ds.count} ${which === 'train' ? 'training' : 'validation'} windows of ${context}, asked for ${n}`);
    return n === undefined ? ds : subsetDataset(ds, 0, n);
  };
  // Every id the model's vocabulary holds is a class, whether the text uses it or not.
  const windows = (split: typeof corpus.train) => ({ ...textWindowsDataset(split, corpus.vocabulary), classes: vocabulary });
  const splits = { train: take(windows(corpus.train), wanted.trainExamples, 'train'), test: take(windows(corpus.validation), wanted.testExamples, 'test') };
  const notes = [
    `${data.file}: ${corpus.characters.toLocaleString('en-US')} characters, ${corpus.vocabulary.chars.length} distinct; ${corpus.train.tokens.length.toLocaleString('en-US')} train and ${corpus.validation.tokens.length.toLocaleString('en-US')} validation tokens, windows of ${context}` +
      (corpus.train.stride !== context ? ` every ${corpus.train.stride} tokens (${corpus.train.sequences.toLocaleString('en-US')} train windows)` : ''),
  ];
  return { splits, exampleShape: [context], notes, vocabulary: corpus.vocabulary.chars };
}

/** One IDX file, gzipped (.gz, by its magic 1f 8b) or raw. */
async function loadIdxFile(path: string, rank: number | undefined) {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DatasetUnavailableError(`${path} is missing: check the path in the job's data (relative paths are from the job file's folder)`);
    if (code === 'EISDIR') throw new DatasetUnavailableError(`${path} is a directory, not an IDX file`);
    throw new DatasetUnavailableError(`Could not read ${path}: ${(error as Error).message}`);
  }
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = new Uint8Array(gunzipSync(bytes));
    } catch (error) {
      throw new IdxFormatError(`${path}: could not decompress (${(error as Error).message}); the file is corrupt or not gzip`);
    }
  }
  return { ...parseIdx(bytes, path, rank), source: path };
}
