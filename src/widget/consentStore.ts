// The visitor's choice, remembered per embedding site in the frame's own storage (the
// coordinator's origin), so no host page can read or write it. "Stop and forget" removes it.

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
      return { site, grantedAt: v.grantedAt, usageLimit: clampUsageLimit(v.usageLimit) };
    } catch {
      return null;
    }
  }

  grant(site: string, nowMs: number, usageLimit = DEFAULT_THROTTLE.usageLimit): SiteConsent {
    const consent = { site: checkSite(site), grantedAt: nowMs, usageLimit: clampUsageLimit(usageLimit) };
    this.storage.setItem(PREFIX + site, JSON.stringify(consent));
    return consent;
  }

  setUsageLimit(site: string, usageLimit: number): SiteConsent {
    const current = this.get(site);
    if (!current) throw new Error(`no consent recorded for ${site}: a usage limit is kept only with consent`);
    return this.grant(site, current.grantedAt, usageLimit);
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

/**
 * The frame's localStorage, or page-lifetime memory where the browser denies a third-party
 * frame its storage (Chromium does when third-party cookies are blocked): then consent is
 * asked again on each visit, never assumed.
 */
export function frameStorage(open: () => KeyValueStorage): { storage: KeyValueStorage; persistent: boolean } {
  try {
    const storage = open();
    storage.getItem('swarmgrad.widget.probe');
    return { storage, persistent: true };
  } catch {
    return { storage: memoryStorage(), persistent: false };
  }
}
