// The transport contract the protocol layer codes against: a reliable, ordered, binary
// channel to one peer with backpressure. WebRTC (browser and Node) and the in-memory pair
// used by unit tests all implement it.

/** A reliable, ordered, binary channel to one peer, with backpressure. */
export interface FrameChannel {
  readonly peerId: string;
  /** Queue one frame (≤ 64 KiB). Resolves once the channel's buffered amount is below its high-water mark; rejects (with a clear Error) if the channel is or becomes closed. */
  send(frame: Uint8Array): Promise<void>;
  /** Called for each received frame, in order. */
  onFrame: ((frame: Uint8Array) => void) | null;
  /** Called once when the channel closes, for whatever reason. */
  onClose: ((reason: string) => void) | null;
  readonly bufferedAmount: number;
  readonly open: boolean;
  close(reason?: string): void;
}

/** Largest frame a channel accepts: every WebRTC stack we meet (Chromium, Firefox, libdatachannel) takes 64 KiB messages. */
export const MAX_FRAME_BYTES = 64 * 1024;

/** When a channel holds more than `highWaterMark` bytes, send() waits until it drains to `lowWaterMark`. */
export interface Watermarks {
  readonly highWaterMark: number;
  readonly lowWaterMark: number;
}

// 1 MiB in flight keeps a loopback or LAN link busy; Chromium closes a data channel whose buffer passes 16 MiB.
export const DEFAULT_WATERMARKS: Watermarks = { highWaterMark: 1024 * 1024, lowWaterMark: 256 * 1024 };

/** Rejects every send on a channel that has closed; says why it closed. */
export class FrameChannelClosedError extends Error {
  override readonly name = 'FrameChannelClosedError';
  constructor(
    readonly peerId: string,
    readonly reason: string,
  ) {
    super(`The channel to ${peerId} is closed (${reason}); the frame was not sent. Reconnect and send it again.`);
  }
}

/** Throws a clear error for a frame no channel may carry. */
export function checkFrame(frame: Uint8Array): void {
  if (!(frame instanceof Uint8Array)) {
    throw new TypeError(`A frame must be a Uint8Array, got ${Object.prototype.toString.call(frame)}.`);
  }
  if (frame.byteLength === 0) {
    // Empty data channel messages take a special SCTP path that some stacks drop or mangle.
    throw new RangeError('A frame must not be empty: the protocol layer always sends at least a header byte.');
  }
  if (frame.byteLength > MAX_FRAME_BYTES) {
    throw new RangeError(
      `A frame of ${frame.byteLength} bytes is over the ${MAX_FRAME_BYTES}-byte limit: split it into smaller frames.`,
    );
  }
}

export function checkWatermarks(marks: Watermarks): void {
  const { highWaterMark, lowWaterMark } = marks;
  if (!Number.isInteger(lowWaterMark) || !Number.isInteger(highWaterMark) || lowWaterMark < 0 || highWaterMark <= lowWaterMark) {
    throw new RangeError(
      `Watermarks need integers with 0 ≤ lowWaterMark < highWaterMark, got low ${lowWaterMark}, high ${highWaterMark}.`,
    );
  }
}

export { BackpressuredSender, type BackpressuredSenderOptions, type BufferedSink } from './backpressure.ts';
export { createFrameChannelPair, type FrameChannelPairOptions } from './memoryFrameChannel.ts';
