// Inputs and checks shared by this folder's tests (not used by the module itself).

import { expect } from 'vitest';
import { Random } from '../util/random.ts';
import { CompressionError, type CompressionErrorCode } from './errors.ts';

export const LENGTHS = [0, 1, 127, 128, 129, 235_200];
/** The default job's parameter count (784-256-128-10 MLP). */
export const MLP_PARAMETERS = 235_200;

export function normals(length: number, seed: number, sigma = 1e-3): Float32Array {
  const random = new Random(seed);
  return Float32Array.from({ length }, () => sigma * random.normal());
}

/**
 * Roughly normal values from exact arithmetic only (Irwin–Hall: a sum of uniforms), unlike
 * Random.normal, whose Math.log and Math.cos may differ in the last bit between engines.
 */
export function exactNormals(length: number, seed: number): Float32Array {
  const random = new Random(seed);
  return Float32Array.from({ length }, () => (random.next() + random.next() + random.next() + random.next() - 2) * 1e-3);
}

/** FNV-1a over the bytes: a platform-independent fingerprint to pin an encoding. */
export function fingerprint(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

/** Whether two float vectors hold the same bits (so −0 ≠ +0), without a slow deep compare. */
export function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

export function expectCompressionError(run: () => unknown, code: CompressionErrorCode, message: RegExp): void {
  let thrown: unknown;
  try {
    run();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, 'expected a CompressionError').toBeInstanceOf(CompressionError);
  expect((thrown as CompressionError).code).toBe(code);
  expect((thrown as Error).message).toMatch(message);
}
