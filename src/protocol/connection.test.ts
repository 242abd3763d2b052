// ProtocolConnection.closeWhenSent over a port that behaves like libdatachannel under a peer
// connection closed at once: what the port still buffers when it closes is lost. The
// connection must wait for its buffer to drain (the message saying why is the last one out),
// and give up waiting on a peer that never takes it.

import { describe, expect, it } from 'vitest';
import { PortFrameChannel, type DataChannelPort, type DataChannelPortEvents } from '../net/portFrameChannel.ts';
import { coordinatorSide } from './connection.ts';
import { FrameReassembler } from './frames.ts';
import { decodeMessage } from './codec.ts';
import { COORDINATOR_MESSAGES, messageTable, type CoordinatorMessage } from './messages.ts';

/** Holds what is sent until deliver(); close() drops whatever it still holds. */
class LossyPort implements DataChannelPort {
  bufferedAmountLowThreshold = 0;
  held: Uint8Array[] = [];
  delivered: Uint8Array[] = [];
  closed = false;
  events: DataChannelPortEvents | null = null;
  get bufferedAmount(): number {
    return this.held.reduce((n, f) => n + f.byteLength, 0);
  }
  listen(events: DataChannelPortEvents): void {
    this.events = events;
  }
  send(frame: Uint8Array): void {
    this.held.push(frame.slice());
  }
  deliver(): void {
    this.delivered.push(...this.held.splice(0));
    this.events?.onBufferedAmountLow();
  }
  close(): void {
    this.closed = true;
    this.held.length = 0;
  }
}

function received(port: LossyPort): CoordinatorMessage[] {
  const reassembler = new FrameReassembler({ maxMessageBytes: 1 << 20 });
  const table = messageTable(COORDINATOR_MESSAGES);
  return port.delivered.flatMap((frame) => {
    const bytes = reassembler.push(frame);
    return bytes ? [decodeMessage<CoordinatorMessage>(bytes, table)] : [];
  });
}

const banned: CoordinatorMessage = { type: 'error', body: { code: 'banned', message: 'You are banned from this job: replayed', fatal: true }, tensors: {} };

describe('ProtocolConnection.closeWhenSent', () => {
  it('closes only after the channel has handed on what was sent, so the reason arrives', async () => {
    const port = new LossyPort();
    const conn = coordinatorSide(new PortFrameChannel('contributor-1', port), 1 << 20, { onMessage: () => {} });
    void conn.send(banned);
    const closing = conn.closeWhenSent('banned');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(port.closed).toBe(false); // still buffered: closing now would lose it
    port.deliver();
    await closing;
    expect(port.closed).toBe(true);
    expect(received(port)).toEqual([banned]);
  });

  it('gives up waiting on a peer that never takes the data', async () => {
    const port = new LossyPort();
    const conn = coordinatorSide(new PortFrameChannel('contributor-1', port), 1 << 20, { onMessage: () => {} });
    void conn.send(banned).catch(() => {});
    await conn.closeWhenSent('banned', 100);
    expect(port.closed).toBe(true);
    expect(conn.isOpen).toBe(false);
    expect(received(port)).toEqual([]);
  });
});
