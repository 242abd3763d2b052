// Serves the dataset files to browsers at /data/fashion-mnist/<file>, from the directory
// where the Debian package (or SWARMGRAD_DATA_DIR) put them. Only the four known files are
// served: the route cannot be used to read anything else from disk.

import { createReadStream, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { FASHION_MNIST_FILES } from '../data/fashionMnist.ts';
import { defaultDataDir } from '../data/fashionMnistNode.ts';

export const DATASET_ROUTE = '/data/fashion-mnist/';

const FILES = new Set<string>(Object.values(FASHION_MNIST_FILES));

/** Connect-style middleware; calls next() for any other path. */
export function datasetMiddleware(dir = defaultDataDir()) {
  return (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
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
      'cache-control': 'public, max-age=86400',
    });
    createReadStream(file).pipe(res);
  };
}
