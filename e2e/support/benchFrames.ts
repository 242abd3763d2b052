// The tiny frame protocol the network tests and measurements speak over a FrameChannel, shared
// by the test page (bundled by Vite) and the Node test server (run by tsx). It stands in for
// src/protocol/ so that the transport is measured on its own.
//
// Every frame starts with a tag byte:
//   ECHO    payload…                  the server sends the frame back unchanged
//   SINK    u32 sequence, payload…    the server counts it
//   SOURCE  u32 sequence, payload…    the server's stream to the page
//   CONTROL UTF-8 JSON                requests and reports, below

export const Tag = { ECHO: 1, SINK: 2, SOURCE: 3, CONTROL: 4 } as const;

export type ControlMessage =
  | { op: 'sink-report' }
  | { op: 'sink-reported'; frames: number; bytes: number; outOfOrder: number; cpuMs: number }
  | { op: 'source'; bytes: number; frameBytes: number }
  | { op: 'source-done'; frames: number; bytes: number; cpuMs: number }
  | { op: 'reset-cpu' };

export function encodeControl(message: ControlMessage): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(message));
  const frame = new Uint8Array(1 + json.byteLength);
  frame[0] = Tag.CONTROL;
  frame.set(json, 1);
  return frame;
}

export function decodeControl(frame: Uint8Array): ControlMessage {
  if (frame[0] !== Tag.CONTROL) throw new Error(`expected a CONTROL frame, got tag ${frame[0]}`);
  return JSON.parse(new TextDecoder().decode(frame.subarray(1))) as ControlMessage;
}

/** A SINK or SOURCE frame of `frameBytes` bytes carrying `sequence`; the payload is a cheap pattern. */
export function sequencedFrame(tag: number, sequence: number, frameBytes: number): Uint8Array {
  const frame = new Uint8Array(frameBytes);
  frame[0] = tag;
  new DataView(frame.buffer).setUint32(1, sequence);
  frame.fill(sequence & 0xff, 5);
  return frame;
}

export function sequenceOf(frame: Uint8Array): number {
  return new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(1);
}
