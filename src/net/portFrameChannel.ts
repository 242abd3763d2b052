// One FrameChannel implementation over any data channel: the browser's RTCDataChannel, Node's
// node-datachannel and the in-memory simulation each supply a small DataChannelPort adapter.

import { BackpressuredSender, type BufferedSink } from './backpressure.ts';
import { checkFrame, type FrameChannel, type Watermarks } from './frameChannel.ts';

/** Events a port reports to its channel. */
export interface DataChannelPortEvents {
  onMessage(frame: Uint8Array): void;
  onBufferedAmountLow(): void;
  /** The underlying channel closed or failed; called at most once. */
  onClose(reason: string): void;
}

/** The parts of a data channel a FrameChannel uses. */
export interface DataChannelPort extends BufferedSink {
  /** Starts reporting events; called once, before any frame is sent. */
  listen(events: DataChannelPortEvents): void;
  /** Closes the underlying channel; it does not report onClose for a close asked for here. */
  close(): void;
}

export interface PortFrameChannelOptions {
  readonly watermarks?: Watermarks;
  /**
   * Called once after the channel closed, after onClose; owners release what they hold for it.
   * `byThisSide`: close() was called here (what was just sent may still be in flight).
   */
  readonly onClosed?: (reason: string, byThisSide: boolean) => void;
}

export class PortFrameChannel implements FrameChannel {
  readonly peerId: string;
  readonly #port: DataChannelPort;
  readonly #sender: BackpressuredSender;
  readonly #onClosed: ((reason: string, byThisSide: boolean) => void) | undefined;
  #onFrame: ((frame: Uint8Array) => void) | null = null;
  #onClose: ((reason: string) => void) | null = null;
  /** Frames that arrived before anyone set onFrame: kept, not dropped. */
  #early: Uint8Array[] = [];
  #closeReason: string | null = null;
  #closeReported = false;

  constructor(peerId: string, port: DataChannelPort, options: PortFrameChannelOptions = {}) {
    this.peerId = peerId;
    this.#port = port;
    this.#onClosed = options.onClosed;
    this.#sender = new BackpressuredSender(port, {
      peerId,
      watermarks: options.watermarks,
      onSendFailure: (reason) => this.close(reason),
    });
    port.listen({
      onMessage: (frame) => this.#receive(frame),
      onBufferedAmountLow: () => this.#sender.handleBufferedAmountLow(),
      onClose: (reason) => this.#finish(reason, false),
    });
  }

  get onFrame(): ((frame: Uint8Array) => void) | null {
    return this.#onFrame;
  }

  set onFrame(handler: ((frame: Uint8Array) => void) | null) {
    this.#onFrame = handler;
    if (handler && this.#early.length > 0) {
      const early = this.#early;
      this.#early = [];
      for (const frame of early) handler(frame);
    }
  }

  get onClose(): ((reason: string) => void) | null {
    return this.#onClose;
  }

  set onClose(handler: ((reason: string) => void) | null) {
    this.#onClose = handler;
    // A handler set after the channel closed still hears about it, once.
    if (handler && this.#closeReason !== null && !this.#closeReported) this.#reportClose();
  }

  get bufferedAmount(): number {
    return this.#sender.bufferedAmount;
  }

  get open(): boolean {
    return this.#closeReason === null;
  }

  send(frame: Uint8Array): Promise<void> {
    try {
      checkFrame(frame);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#sender.send(frame);
  }

  close(reason = 'closed by this side'): void {
    if (this.#closeReason !== null) return;
    this.#finish(reason, true);
    this.#port.close();
  }

  #receive(frame: Uint8Array): void {
    if (this.#closeReason !== null) return;
    if (this.#onFrame) this.#onFrame(frame);
    else this.#early.push(frame);
  }

  #finish(reason: string, byThisSide: boolean): void {
    if (this.#closeReason !== null) return;
    this.#closeReason = reason;
    this.#sender.fail(reason);
    if (this.#onClose) this.#reportClose();
    this.#onClosed?.(reason, byThisSide);
  }

  #reportClose(): void {
    this.#closeReported = true;
    this.#onClose!(this.#closeReason!);
  }
}
