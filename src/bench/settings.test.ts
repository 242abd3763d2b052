import { describe, expect, it } from 'vitest';
import { BenchSettingsError, DEFAULT_SIZES, parseBenchSettings, parseSizes, settingsQuery } from './settings.ts';

const parse = (query: string) => parseBenchSettings(new URLSearchParams(query));

describe('parseBenchSettings', () => {
  it('defaults to the full run over 256…2048 with warm-ups and repetitions', () => {
    const s = parse('');
    expect(s.sizes).toEqual(DEFAULT_SIZES);
    expect(s.quick).toBe(false);
    expect(s.auto).toBe(false);
    expect(s.capMs).toBe(10_000);
    expect(s.repeat).toEqual({ warmups: 1, repetitions: 5, budgetMs: 3000 });
  });

  it('reads sizes, quick, auto and cap from the URL', () => {
    const s = parse('sizes=1024, 256,256&quick=1&auto=1&cap=2.5');
    expect(s.sizes).toEqual([256, 1024]);
    expect(s.quick).toBe(true);
    expect(s.auto).toBe(true);
    expect(s.capMs).toBe(2500);
    expect(s.repeat).toEqual({ warmups: 1, repetitions: 1 });
    expect(s.trainTimedSteps).toBeLessThan(parse('').trainTimedSteps);
  });

  it('rejects bad values, naming the bad part', () => {
    expect(() => parse('sizes=256,abc')).toThrow(BenchSettingsError);
    expect(() => parse('sizes=256,abc')).toThrow(/"abc" in "256,abc"/);
    expect(() => parse('sizes=8')).toThrow(/from 16 to 4096; "8"/);
    expect(() => parse('sizes=256.5')).toThrow(/"256.5"/);
    expect(() => parse('sizes=')).toThrow(/at least one matrix size/);
    expect(() => parse('sizes=256,,512')).toThrow(/"" in "256,,512"/);
    expect(() => parse('quick=yes')).toThrow(/quick is a flag: quick=1 or quick=0; got "yes"/);
    expect(() => parse('cap=0')).toThrow(/cap is .* got "0"/);
    expect(() => parse('cap=')).toThrow(/cap is .* got ""/);
  });

  it('round-trips through settingsQuery', () => {
    const s = parse('sizes=256,1024&quick=1&cap=4');
    expect(parse(settingsQuery(s))).toEqual(s);
    expect(settingsQuery(parse(''))).toBe('sizes=256%2C512%2C1024%2C2048');
    expect(parseSizes('2048,512')).toEqual([512, 2048]);
  });
});
