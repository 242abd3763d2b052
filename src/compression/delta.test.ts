import { describe, expect, it } from 'vitest';
import { Random } from '../util/random.ts';
import { applyDelta, encodeDelta, payloadWords, sharedMask, topKMask, type EncodeOptions } from './index.ts';
import { MLP_PARAMETERS, expectCompressionError, sameBits } from './testVectors.ts';

/** Largest |a − b|. */
function maxGap(a: Float32Array, b: Float32Array): number {
  let gap = 0;
  for (let i = 0; i < a.length; i++) gap = Math.max(gap, Math.abs(a[i] - b[i]));
  return gap;
}

function difference(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] - b[i];
  return out;
}

type MaskChoice = 'dense' | 'shared' | 'top-k';

/**
 * 50 optimizer-like steps of a random walk on the default MLP's parameters. The coordinator
 * encodes each step against its record of what the contributor holds; the contributor applies
 * what arrives through the wire's forms (a JSON header, a u32 tensor). Returns the gaps
 * |current − held| after each step.
 */
function randomWalk(options: EncodeOptions, maskChoice: MaskChoice, steps = 50): number[] {
  const random = new Random(2024);
  const current = random.uniformArray(MLP_PARAMETERS, -0.05, 0.05);
  let senderView: Float32Array = new Float32Array(MLP_PARAMETERS); // the first delta is the whole vector
  let receiverHeld: Float32Array = new Float32Array(MLP_PARAMETERS);
  const gaps: number[] = [];
  for (let step = 0; step < steps; step++) {
    const mask =
      maskChoice === 'dense'
        ? undefined
        : maskChoice === 'shared'
          ? sharedMask(MLP_PARAMETERS, MLP_PARAMETERS / 10, step)
          : topKMask(difference(current, senderView), MLP_PARAMETERS / 10);
    const { delta, reconstruction } = encodeDelta(senderView, current, options, mask);
    const wireHeader: unknown = JSON.parse(JSON.stringify(delta.header));
    const wireMask = mask === undefined ? undefined : new Uint32Array(mask);
    receiverHeld = applyDelta(receiverHeld, { header: wireHeader, payload: payloadWords(delta.payload) }, wireMask);
    senderView = reconstruction;
    if (!sameBits(senderView, receiverHeld)) throw new Error(`step ${step}: sender and receiver disagree`);
    gaps.push(maxGap(current, receiverHeld));
    for (let i = 0; i < current.length; i++) current[i] -= 1e-3 * random.normal(); // the next optimizer step
  }
  return gaps;
}

describe('parameter deltas', () => {
  it('f32: both sides agree bit for bit, within float32 rounding of the parameters', () => {
    // previous + (current − previous) is two float32 roundings, not always current itself.
    expect(Math.max(...randomWalk({ scheme: 'f32' }, 'dense'))).toBeLessThan(1e-8);
  });

  it('int8: sender and receiver stay bit-identical over 50 steps, and the gap stays under one step', () => {
    const gaps = randomWalk({ scheme: 'int8' }, 'dense');
    // After the key frame the delta is one step (σ 1e-3, absmax up to ≈ 4.5e-3 a block) plus
    // the carried error, so the gap is scale/2 ≤ 4.5e-3/254 ≈ 1.8e-5 and does not grow.
    expect(Math.max(...gaps.slice(1))).toBeLessThan(3e-5);
    expect(Math.max(...gaps.slice(-10))).toBeLessThanOrEqual(1.25 * Math.max(...gaps.slice(1, 11)));
    expect(gaps[0]).toBeLessThanOrEqual(0.05 / 127 / 2 + 1e-9); // the key frame's own bound
  });

  it('int4: sender and receiver stay bit-identical over 50 steps, and the carried error stays under one step', () => {
    const gaps = randomWalk({ scheme: 'int4' }, 'dense');
    // As int8 with 7 levels for 127: the gap is scale/2 of (step + carried gap), ≈ (4.5e-3 + gap)/14,
    // highest (≈ 5.3e-4) just after the key frame, whose error (≤ 3.6e-3) the first delta carries.
    expect(Math.max(...gaps.slice(1))).toBeLessThan(6e-4);
    expect(Math.max(...gaps.slice(-10))).toBeLessThanOrEqual(1.25 * Math.max(...gaps.slice(1, 11)));
    expect(gaps[0]).toBeLessThanOrEqual(0.05 / 7 / 2 + 1e-9); // the key frame's own bound
  });

  it('ternary: sender and receiver stay bit-identical, and the carried error stays bounded', () => {
    const gaps = randomWalk({ scheme: 'ternary', blockSize: 64 }, 'dense');
    const late = gaps.slice(10);
    // Error feedback: each gap is at most half the block's absmax of (step + carried gap).
    expect(Math.max(...late)).toBeLessThan(5e-3);
    expect(Math.max(...late.slice(-10))).toBeLessThanOrEqual(1.5 * Math.max(...late.slice(0, 10)));
  });

  it('int8 on a shared mask of 10%: bit-identical on both sides at every step', () => {
    // A random mask leaves some coordinates unsent for many steps, so only agreement is checked.
    expect(randomWalk({ scheme: 'int8' }, 'shared').every(Number.isFinite)).toBe(true);
  });

  it('int8 on the top 10% of the pending update: bit-identical, and the gap stays bounded', () => {
    const gaps = randomWalk({ scheme: 'int8' }, 'top-k');
    // The key frame's 90% unsent drains in ~10 steps; then the pending update settles (≈ 2.5e-3).
    expect(Math.max(...gaps.slice(-10))).toBeLessThan(5e-3);
    expect(Math.max(...gaps.slice(-10))).toBeLessThanOrEqual(1.1 * Math.max(...gaps.slice(20, 30)));
  });

  it('rejects mismatched lengths, non-finite inputs and a step that overflows float32', () => {
    const options = { scheme: 'int8' } as const;
    expectCompressionError(() => encodeDelta(new Float32Array(3), new Float32Array(4), options), 'length-mismatch', /previous has 3 values, current 4/);
    expectCompressionError(() => encodeDelta(Float32Array.of(0, NaN), Float32Array.of(0, 0), options), 'non-finite', /Previous value at index 1 is NaN/);
    expectCompressionError(() => encodeDelta(Float32Array.of(0, 0), Float32Array.of(Infinity, 0), options), 'non-finite', /Current value at index 0 is Infinity/);
    expectCompressionError(() => encodeDelta(Float32Array.of(0, -3e38), Float32Array.of(0, 3e38), options), 'non-finite', /Delta value at index 1 is Infinity/);
    const { delta } = encodeDelta(new Float32Array(4), Float32Array.of(1, 2, 3, 4), { scheme: 'f32' });
    expectCompressionError(() => applyDelta(new Float32Array(5), delta), 'length-mismatch', /delta is for 4 values but the receiver holds 5/);
    const huge = encodeDelta(new Float32Array(1), Float32Array.of(3e38), { scheme: 'f32' }).delta;
    expectCompressionError(() => applyDelta(Float32Array.of(3e38), huge), 'non-finite', /Reconstructed value at index 0 is Infinity/);
  });
});
