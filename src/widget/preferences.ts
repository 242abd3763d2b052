// The terms a volunteer sets for a site, kept with their consent (consentStore.ts): whether the
// frame may compute while its tab is hidden, the battery level below which it pauses, a daily
// compute budget, and "only on unmetered networks" where the browser says what the network is.
// Pure logic: the frame (frame/main.ts) turns these into pause reasons.

export interface VolunteerPreferences {
  /** Compute while the tab is hidden too (the default computes only while it is visible). */
  background: boolean;
  /** Pause when on battery (not charging) below this level, 0–1; 0 never pauses for the battery. */
  batteryBelow: number;
  /** Minutes of compute per local day; null: no budget. */
  dailyMinutes: number | null;
  /** Compute only while navigator.connection says the network is not metered (not cellular, no data saver). */
  unmeteredOnly: boolean;
}

export const DEFAULT_PREFERENCES: VolunteerPreferences = { background: false, batteryBelow: 0.2, dailyMinutes: null, unmeteredOnly: false };

/** At most a day of compute a day. */
const MAX_DAILY_MINUTES = 24 * 60;

/**
 * Checks a preference change: each bad value is a clear error naming it (nothing is kept).
 * Missing fields keep `base`'s.
 */
export function checkPreferences(change: Partial<VolunteerPreferences>, base: VolunteerPreferences = DEFAULT_PREFERENCES): VolunteerPreferences {
  const next = { ...base, ...change };
  if (typeof next.background !== 'boolean') throw new Error(`"compute in the background" must be true or false, got ${JSON.stringify(next.background)}`);
  if (typeof next.unmeteredOnly !== 'boolean') throw new Error(`"only on unmetered networks" must be true or false, got ${JSON.stringify(next.unmeteredOnly)}`);
  if (typeof next.batteryBelow !== 'number' || !Number.isFinite(next.batteryBelow) || next.batteryBelow < 0 || next.batteryBelow > 1) {
    throw new Error(`the battery level to pause below must be between 0% and 100%, got ${JSON.stringify(next.batteryBelow)}`);
  }
  const m = next.dailyMinutes;
  if (m !== null && (typeof m !== 'number' || !Number.isInteger(m) || m < 1 || m > MAX_DAILY_MINUTES)) {
    throw new Error(`the daily budget must be a whole number of minutes from 1 to ${MAX_DAILY_MINUTES}, or none; got ${JSON.stringify(m)}`);
  }
  return next;
}

/** Preferences read back from storage: what does not check falls back to the default, field by field. */
export function readPreferences(raw: unknown): VolunteerPreferences {
  const prefs = { ...DEFAULT_PREFERENCES };
  if (typeof raw !== 'object' || raw === null) return prefs;
  for (const key of Object.keys(DEFAULT_PREFERENCES) as (keyof VolunteerPreferences)[]) {
    if (!(key in raw)) continue;
    try {
      Object.assign(prefs, checkPreferences({ [key]: (raw as Record<string, unknown>)[key] } as Partial<VolunteerPreferences>, prefs));
    } catch {
      // A corrupt field keeps its default.
    }
  }
  return prefs;
}

/** The visitor's local calendar day of `nowMs`, "YYYY-MM-DD". */
export function localDay(nowMs: number): string {
  const d = new Date(nowMs);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** Milliseconds from `nowMs` to the next local midnight. */
export function msToNextDay(nowMs: number): number {
  const d = new Date(nowMs);
  return new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1).getTime() - nowMs;
}

/** Compute used on one local day. */
export interface BudgetUse {
  day: string;
  usedMs: number;
}

/** The day's compute so far: a new day starts from zero. */
export function usedToday(use: BudgetUse | null, nowMs: number): number {
  return use && use.day === localDay(nowMs) ? use.usedMs : 0;
}

/** Adds `ms` of compute at `nowMs` (a new day starts over). */
export function addUse(use: BudgetUse | null, ms: number, nowMs: number): BudgetUse {
  if (!(ms >= 0) || !Number.isFinite(ms)) throw new Error(`compute time must be a non-negative number of ms, got ${ms}`);
  return { day: localDay(nowMs), usedMs: usedToday(use, nowMs) + ms };
}

/** Whether today's budget is spent. */
export function budgetSpent(prefs: VolunteerPreferences, use: BudgetUse | null, nowMs: number): boolean {
  return prefs.dailyMinutes !== null && usedToday(use, nowMs) >= prefs.dailyMinutes * 60_000;
}

/** What navigator.connection (Network Information API, Chromium) tells; absent elsewhere. */
export interface ConnectionInfo {
  type?: string;
  saveData?: boolean;
}

/**
 * Whether the network is metered, as far as the browser says: cellular, or the visitor asked
 * for data saving. null where the browser says nothing (then "only unmetered" cannot be kept).
 */
export function meteredNetwork(connection: ConnectionInfo | undefined): boolean | null {
  if (!connection) return null;
  if (connection.saveData) return true;
  if (connection.type === undefined) return null;
  return connection.type === 'cellular';
}

/** Why the preferences pause compute now, besides the visitor's own pause and the host's. */
export function preferencePauses(
  prefs: VolunteerPreferences,
  facts: { hidden: boolean; battery: { charging: boolean; level: number } | null; use: BudgetUse | null; nowMs: number; metered: boolean | null },
): { hidden: boolean; battery: boolean; budget: boolean; metered: boolean } {
  return {
    hidden: facts.hidden && !prefs.background,
    battery: facts.battery !== null && !facts.battery.charging && facts.battery.level < prefs.batteryBelow,
    budget: budgetSpent(prefs, facts.use, facts.nowMs),
    // Unknown counts as metered: the visitor asked for a guarantee the browser cannot give.
    metered: prefs.unmeteredOnly && facts.metered !== false,
  };
}
