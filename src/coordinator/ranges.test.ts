import { describe, expect, it } from 'vitest';
import { RangeSet, checkRanges, intersectRanges, rangeLength, subtractRanges } from './ranges.ts';
import { Random } from '../util/random.ts';

const r = (start: number, end: number) => ({ start, end });

describe('RangeSet', () => {
  it('merges adjacent ranges and keeps them sorted', () => {
    const s = new RangeSet();
    s.add(r(10, 20));
    s.add(r(0, 5));
    s.add(r(5, 10));
    s.add(r(30, 40));
    expect(s.toArray()).toEqual([r(0, 20), r(30, 40)]);
    s.add(r(20, 30));
    expect(s.toArray()).toEqual([r(0, 40)]);
    expect(s.size).toBe(40);
  });

  it('refuses to add a position twice', () => {
    const s = new RangeSet([r(0, 10)]);
    expect(() => s.add(r(5, 15))).toThrow(/overlaps \[0, 10\)/);
    expect(() => s.add(r(9, 10))).toThrow(/overlaps/);
    expect(s.toArray()).toEqual([r(0, 10)]);
  });

  it('takes from the front, splitting a range', () => {
    const s = new RangeSet([r(0, 3), r(10, 20)]);
    expect(s.takeFront(5)).toEqual([r(0, 3), r(10, 12)]);
    expect(s.toArray()).toEqual([r(12, 20)]);
    expect(s.takeFront(100)).toEqual([r(12, 20)]);
    expect(s.isEmpty).toBe(true);
    expect(s.takeFront(3)).toEqual([]);
  });

  it('removes and intersects', () => {
    const s = new RangeSet([r(0, 10), r(20, 30)]);
    expect(s.intersects([r(10, 20)])).toBe(false);
    expect(s.intersects([r(9, 11)])).toBe(true);
    expect(s.removeAll([r(5, 25)])).toBe(10);
    expect(s.toArray()).toEqual([r(0, 5), r(25, 30)]);
  });

  it('agrees with a boolean-array model on random operations', () => {
    const rng = new Random(7);
    const n = 200;
    const model = new Array<boolean>(n).fill(false);
    const s = new RangeSet();
    for (let step = 0; step < 2000; step++) {
      const a = rng.int(n);
      const b = Math.min(n, a + 1 + rng.int(20));
      const op = rng.int(3);
      if (op === 0 && !model.slice(a, b).some(Boolean)) {
        s.add(r(a, b));
        for (let i = a; i < b; i++) model[i] = true;
      } else if (op === 1) {
        s.removeAll([r(a, b)]);
        for (let i = a; i < b; i++) model[i] = false;
      } else {
        const k = rng.int(30);
        const taken = s.takeFront(k);
        let left = k;
        for (let i = 0; i < n && left > 0; i++) {
          if (model[i]) {
            model[i] = false;
            left--;
          }
        }
        expect(rangeLength(taken)).toBe(k - left);
      }
      const ranges = s.toArray();
      checkRanges(ranges, 0, n, 'model check');
      for (let i = 1; i < ranges.length; i++) expect(ranges[i].start).toBeGreaterThan(ranges[i - 1].end); // merged
      const fromSet = new Array<boolean>(n).fill(false);
      for (const x of ranges) for (let i = x.start; i < x.end; i++) fromSet[i] = true;
      expect(fromSet).toEqual(model);
    }
  });
});

describe('range arithmetic', () => {
  it('intersects and subtracts sorted lists', () => {
    const a = [r(0, 10), r(20, 30)];
    const b = [r(5, 25)];
    expect(intersectRanges(a, b)).toEqual([r(5, 10), r(20, 25)]);
    expect(subtractRanges(a, b)).toEqual([r(0, 5), r(25, 30)]);
    expect(subtractRanges(b, a)).toEqual([r(10, 20)]);
    expect(subtractRanges(a, [])).toEqual(a);
    expect(intersectRanges([], a)).toEqual([]);
  });

  it('checkRanges names what is wrong', () => {
    expect(() => checkRanges([r(0, 5), r(3, 8)], 0, 10, 'lease x')).toThrow(/lease x: ranges .* overlap/);
    expect(() => checkRanges([r(5, 5)], 0, 10, 'lease x')).toThrow(/empty/);
    expect(() => checkRanges([r(5, 12)], 0, 10, 'lease x')).toThrow(/ends past 10/);
    expect(() => checkRanges([r(0, 5)], 2, 10, 'lease x')).toThrow(/start before 2/);
    expect(() => checkRanges([r(0, 5), r(6, 10)], 0, 10, 'ok')).not.toThrow();
  });
});
