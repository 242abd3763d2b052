// The adversary's cheats, without a network: each does to a gradient what its name says.

import { describe, expect, it } from 'vitest';
import { CHEAT_MODES, cheatsOn, neighbourLeaseIds, parseLeaseId, pickReplay, poisonGradient, rms, seededRandom, SCALE_FACTOR, type SentResult } from './cheats.ts';

const honest = Float32Array.from({ length: 1001 }, (_, i) => Math.sin(i) * 0.01);

describe('adversary cheats', () => {
  it('names every mode the adversarial e2e cycles through', () => {
    expect(CHEAT_MODES).toEqual(['zeros', 'noise', 'scaled', 'sign-flip', 'stale', 'replay', 'replay-unsigned', 'steal']);
  });

  it('zeros, ×100 and sign-flip do exactly that, leaving the honest gradient untouched', () => {
    const copy = honest.slice();
    expect(poisonGradient('zeros', honest).every((g) => g === 0)).toBe(true);
    expect(poisonGradient('scaled', honest)).toEqual(honest.map((g) => g * SCALE_FACTOR));
    expect(poisonGradient('sign-flip', honest)).toEqual(honest.map((g) => -g));
    expect(honest).toEqual(copy);
  });

  it('noise has the honest gradient’s RMS but no correlation with it, and repeats with its seed', () => {
    const noise = poisonGradient('noise', honest, seededRandom(7));
    expect(noise.length).toBe(honest.length);
    expect(rms(noise) / rms(honest)).toBeGreaterThan(0.9);
    expect(rms(noise) / rms(honest)).toBeLessThan(1.1);
    let dot = 0;
    for (let i = 0; i < honest.length; i++) dot += noise[i] * honest[i];
    const cosine = dot / (rms(noise) * rms(honest) * honest.length);
    expect(Math.abs(cosine)).toBeLessThan(0.15);
    expect(poisonGradient('noise', honest, seededRandom(7))).toEqual(noise);
    expect(poisonGradient('noise', honest, seededRandom(8))).not.toEqual(noise);
  });

  it('guesses other contributors’ lease ids next to its own, nearest first', () => {
    expect(parseLeaseId('mwvnabj3-r70-139')).toEqual({ instance: 'mwvnabj3', round: 70, counter: 139 });
    expect(parseLeaseId('not-a-lease')).toBeNull();
    expect(neighbourLeaseIds('mwvnabj3-r70-139', 4)).toEqual(['mwvnabj3-r70-138', 'mwvnabj3-r70-140', 'mwvnabj3-r70-137', 'mwvnabj3-r70-141']);
    expect(neighbourLeaseIds('ab-r0-0', 3)).toEqual(['ab-r0-1', 'ab-r0-2', 'ab-r0-3']);
    expect(neighbourLeaseIds('garbage')).toEqual([]);
  });

  it('replays an earlier result of the same size, else any earlier one, never the lease’s own', () => {
    const sent = (leaseId: string, exampleCount: number): SentResult => ({
      leaseId, version: 1, exampleCount, loss: 1, correct: 0, gradient: new Float32Array(2), resultHash: 'h', signature: 's',
    });
    const history = [sent('a-r0-0', 64), sent('a-r0-1', 32), sent('a-r1-2', 32)];
    expect(pickReplay(history, 32, 'a-r2-3')?.leaseId).toBe('a-r0-1');
    expect(pickReplay(history, 32, 'a-r0-1')?.leaseId).toBe('a-r1-2');
    expect(pickReplay(history, 16, 'a-r2-3')).toBeNull(); // no result of that size: nothing to replay
    expect(pickReplay([], 16, 'a-r2-3')).toBeNull();
  });

  it('is honest for its first K results, then cheats on every one', () => {
    expect([0, 1, 2, 3].map((i) => cheatsOn(i, 2))).toEqual([false, false, true, true]);
    expect(cheatsOn(0, 0)).toBe(true);
  });
});
