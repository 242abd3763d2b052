// Serves a job's dataset to browsers. Fashion-MNIST jobs get the package's four gzipped IDX
// files at /data/fashion-mnist/<file>, from the directory where the Debian package (or
// SWARMGRAD_DATA_DIR) put them. A job on the owner's own files gets them in swarmgrad-u8
// form (src/data/swarmgradU8.ts), built in memory from the splits the coordinator checks
// against, at /data/<digest>/: the folder changes with the data, so a browser's cached copy
// is never stale. Only those files are served: the route cannot read anything else from disk.

import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { DatasetSplits } from '../data/dataset.ts';
import { FASHION_MNIST_FILES } from '../data/fashionMnist.ts';
import { defaultDataDir } from '../data/fashionMnistNode.ts';
import type { JobDataset } from '../data/jobDataset.ts';
import { U8_FILES, U8_MANIFEST, u8Files, u8Manifest } from '../data/swarmgradU8.ts';
import type { DatasetLocation } from '../protocol/messages.ts';

export const DATASET_ROUTE = '/data/fashion-mnist/';

const FILES = new Set<string>(Object.values(FASHION_MNIST_FILES));
const CACHE_CONTROL = 'public, max-age=86400';

type Middleware = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

/** Connect-style middleware; calls next() for any other path. */
export function datasetMiddleware(dir = defaultDataDir()): Middleware {
  return (req, res, next) => {
    const path = (req.url ?? '').split('?')[0];
    if (!path.startsWith(DATASET_ROUTE)) return next();
    const name = path.slice(DATASET_ROUTE.length);
    if (!FILES.has(name)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`No dataset file named ${name}\n`);
      return;
    }
    const file = join(dir, name);
    let size: number;
    try {
      size = statSync(file).size;
    } catch {
      res
        .writeHead(404, { 'content-type': 'text/plain' })
        .end(`${file} is missing: install it with \`apt-get install dataset-fashion-mnist\` or set SWARMGRAD_DATA_DIR\n`);
      return;
    }
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': size,
      'cache-control': CACHE_CONTROL,
    });
    createReadStream(file).pipe(res);
  };
}

/**
 * Serves the splits as swarmgrad-u8 at /data/<digest>/ (`known`: the files' hashes and the
 * digest, as loadJobDataset computed them; else computed here from the bytes).
 */
export function u8DatasetMiddleware(
  splits: DatasetSplits,
  exampleShape: readonly number[],
  known?: { sha256: Record<keyof ReturnType<typeof u8Files>, string>; digest: string },
): { location: DatasetLocation; middleware: Middleware } {
  const files = u8Files(splits);
  const sha256 = known?.sha256 ?? (Object.fromEntries(Object.entries(files).map(([k, bytes]) => [k, createHash('sha256').update(bytes).digest('hex')])) as Record<keyof typeof files, string>);
  const manifest = u8Manifest(splits, exampleShape, sha256);
  const manifestBytes = new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`);
  const folder = known?.digest ?? createHash('sha256').update(manifestBytes).digest('hex').slice(0, 16);
  const route = `/data/${folder}/`;
  const served = new Map<string, { bytes: Uint8Array; type: string }>([[U8_MANIFEST, { bytes: manifestBytes, type: 'application/json' }]]);
  for (const [key, name] of Object.entries(U8_FILES)) served.set(name, { bytes: files[key as keyof typeof files], type: 'application/octet-stream' });
  const middleware: Middleware = (req, res, next) => {
    const path = (req.url ?? '').split('?')[0];
    if (!path.startsWith(route)) return next();
    const file = served.get(path.slice(route.length));
    if (!file) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`No dataset file named ${path.slice(route.length)}; this dataset has ${[...served.keys()].join(', ')}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': file.type, 'content-length': file.bytes.length, 'cache-control': CACHE_CONTROL });
    // HEAD gets the headers only (Node drops a body written to it anyway).
    res.end(req.method === 'HEAD' ? undefined : file.bytes);
  };
  return { location: { format: 'swarmgrad-u8', url: route }, middleware };
}

/** The route of a job's dataset, whichever form it takes, and what the welcome tells contributors. */
export function jobDatasetRoute(dataset: JobDataset): { location: DatasetLocation; middleware: Middleware } {
  if (dataset.kind === 'fashion-mnist') return { location: { format: 'fashion-mnist-idx-gz', url: DATASET_ROUTE }, middleware: datasetMiddleware(dataset.dir) };
  return u8DatasetMiddleware(dataset.splits, dataset.exampleShape, dataset);
}

/** What the contributor page says of a job's data: what it is, and how much a browser downloads (its four data files). */
export interface DataSummary {
  description: string;
  downloadBytes: number;
}

export function jobDataSummary(dataset: JobDataset): DataSummary {
  const { train, test } = dataset.splits;
  if (dataset.kind === 'fashion-mnist') {
    let downloadBytes = 0;
    for (const name of FILES) downloadBytes += statSync(join(dataset.dir, name)).size;
    return { description: `Fashion-MNIST (28×28 pictures of clothing, ${train.classes} classes)`, downloadBytes };
  }
  const downloadBytes = Object.values(u8Files(dataset.splits)).reduce((sum, bytes) => sum + bytes.length, 0);
  return {
    description: `the job owner's own data (${dataset.exampleShape.join('×')} inputs, ${train.classes} classes, ${test.count} held out for testing)`,
    downloadBytes,
  };
}
