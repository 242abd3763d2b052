// Checkpoint files in a directory, written so that a crash at any moment leaves either the
// old file or the new one, never half of one: write a temporary file in the same directory,
// fsync it, rename it into place, fsync the directory. The newest K files are kept; loading
// takes the newest that passes validation and reports each one it had to skip.

import { mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointError, deserializeCheckpoint, type CheckpointExpectation } from './checkpoint.ts';
import type { CheckpointState } from './records.ts';

const NAME = /^checkpoint-r(\d{9})\.sgck$/;

export function checkpointFileName(round: number): string {
  if (!Number.isInteger(round) || round < 0 || round > 999_999_999) throw new Error(`checkpointFileName: round must be an integer in [0, 999999999], got ${round}`);
  return `checkpoint-r${String(round).padStart(9, '0')}.sgck`;
}

/** Checkpoint files of a directory, newest (highest round) first. */
export async function listCheckpoints(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new Error(`Could not list checkpoint directory ${dir}: ${(error as Error).message}`);
  }
  return names.filter((n) => NAME.test(n)).sort().reverse();
}

async function writeDurably(path: string, bytes: Uint8Array): Promise<void> {
  const file = await open(path, 'w');
  try {
    await file.writeFile(bytes);
    await file.sync();
  } finally {
    await file.close();
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Write checkpoint bytes for `round` atomically into `dir` (created if missing), then delete
 * all but the newest `keep` checkpoints. Returns the final path.
 */
export async function writeCheckpoint(dir: string, round: number, bytes: Uint8Array, keep = 3): Promise<string> {
  if (!Number.isInteger(keep) || keep < 1) throw new Error(`writeCheckpoint: keep must be an integer ≥ 1, got ${keep}`);
  const name = checkpointFileName(round);
  const path = join(dir, name);
  const temporary = join(dir, `.${name}.${process.pid}.tmp`);
  try {
    await mkdir(dir, { recursive: true });
    await writeDurably(temporary, bytes);
    await rename(temporary, path);
  } catch (error) {
    // Remove a partial temporary file; if even that fails, say so beside the cause.
    const cleanup = await rm(temporary, { force: true }).then(
      () => '',
      (e: Error) => ` (and ${temporary} could not be removed: ${e.message})`,
    );
    throw new Error(`Could not write checkpoint ${path}: ${(error as Error).message}${cleanup}; check free space and permissions of ${dir}`);
  }
  await syncDirectory(dir);
  const old = (await listCheckpoints(dir)).slice(keep);
  for (const n of old) await rm(join(dir, n), { force: true });
  return path;
}

export interface LoadedCheckpoint {
  state: CheckpointState;
  path: string;
  /** Newer files that were skipped, each with why. */
  skipped: string[];
}

/**
 * The newest valid checkpoint of `dir`, or null when there is none at all. A newer file
 * that is corrupt or truncated is skipped and reported; one from another job is an error,
 * since resuming an older checkpoint of the wrong job would hide the mistake.
 */
export async function loadNewestCheckpoint(dir: string, expect: CheckpointExpectation): Promise<LoadedCheckpoint | null> {
  const names = await listCheckpoints(dir);
  const skipped: string[] = [];
  for (const name of names) {
    const path = join(dir, name);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(path));
    } catch (error) {
      skipped.push(`${path}: could not be read (${(error as Error).message})`);
      continue;
    }
    try {
      return { state: deserializeCheckpoint(bytes, expect, path), path, skipped };
    } catch (error) {
      if (!(error instanceof CheckpointError)) throw error;
      if (error.kind === 'incompatible') throw error;
      skipped.push(error.message);
    }
  }
  if (skipped.length) {
    throw new CheckpointError('corrupt', `No valid checkpoint in ${dir}; every file was skipped:\n  ${skipped.join('\n  ')}\nMove the directory aside to start the job afresh.`);
  }
  return null;
}
