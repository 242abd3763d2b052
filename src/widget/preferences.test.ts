import { describe, expect, it } from 'vitest';
import { addUse, budgetSpent, checkPreferences, DEFAULT_PREFERENCES, localDay, meteredNetwork, msToNextDay, preferencePauses, readPreferences, usedToday } from './preferences.ts';

const noon = new Date(2026, 11, 4, 12, 0, 0).getTime();
const lateEvening = new Date(2026, 11, 4, 23, 59, 0).getTime();
const nextMorning = new Date(2026, 11, 5, 0, 1, 0).getTime();
const facts = { hidden: false, battery: null, use: null, nowMs: noon, metered: false };

describe('volunteer preferences', () => {
  it('checks each value and names the bad one, keeping nothing of a bad change', () => {
    expect(checkPreferences({ dailyMinutes: 30 })).toEqual({ ...DEFAULT_PREFERENCES, dailyMinutes: 30 });
    expect(() => checkPreferences({ dailyMinutes: 0 })).toThrow(/daily budget .* 1 to 1440/);
    expect(() => checkPreferences({ dailyMinutes: 2.5 })).toThrow(/whole number of minutes/);
    expect(() => checkPreferences({ batteryBelow: 1.5 })).toThrow(/battery level .* between 0% and 100%/);
    expect(() => checkPreferences({ background: 'yes' as unknown as boolean })).toThrow(/background" must be true or false/);
    expect(checkPreferences({ dailyMinutes: null }, { ...DEFAULT_PREFERENCES, dailyMinutes: 10 }).dailyMinutes).toBeNull();
  });

  it('reads back what storage holds, a corrupt field falling back to its default', () => {
    expect(readPreferences(null)).toEqual(DEFAULT_PREFERENCES);
    expect(readPreferences({ background: true, batteryBelow: 'low', dailyMinutes: 45, extra: 1 })).toEqual({ ...DEFAULT_PREFERENCES, background: true, dailyMinutes: 45 });
  });

  it('pauses when the day’s budget is spent, and a new day resumes', () => {
    const prefs = checkPreferences({ dailyMinutes: 2 });
    let use = addUse(null, 60_000, lateEvening);
    expect(budgetSpent(prefs, use, lateEvening)).toBe(false);
    use = addUse(use, 60_000, lateEvening);
    expect(usedToday(use, lateEvening)).toBe(120_000);
    expect(preferencePauses(prefs, { ...facts, use, nowMs: lateEvening }).budget).toBe(true);
    // After midnight the day starts over.
    expect(localDay(nextMorning)).not.toBe(localDay(lateEvening));
    expect(usedToday(use, nextMorning)).toBe(0);
    expect(preferencePauses(prefs, { ...facts, use, nowMs: nextMorning }).budget).toBe(false);
    expect(addUse(use, 1000, nextMorning)).toEqual({ day: localDay(nextMorning), usedMs: 1000 });
    expect(msToNextDay(lateEvening)).toBe(60_000);
    expect(budgetSpent(DEFAULT_PREFERENCES, use, lateEvening)).toBe(false);
    expect(() => addUse(use, Number.NaN, noon)).toThrow(/non-negative/);
  });

  it('computes in the background only when asked, and pauses on battery below the chosen level', () => {
    expect(preferencePauses(DEFAULT_PREFERENCES, { ...facts, hidden: true }).hidden).toBe(true);
    expect(preferencePauses(checkPreferences({ background: true }), { ...facts, hidden: true }).hidden).toBe(false);
    const low = { charging: false, level: 0.15 };
    expect(preferencePauses(DEFAULT_PREFERENCES, { ...facts, battery: low }).battery).toBe(true);
    expect(preferencePauses(DEFAULT_PREFERENCES, { ...facts, battery: { ...low, charging: true } }).battery).toBe(false);
    expect(preferencePauses(checkPreferences({ batteryBelow: 0.1 }), { ...facts, battery: low }).battery).toBe(false);
    expect(preferencePauses(checkPreferences({ batteryBelow: 0 }), { ...facts, battery: { charging: false, level: 0 } }).battery).toBe(false);
  });

  it('keeps "only unmetered" on what the browser says, and treats not knowing as metered', () => {
    expect(meteredNetwork(undefined)).toBeNull();
    expect(meteredNetwork({ type: 'wifi' })).toBe(false);
    expect(meteredNetwork({ type: 'cellular' })).toBe(true);
    expect(meteredNetwork({ type: 'wifi', saveData: true })).toBe(true);
    expect(meteredNetwork({})).toBeNull();
    const only = checkPreferences({ unmeteredOnly: true });
    expect(preferencePauses(only, { ...facts, metered: false }).metered).toBe(false);
    expect(preferencePauses(only, { ...facts, metered: true }).metered).toBe(true);
    expect(preferencePauses(only, { ...facts, metered: null }).metered).toBe(true);
    expect(preferencePauses(DEFAULT_PREFERENCES, { ...facts, metered: true }).metered).toBe(false);
  });
});
