import { describe, expect, it } from 'vitest';
import { ConsentStore, embeddingSiteOf, type KeyValueStorage } from './consentStore.ts';
import { DEFAULT_PREFERENCES, localDay } from './preferences.ts';

function memoryStorage(): KeyValueStorage & { map: Map<string, string> } {
  const map = new Map<string, string>();
  return { map, getItem: (k) => map.get(k) ?? null, setItem: (k, v) => void map.set(k, v), removeItem: (k) => void map.delete(k) };
}

describe('ConsentStore', () => {
  it('remembers consent per site, and forgets it', () => {
    const store = new ConsentStore(memoryStorage());
    expect(store.get('https://a.example')).toBeNull();
    store.grant('https://a.example', 1000, 0.4);
    expect(store.get('https://a.example')).toEqual({ site: 'https://a.example', grantedAt: 1000, usageLimit: 0.4, preferences: DEFAULT_PREFERENCES, use: null });
    expect(store.get('https://b.example')).toBeNull();
    store.forget('https://a.example');
    expect(store.get('https://a.example')).toBeNull();
  });

  it('keeps a usage limit only with consent, clamped to 10–100%', () => {
    const store = new ConsentStore(memoryStorage());
    expect(() => store.setUsageLimit('https://a.example', 0.5)).toThrow(/no consent/);
    store.grant('https://a.example', 1, 0.5);
    expect(store.setUsageLimit('https://a.example', 3).usageLimit).toBe(1);
  });

  it('keeps the visitor’s preferences and today’s use with the consent, refusing bad values without losing the old ones', () => {
    const storage = memoryStorage();
    const store = new ConsentStore(storage);
    expect(() => store.setPreferences('https://a.example', { background: true })).toThrow(/preferences is kept only with consent/);
    store.grant('https://a.example', 1, 0.5);
    store.setPreferences('https://a.example', { background: true, dailyMinutes: 30 });
    expect(() => store.setPreferences('https://a.example', { dailyMinutes: -5 })).toThrow(/daily budget/);
    const now = Date.now();
    store.recordUse('https://a.example', 90_000, now);
    store.recordUse('https://a.example', 30_000, now);
    // A fresh store on the same storage (the next visit) reads it all back.
    const again = new ConsentStore(storage).get('https://a.example')!;
    expect(again.preferences).toEqual({ ...DEFAULT_PREFERENCES, background: true, dailyMinutes: 30 });
    expect(again.use).toEqual({ day: localDay(now), usedMs: 120_000 });
    // Consenting again keeps them; forgetting drops them.
    expect(store.grant('https://a.example', 2, 0.5).preferences.dailyMinutes).toBe(30);
    store.forget('https://a.example');
    store.grant('https://a.example', 3);
    expect(store.get('https://a.example')!.preferences).toEqual(DEFAULT_PREFERENCES);
  });

  it('refuses anything but an origin, and ignores a corrupt record', () => {
    const storage = memoryStorage();
    const store = new ConsentStore(storage);
    expect(() => store.grant('https://a.example/page', 1)).toThrow(/per site origin/);
    expect(() => store.get('null')).toThrow(/per site origin/);
    storage.map.set('swarmgrad.widget.consent:https://a.example', '{not json');
    expect(store.get('https://a.example')).toBeNull();
    storage.map.set('swarmgrad.widget.consent:https://a.example', JSON.stringify({ site: 'https://b.example', grantedAt: 1, usageLimit: 0.5 }));
    expect(store.get('https://a.example')).toBeNull();
  });

  it('moves the consent chosen in memory into granted storage, keeping the terms remembered there', () => {
    const memory = new ConsentStore(memoryStorage());
    const granted = new ConsentStore(memoryStorage());
    memory.grant('https://a.example', 2000, 0.3);
    expect(memory.moveTo('https://a.example', granted)).toEqual({ site: 'https://a.example', grantedAt: 2000, usageLimit: 0.3, preferences: DEFAULT_PREFERENCES, use: null });
    expect(granted.get('https://a.example')?.grantedAt).toBe(2000);
    // An earlier visit's terms in the granted storage survive this visit's fresh choice.
    const other = new ConsentStore(memoryStorage());
    other.grant('https://a.example', 1000, 0.5);
    other.setPreferences('https://a.example', { dailyMinutes: 30 });
    expect(memory.moveTo('https://a.example', other)).toMatchObject({ grantedAt: 2000, usageLimit: 0.3, preferences: { dailyMinutes: 30 } });
    // Nothing chosen in memory: the granted storage's own record, unchanged.
    expect(new ConsentStore(memoryStorage()).moveTo('https://a.example', other)?.grantedAt).toBe(2000);
    expect(new ConsentStore(memoryStorage()).moveTo('https://b.example', other)).toBeNull();
  });

  it('finds the embedding site from ancestorOrigins, else the referrer', () => {
    expect(embeddingSiteOf({ referrer: 'https://r.example/x' }, { ancestorOrigins: { length: 1, 0: 'https://a.example' } })).toBe('https://a.example');
    expect(embeddingSiteOf({ referrer: 'https://r.example/x' }, {})).toBe('https://r.example');
    expect(embeddingSiteOf({ referrer: '' }, {})).toBeNull();
  });
});
