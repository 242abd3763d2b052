import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ReconnectingCoordinatorLink, type CoordinatorLinkState } from './coordinatorLink.ts';
import type { FrameChannel } from './frameChannel.ts';
import { createFrameChannelPair } from './memoryFrameChannel.ts';

const policy = { initialDelayMs: 100, multiplier: 2, maxDelayMs: 1000, jitter: 0 };

function describeState(state: CoordinatorLinkState): string {
  switch (state.kind) {
    case 'connecting':
      return `connecting #${state.attempt}`;
    case 'retrying':
      return `retrying #${state.attempt} in ${state.delayMs}: ${state.reason}`;
    case 'closed':
    case 'stopped':
      return `${state.kind}: ${state.reason}`;
    default:
      return state.kind;
  }
}

/** A coordinator that fails `failures` times, then accepts; keeps the far ends it handed out. */
function flakyCoordinator(failures: number) {
  const farEnds: FrameChannel[] = [];
  let calls = 0;
  const connect = async (): Promise<FrameChannel> => {
    calls++;
    if (calls <= failures) throw new Error(`relay unreachable (${calls})`);
    const [near, far] = createFrameChannelPair({ peerIds: ['coordinator', `contributor-${calls}`] });
    farEnds.push(far);
    return near;
  };
  return { connect, farEnds, calls: () => calls };
}

describe('ReconnectingCoordinatorLink', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('retries with growing delays until the coordinator answers, then hands out the channel', async () => {
    const coordinator = flakyCoordinator(3);
    const link = new ReconnectingCoordinatorLink(coordinator.connect, { backoff: policy, random: () => 0 });
    const states: string[] = [];
    const channels: FrameChannel[] = [];
    link.onState = (s) => states.push(describeState(s));
    link.onChannel = (c) => channels.push(c);
    link.start();
    await vi.advanceTimersByTimeAsync(100 + 200 + 400);
    expect(states).toEqual([
      'connecting #1',
      'retrying #2 in 100: relay unreachable (1)',
      'connecting #2',
      'retrying #3 in 200: relay unreachable (2)',
      'connecting #3',
      'retrying #4 in 400: relay unreachable (3)',
      'connecting #4',
      'open',
    ]);
    expect(channels).toHaveLength(1);
    expect(link.channel).toBe(channels[0]);
    expect(channels[0].peerId).toBe('coordinator');
    link.stop();
  });

  it('reconnects with a fresh channel when the open one closes, and tells the user of the old one', async () => {
    const coordinator = flakyCoordinator(0);
    const link = new ReconnectingCoordinatorLink(coordinator.connect, { backoff: policy, random: () => 0 });
    const states: string[] = [];
    const channels: FrameChannel[] = [];
    link.onState = (s) => states.push(describeState(s));
    link.onChannel = (c) => channels.push(c);
    link.start();
    await vi.advanceTimersByTimeAsync(0);
    const closedReasons: string[] = [];
    channels[0].onClose = (reason) => closedReasons.push(reason); // the user's handler does not break reconnection
    coordinator.farEnds[0].close('coordinator restarting');
    await vi.advanceTimersByTimeAsync(10);
    expect(closedReasons).toEqual(['the peer closed the channel']);
    expect(states.slice(-2)).toEqual(['closed: the peer closed the channel', 'retrying #2 in 100: the peer closed the channel']);
    await vi.advanceTimersByTimeAsync(100);
    expect(states.at(-1)).toBe('open');
    expect(channels).toHaveLength(2);
    expect(channels[1]).not.toBe(channels[0]);
    expect(channels[1].open).toBe(true);

    // Frames flow on the new channel.
    const received: Uint8Array[] = [];
    coordinator.farEnds[1].onFrame = (f) => received.push(f);
    await channels[1].send(new Uint8Array([42]));
    await vi.advanceTimersByTimeAsync(1);
    expect(received).toEqual([new Uint8Array([42])]);
    link.stop();
  });

  it('resets the backoff only after a channel stayed open long enough', async () => {
    const coordinator = flakyCoordinator(0);
    const link = new ReconnectingCoordinatorLink(coordinator.connect, { backoff: policy, random: () => 0, stableAfterMs: 5_000 });
    const delays: number[] = [];
    link.onState = (s) => {
      if (s.kind === 'retrying') delays.push(s.delayMs);
    };
    link.start();
    await vi.advanceTimersByTimeAsync(0);
    for (let i = 0; i < 3; i++) {
      coordinator.farEnds.at(-1)!.close('flapping'); // closes right after opening: keep backing off
      await vi.advanceTimersByTimeAsync(2_000);
    }
    expect(delays).toEqual([100, 200, 400]);
    await vi.advanceTimersByTimeAsync(6_000);
    coordinator.farEnds.at(-1)!.close('restart after a long session');
    await vi.advanceTimersByTimeAsync(10);
    expect(delays.at(-1)).toBe(100);
    link.stop();
  });

  it('stop() closes the channel, cancels a pending retry, and discards an attempt still in flight', async () => {
    const coordinator = flakyCoordinator(1);
    const link = new ReconnectingCoordinatorLink(coordinator.connect, { backoff: policy, random: () => 0 });
    link.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(link.state.kind).toBe('retrying');
    link.stop('contributor paused');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(coordinator.calls()).toBe(1);
    expect(link.state).toEqual({ kind: 'stopped', reason: 'contributor paused' });

    let release: (c: FrameChannel) => void = () => {};
    const [near] = createFrameChannelPair();
    const slow = new ReconnectingCoordinatorLink(() => new Promise<FrameChannel>((resolve) => (release = resolve)), { backoff: policy });
    slow.start();
    slow.stop();
    release(near);
    await vi.advanceTimersByTimeAsync(0);
    expect(near.open).toBe(false);
    expect(slow.state.kind).toBe('stopped');
  });

  it('retryNow() skips the wait, and a connect function that throws counts as a failed attempt', async () => {
    let calls = 0;
    const link = new ReconnectingCoordinatorLink(
      () => {
        calls++;
        throw new Error('WebRTC is not available in this browser');
      },
      { backoff: policy, random: () => 0 },
    );
    const states: string[] = [];
    link.onState = (s) => states.push(describeState(s));
    link.start();
    await vi.advanceTimersByTimeAsync(0);
    link.retryNow();
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toBe(2);
    expect(states).toEqual([
      'connecting #1',
      'retrying #2 in 100: WebRTC is not available in this browser',
      'connecting #2',
      'retrying #3 in 200: WebRTC is not available in this browser',
    ]);
    link.stop();
  });
});
