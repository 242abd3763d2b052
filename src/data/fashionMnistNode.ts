// Reading Fashion-MNIST from disk in Node (the coordinator, tests, scripts).

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DatasetSplits } from './dataset.ts';
import { fashionMnistFromGzipFiles } from './fashionMnist.ts';

/** Where the Debian package dataset-fashion-mnist installs the files, unless SWARMGRAD_DATA_DIR says otherwise. */
export function defaultDataDir(): string {
  return process.env.SWARMGRAD_DATA_DIR ?? '/usr/share/datasets/fashion-mnist';
}

/** The dataset's files are missing or unreadable: something the job owner installs or points at. */
export class DatasetUnavailableError extends Error {
  override name = 'DatasetUnavailableError';
}

export function loadFashionMnistFromDir(dir = defaultDataDir()): Promise<DatasetSplits> {
  return fashionMnistFromGzipFiles(async (name) => {
    const path = join(dir, name);
    try {
      return new Uint8Array(await readFile(path));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new DatasetUnavailableError(`${path} is missing: install the dataset with \`apt-get install dataset-fashion-mnist\` or set SWARMGRAD_DATA_DIR to the directory that holds the four files`);
      }
      throw new DatasetUnavailableError(`Could not read ${path}: ${(error as Error).message}`);
    }
  }, dir);
}
