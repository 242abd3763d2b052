import { describe, expect, it } from 'vitest';
import type { ContributorStatus } from '../../server/runStatus.ts';
import { progressFacts } from './progress.ts';

const contributor = (id: string, examples: number, connected = true): ContributorStatus => ({
  id, device: 'cpu', backend: 'cpu', connected, paused: false, banned: false, joinedAt: 0, tasks: 1, examples, uncounted: 0, examplesPerSecond: 10,
});
const base = {
  state: 'running' as const, message: null, round: 42, examplesPerSecond: 1234,
  evaluations: [{ version: 40, at: 0, accuracy: 0.8123, loss: 0.5 }],
  contributors: [contributor('me', 300), contributor('a', 600), contributor('b', 100), contributor('gone', 1000, false)],
  eta: { seconds: 200, stopRound: 160, targetAccuracy: 0.88, targetLoss: null },
  job: { tokens: false, targetLoss: null },
};

describe("the contributor page's job progress", () => {
  it('says where the run is, when it ends at this rate, who else computes and the visitor’s share', () => {
    expect(Object.fromEntries(progressFacts(base, 'me'))).toEqual({
      Round: '42',
      'Latest test accuracy': '81.23% at version 40',
      'Estimated time left': 'ETA 3m20s (round 160, or 88% first) at 1,234 examples/s',
      'Contributing now': 'you and 2 others',
      'Your share': '15.0% of the 2,000 examples counted in this run',
    });
  });

  it('before the visitor joins, counts the others only; alone, says so', () => {
    const before = Object.fromEntries(progressFacts(base, null));
    expect(before['Contributing now']).toBe('3');
    expect(before['Your share']).toBeUndefined();
    expect(Object.fromEntries(progressFacts({ ...base, contributors: [contributor('me', 0)] }, 'me'))).toMatchObject({ 'Contributing now': 'you alone', 'Your share': '–' });
  });

  it('shows a text job’s validation loss, and a finished run as finished', () => {
    const text = Object.fromEntries(progressFacts({ ...base, job: { tokens: true, targetLoss: 1.88 } }, 'me'));
    expect(text['Latest validation loss']).toBe('0.5000 at version 40 (target 1.88)');
    const done = Object.fromEntries(progressFacts({ ...base, state: 'done', message: 'Reached 88%' }, 'me'));
    expect(done.Round).toBe('done at round 42: Reached 88%');
    expect(done['Estimated time left']).toBe('–');
  });
});
