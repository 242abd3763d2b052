// swarmgrad-u8: the one form in which the coordinator serves a job owner's own dataset to
// contributors, whatever files it came from (.npy, IDX). A directory of five files:
//
//   manifest.json    { format: 'swarmgrad-u8', version: 1, features, exampleShape, classes,
//                      train: { count, images: { bytes, sha256 }, labels: { bytes, sha256 } }, test: … }
//   train-images.u8  count × features bytes, row-major (pixels; the backends see byte/255)
//   train-labels.u8  count bytes, each < classes (count × T for token windows: the manifest's
//                    `tokens` then says so, and the images are token ids, not pixels)
//   test-images.u8, test-labels.u8
//
// The coordinator builds it from the splits it trains and checks on (jobDataset.ts), so a
// contributor computes on exactly those bytes; the manifest's sizes and hashes let the
// worker refuse a truncated, corrupt or stale download. Works in pages, workers and Node.

import { z } from 'zod';
import type { DatasetSplits, ImageDataset } from './dataset.ts';
import { datasetBaseUrl, fetchDatasetFile } from './fetchFile.ts';

export const U8_MANIFEST = 'manifest.json';
export const U8_FILES = {
  trainImages: 'train-images.u8',
  trainLabels: 'train-labels.u8',
  testImages: 'test-images.u8',
  testLabels: 'test-labels.u8',
} as const;

export class U8DatasetError extends Error {
  override name = 'U8DatasetError';
}

const count = z.number().int().min(1).max(2 ** 31 - 1);
const FileEntry = z.strictObject({ bytes: z.number().int().min(1).max(2 ** 32), sha256: z.string().regex(/^[0-9a-f]{64}$/) });
const Split = z.strictObject({ count, images: FileEntry, labels: FileEntry });

export const U8Manifest = z.strictObject({
  format: z.literal('swarmgrad-u8'),
  version: z.literal(1),
  features: count,
  /** One example's shape as the job owner gave it ([C,H,W], [H,W] or [features]). */
  exampleShape: z.array(count).min(1).max(4),
  classes: z.number().int().min(1).max(256),
  /** Token windows (src/data/text.ts): ids, and a label per position. */
  tokens: z.strictObject({ labelsPerExample: count }).optional(),
  train: Split,
  test: Split,
});
export type U8Manifest = z.infer<typeof U8Manifest>;

export type U8Files = Record<keyof typeof U8_FILES, Uint8Array>;

/** The four files' bytes of the splits (views, no copy). */
export function u8Files(splits: DatasetSplits): U8Files {
  return { trainImages: splits.train.images, trainLabels: splits.train.labels, testImages: splits.test.images, testLabels: splits.test.labels };
}

/** The manifest of `splits`, given each file's SHA-256 (hex) as the host computes it. */
export function u8Manifest(splits: DatasetSplits, exampleShape: readonly number[], sha256: Record<keyof U8Files, string>): U8Manifest {
  const { train, test } = splits;
  if (train.features !== test.features || train.classes !== test.classes) {
    throw new Error(`u8Manifest: the train split has ${train.features} features and ${train.classes} classes, the test split ${test.features} and ${test.classes}`);
  }
  const files = u8Files(splits);
  const entry = (name: keyof U8Files) => ({ bytes: files[name].length, sha256: sha256[name] });
  return {
    format: 'swarmgrad-u8',
    version: 1,
    features: train.features,
    exampleShape: [...exampleShape],
    classes: train.classes,
    ...(train.tokens ? { tokens: { ...train.tokens } } : {}),
    train: { count: train.count, images: entry('trainImages'), labels: entry('trainLabels') },
    test: { count: test.count, images: entry('testImages'), labels: entry('testLabels') },
  };
}

/** Parses manifest.json's bytes; `source` (its URL) names it in errors. */
export function parseU8Manifest(bytes: Uint8Array, source: string): U8Manifest {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    throw new U8DatasetError(`${source}: not a JSON dataset manifest (${(error as Error).message}); the server sent something else, reload the page`);
  }
  const parsed = U8Manifest.safeParse(value);
  if (!parsed.success) {
    const why = parsed.error.issues.map((i) => `${i.path.join('.') || '(manifest)'}: ${i.message}`).join('; ');
    throw new U8DatasetError(`${source}: not a swarmgrad-u8 dataset manifest (${why})`);
  }
  const m = parsed.data;
  const shapeSize = m.exampleShape.reduce((a, b) => a * b, 1);
  if (shapeSize !== m.features) throw new U8DatasetError(`${source}: exampleShape [${m.exampleShape.join(',')}] holds ${shapeSize} values but features is ${m.features}`);
  return m;
}

/**
 * The splits from a manifest and its four files, each checked: its size against the
 * manifest, its SHA-256 when `sha256` is given (browsers without WebCrypto in an insecure
 * context check sizes only), every label below the manifest's classes.
 */
export async function u8DatasetFromFiles(
  manifest: U8Manifest,
  files: U8Files,
  location: string,
  sha256?: (bytes: Uint8Array) => Promise<string>,
): Promise<DatasetSplits> {
  const where = (name: keyof U8Files) => `${location.replace(/\/+$/, '')}/${U8_FILES[name]}`;
  const per = manifest.tokens?.labelsPerExample ?? 1;
  const split = async (which: 'train' | 'test'): Promise<ImageDataset> => {
    const s = manifest[which];
    const images = files[`${which}Images`];
    const labels = files[`${which}Labels`];
    for (const [name, bytes, entry, expected] of [
      [`${which}Images`, images, s.images, s.count * manifest.features],
      [`${which}Labels`, labels, s.labels, s.count * per],
    ] as const) {
      if (entry.bytes !== expected) throw new U8DatasetError(`${where(name)}: the manifest says ${entry.bytes} bytes, but ${s.count} examples of ${name.endsWith('Images') ? manifest.features : per} bytes are ${expected}; the manifest is inconsistent`);
      if (bytes.length !== expected) {
        throw new U8DatasetError(`${where(name)}: ${bytes.length} bytes, the manifest says ${expected} (${bytes.length < expected ? 'truncated' : 'trailing data'}); reload the page to download it again`);
      }
      if (sha256) {
        const got = await sha256(bytes);
        if (got !== entry.sha256) throw new U8DatasetError(`${where(name)}: its SHA-256 is ${got}, the manifest says ${entry.sha256}; the download is corrupt or stale, reload the page`);
      }
    }
    const bad = labels.findIndex((l) => l >= manifest.classes);
    if (bad >= 0) throw new U8DatasetError(`${where(`${which}Labels`)}: the label of example ${bad} is ${labels[bad]}, outside the manifest's ${manifest.classes} classes`);
    const tokens = manifest.tokens ? { tokens: { ...manifest.tokens } } : {};
    return { images, labels, count: s.count, features: manifest.features, classes: manifest.classes, ...tokens };
  };
  return { train: await split('train'), test: await split('test') };
}

/** SHA-256 with WebCrypto, or undefined where there is none (an insecure context). */
function webSha256(): ((bytes: Uint8Array) => Promise<string>) | undefined {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return undefined;
  return async (bytes) => {
    const digest = new Uint8Array(await subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
    return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
  };
}

/** Fetches a swarmgrad-u8 dataset from `baseUrl` (the coordinator's /data/<digest>/). */
export async function loadU8DatasetFromUrl(baseUrl: string): Promise<DatasetSplits> {
  const base = datasetBaseUrl(baseUrl, 'The dataset');
  const manifest = parseU8Manifest(await fetchDatasetFile(new URL(U8_MANIFEST, base).href), new URL(U8_MANIFEST, base).href);
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all(
    [U8_FILES.trainImages, U8_FILES.trainLabels, U8_FILES.testImages, U8_FILES.testLabels].map((name) => fetchDatasetFile(new URL(name, base).href)),
  );
  return u8DatasetFromFiles(manifest, { trainImages, trainLabels, testImages, testLabels }, base, webSha256());
}
