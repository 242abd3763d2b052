// The order in which training examples are visited: shared by local training and the
// coordinator, so that a data order is reproducible from (seed, epoch) alone.

import { Random } from '../util/random.ts';

/** The examples of one epoch, in a shuffled order fixed by (seed, epoch). */
export function epochOrder(seed: number, epoch: number, count: number): Uint32Array {
  const order = Uint32Array.from({ length: count }, (_, i) => i);
  return new Random((seed * 1000003 + epoch) | 0).shuffle(order);
}
