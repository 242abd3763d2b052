// Messages cut into frames small enough for any WebRTC data channel, and put back together.
// Frame layout (little-endian): u32 message id · u16 frame index · u16 frame count · payload.
// 16 KiB frames cross every browser pair without fragmentation issues (the interoperable
// SCTP message size); a reassembler enforces size and ordering limits before it buffers.

import { ProtocolError } from './codec.ts';

export const FRAME_BYTES = 16 * 1024;
const FRAME_HEADER_BYTES = 8;
export const FRAME_PAYLOAD_BYTES = FRAME_BYTES - FRAME_HEADER_BYTES;

export function splitIntoFrames(message: Uint8Array, messageId: number): Uint8Array[] {
  const count = Math.max(1, Math.ceil(message.length / FRAME_PAYLOAD_BYTES));
  if (count > 0xffff) throw new Error(`A message of ${message.length} bytes needs ${count} frames, more than 65535`);
  const frames: Uint8Array[] = [];
  for (let index = 0; index < count; index++) {
    const payload = message.subarray(index * FRAME_PAYLOAD_BYTES, (index + 1) * FRAME_PAYLOAD_BYTES);
    const frame = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
    const view = new DataView(frame.buffer);
    view.setUint32(0, messageId >>> 0, true);
    view.setUint16(4, index, true);
    view.setUint16(6, count, true);
    frame.set(payload, FRAME_HEADER_BYTES);
    frames.push(frame);
  }
  return frames;
}

export interface ReassemblerLimits {
  /** Largest message accepted, in bytes. */
  maxMessageBytes: number;
  /** Messages whose frames may be interleaved at once. */
  maxPartialMessages?: number;
}

interface Partial {
  count: number;
  next: number;
  chunks: Uint8Array[];
  bytes: number;
}

/** Turns an ordered stream of frames from one peer back into whole messages. */
export class FrameReassembler {
  private readonly partial = new Map<number, Partial>();

  constructor(private readonly limits: ReassemblerLimits) {}

  /** Returns the completed message, or null while frames are missing. Throws ProtocolError. */
  push(frame: Uint8Array): Uint8Array | null {
    if (frame.length < FRAME_HEADER_BYTES || frame.length > FRAME_BYTES) {
      throw new ProtocolError(frame.length > FRAME_BYTES ? 'oversized' : 'malformed', `A frame must be ${FRAME_HEADER_BYTES}–${FRAME_BYTES} bytes, got ${frame.length}`);
    }
    const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    const id = view.getUint32(0, true);
    const index = view.getUint16(4, true);
    const count = view.getUint16(6, true);
    const payload = frame.subarray(FRAME_HEADER_BYTES);
    if (count === 0 || index >= count) throw new ProtocolError('malformed', `Frame ${index} of ${count} of message ${id} is impossible`);
    if ((count - 1) * FRAME_PAYLOAD_BYTES >= this.limits.maxMessageBytes) {
      throw new ProtocolError('oversized', `Message ${id} announces ${count} frames, more than the ${this.limits.maxMessageBytes}-byte limit allows`);
    }
    let entry = this.partial.get(id);
    if (!entry) {
      if (index !== 0) throw new ProtocolError('malformed', `Message ${id} starts at frame ${index}, not 0`);
      if (this.partial.size >= (this.limits.maxPartialMessages ?? 4)) {
        throw new ProtocolError('malformed', `Too many interleaved messages (more than ${this.limits.maxPartialMessages ?? 4})`);
      }
      entry = { count, next: 0, chunks: [], bytes: 0 };
      this.partial.set(id, entry);
    }
    if (index !== entry.next || count !== entry.count) {
      throw new ProtocolError('malformed', `Message ${id}: expected frame ${entry.next} of ${entry.count}, got ${index} of ${count}`);
    }
    if (index < count - 1 && payload.length !== FRAME_PAYLOAD_BYTES) {
      throw new ProtocolError('malformed', `Message ${id}: frame ${index} is short (${payload.length} bytes) but not the last`);
    }
    entry.bytes += payload.length;
    if (entry.bytes > this.limits.maxMessageBytes) {
      this.partial.delete(id);
      throw new ProtocolError('oversized', `Message ${id} exceeds ${this.limits.maxMessageBytes} bytes`);
    }
    entry.chunks.push(payload.slice());
    entry.next++;
    if (entry.next < entry.count) return null;
    this.partial.delete(id);
    if (entry.chunks.length === 1) return entry.chunks[0];
    const message = new Uint8Array(entry.bytes);
    let offset = 0;
    for (const chunk of entry.chunks) {
      message.set(chunk, offset);
      offset += chunk.length;
    }
    return message;
  }

  /** Bytes held for incomplete messages. */
  get pendingBytes(): number {
    let n = 0;
    for (const p of this.partial.values()) n += p.bytes;
    return n;
  }
}
