// The binary envelope of one message, and its validation. Layout (little-endian):
//   u32 magic "SGRD" · u16 protocol version · u16 reserved (0) · u32 header length
//   header: UTF-8 JSON {type, body, tensors: [{name, dtype, length}]}, padded to 4 bytes
//   tensor payloads in declared order, 4-byte elements
// Decoding rejects anything it does not expect: wrong magic or version, lengths that do not
// add up, unknown types, bodies that fail their schema, missing or extra tensors.

import { PROTOCOL_VERSION, messageTable, type AnyMessage, type MessageDefinition, type TensorDtype } from './messages.ts';

const MAGIC = 0x44524753; // "SGRD" read as a little-endian u32
const PREFIX_BYTES = 12;
/** Largest JSON header we accept; bodies are small, tensors travel outside the JSON. */
const MAX_HEADER_BYTES = 64 * 1024;

export class ProtocolError extends Error {
  override name = 'ProtocolError';
  constructor(
    readonly code: 'malformed' | 'unknown-type' | 'version-mismatch' | 'oversized',
    message: string,
  ) {
    super(message);
  }
}

interface TensorHeader {
  name: string;
  dtype: TensorDtype;
  length: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeMessage(message: AnyMessage): Uint8Array {
  const tensors = Object.entries(message.tensors as Record<string, Float32Array | Uint32Array>);
  const tensorHeaders: TensorHeader[] = tensors.map(([name, array]) => ({
    name,
    dtype: array instanceof Float32Array ? 'f32' : 'u32',
    length: array.length,
  }));
  const header = encoder.encode(JSON.stringify({ type: message.type, body: message.body, tensors: tensorHeaders }));
  const headerPadded = Math.ceil(header.length / 4) * 4;
  const tensorBytes = tensors.reduce((n, [, a]) => n + a.byteLength, 0);
  const out = new Uint8Array(PREFIX_BYTES + headerPadded + tensorBytes);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint16(4, PROTOCOL_VERSION, true);
  view.setUint16(6, 0, true);
  view.setUint32(8, header.length, true);
  out.set(header, PREFIX_BYTES);
  let offset = PREFIX_BYTES + headerPadded;
  for (const [, array] of tensors) {
    out.set(new Uint8Array(array.buffer, array.byteOffset, array.byteLength), offset);
    offset += array.byteLength;
  }
  return out;
}

/**
 * Decode and validate one message against the definitions a receiver accepts. Throws
 * ProtocolError with a code and a message saying what is wrong.
 */
export function decodeMessage<M extends AnyMessage>(bytes: Uint8Array, accepted: ReadonlyMap<string, MessageDefinition>): M {
  if (bytes.length < PREFIX_BYTES) throw new ProtocolError('malformed', `A message needs at least ${PREFIX_BYTES} bytes, got ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) throw new ProtocolError('malformed', 'Not a swarmgrad message (bad magic number)');
  const version = view.getUint16(4, true);
  if (version !== PROTOCOL_VERSION) {
    throw new ProtocolError(
      'version-mismatch',
      `Protocol version ${version} is not supported (this side speaks ${PROTOCOL_VERSION}); reload the page to get the current version`,
    );
  }
  const headerLength = view.getUint32(8, true);
  if (headerLength > MAX_HEADER_BYTES) throw new ProtocolError('oversized', `Message header of ${headerLength} bytes exceeds ${MAX_HEADER_BYTES}`);
  const headerEnd = PREFIX_BYTES + headerLength;
  if (headerEnd > bytes.length) throw new ProtocolError('malformed', `Header of ${headerLength} bytes runs past the message's ${bytes.length} bytes`);
  let header: unknown;
  try {
    header = JSON.parse(decoder.decode(bytes.subarray(PREFIX_BYTES, headerEnd)));
  } catch (error) {
    throw new ProtocolError('malformed', `Message header is not valid UTF-8 JSON: ${(error as Error).message}`);
  }
  const { type, body, tensors } = (header ?? {}) as { type?: unknown; body?: unknown; tensors?: unknown };
  if (typeof type !== 'string') throw new ProtocolError('malformed', 'Message header has no type');
  const def = accepted.get(type);
  if (!def) throw new ProtocolError('unknown-type', `Unexpected message type ${JSON.stringify(type.slice(0, 40))}`);
  const parsed = def.body.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ProtocolError('malformed', `Invalid ${type} message: ${issue.path.join('.') || 'body'}: ${issue.message}`);
  }
  const declared = parseTensorHeaders(tensors, type);
  const expected = Object.entries(def.tensors);
  if (declared.length !== expected.length || expected.some(([name, dtype], i) => declared[i]?.name !== name || declared[i]?.dtype !== dtype)) {
    throw new ProtocolError(
      'malformed',
      `A ${type} message carries tensors ${expected.map(([n, d]) => `${n}:${d}`).join(', ') || 'none'}; got ${declared.map((t) => `${t.name}:${t.dtype}`).join(', ') || 'none'}`,
    );
  }
  let offset = PREFIX_BYTES + Math.ceil(headerLength / 4) * 4;
  const payloadBytes = declared.reduce((n, t) => n + 4 * t.length, 0);
  if (offset + payloadBytes !== bytes.length) {
    throw new ProtocolError('malformed', `A ${type} message declares ${payloadBytes} tensor bytes but carries ${bytes.length - offset}`);
  }
  const decodedTensors: Record<string, Float32Array | Uint32Array> = {};
  for (const t of declared) {
    // Copy into an aligned buffer: frames may leave the payload at any byte offset.
    const copy = bytes.slice(offset, offset + 4 * t.length);
    decodedTensors[t.name] = t.dtype === 'f32' ? new Float32Array(copy.buffer) : new Uint32Array(copy.buffer);
    offset += 4 * t.length;
  }
  return { type, body: parsed.data, tensors: decodedTensors } as M;
}

function parseTensorHeaders(tensors: unknown, type: string): TensorHeader[] {
  if (tensors === undefined) return [];
  if (!Array.isArray(tensors) || tensors.length > 8) throw new ProtocolError('malformed', `A ${type} message's tensor list is malformed`);
  return tensors.map((t) => {
    const { name, dtype, length } = (t ?? {}) as Partial<TensorHeader>;
    if (typeof name !== 'string' || (dtype !== 'f32' && dtype !== 'u32') || !Number.isSafeInteger(length) || length! < 0) {
      throw new ProtocolError('malformed', `A ${type} message declares a malformed tensor ${JSON.stringify(t)}`);
    }
    return { name, dtype, length: length! };
  });
}

export { messageTable };
