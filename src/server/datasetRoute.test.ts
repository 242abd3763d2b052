// The dataset route on a real http.Server on loopback: a Fashion-MNIST job's four gzipped
// files (from the small fixture), an own-data job's swarmgrad-u8 folder (manifest and four
// files, built from the job's splits), 404 for any other name in those folders, next() for
// any other path; and the worker's loader reading the u8 folder back over HTTP, refusing
// bytes that do not match the manifest.

import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJobDefinition } from '../coordinator/job.ts';
import { loadJobDataset, type JobDataset } from '../data/jobDataset.ts';
import { loadDatasetFromUrl } from '../data/remoteDataset.ts';
import { U8Manifest, u8DatasetFromFiles, u8Files, u8Manifest } from '../data/swarmgradU8.ts';
import { buildTextCorpus, textWindowsDataset } from '../data/text.ts';
import { DATASET_ROUTE, jobDataSummary, jobDatasetRoute } from './datasetRoute.ts';

const FASHION_DIR = resolve('test/fixtures/fashion-mnist-small');
const OWN_DATA = resolve('test/fixtures/job-data');

let server: Server;
let origin: string;
let own: JobDataset;
let ownUrl: string;
/** What the route serves instead of a file's bytes, by path (a corrupt download). */
const tampered = new Map<string, Uint8Array>();

beforeAll(async () => {
  const definition = parseJobDefinition(
    {
      name: 'own',
      model: { widths: [4, 3], activation: 'relu' },
      data: { kind: 'npy', train: { inputs: 'train-x.npy', labels: 'train-y.npy' }, test: { inputs: 'test-x.npy', labels: 'test-y.npy' } },
      optimizer: { kind: 'sgd', lr: 0.1 },
      globalBatch: 4,
      stop: { epochs: 1 },
      evaluateEvery: 1,
      checkpointEvery: 1,
      seed: 1,
    },
    'own.json',
  );
  own = (await loadJobDataset(definition, OWN_DATA)).dataset;
  const fashion = jobDatasetRoute({ kind: 'fashion-mnist', dir: FASHION_DIR, splits: own.splits });
  const files = jobDatasetRoute(own);
  expect(fashion.location).toEqual({ format: 'fashion-mnist-idx-gz', url: DATASET_ROUTE });
  ownUrl = files.location.url;
  server = createServer((req, res) => {
    const replaced = tampered.get(req.url ?? '');
    if (replaced) return void res.writeHead(200).end(replaced);
    fashion.middleware(req, res, () => files.middleware(req, res, () => res.writeHead(418).end('next\n')));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((ok) => server.close(() => ok()));
});

describe('jobDataSummary', () => {
  it('names the data and counts the bytes of the dataset files a browser downloads', async () => {
    const fashion = jobDataSummary({ kind: 'fashion-mnist', dir: FASHION_DIR, splits: own.splits });
    expect(fashion.description).toMatch(/^Fashion-MNIST/);
    let served = 0;
    for (const name of ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']) {
      served += (await (await fetch(`${origin}${DATASET_ROUTE}${name}`)).arrayBuffer()).byteLength;
    }
    expect(fashion.downloadBytes).toBe(served);
    const mine = jobDataSummary(own);
    expect(mine.description).toMatch(/own data \(1×2×2 inputs, 3 classes, \d+ held out for testing\)/);
    const files = Object.values(u8Files(own.splits));
    expect(mine.downloadBytes).toBe(files.reduce((n, f) => n + f.length, 0));
  });
});

/** A raw request target (fetch would normalise `..` away). */
function rawGet(path: string): Promise<number> {
  return new Promise((ok, fail) => {
    const req = request(`${origin}/`, { path }, (res) => {
      res.resume();
      ok(res.statusCode ?? 0);
    });
    req.on('error', fail);
    req.end();
  });
}

describe('the dataset route', () => {
  it('serves the four Fashion-MNIST files, cached, and 404 for any other name', async () => {
    const r = await fetch(`${origin}${DATASET_ROUTE}train-labels-idx1-ubyte.gz`);
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('public, max-age=86400');
    expect((await r.arrayBuffer()).byteLength).toBeGreaterThan(100);
    expect((await fetch(`${origin}${DATASET_ROUTE}manifest.json`)).status).toBe(404);
    expect(await rawGet(`${DATASET_ROUTE}../../package.json`)).toBe(404);
  });

  it('serves an own-data job as swarmgrad-u8 at /data/<digest>/: the manifest and exactly four files', async () => {
    if (own.kind !== 'files') throw new Error('expected file data');
    expect(ownUrl).toBe(`/data/${own.digest}/`);
    const manifest = U8Manifest.parse(await (await fetch(`${origin}${ownUrl}manifest.json`)).json());
    expect(manifest).toMatchObject({ format: 'swarmgrad-u8', version: 1, features: 4, exampleShape: [1, 2, 2], classes: 3, train: { count: 6 }, test: { count: 3 } });
    expect(manifest.train.images).toEqual({ bytes: 24, sha256: own.sha256.trainImages });
    const images = await fetch(`${origin}${ownUrl}train-images.u8`);
    expect(images.headers.get('cache-control')).toBe('public, max-age=86400');
    expect(images.headers.get('content-length')).toBe('24');
    expect(new Uint8Array(await images.arrayBuffer())).toEqual(own.splits.train.images);
    const head = await fetch(`${origin}${ownUrl}test-labels.u8`, { method: 'HEAD' });
    expect([head.status, head.headers.get('content-length')]).toEqual([200, '3']);
    for (const other of ['', 'train-x.npy', 'manifest.json.bak', 'TRAIN-IMAGES.U8', 'train-images.u8/x']) {
      expect((await fetch(`${origin}${ownUrl}${other}`)).status, other).toBe(404);
    }
    expect(await rawGet(`${ownUrl}../../package.json`)).toBe(404);
    expect((await fetch(`${origin}/data/0000000000000000/manifest.json`)).status).toBe(418); // another folder is not this route's
  });

  it('is read back by the worker loader bit for bit', async () => {
    const splits = await loadDatasetFromUrl(`${origin}${ownUrl}`, 'swarmgrad-u8');
    expect(splits).toEqual(own.splits);
  });

  it('refuses a download that does not match its manifest', async () => {
    const path = `${ownUrl}test-images.u8`;
    const good = own.splits.test.images;
    try {
      tampered.set(path, good.subarray(0, 11));
      await expect(loadDatasetFromUrl(`${origin}${ownUrl}`, 'swarmgrad-u8')).rejects.toThrow(/test-images\.u8: 11 bytes, the manifest says 12 \(truncated\); reload the page/);
      tampered.set(path, good.map((b, i) => (i === 5 ? b ^ 0x10 : b)));
      await expect(loadDatasetFromUrl(`${origin}${ownUrl}`, 'swarmgrad-u8')).rejects.toThrow(/test-images\.u8: its SHA-256 is [0-9a-f]{64}, the manifest says [0-9a-f]{64}; the download is corrupt or stale/);
      tampered.clear();
      tampered.set(`${ownUrl}manifest.json`, new TextEncoder().encode('<html>oops</html>'));
      await expect(loadDatasetFromUrl(`${origin}${ownUrl}`, 'swarmgrad-u8')).rejects.toThrow(/manifest\.json: not a JSON dataset manifest/);
      tampered.set(`${ownUrl}manifest.json`, new TextEncoder().encode(JSON.stringify({ format: 'swarmgrad-u8', version: 2 })));
      await expect(loadDatasetFromUrl(`${origin}${ownUrl}`, 'swarmgrad-u8')).rejects.toThrow(/not a swarmgrad-u8 dataset manifest \(version: /);
    } finally {
      tampered.clear();
    }
    await expect(loadDatasetFromUrl(`${origin}/data/0000000000000000/`, 'swarmgrad-u8')).rejects.toThrow(/Could not fetch .*manifest\.json: HTTP 418/);
    await expect(loadDatasetFromUrl(`${origin}${ownUrl}`, 'csv' as never)).rejects.toThrow(/Dataset format "csv" is not one this page reads/);
  });

  it('checks sizes and labels where there is no WebCrypto to check hashes', async () => {
    const manifest = u8Manifest(own.splits, [1, 2, 2], own.kind === 'files' ? own.sha256 : ({} as never));
    const files = u8Files(own.splits);
    await expect(u8DatasetFromFiles(manifest, files, '/d/')).resolves.toEqual(own.splits);
    await expect(u8DatasetFromFiles(manifest, { ...files, trainLabels: Uint8Array.from([0, 1, 2, 0, 3, 2]) }, '/d/')).rejects.toThrow(
      /\/d\/train-labels\.u8: the label of example 4 is 3, outside the manifest's 3 classes/,
    );
    await expect(u8DatasetFromFiles(manifest, { ...files, testImages: new Uint8Array(13) }, '/d/')).rejects.toThrow(/test-images\.u8: 13 bytes, the manifest says 12 \(trailing data\)/);
    const inconsistent = { ...manifest, train: { ...manifest.train, count: 5 } };
    await expect(u8DatasetFromFiles(inconsistent, files, '/d/')).rejects.toThrow(/the manifest says 24 bytes, but 5 examples of 4 bytes are 20; the manifest is inconsistent/);
  });

  it('carries text windows: token ids, a label per position, said by the manifest', async () => {
    const corpus = buildTextCorpus(new TextEncoder().encode('to be or not to be, '.repeat(8)), { context: 5, maxVocabulary: 20 });
    const splits = { train: textWindowsDataset(corpus.train, corpus.vocabulary), test: textWindowsDataset(corpus.validation, corpus.vocabulary) };
    const manifest = u8Manifest(splits, [5], { trainImages: 'a'.repeat(64), trainLabels: 'b'.repeat(64), testImages: 'c'.repeat(64), testLabels: 'd'.repeat(64) });
    expect(manifest.tokens).toEqual({ labelsPerExample: 5 });
    expect(U8Manifest.parse(JSON.parse(JSON.stringify(manifest)))).toEqual(manifest);
    const back = await u8DatasetFromFiles(manifest, u8Files(splits), '/d/');
    expect(back.train.tokens).toEqual({ labelsPerExample: 5 });
    expect(back.train.labels).toEqual(splits.train.labels);
    await expect(u8DatasetFromFiles(manifest, { ...u8Files(splits), trainLabels: splits.train.labels.subarray(0, splits.train.count) }, '/d/')).rejects.toThrow(/train-labels\.u8: .* bytes, the manifest says .* \(truncated\)/);
  });
});
