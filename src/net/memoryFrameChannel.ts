// An in-memory FrameChannel pair for unit tests of the layers above the network. It behaves
// like a data channel where it matters: delivery is asynchronous (a later macrotask), frames
// are copied, order is kept, the sender's bufferedAmount grows and drains with a
// low-threshold event, and closing one end closes the other after in-flight frames arrive.

import type { FrameChannel, Watermarks } from './frameChannel.ts';
import { PortFrameChannel, type DataChannelPort, type DataChannelPortEvents } from './portFrameChannel.ts';

export interface FrameChannelPairOptions {
  /** peerId of each end as seen by the other: [id of a's peer, id of b's peer]. */
  readonly peerIds?: readonly [string, string];
  readonly watermarks?: Watermarks;
  /** Bytes the simulated link moves per macrotask in each direction (default 256 KiB). */
  readonly bytesPerTick?: number;
}

/** Two connected FrameChannels, [a, b]: what a sends, b receives, and back. */
export function createFrameChannelPair(options: FrameChannelPairOptions = {}): [FrameChannel, FrameChannel] {
  const [aPeer, bPeer] = options.peerIds ?? ['peer-b', 'peer-a'];
  const [aPort, bPort] = createSimulatedDataChannelPair(options.bytesPerTick);
  return [
    new PortFrameChannel(aPeer, aPort, { watermarks: options.watermarks }),
    new PortFrameChannel(bPeer, bPort, { watermarks: options.watermarks }),
  ];
}

/** The two ends of a simulated data channel, for tests of code that takes a DataChannelPort. */
export function createSimulatedDataChannelPair(bytesPerTick = 256 * 1024): [DataChannelPort, DataChannelPort] {
  if (!(bytesPerTick > 0)) throw new RangeError(`bytesPerTick must be positive, got ${bytesPerTick}.`);
  const a = new SimulatedDataChannel(bytesPerTick);
  const b = new SimulatedDataChannel(bytesPerTick);
  a.remote = b;
  b.remote = a;
  return [a, b];
}

class SimulatedDataChannel implements DataChannelPort {
  remote: SimulatedDataChannel | null = null;
  bufferedAmountLowThreshold = 0;
  #bufferedAmount = 0;
  readonly #outbox: Uint8Array[] = [];
  readonly #bytesPerTick: number;
  #events: DataChannelPortEvents | null = null;
  #state: 'open' | 'closing' | 'closed' = 'open';
  #tickScheduled = false;

  constructor(bytesPerTick: number) {
    this.#bytesPerTick = bytesPerTick;
  }

  get bufferedAmount(): number {
    return this.#bufferedAmount;
  }

  listen(events: DataChannelPortEvents): void {
    this.#events = events;
  }

  send(frame: Uint8Array): void {
    if (this.#state !== 'open') throw new Error(`the simulated data channel is ${this.#state}`);
    // A real data channel copies the bytes on send: later changes by the caller must not travel.
    this.#outbox.push(frame.slice());
    this.#bufferedAmount += frame.byteLength;
    this.#scheduleTick();
  }

  /** Closing lets in-flight frames reach the other end first, as SCTP does. */
  close(): void {
    if (this.#state !== 'open') return;
    this.#state = 'closing';
    this.#scheduleTick();
  }

  #scheduleTick(): void {
    if (this.#tickScheduled) return;
    this.#tickScheduled = true;
    setTimeout(() => {
      this.#tickScheduled = false;
      this.#transmit();
    }, 0);
  }

  #transmit(): void {
    const before = this.#bufferedAmount;
    let moved = 0;
    while (this.#outbox.length > 0 && moved < this.#bytesPerTick) {
      const frame = this.#outbox.shift()!;
      moved += frame.byteLength;
      this.#bufferedAmount -= frame.byteLength;
      if (this.remote) this.remote.#arrive(frame);
    }
    if (before > this.bufferedAmountLowThreshold && this.#bufferedAmount <= this.bufferedAmountLowThreshold) {
      this.#events?.onBufferedAmountLow();
    }
    if (this.#outbox.length > 0) this.#scheduleTick();
    else if (this.#state === 'closing') {
      this.#state = 'closed';
      if (this.remote) this.remote.#remoteClosed();
    }
  }

  #arrive(frame: Uint8Array): void {
    if (this.#state === 'closed') return;
    this.#events?.onMessage(frame);
  }

  #remoteClosed(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#outbox.length = 0;
    this.#bufferedAmount = 0;
    this.#events?.onClose('the peer closed the channel');
  }
}
