// The dropout mask, defined once for every backend: a unit is dropped or kept by a
// counter-based hash of (seed, the example's dataset position, the layer's ordinal, the
// unit's index), so the mask needs no state and a recomputation (a replica, a spot check)
// gets the same bits. Only 32-bit integer multiplies, xors and shifts, so WGSL and
// AssemblyScript compute the very same u32.

const GOLDEN = 0x9e3779b9;

/** splitmix32's output function (the finaliser of src/util/random.ts): a bijection on u32 that mixes every bit. */
function mix32(z: number): number {
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return (z ^ (z >>> 15)) >>> 0;
}

/** h = mix(mix(mix(mix(seed + φ) ^ position + φ) ^ layer + φ) ^ unit + φ), φ = 0x9e3779b9, all mod 2³². */
export function dropoutHash(seed: number, position: number, layer: number, unit: number): number {
  let h = mix32((seed + GOLDEN) >>> 0);
  h = mix32(((h ^ position) + GOLDEN) >>> 0);
  h = mix32(((h ^ layer) + GOLDEN) >>> 0);
  return mix32(((h ^ unit) + GOLDEN) >>> 0);
}

/** round(p·2³²), at most 2³² − 1: a unit is kept when its hash is ≥ this, so p = 0 keeps every unit. */
export function dropoutThreshold(p: number): number {
  if (!(p >= 0 && p < 1)) throw new Error(`dropout p must be in [0, 1), got ${p}`);
  return Math.min(Math.round(p * 2 ** 32), 2 ** 32 - 1);
}

/** Whether unit `unit` of the example at `position` is kept by dropout layer `layer` (its ordinal). */
export function dropoutKeeps(seed: number, position: number, layer: number, unit: number, threshold: number): boolean {
  return dropoutHash(seed, position, layer, unit) >= threshold;
}

/** Checks a dropout seed or position: an integer in [0, 2³²). */
export function checkU32(what: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** 32) {
    throw new Error(`dropout ${what} must be an integer in [0, 2^32), got ${value}`);
  }
}
