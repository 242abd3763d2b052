// A data channel between two threads of one process, over a worker_threads MessagePort: what
// the load simulation (scripts/bench-load.ts) runs the protocol over, with the coordinator on
// one thread and its simulated contributors on another. Each frame carries the wall-clock
// moment its sender handed it over (performance.timeOrigin + performance.now(): the same
// clock in every thread), so the far end can time what happened between two frames on the
// near end, free of its own event loop's delays.

import type { MessagePort } from 'node:worker_threads';
import type { DataChannelPort, DataChannelPortEvents } from '../../net/portFrameChannel.ts';

type Packet = { frame: Uint8Array; sentAt: number } | { closed: string };

/** Milliseconds on a clock that all threads of the process share. */
export function sharedClockMs(): number {
  return performance.timeOrigin + performance.now();
}

export class ThreadDataChannel implements DataChannelPort {
  bufferedAmountLowThreshold = 0;
  /** When the last frame sent from here was handed over, and when the last one received was sent (shared clock). */
  lastSentAt = 0;
  lastReceivedSentAt = 0;
  #events: DataChannelPortEvents | null = null;
  #open = true;

  constructor(private readonly port: MessagePort) {
    port.on('message', (packet: Packet) => {
      if (!this.#open) return;
      if ('closed' in packet) {
        this.#open = false;
        port.close();
        this.#events?.onClose(packet.closed);
        return;
      }
      this.lastReceivedSentAt = packet.sentAt;
      this.#events?.onMessage(packet.frame);
    });
  }

  /** postMessage hands the bytes over at once: nothing is ever buffered here. */
  get bufferedAmount(): number {
    return 0;
  }

  listen(events: DataChannelPortEvents): void {
    this.#events = events;
  }

  send(frame: Uint8Array): void {
    if (!this.#open) throw new Error('the thread channel is closed');
    // A data channel copies on send; the copy's buffer moves to the other thread.
    const copy = frame.slice();
    this.lastSentAt = sharedClockMs();
    this.port.postMessage({ frame: copy, sentAt: this.lastSentAt } satisfies Packet, [copy.buffer]);
  }

  /** Closes both ends: the far end reports onClose with `reason`. */
  close(reason = 'closed by the other end'): void {
    if (!this.#open) return;
    this.#open = false;
    this.port.postMessage({ closed: reason } satisfies Packet);
    this.port.close();
  }
}
