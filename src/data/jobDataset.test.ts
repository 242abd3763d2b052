// loadJobDataset on the job owner's own files (test/fixtures/job-data, written by its make.ts):
// both forms load and check against the model, and every way a file can be wrong is one
// clear error naming the file.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JobError, jobId, parseJob, parseJobDefinition, sampleSettings, type JobDefinition } from '../coordinator/job.ts';
import { DatasetUnavailableError } from './fashionMnistNode.ts';
import { loadJobDataset } from './jobDataset.ts';

const FIXTURES = resolve('test/fixtures/job-data');

const baseJob = {
  name: 'own data',
  model: { input: [1, 2, 2], layers: [{ kind: 'flatten' }, { kind: 'linear', outFeatures: 8 }, { kind: 'relu' }, { kind: 'linear', outFeatures: 3 }, { kind: 'softmax-cross-entropy' }] },
  optimizer: { kind: 'sgd', lr: 0.1 },
  globalBatch: 4,
  stop: { epochs: 1 },
  evaluateEvery: 1,
  checkpointEvery: 1,
  seed: 1,
};
const npyData = { kind: 'npy', train: { inputs: 'train-x.npy', labels: 'train-y.npy' }, test: { inputs: 'test-x.npy', labels: 'test-y.npy' } };
const idxData = {
  kind: 'idx',
  train: { images: 'train-images-idx3-ubyte.gz', labels: 'train-labels-idx1-ubyte.gz' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
};

const definition = (data: unknown, model: unknown = baseJob.model): JobDefinition => parseJobDefinition({ ...baseJob, model, data }, 'job.json');
const load = (data: unknown, model?: unknown) => loadJobDataset(definition(data, model), FIXTURES, { source: 'job.json' });

async function errorOf(data: unknown, model?: unknown): Promise<Error> {
  try {
    await load(data, model);
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected loadJobDataset to throw');
}

const trainPixels = Uint8Array.from({ length: 24 }, (_, i) => (i * 37) % 256);
const testPixels = Uint8Array.from({ length: 12 }, (_, i) => (i * 53 + 7) % 256);

describe('the job schema for file data', () => {
  it('takes the npy and idx forms as written, and refuses to size them without reading', () => {
    expect(definition(npyData).data).toEqual(npyData);
    expect(definition({ ...idxData, trainExamples: 4 }).data).toEqual({ ...idxData, trainExamples: 4 });
    expect(() => parseJob({ ...baseJob, data: npyData }, 'job.json')).toThrow(/data.kind "npy" names files.*loadJobDataset/);
  });

  it.each([
    ['an unknown kind', { ...npyData, kind: 'csv' }, /data\.kind/],
    ['npy with idx keys', { ...npyData, train: { images: 'a', labels: 'b' } }, /data\.train/],
    ['a missing test split', { kind: 'npy', train: npyData.train }, /data\.test/],
    ['an empty path', { ...npyData, test: { inputs: '', labels: 'y.npy' } }, /data\.test\.inputs/],
    ['an unknown key', { ...npyData, shuffle: true }, /data: .*shuffle/],
    ['zero examples', { ...npyData, trainExamples: 0 }, /data\.trainExamples/],
  ])('refuses %s', (_, data, message) => {
    expect(() => definition(data)).toThrow(JobError);
    expect(() => definition(data)).toThrow(message);
  });
});

describe('loadJobDataset', () => {
  it('reads .npy files (f4 pixels/255 and u8) as bytes, sized and checked', async () => {
    const { job, dataset } = await load(npyData);
    expect(dataset.kind).toBe('files');
    if (dataset.kind !== 'files') return;
    expect(dataset.splits.train).toMatchObject({ count: 6, features: 4, classes: 3 });
    expect(dataset.splits.train.images).toEqual(trainPixels);
    expect(Array.from(dataset.splits.train.labels)).toEqual([0, 1, 2, 0, 1, 2]);
    expect(dataset.splits.test.images).toEqual(testPixels);
    expect(dataset.exampleShape).toEqual([1, 2, 2]);
    expect(dataset.notes).toEqual([expect.stringMatching(/train-x\.npy.*exact bytes\/255/)]);
    expect(job.data).toMatchObject({ kind: 'npy', trainExamples: 6, testExamples: 3, digest: dataset.digest });
    expect(dataset.digest).toMatch(/^[0-9a-f]{16}$/);
  });

  it('reads IDX files, gzipped or raw, into the same bytes as the .npy', async () => {
    const npy = await load(npyData);
    const { job, dataset } = await load(idxData);
    expect(dataset.splits).toEqual(npy.dataset.splits);
    expect(job.data).toMatchObject({ trainExamples: 6, testExamples: 3 });
    expect(dataset.kind === 'files' && dataset.exampleShape).toEqual([2, 2]);
  });

  it('keeps the first trainExamples/testExamples, and the job id follows the data', async () => {
    const all = await load(npyData);
    const some = await load({ ...npyData, trainExamples: 4, testExamples: 2 });
    expect(some.dataset.splits.train.count).toBe(4);
    expect(some.dataset.splits.train.images).toEqual(trainPixels.subarray(0, 16));
    expect(some.dataset.splits.test.labels).toEqual(Uint8Array.from([2, 0]));
    expect(jobId(some.job)).not.toBe(jobId(all.job));
    expect(jobId((await load(npyData)).job)).toBe(jobId(all.job));
  });

  it('takes a flat [N, features] model input for image files (an MLP)', async () => {
    const { dataset } = await load(idxData, { widths: [4, 5, 3], activation: 'relu' });
    expect(dataset.splits.train.features).toBe(4);
  });

  it('resolves relative paths from the given folder, and changes the job id when a file changes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'swarmgrad-job-data-'));
    try {
      for (const name of ['train-x.npy', 'train-y.npy', 'test-x.npy', 'test-y.npy']) writeFileSync(join(dir, name), readFileSync(join(FIXTURES, name)));
      const before = jobId((await loadJobDataset(definition(npyData), dir)).job);
      expect(before).toBe(jobId((await load(npyData)).job));
      const pixels = readFileSync(join(dir, 'test-x.npy'));
      pixels[pixels.length - 1] ^= 1;
      writeFileSync(join(dir, 'test-x.npy'), pixels);
      expect(jobId((await loadJobDataset(definition(npyData), dir)).job)).not.toBe(before);
      const absolute = { ...npyData, test: { inputs: join(FIXTURES, 'test-x.npy'), labels: 'test-y.npy' } };
      expect(jobId((await loadJobDataset(definition(absolute), dir)).job)).not.toBe(before); // the paths are part of the id
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const file = (name: string) => join(FIXTURES, name).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  it.each([
    ['a missing file', { ...npyData, test: { inputs: 'nope.npy', labels: 'test-y.npy' } }, DatasetUnavailableError, new RegExp(`${file('nope.npy')} is missing`)],
    ['a missing IDX file', { ...idxData, test: { images: 'nope-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' } }, DatasetUnavailableError, /nope-idx3-ubyte is missing: check the path.*job file's folder/],
    ['a file that is not .npy (wrong magic)', { ...npyData, train: { inputs: 'bad-not-npy.npy', labels: 'train-y.npy' } }, JobError, /job\.json: its data cannot be used: .*bad-not-npy\.npy: not a \.npy file.*numpy\.save/],
    ['integer inputs (wrong dtype)', { ...npyData, train: { inputs: 'bad-inputs-i4.npy', labels: 'train-y.npy' } }, JobError, /bad-inputs-i4\.npy are i4; inputs must be uint8.*float32/],
    ['float labels (wrong dtype)', { ...npyData, train: { inputs: 'train-x.npy', labels: 'bad-labels-float.npy' } }, JobError, /bad-labels-float\.npy are f4; labels must be integers/],
    ['NaN inputs', { ...npyData, train: { inputs: 'bad-inputs-nan.npy', labels: 'train-y.npy' } }, JobError, /bad-inputs-nan\.npy hold NaN at example 2 \(feature 1\); every input must be finite/],
    ['a label out of range', { ...npyData, train: { inputs: 'train-x.npy', labels: 'bad-labels-out-of-range.npy' } }, JobError, /label of example 4 in .*bad-labels-out-of-range\.npy is 7, outside the 3 classes/],
    ['an IDX label out of range', { ...idxData, train: { images: 'train-images-idx3-ubyte.gz', labels: 'bad-labels-idx1-ubyte' } }, JobError, /label of example 4 in .*bad-labels-idx1-ubyte is 9, outside the model's 3 classes/],
    ['a shape the model does not take', { ...npyData, train: { inputs: 'bad-inputs-5-features.npy', labels: 'train-y.npy' } }, JobError, /data\.train \(.*bad-inputs-5-features\.npy\): each example has 5 values .* model's input \[1, 2, 2\] takes 4/],
    ['an empty split', { ...npyData, test: { inputs: 'bad-inputs-empty.npy', labels: 'bad-labels-empty.npy' } }, JobError, /data\.test: the inputs .*bad-inputs-empty\.npy hold no examples/],
    ['labels of another split', { ...npyData, train: { inputs: 'train-x.npy', labels: 'bad-labels-4.npy' } }, JobError, /6 inputs in .*train-x\.npy but 4 labels in .*bad-labels-4\.npy/],
    ['an IDX file of another type (wrong magic)', { ...idxData, test: { images: 'bad-images-magic-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' } }, JobError, /bad-images-magic-idx3-ubyte: element type 0xd is not supported/],
    ['a truncated gzipped IDX', { ...idxData, train: { images: 'bad-truncated-idx3-ubyte.gz', labels: 'train-labels-idx1-ubyte.gz' } }, JobError, /bad-truncated-idx3-ubyte\.gz: (could not decompress|.*truncated)/],
    ['a corrupt gzip', { ...idxData, train: { images: 'bad-not-gzip.gz', labels: 'train-labels-idx1-ubyte.gz' } }, JobError, /bad-not-gzip\.gz: could not decompress.*corrupt or not gzip/],
    ['more examples than the file holds', { ...npyData, trainExamples: 7 }, JobError, /data\.trainExamples: .*train-x\.npy holds 6 examples, the job asks for 7/],
  ])('names the file and the fix for %s', async (_, data, kind, message) => {
    const error = await errorOf(data);
    expect(error).toBeInstanceOf(kind);
    expect(error.message).toMatch(message);
  });

  it('refuses data whose classes the model does not have', async () => {
    const model = { input: [1, 2, 2], layers: [{ kind: 'flatten' }, { kind: 'linear', outFeatures: 2 }, { kind: 'softmax-cross-entropy' }] };
    const error = await errorOf(npyData, model);
    expect(error).toBeInstanceOf(JobError);
    expect(error.message).toMatch(/train-y\.npy is 2, outside the 2 classes 0\.\.1/);
  });

  it('refuses an image shape that is not the model input, with the transposition hint for channels-last', async () => {
    const model = { input: [4, 1, 1], layers: [{ kind: 'flatten' }, { kind: 'linear', outFeatures: 3 }, { kind: 'softmax-cross-entropy' }] };
    const error = await errorOf(npyData, model);
    expect(error.message).toMatch(/each example has shape \[1, 2, 2\] but the model's input is \[C,H,W\] = \[4, 1, 1\]/);
  });
});

describe('loadJobDataset: a text for a next-token model', () => {
  const gpt = (vocabulary: number, context = 64) => ({
    input: [context],
    layers: [{ kind: 'embedding', vocabulary, features: 8 }, { kind: 'attention', heads: 2 }, { kind: 'lm-head' }, { kind: 'softmax-cross-entropy' }],
  });
  const shakespeare = resolve('datasets/tinyshakespeare/input.txt');

  it("makes Tiny Shakespeare windows of the model's context, split 90/10, every vocabulary id a class", async () => {
    const { job, dataset } = await load({ kind: 'text', file: shakespeare }, gpt(80));
    if (dataset.kind !== 'files') throw new Error('expected file data');
    expect(job.data.trainExamples).toBe(Math.floor((1_003_854 - 65) / 64) + 1);
    expect(job.data.testExamples).toBe(Math.floor((111_540 - 65) / 64) + 1);
    expect(dataset.splits.train.tokens).toEqual({ labelsPerExample: 64 });
    expect(dataset.splits.train.classes).toBe(80);
    expect(dataset.vocabulary).toHaveLength(65);
    expect(dataset.exampleShape).toEqual([64]);
    expect(dataset.notes[0]).toMatch(/1,115,394 characters, 65 distinct; 1,003,854 train and 111,540 validation tokens/);
    const small = await load({ kind: 'text', file: shakespeare, trainExamples: 100, testExamples: 10 }, gpt(65));
    expect(small.dataset.splits.train.count).toBe(100);
    expect(small.dataset.splits.train.labels.length).toBe(100 * 64);
    expect(jobId(small.job)).not.toBe(jobId(job));
  });

  it('refuses, naming the file: not UTF-8, too short for a window, more characters than the vocabulary, a missing file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'swarmgrad-text-'));
    try {
      writeFileSync(join(dir, 'latin1.txt'), new Uint8Array([0x63, 0x61, 0x66, 0xe9, 0x20, 0x6e, 0x6f, 0x69, 0x72]));
      writeFileSync(join(dir, 'short.txt'), 'to be or not');
      const at = (file: string, model = gpt(65, 4)) => loadJobDataset(definition({ kind: 'text', file }, model), dir, { source: 'job.json' });
      await expect(at('latin1.txt')).rejects.toThrow(/job\.json: its data cannot be used: latin1\.txt is not UTF-8: the first bad byte is at offset 3/);
      await expect(at('short.txt', gpt(65, 16))).rejects.toThrow(/short\.txt: its train split has 10 characters, fewer than one sequence needs \(context 16 \+ 1 target\)/);
      await expect(loadJobDataset(definition({ kind: 'text', file: shakespeare }, gpt(40)), dir, { source: 'job.json' })).rejects.toThrow(
        /has 65 distinct characters, over the model's vocabulary of 40; raise the embedding's vocabulary to at least 65/,
      );
      await expect(at('absent.txt')).rejects.toThrow(DatasetUnavailableError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes training windows at a stride (validation windows still tile), and refuses one past the context', async () => {
    const { job, dataset } = await load({ kind: 'text', file: shakespeare, stride: 16 }, gpt(65));
    expect(job.data.trainExamples).toBe(Math.floor((1_003_854 - 65) / 16) + 1);
    expect(job.data.testExamples).toBe(Math.floor((111_540 - 65) / 64) + 1);
    if (dataset.kind !== 'files') throw new Error('expected file data');
    expect(dataset.notes[0]).toMatch(/windows of 64 every 16 tokens \(62,737 train windows\)/);
    // Window 1 starts 16 tokens after window 0.
    expect([...dataset.splits.train.images.subarray(64, 64 + 48)]).toEqual([...dataset.splits.train.images.subarray(16, 64)]);
    await expect(load({ kind: 'text', file: shakespeare, stride: 65 }, gpt(65))).rejects.toThrow(/data\.stride is 65, more than the model's context of 64/);
    expect(() => definition({ kind: 'text', file: shakespeare, stride: 0 }, gpt(65))).toThrow(/data\.stride/);
  });

  it('pairs a text with a next-token model and nothing else', () => {
    expect(() => definition({ kind: 'text', file: 'a.txt' })).toThrow(/a text dataset trains a next-token model/);
    expect(() => definition(npyData, gpt(65))).toThrow(/a next-token model \(an embedding first\) trains on text/);
    expect(() => definition({ kind: 'text', file: 'a.txt', trainFraction: 1 }, gpt(65))).toThrow(/data\.trainFraction/);
  });

  it("draws text samples as the job says (defaults: a newline, 300 characters, 0.8), and refuses a prompt the text's vocabulary lacks", async () => {
    const { job } = await load({ kind: 'text', file: shakespeare }, gpt(65));
    expect(sampleSettings(job)).toEqual({ prompt: '\n', length: 300, temperature: 0.8 });
    const withSample = (sample: unknown) => parseJobDefinition({ ...baseJob, model: gpt(65), data: { kind: 'text', file: shakespeare }, sample }, 'job.json');
    expect(sampleSettings(withSample({ prompt: 'ROMEO:', temperature: 0 }))).toEqual({ prompt: 'ROMEO:', length: 300, temperature: 0 });
    expect(jobId((await loadJobDataset(withSample({ prompt: 'ROMEO:' }), FIXTURES)).job)).toBe(jobId(job));
    await expect(loadJobDataset(withSample({ prompt: 'ROMÉO: ☃' }), FIXTURES, { source: 'job.json' })).rejects.toThrow(/job\.json: sample\.prompt has "É", "☃", not in the vocabulary of .*input\.txt/);
    expect(() => withSample({ temperature: -1 })).toThrow(/sample\.temperature/);
    expect(() => parseJobDefinition({ ...baseJob, data: npyData, sample: { prompt: 'a' } }, 'job.json')).toThrow(/sample: text samples come from a next-token model/);
    expect(sampleSettings(baseJob as never)).toBeNull();
  });
});
