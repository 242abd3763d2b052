// What a malicious contributor does to its results, as pure functions: the adversary client
// (adversary.ts) computes an honest gradient, then passes it through one of these. Kept apart
// from the network so each cheat can be tested on its own.

export const CHEAT_MODES = ['zeros', 'noise', 'scaled', 'sign-flip', 'stale', 'replay', 'replay-unsigned', 'steal'] as const;
export type CheatMode = (typeof CHEAT_MODES)[number];

/** How much `scaled` multiplies the honest gradient by. */
export const SCALE_FACTOR = 100;

/** A small deterministic generator (mulberry32), so a run's noise can be reproduced from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Root mean square of a vector (0 for an empty one). */
export function rms(v: Float32Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return v.length ? Math.sqrt(s / v.length) : 0;
}

/**
 * The gradient a numeric cheat sends instead of `honest` (which it leaves untouched):
 * zeros; Gaussian noise with the honest gradient's RMS (so its norm alone does not give it
 * away); the honest gradient ×100; the honest gradient negated.
 */
export function poisonGradient(mode: 'zeros' | 'noise' | 'scaled' | 'sign-flip', honest: Float32Array, random: () => number = Math.random): Float32Array {
  switch (mode) {
    case 'zeros':
      return new Float32Array(honest.length);
    case 'scaled':
      return honest.map((g) => g * SCALE_FACTOR);
    case 'sign-flip':
      return honest.map((g) => -g);
    case 'noise': {
      const sigma = rms(honest) || 1e-3;
      const out = new Float32Array(honest.length);
      for (let i = 0; i < out.length; i += 2) {
        // Box–Muller: two independent standard normals from two uniforms.
        const r = Math.sqrt(-2 * Math.log(1 - random()));
        const theta = 2 * Math.PI * random();
        out[i] = sigma * r * Math.cos(theta);
        if (i + 1 < out.length) out[i + 1] = sigma * r * Math.sin(theta);
      }
      return out;
    }
  }
}

/** Lease ids are "<instance>-r<round>-<counter>"; parsed, or null for another shape. */
export function parseLeaseId(leaseId: string): { instance: string; round: number; counter: number } | null {
  const m = /^(.*)-r(\d+)-(\d+)$/.exec(leaseId);
  return m ? { instance: m[1], round: Number(m[2]), counter: Number(m[3]) } : null;
}

/**
 * Lease ids that are probably someone else's: the same instance and round, the counters next
 * to ours (leases of a round are numbered as they are granted, so neighbours belong to the
 * other contributors). Nearest first, never ours, never below 0.
 */
export function neighbourLeaseIds(ownLeaseId: string, count = 4): string[] {
  const own = parseLeaseId(ownLeaseId);
  if (!own) return [];
  const out: string[] = [];
  for (let d = 1; out.length < count && d <= count + own.counter; d++) {
    for (const c of [own.counter - d, own.counter + d]) {
      if (c >= 0 && out.length < count) out.push(`${own.instance}-r${own.round}-${c}`);
    }
  }
  return out;
}

/** A result as it was sent: enough to send its exact data again. */
export interface SentResult {
  leaseId: string;
  version: number;
  exampleCount: number;
  loss: number;
  correct: number;
  gradient: Float32Array;
  resultHash: string;
  signature: string;
}

/**
 * The earlier result a replay resends for a lease of `count` examples: the oldest one of the
 * same size not for this lease; null when there is none (one of another size would only be
 * refused as a bad shape, which is a bug, not a replay: the adversary answers honestly then).
 */
export function pickReplay(history: readonly SentResult[], count: number, leaseId: string): SentResult | null {
  return history.find((r) => r.leaseId !== leaseId && r.exampleCount === count) ?? null;
}

/** Whether result number `index` (0-based, in the order sent) is a cheat, after `honestFirst` honest ones. */
export function cheatsOn(index: number, honestFirst: number): boolean {
  return index >= honestFirst;
}
