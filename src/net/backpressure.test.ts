import { describe, expect, it } from 'vitest';
import { BackpressuredSender, type BufferedSink } from './backpressure.ts';
import { FrameChannelClosedError } from './frameChannel.ts';

/** A data channel that only buffers: the test decides when bytes leave, as the network would. */
class FakeDataChannel implements BufferedSink {
  bufferedAmount = 0;
  bufferedAmountLowThreshold = -1;
  readonly sent: Uint8Array[] = [];
  refuse: Error | null = null;

  send(frame: Uint8Array): void {
    if (this.refuse) throw this.refuse;
    this.sent.push(frame);
    this.bufferedAmount += frame.byteLength;
  }

  /** Moves bytes out of the buffer; reports whether the low-threshold event would fire. */
  drain(bytes: number): boolean {
    const before = this.bufferedAmount;
    this.bufferedAmount = Math.max(0, this.bufferedAmount - bytes);
    return before > this.bufferedAmountLowThreshold && this.bufferedAmount <= this.bufferedAmountLowThreshold;
  }
}

const frame = (bytes: number, fill = 1): Uint8Array => new Uint8Array(bytes).fill(fill);
const marks = { highWaterMark: 100, lowWaterMark: 40 };
/** Lets settled promises run their callbacks. */
const flush = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

function track(promise: Promise<void>): { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } {
  const result: { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } = { state: 'pending' };
  promise.then(
    () => (result.state = 'resolved'),
    (error) => {
      result.state = 'rejected';
      result.error = error;
    },
  );
  return result;
}

describe('BackpressuredSender', () => {
  it('sets the channel low threshold to the low-water mark', () => {
    const channel = new FakeDataChannel();
    new BackpressuredSender(channel, { peerId: 'p', watermarks: marks });
    expect(channel.bufferedAmountLowThreshold).toBe(40);
  });

  it('resolves at once while the channel stays below the high-water mark', async () => {
    const channel = new FakeDataChannel();
    const sender = new BackpressuredSender(channel, { peerId: 'p', watermarks: marks });
    const first = track(sender.send(frame(30)));
    const second = track(sender.send(frame(30)));
    await flush();
    expect(first.state).toBe('resolved');
    expect(second.state).toBe('resolved');
    expect(channel.sent).toHaveLength(2);
    expect(sender.bufferedAmount).toBe(60);
  });

  it('waits above the high-water mark and resumes on the low-threshold event, in order', async () => {
    const channel = new FakeDataChannel();
    const sender = new BackpressuredSender(channel, { peerId: 'p', watermarks: marks });
    const a = track(sender.send(frame(60, 1)));
    const b = track(sender.send(frame(60, 2))); // pushes the buffer to 120 ≥ 100: waits for drain
    const c = track(sender.send(frame(60, 3))); // must not reach the channel yet
    await flush();
    expect(a.state).toBe('resolved');
    expect(b.state).toBe('pending');
    expect(c.state).toBe('pending');
    expect(channel.sent.map((f) => f[0])).toEqual([1, 2]);
    expect(sender.bufferedAmount).toBe(180); // 120 in the channel + 60 queued

    // Draining to 70 is above the low threshold: no event, nothing moves.
    expect(channel.drain(50)).toBe(false);
    await flush();
    expect(b.state).toBe('pending');

    expect(channel.drain(40)).toBe(true); // 30 ≤ 40
    sender.handleBufferedAmountLow();
    await flush();
    expect(b.state).toBe('resolved');
    expect(c.state).toBe('resolved'); // 30 + 60 = 90 < 100
    expect(channel.sent.map((f) => f[0])).toEqual([1, 2, 3]);
  });

  it('never lets more than one frame past the high-water mark, however many sends are pending', async () => {
    const channel = new FakeDataChannel();
    const sender = new BackpressuredSender(channel, { peerId: 'p', watermarks: marks });
    const all = Array.from({ length: 50 }, (_, i) => sender.send(frame(30, i)));
    let peak = channel.bufferedAmount;
    while (channel.sent.length < 50) {
      peak = Math.max(peak, channel.bufferedAmount);
      if (channel.drain(10)) sender.handleBufferedAmountLow();
    }
    // The last frames resolve only once the channel drains below the low-water mark.
    if (channel.drain(Infinity)) sender.handleBufferedAmountLow();
    await Promise.all(all);
    expect(peak).toBeLessThan(marks.highWaterMark + 30);
    expect(channel.sent.map((f) => f[0])).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('rejects waiting and queued sends when the channel closes, and every later send', async () => {
    const channel = new FakeDataChannel();
    const sender = new BackpressuredSender(channel, { peerId: 'coordinator', watermarks: marks });
    const waiting = track(sender.send(frame(100)));
    const queued = track(sender.send(frame(10)));
    await flush();
    expect(waiting.state).toBe('pending');
    sender.fail('the coordinator closed the connection');
    await flush();
    expect(waiting.state).toBe('rejected');
    expect(queued.state).toBe('rejected');
    expect(queued.error).toBeInstanceOf(FrameChannelClosedError);
    expect((queued.error as Error).message).toMatch(/coordinator is closed \(the coordinator closed the connection\)/);
    await expect(sender.send(frame(1))).rejects.toThrow(/closed/);
    expect(channel.sent).toHaveLength(1);
    expect(sender.bufferedAmount).toBe(100);
  });

  it('fails and tells its owner when the channel refuses a frame', async () => {
    const channel = new FakeDataChannel();
    const failures: string[] = [];
    const sender = new BackpressuredSender(channel, { peerId: 'p', watermarks: marks, onSendFailure: (r) => failures.push(r) });
    channel.refuse = new Error('RTCDataChannel.readyState is not open');
    await expect(sender.send(frame(5))).rejects.toThrow(/refused a frame: RTCDataChannel.readyState is not open/);
    expect(failures).toHaveLength(1);
    expect(sender.closed).toBe(true);
  });

  it('refuses watermarks that cannot work', () => {
    const channel = new FakeDataChannel();
    expect(() => new BackpressuredSender(channel, { peerId: 'p', watermarks: { highWaterMark: 10, lowWaterMark: 10 } })).toThrow(
      /lowWaterMark < highWaterMark/,
    );
  });
});
