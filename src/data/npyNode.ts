// Reading a job owner's .npy files from disk in Node (the coordinator, scripts).

import { readFile } from 'node:fs/promises';
import { DatasetUnavailableError } from './fashionMnistNode.ts';
import { type NpyArray, parseNpy } from './npy.ts';

/** Reads and parses one .npy; a missing or unreadable file is a DatasetUnavailableError naming it. */
export async function loadNpyFile(path: string): Promise<NpyArray> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DatasetUnavailableError(`${path} is missing: check the path (numpy.save writes such a file)`);
    if (code === 'EISDIR') throw new DatasetUnavailableError(`${path} is a directory, not a .npy file`);
    throw new DatasetUnavailableError(`Could not read ${path}: ${(error as Error).message}`);
  }
  return parseNpy(bytes, path);
}
