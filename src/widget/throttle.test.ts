import { describe, expect, it } from 'vitest';
import { DutyCycleController, clampUsageLimit, droppedFrames, percentileOf } from './throttle.ts';

describe('DutyCycleController', () => {
  it('starts low, climbs additively and never passes the usage limit', () => {
    const c = new DutyCycleController({ usageLimit: 0.5, minDuty: 0.02, rampPerSecond: 0.1 });
    expect(c.duty).toBeCloseTo(0.08);
    c.advance(0);
    c.advance(1000);
    expect(c.duty).toBeCloseTo(0.18);
    c.advance(60_000);
    expect(c.duty).toBe(0.5);
  });

  it('halves on a dropped frame, once per cooldown, down to the floor', () => {
    const c = new DutyCycleController({ usageLimit: 1, minDuty: 0.05, rampPerSecond: 0.1, cutCooldownMs: 250 });
    c.advance(0);
    c.advance(20_000);
    expect(c.duty).toBe(1);
    c.onDroppedFrames(1, 20_000);
    expect(c.duty).toBeCloseTo(0.5);
    c.onDroppedFrames(3, 20_100); // the same burst: no second cut (ramp of 0.01 only)
    expect(c.duty).toBeCloseTo(0.51);
    for (let t = 20_400; t < 23_000; t += 300) c.onDroppedFrames(1, t);
    expect(c.duty).toBeGreaterThanOrEqual(0.05);
    expect(c.duty).toBeLessThan(0.1);
    c.onDroppedFrames(0, 30_000);
  });

  it('rests so that compute / (compute + rest) equals the duty cycle', () => {
    const c = new DutyCycleController({ usageLimit: 0.25 });
    c.advance(0);
    c.advance(100_000);
    expect(c.duty).toBe(0.25);
    expect(c.restAfter(8)).toBeCloseTo(24);
    expect(c.restAfter(-1)).toBe(0);
  });

  it('lowering the usage limit lowers the duty cycle at once; limits are clamped to 10–100%', () => {
    const c = new DutyCycleController({ usageLimit: 1 });
    c.advance(0);
    c.advance(100_000);
    c.setUsageLimit(0.3);
    expect(c.duty).toBe(0.3);
    expect(clampUsageLimit(0.01)).toBe(0.1);
    expect(clampUsageLimit(5)).toBe(1);
    expect(() => clampUsageLimit(Number.NaN)).toThrow(/usage limit/);
  });

  it('sizes a worker call to the slice budget', () => {
    const c = new DutyCycleController({ sliceBudgetMs: 8 });
    expect(c.sliceExamples(40, 8192)).toBe(320);
    expect(c.sliceExamples(10_000, 8192)).toBe(8192);
    expect(c.sliceExamples(0.01, 8192)).toBe(1);
    expect(c.sliceExamples(0, 8192)).toBe(1);
  });
});

describe('droppedFrames', () => {
  it('counts the frames a long interval lost, against the median cadence', () => {
    const steady = Array(30).fill(16.7);
    expect(droppedFrames(steady)).toBe(0);
    expect(droppedFrames([...steady, 33.4])).toBe(1);
    expect(droppedFrames([...steady, 50, 24])).toBe(2);
    expect(droppedFrames([])).toBe(0);
  });

  it('percentile by nearest rank', () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentileOf(v, 0.95)).toBe(95);
    expect(percentileOf([3], 0.95)).toBe(3);
    expect(percentileOf([], 0.5)).toBeNaN();
  });
});
