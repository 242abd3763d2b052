// The finiteness check every encoder runs first: a NaN quantised to a block scale would
// poison the whole block silently, so it is rejected where it enters, by index.

import { CompressionError } from './errors.ts';

/** Rejects NaN and ±Infinity, naming the first bad index (`indexOf` maps it to the full vector). */
export function checkFinite(values: Float32Array, what = 'Input', indexOf: (i: number) => number = (i) => i): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new CompressionError('non-finite', `${what} value at index ${indexOf(i)} is ${values[i]}; every value must be finite`);
    }
  }
}
