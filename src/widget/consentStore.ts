// The visitor's choice, remembered per embedding site in the frame's own storage (the
// coordinator's origin), so no host page can read or write it: consent, the usage limit, the
// terms they set (preferences.ts) and today's compute against their budget. "Stop and forget"
// removes it all.

import { addUse, checkPreferences, DEFAULT_PREFERENCES, readPreferences, type BudgetUse, type VolunteerPreferences } from './preferences.ts';
import { clampUsageLimit, DEFAULT_THROTTLE } from './throttle.ts';

/** What the store needs of localStorage. */
export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface SiteConsent {
  site: string;
  grantedAt: number;
  usageLimit: number;
  preferences: VolunteerPreferences;
  /** Compute on the last day it computed here, for the daily budget. */
  use: BudgetUse | null;
}

const PREFIX = 'swarmgrad.widget.consent:';

export class ConsentStore {
  constructor(private readonly storage: KeyValueStorage) {}

  /** The consent recorded for `site`, or null (also for a record that does not parse). */
  get(site: string): SiteConsent | null {
    const raw = this.storage.getItem(PREFIX + checkSite(site));
    if (raw === null) return null;
    try {
      const v = JSON.parse(raw) as Partial<SiteConsent>;
      if (v.site !== site || typeof v.grantedAt !== 'number' || typeof v.usageLimit !== 'number') return null;
      const use = v.use && typeof v.use.day === 'string' && Number.isFinite(v.use.usedMs) && v.use.usedMs >= 0 ? { day: v.use.day, usedMs: v.use.usedMs } : null;
      return { site, grantedAt: v.grantedAt, usageLimit: clampUsageLimit(v.usageLimit), preferences: readPreferences(v.preferences), use };
    } catch {
      return null;
    }
  }

  /** Records consent; a site that had consent keeps its preferences and today's use. */
  grant(site: string, nowMs: number, usageLimit = DEFAULT_THROTTLE.usageLimit): SiteConsent {
    const before = this.get(checkSite(site));
    return this.put({ site, grantedAt: nowMs, usageLimit: clampUsageLimit(usageLimit), preferences: before?.preferences ?? DEFAULT_PREFERENCES, use: before?.use ?? null });
  }

  setUsageLimit(site: string, usageLimit: number): SiteConsent {
    return this.put({ ...this.require(site, 'a usage limit'), usageLimit: clampUsageLimit(usageLimit) });
  }

  /** Changes the site's preferences; a bad value is a clear error and nothing changes. */
  setPreferences(site: string, change: Partial<VolunteerPreferences>): SiteConsent {
    const current = this.require(site, 'preferences');
    return this.put({ ...current, preferences: checkPreferences(change, current.preferences) });
  }

  /** Adds compute time to today's use at this site. */
  recordUse(site: string, ms: number, nowMs: number): SiteConsent {
    const current = this.require(site, 'compute time');
    return this.put({ ...current, use: addUse(current.use, ms, nowMs) });
  }

  private require(site: string, what: string): SiteConsent {
    const current = this.get(site);
    if (!current) throw new Error(`no consent recorded for ${site}: ${what} is kept only with consent`);
    return current;
  }

  /**
   * Moves this site's consent into another store (the storage the browser granted after the
   * click): the choice made now wins, the terms and today's use remembered there from an
   * earlier visit are kept (this visit's are the defaults until the controls show).
   */
  moveTo(site: string, target: ConsentStore): SiteConsent | null {
    const chosen = this.get(site);
    if (!chosen) return target.get(site);
    const kept = target.get(site);
    return target.put(kept ? { ...chosen, preferences: kept.preferences, use: kept.use } : chosen);
  }

  private put(consent: SiteConsent): SiteConsent {
    this.storage.setItem(PREFIX + checkSite(consent.site), JSON.stringify(consent));
    return consent;
  }

  forget(site: string): void {
    this.storage.removeItem(PREFIX + checkSite(site));
  }
}

function checkSite(site: string): string {
  let origin: string | null = null;
  try {
    origin = new URL(site).origin;
  } catch {
    origin = null;
  }
  if (origin === null || origin === 'null' || origin !== site) throw new Error(`consent is kept per site origin (https://host[:port]); got "${site}"`);
  return site;
}

/**
 * The origin of the page embedding this frame: the browser's ancestorOrigins where it has
 * them (Chromium, Safari), else the referrer's origin. The host's init message must come
 * from the same origin, which the caller checks.
 */
export function embeddingSiteOf(doc: { referrer: string }, loc: { ancestorOrigins?: { length: number; [i: number]: string } }): string | null {
  const ancestors = loc.ancestorOrigins;
  if (ancestors && ancestors.length > 0) return ancestors[0] === 'null' ? null : ancestors[0];
  if (!doc.referrer) return null;
  try {
    return new URL(doc.referrer).origin;
  } catch {
    return null;
  }
}

/** A store that lives as long as the page: where the browser denies the frame its storage. */
export function memoryStorage(): KeyValueStorage {
  const map = new Map<string, string>();
  return { getItem: (k) => map.get(k) ?? null, setItem: (k, v) => void map.set(k, v), removeItem: (k) => void map.delete(k) };
}
