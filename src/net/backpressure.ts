// Backpressure over a data channel: frames go to the channel while its buffer is below the
// high-water mark and wait in a queue here otherwise; the channel's low-threshold event lets
// them through again. Pure logic over a small interface, shared by the browser (RTCDataChannel),
// Node (node-datachannel) and the in-memory pair, and unit-tested with a fake channel.

import { DEFAULT_WATERMARKS, FrameChannelClosedError, checkWatermarks, type Watermarks } from './frameChannel.ts';

/** What the sender needs from a data channel. Its owner calls handleBufferedAmountLow() on the channel's low-threshold event. */
export interface BufferedSink {
  readonly bufferedAmount: number;
  bufferedAmountLowThreshold: number;
  /** Hands one message to the channel; throws if the channel cannot take it. */
  send(frame: Uint8Array): void;
}

export interface BackpressuredSenderOptions {
  /** Named in errors. */
  readonly peerId: string;
  readonly watermarks?: Watermarks;
  /** Called once if the channel throws on send; the sender has failed by then, its owner should close the channel. */
  readonly onSendFailure?: (reason: string) => void;
}

interface PendingFrame {
  readonly frame: Uint8Array;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

export class BackpressuredSender {
  readonly #sink: BufferedSink;
  readonly #peerId: string;
  readonly #marks: Watermarks;
  readonly #onSendFailure: ((reason: string) => void) | undefined;
  /** Frames not yet handed to the channel, in order. */
  readonly #queue: PendingFrame[] = [];
  #queuedBytes = 0;
  /** Frames handed to the channel that pushed it past the high-water mark: they resolve when it drains. */
  #awaitingDrain: PendingFrame[] = [];
  #closedReason: string | null = null;

  constructor(sink: BufferedSink, options: BackpressuredSenderOptions) {
    const marks = options.watermarks ?? DEFAULT_WATERMARKS;
    checkWatermarks(marks);
    this.#sink = sink;
    this.#peerId = options.peerId;
    this.#marks = marks;
    this.#onSendFailure = options.onSendFailure;
    sink.bufferedAmountLowThreshold = marks.lowWaterMark;
  }

  /** Bytes in the channel's buffer plus bytes still queued here. */
  get bufferedAmount(): number {
    return this.#sink.bufferedAmount + this.#queuedBytes;
  }

  get closed(): boolean {
    return this.#closedReason !== null;
  }

  /** Queues one frame; resolves once it is in the channel and the channel is below the high-water mark. */
  send(frame: Uint8Array): Promise<void> {
    if (this.#closedReason !== null) {
      return Promise.reject(new FrameChannelClosedError(this.#peerId, this.#closedReason));
    }
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ frame, resolve, reject });
      this.#queuedBytes += frame.byteLength;
      this.#pump();
    });
  }

  /** Call on the channel's low-threshold event. */
  handleBufferedAmountLow(): void {
    if (this.#closedReason !== null) return;
    const drained = this.#awaitingDrain;
    this.#awaitingDrain = [];
    for (const pending of drained) pending.resolve();
    this.#pump();
  }

  /** The channel closed: every queued or waiting send rejects, and so does every later one. */
  fail(reason: string): void {
    if (this.#closedReason !== null) return;
    this.#closedReason = reason;
    const error = new FrameChannelClosedError(this.#peerId, reason);
    // Frames already in the channel may still arrive; their senders learn of the close all the same.
    for (const pending of [...this.#awaitingDrain, ...this.#queue]) pending.reject(error);
    this.#awaitingDrain = [];
    this.#queue.length = 0;
    this.#queuedBytes = 0;
  }

  #pump(): void {
    const high = this.#marks.highWaterMark;
    while (this.#queue.length > 0 && this.#closedReason === null && this.#sink.bufferedAmount < high) {
      const pending = this.#queue.shift()!;
      this.#queuedBytes -= pending.frame.byteLength;
      try {
        this.#sink.send(pending.frame);
      } catch (cause) {
        const reason = `the data channel refused a frame: ${cause instanceof Error ? cause.message : String(cause)}`;
        pending.reject(new FrameChannelClosedError(this.#peerId, reason));
        this.fail(reason);
        this.#onSendFailure?.(reason);
        return;
      }
      if (this.#sink.bufferedAmount < high) pending.resolve();
      else this.#awaitingDrain.push(pending);
    }
  }
}
