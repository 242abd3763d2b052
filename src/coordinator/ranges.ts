// Sets of positions as sorted, disjoint, half-open ranges [start, end): the pending work of
// a round, the positions a lease covers, the positions already counted. A round has a few
// thousand positions at most and a handful of fragments, so plain arrays and linear scans
// are enough, and they keep the invariants easy to check.

export interface PositionRange {
  start: number;
  end: number;
}

export function rangeLength(ranges: readonly PositionRange[]): number {
  let n = 0;
  for (const r of ranges) n += r.end - r.start;
  return n;
}

export function formatRanges(ranges: readonly PositionRange[]): string {
  return ranges.map((r) => `[${r.start}, ${r.end})`).join(' ') || '(none)';
}

/** Positions in both a and b (both sorted and disjoint), sorted. */
export function intersectRanges(a: readonly PositionRange[], b: readonly PositionRange[]): PositionRange[] {
  const out: PositionRange[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const start = Math.max(a[i].start, b[j].start);
    const end = Math.min(a[i].end, b[j].end);
    if (start < end) out.push({ start, end });
    if (a[i].end < b[j].end) i++;
    else j++;
  }
  return out;
}

/** Positions of a not in b (both sorted and disjoint), sorted. */
export function subtractRanges(a: readonly PositionRange[], b: readonly PositionRange[]): PositionRange[] {
  const out: PositionRange[] = [];
  let j = 0;
  for (const r of a) {
    let start = r.start;
    while (j < b.length && b[j].end <= start) j++;
    let k = j;
    while (k < b.length && b[k].start < r.end) {
      if (b[k].start > start) out.push({ start, end: b[k].start });
      start = Math.max(start, b[k].end);
      k++;
    }
    if (start < r.end) out.push({ start, end: r.end });
  }
  return out;
}

/** Checks that ranges are well formed, sorted, disjoint and inside [lo, hi); throws saying which is not. */
export function checkRanges(ranges: readonly PositionRange[], lo: number, hi: number, what: string): void {
  let previousEnd = lo;
  for (const r of ranges) {
    if (!Number.isInteger(r.start) || !Number.isInteger(r.end) || r.start >= r.end) {
      throw new Error(`${what}: range [${r.start}, ${r.end}) is empty or not made of integers`);
    }
    if (r.start < previousEnd) throw new Error(`${what}: ranges ${formatRanges(ranges)} overlap, are unsorted or start before ${lo}`);
    if (r.end > hi) throw new Error(`${what}: range [${r.start}, ${r.end}) ends past ${hi}`);
    previousEnd = r.end;
  }
}

/** A mutable set of positions; adjacent ranges are merged, so fragments stay few. */
export class RangeSet {
  private ranges: PositionRange[] = [];

  constructor(initial: readonly PositionRange[] = []) {
    for (const r of initial) this.add(r);
  }

  get size(): number {
    return rangeLength(this.ranges);
  }

  get isEmpty(): boolean {
    return this.ranges.length === 0;
  }

  toArray(): PositionRange[] {
    return this.ranges.map((r) => ({ ...r }));
  }

  /** Add positions that are not in the set yet; adding a position twice is a bug and throws. */
  add(range: PositionRange): void {
    if (range.start >= range.end) return;
    const i = this.ranges.findIndex((r) => r.start >= range.end);
    const at = i === -1 ? this.ranges.length : i;
    const before = this.ranges[at - 1];
    if (before && before.end > range.start) {
      throw new Error(`RangeSet.add: [${range.start}, ${range.end}) overlaps [${before.start}, ${before.end}) already in the set`);
    }
    const after = this.ranges[at];
    const joinsBefore = before !== undefined && before.end === range.start;
    const joinsAfter = after !== undefined && after.start === range.end;
    if (joinsBefore && joinsAfter) {
      before.end = after.end;
      this.ranges.splice(at, 1);
    } else if (joinsBefore) before.end = range.end;
    else if (joinsAfter) after.start = range.start;
    else this.ranges.splice(at, 0, { start: range.start, end: range.end });
  }

  addAll(ranges: readonly PositionRange[]): void {
    for (const r of ranges) this.add(r);
  }

  /** Remove and return up to n positions from the front, splitting a range where needed. */
  takeFront(n: number): PositionRange[] {
    const taken: PositionRange[] = [];
    let left = n;
    while (left > 0 && this.ranges.length > 0) {
      const first = this.ranges[0];
      const take = Math.min(left, first.end - first.start);
      taken.push({ start: first.start, end: first.start + take });
      first.start += take;
      if (first.start === first.end) this.ranges.shift();
      left -= take;
    }
    return taken;
  }

  /** Remove whichever of these positions are in the set; returns how many were. */
  removeAll(ranges: readonly PositionRange[]): number {
    const before = this.size;
    this.ranges = subtractRanges(this.ranges, ranges);
    return before - this.size;
  }

  /** Whether any of these positions is in the set. */
  intersects(ranges: readonly PositionRange[]): boolean {
    return intersectRanges(this.ranges, ranges).length > 0;
  }
}
