import { describe, expect, it } from 'vitest';
import { FrameChannelClosedError, MAX_FRAME_BYTES } from './frameChannel.ts';
import { createFrameChannelPair } from './memoryFrameChannel.ts';

const bytes = (...values: number[]) => new Uint8Array(values);

function collect(channel: { onFrame: ((f: Uint8Array) => void) | null }): Uint8Array[] {
  const frames: Uint8Array[] = [];
  channel.onFrame = (frame) => frames.push(frame);
  return frames;
}

const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 5));

describe('createFrameChannelPair', () => {
  it('delivers frames both ways, in order, in a later task, as copies', async () => {
    const [a, b] = createFrameChannelPair({ peerIds: ['bob', 'alice'] });
    expect(a.peerId).toBe('bob');
    expect(b.peerId).toBe('alice');
    const atB = collect(b);
    const atA = collect(a);
    const frame = bytes(1, 2, 3);
    const sent = a.send(frame);
    frame[0] = 99; // the sender reuses its buffer: the frame on the wire must not change
    await b.send(bytes(7));
    expect(atB).toEqual([]); // not synchronous
    await sent;
    await a.send(bytes(4, 5));
    await settle();
    expect(atB).toEqual([bytes(1, 2, 3), bytes(4, 5)]);
    expect(atA).toEqual([bytes(7)]);
  });

  it('keeps frames that arrive before onFrame is set', async () => {
    const [a, b] = createFrameChannelPair();
    await a.send(bytes(1));
    await a.send(bytes(2));
    await settle();
    expect(collect(b)).toEqual([bytes(1), bytes(2)]);
  });

  it('applies backpressure: bufferedAmount grows past the high-water mark only by one frame, and drains', async () => {
    const watermarks = { highWaterMark: 64 * 1024, lowWaterMark: 16 * 1024 };
    const [a, b] = createFrameChannelPair({ watermarks, bytesPerTick: 32 * 1024 });
    const received = collect(b);
    let peak = 0;
    const frame = new Uint8Array(16 * 1024).fill(5);
    for (let i = 0; i < 64; i++) {
      const sent = a.send(frame);
      peak = Math.max(peak, a.bufferedAmount);
      await sent;
      expect(a.bufferedAmount).toBeLessThan(watermarks.highWaterMark); // what send() promises on resolving
    }
    expect(peak).toBeGreaterThanOrEqual(watermarks.highWaterMark);
    expect(peak).toBeLessThan(watermarks.highWaterMark + frame.byteLength);
    await settle();
    await settle();
    expect(received).toHaveLength(64);
    expect(a.bufferedAmount).toBe(0);
  });

  it('closing one end delivers what was in flight, then closes the other end once', async () => {
    const [a, b] = createFrameChannelPair();
    const received = collect(b);
    const closedA: string[] = [];
    const closedB: string[] = [];
    a.onClose = (reason) => closedA.push(reason);
    b.onClose = (reason) => closedB.push(reason);
    void a.send(bytes(1));
    void a.send(bytes(2));
    a.close('done for today');
    expect(a.open).toBe(false);
    expect(closedA).toEqual(['done for today']);
    await settle();
    expect(received).toEqual([bytes(1), bytes(2)]);
    expect(closedB).toEqual(['the peer closed the channel']);
    expect(b.open).toBe(false);
    a.close('again');
    await settle();
    expect(closedA).toHaveLength(1);
    expect(closedB).toHaveLength(1);
  });

  it('rejects sends on a closed channel with the reason, and frames no channel may carry', async () => {
    const [a, b] = createFrameChannelPair();
    await expect(a.send(new Uint8Array(0))).rejects.toThrow(/must not be empty/);
    await expect(a.send(new Uint8Array(MAX_FRAME_BYTES + 1))).rejects.toThrow(/over the 65536-byte limit: split it/);
    await expect(a.send([1, 2, 3] as unknown as Uint8Array)).rejects.toThrow(/must be a Uint8Array/);
    await a.send(new Uint8Array(MAX_FRAME_BYTES)); // exactly the limit is fine
    b.close('coordinator shutting down');
    await settle();
    const error = await a.send(bytes(1)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FrameChannelClosedError);
    expect((error as Error).message).toBe(
      'The channel to peer-b is closed (the peer closed the channel); the frame was not sent. Reconnect and send it again.',
    );
  });

  it('reports a close to an onClose handler set afterwards', async () => {
    const [a] = createFrameChannelPair();
    a.close('early');
    const reasons: string[] = [];
    a.onClose = (reason) => reasons.push(reason);
    expect(reasons).toEqual(['early']);
  });
});
