import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF, backoffDelayMs } from './backoff.ts';

describe('backoffDelayMs', () => {
  const noJitter = { ...DEFAULT_BACKOFF, jitter: 0 };

  it('doubles from the initial delay and stops at the cap', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 50].map((attempt) => backoffDelayMs(attempt, 0.5, noJitter));
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
  });

  it('keeps half of the delay fixed and spreads the other half with the random sample', () => {
    expect(backoffDelayMs(3, 0, DEFAULT_BACKOFF)).toBe(1000);
    expect(backoffDelayMs(3, 0.5, DEFAULT_BACKOFF)).toBe(1500);
    expect(backoffDelayMs(3, 0.999999, DEFAULT_BACKOFF)).toBe(2000);
    expect(backoffDelayMs(40, 0.999999, DEFAULT_BACKOFF)).toBe(10_000); // jitter never pushes past the cap
  });

  it('spreads a crowd of contributors over the window instead of one instant', () => {
    const delays = Array.from({ length: 1000 }, (_, i) => backoffDelayMs(6, i / 1000));
    expect(Math.min(...delays)).toBe(5000);
    expect(Math.max(...delays)).toBeLessThanOrEqual(10_000);
    expect(new Set(delays).size).toBeGreaterThan(900);
  });

  it('rejects attempts, samples and policies that make no sense', () => {
    expect(() => backoffDelayMs(0, 0.5)).toThrow(/numbered from 1/);
    expect(() => backoffDelayMs(1.5, 0.5)).toThrow(/numbered from 1/);
    expect(() => backoffDelayMs(1, 1)).toThrow(/random must be in \[0, 1\)/);
    expect(() => backoffDelayMs(1, 0.5, { ...DEFAULT_BACKOFF, maxDelayMs: 100 })).toThrow(/maxDelayMs ≥ initialDelayMs/);
    expect(() => backoffDelayMs(1, 0.5, { ...DEFAULT_BACKOFF, jitter: 2 })).toThrow(/jitter/);
  });
});
