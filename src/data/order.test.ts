import { describe, expect, it } from 'vitest';
import { epochOrder } from './order.ts';

describe('epochOrder', () => {
  it('is a permutation fixed by (seed, epoch)', () => {
    const a = epochOrder(5, 2, 1000);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(epochOrder(5, 2, 1000)).toEqual(a);
    expect(epochOrder(5, 3, 1000)).not.toEqual(a);
    expect(epochOrder(6, 2, 1000)).not.toEqual(a);
  });
});
