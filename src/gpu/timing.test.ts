import { describe, expect, it } from 'vitest';
import { repeatTimed } from './timing.ts';

/** A run that reports the scripted durations in turn, and counts its calls. */
function scripted(durations: number[]) {
  let calls = 0;
  const runOnce = async () => ({ ms: durations[calls++], call: calls });
  return { runOnce, calls: () => calls };
}

describe('repeatTimed', () => {
  it('excludes warm-up runs and keeps the fastest timed run', async () => {
    const s = scripted([1, 50, 30, 40]);
    const r = await repeatTimed(s.runOnce, { warmups: 1, repetitions: 3 });
    expect(s.calls()).toBe(4);
    expect(r.samples.map((x) => x.ms)).toEqual([50, 30, 40]);
    expect(r.best).toEqual({ ms: 30, call: 3 });
    expect(r.warmups).toBe(1);
  });

  it('stops repeating once the budget is spent, but always makes one timed run', async () => {
    const s = scripted([9, 700, 400, 5, 5]);
    const r = await repeatTimed(s.runOnce, { warmups: 1, repetitions: 4, budgetMs: 1000 });
    expect(r.samples.map((x) => x.ms)).toEqual([700, 400]);
    const slow = scripted([9, 5000, 1]);
    const one = await repeatTimed(slow.runOnce, { warmups: 1, repetitions: 4, budgetMs: 1000 });
    expect(one.samples.map((x) => x.ms)).toEqual([5000]);
    expect(slow.calls()).toBe(2);
  });

  it('rejects a bad policy or a bad duration with the value named', async () => {
    const s = scripted([1, 2]);
    await expect(repeatTimed(s.runOnce, { warmups: -1, repetitions: 1 })).rejects.toThrow(/Warm-up runs .* got -1/);
    await expect(repeatTimed(s.runOnce, { warmups: 0, repetitions: 0 })).rejects.toThrow(/repetitions .* got 0/);
    await expect(repeatTimed(s.runOnce, { warmups: 0, repetitions: 1, budgetMs: 0 })).rejects.toThrow(/budget .* got 0/);
    expect(s.calls()).toBe(0);
    await expect(repeatTimed(scripted([NaN]).runOnce, { warmups: 0, repetitions: 1 })).rejects.toThrow(/NaN ms/);
  });

  it('stops between runs when aborted', async () => {
    const abort = new AbortController();
    let calls = 0;
    const runOnce = async () => {
      if (++calls === 2) abort.abort(new Error('stopped by the user'));
      return { ms: 1 };
    };
    await expect(repeatTimed(runOnce, { warmups: 0, repetitions: 5, signal: abort.signal })).rejects.toThrow('stopped by the user');
    expect(calls).toBe(2);
  });
});
