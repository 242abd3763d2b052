import { describe, expect, it } from 'vitest';
import { PauseReasons } from './backoff.ts';

describe('PauseReasons: compute runs only when no reason to pause is left', () => {
  it('pauses on the first reason, resumes when the last one clears, and tells each change once', () => {
    const changes: boolean[] = [];
    const r = new PauseReasons((paused) => changes.push(paused));
    r.set('hidden', true);
    r.set('battery', true);
    r.set('hidden', false);
    expect(r.paused).toBe(true);
    expect(r.list).toEqual(['battery']);
    r.set('battery', false);
    r.set('battery', false);
    expect(r.paused).toBe(false);
    expect(changes).toEqual([true, false]);
  });

  it('holds waiters until every reason (hidden page, low battery, device loss) is gone', async () => {
    const r = new PauseReasons(() => {});
    await r.whenRunning(); // not paused: at once
    r.set('device-lost', true);
    r.set('hidden', true);
    let released = false;
    const waiting = r.whenRunning().then(() => (released = true));
    r.set('device-lost', false);
    await Promise.resolve();
    expect(released).toBe(false);
    r.set('hidden', false);
    await waiting;
    expect(released).toBe(true);
  });
});
