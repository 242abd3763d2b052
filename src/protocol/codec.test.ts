import { describe, expect, it } from 'vitest';
import { ProtocolError, decodeMessage, encodeMessage } from './codec.ts';
import { FRAME_BYTES, FRAME_PAYLOAD_BYTES, FrameReassembler, splitIntoFrames } from './frames.ts';
import { CONTRIBUTOR_MESSAGES, COORDINATOR_MESSAGES, PROTOCOL_VERSION, messageTable, type ContributorMessage } from './messages.ts';

const toCoordinator = messageTable(CONTRIBUTOR_MESSAGES);
const toContributor = messageTable(COORDINATOR_MESSAGES);

const result = (gradient: Float32Array): ContributorMessage => ({
  type: 'result',
  body: {
    leaseId: 'L1', version: 3, loss: 0.5, correct: 7, exampleCount: 8, computeMs: 12.5, deviceTimeMs: null,
    encoding: { scheme: 'f32', length: gradient.length, blockSize: null, k: null }, resultHash: 'ab'.repeat(32), signature: 'A'.repeat(86),
  },
  tensors: { update: new Uint32Array(gradient.buffer, gradient.byteOffset, gradient.length) },
});

function expectProtocolError(fn: () => unknown, code: ProtocolError['code'], text: RegExp): void {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).code).toBe(code);
    expect((error as Error).message).toMatch(text);
    return;
  }
  throw new Error('expected a ProtocolError');
}

/** Re-encode a result with its JSON header replaced, to forge bad messages. */
function withHeader(header: unknown, tensorBytes = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 4) * 4;
  const out = new Uint8Array(12 + padded + tensorBytes.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x44524753, true);
  view.setUint16(4, PROTOCOL_VERSION, true);
  view.setUint32(8, json.length, true);
  out.set(json, 12);
  out.set(tensorBytes, 12 + padded);
  return out;
}

describe('message codec', () => {
  it('round-trips a message with a tensor, bit for bit', () => {
    const gradient = Float32Array.from({ length: 1001 }, (_, i) => Math.sin(i) * 1e-3);
    const decoded = decodeMessage<ContributorMessage>(encodeMessage(result(gradient)), toCoordinator);
    expect(decoded.type).toBe('result');
    expect(decoded.body).toEqual(result(gradient).body);
    const update = (decoded.tensors as { update: Uint32Array }).update;
    expect(new Float32Array(update.buffer, update.byteOffset, update.length)).toEqual(gradient);
  });

  it('round-trips u32 tensors and messages without tensors', () => {
    const lease = { type: 'lease', body: { leaseId: 'a:1', version: 0, round: 2, deadlineMs: 5000 }, tensors: { indices: Uint32Array.of(5, 0, 59999) } } as const;
    const decoded = decodeMessage(encodeMessage(lease), toContributor);
    expect(decoded).toEqual(lease);
    const idle = { type: 'idle', body: { reason: 'round closing', retryMs: 500 }, tensors: {} } as const;
    expect(decodeMessage(encodeMessage(idle), toContributor)).toEqual(idle);
  });

  it('rejects bytes that are not a message', () => {
    expectProtocolError(() => decodeMessage(new Uint8Array(5), toCoordinator), 'malformed', /at least 12 bytes/);
    expectProtocolError(() => decodeMessage(new Uint8Array(40), toCoordinator), 'malformed', /bad magic/);
    const bytes = encodeMessage(result(new Float32Array(4)));
    new DataView(bytes.buffer).setUint32(8, 1e6, true);
    expectProtocolError(() => decodeMessage(bytes, toCoordinator), 'oversized', /header of 1000000 bytes/);
    const truncatedJson = withHeader('{"type"'.padEnd(12));
    truncatedJson.set(new TextEncoder().encode('{"type": 1  '), 12);
    expectProtocolError(() => decodeMessage(truncatedJson, toCoordinator), 'malformed', /not valid UTF-8 JSON/);
    expectProtocolError(() => decodeMessage(withHeader({ body: {} }), toCoordinator), 'malformed', /no type/);
  });

  it('rejects another protocol version with a hint to reload', () => {
    const bytes = encodeMessage(result(new Float32Array(4)));
    new DataView(bytes.buffer).setUint16(4, PROTOCOL_VERSION + 1, true);
    expectProtocolError(() => decodeMessage(bytes, toCoordinator), 'version-mismatch', new RegExp(`version ${PROTOCOL_VERSION + 1} is not supported.*reload`));
  });

  it('rejects unknown types and messages meant for the other side', () => {
    expectProtocolError(() => decodeMessage(withHeader({ type: 'launchMissiles', body: {} }), toCoordinator), 'unknown-type', /launchMissiles/);
    const lease = encodeMessage({ type: 'lease', body: { leaseId: 'x', version: 0, round: 0, deadlineMs: 10 }, tensors: { indices: new Uint32Array(1) } });
    expectProtocolError(() => decodeMessage(lease, toCoordinator), 'unknown-type', /"lease"/);
  });

  it('rejects bodies that fail the schema, including unknown keys and non-finite numbers', () => {
    const body = result(new Float32Array(1)).body;
    const tensors = [{ name: 'update', dtype: 'u32', length: 1 }];
    const four = new Uint8Array(4);
    expectProtocolError(() => decodeMessage(withHeader({ type: 'result', body: { ...body, extra: 1 }, tensors }, four), toCoordinator), 'malformed', /Unrecognized key/i);
    expectProtocolError(() => decodeMessage(withHeader({ type: 'result', body: { ...body, loss: 'NaN' }, tensors }, four), toCoordinator), 'malformed', /loss/);
    expectProtocolError(() => decodeMessage(withHeader({ type: 'result', body: { ...body, exampleCount: 0 }, tensors }, four), toCoordinator), 'malformed', /exampleCount/);
    expectProtocolError(() => decodeMessage(withHeader({ type: 'result', body: { ...body, leaseId: '../etc' }, tensors }, four), toCoordinator), 'malformed', /leaseId/);
  });

  it("carries a welcome's model in either form, checked through to its shapes", () => {
    const welcome = (model: unknown) => ({
      type: 'welcome',
      body: {
        contributorId: 'c1',
        job: {
          id: 'job-1', name: 'cnn', model, dataset: { format: 'swarmgrad-u8', url: '/data/0123456789abcdef/' }, parameterCount: 64, sync: { mode: 'every-step' },
          compression: { up: { scheme: 'f32' }, down: { scheme: 'f32' } },
        },
        serverTime: 1, coordinator: { publicKey: `ed25519:${'A'.repeat(43)}`, signature: 'A'.repeat(86) },
      },
      tensors: [],
    });
    const cnn = { input: [1, 6, 6], layers: [{ kind: 'conv2d', outChannels: 2, kernel: 3 }, { kind: 'relu' }, { kind: 'flatten' }, { kind: 'linear', outFeatures: 3 }, { kind: 'softmax-cross-entropy' }] };
    for (const model of [cnn, { widths: [4, 3, 2], activation: 'gelu' }]) {
      const decoded = decodeMessage(withHeader(welcome(model)), toContributor);
      expect(decoded.type === 'welcome' && decoded.body.job.model).toEqual(model);
    }
    const misfit = { ...cnn, layers: [{ kind: 'conv2d', outChannels: 2, kernel: 9 }, ...cnn.layers.slice(1)] };
    expectProtocolError(() => decodeMessage(withHeader(welcome(misfit)), toContributor), 'malformed', /job\.model\.layers\.0|layers/);
  });

  it('rejects missing, extra, mistyped and mis-sized tensors', () => {
    const body = result(new Float32Array(1)).body;
    const f = (tensors: unknown, bytes = new Uint8Array(4)) => () => decodeMessage(withHeader({ type: 'result', body, tensors }, bytes), toCoordinator);
    expectProtocolError(f([], new Uint8Array(0)), 'malformed', /carries tensors update:u32; got none/);
    expectProtocolError(f([{ name: 'update', dtype: 'f32', length: 1 }]), 'malformed', /got update:f32/);
    expectProtocolError(f([{ name: 'update', dtype: 'u32', length: 1 }, { name: 'x', dtype: 'f32', length: 0 }]), 'malformed', /got update:u32, x:f32/);
    expectProtocolError(f([{ name: 'update', dtype: 'u32', length: 2 }]), 'malformed', /declares 8 tensor bytes but carries 4/);
    expectProtocolError(f([{ name: 'update', dtype: 'f64', length: 1 }]), 'malformed', /malformed tensor/);
  });
});

describe('frames', () => {
  const limits = { maxMessageBytes: 1 << 20 };

  it('split and reassemble messages of any size', () => {
    for (const size of [0, 1, FRAME_PAYLOAD_BYTES, FRAME_PAYLOAD_BYTES + 1, 300_000]) {
      const message = Uint8Array.from({ length: size }, (_, i) => (i * 31) & 0xff);
      const frames = splitIntoFrames(message, 42);
      expect(frames.every((f) => f.length <= FRAME_BYTES)).toBe(true);
      const r = new FrameReassembler(limits);
      const outputs = frames.map((f) => r.push(f));
      expect(outputs.slice(0, -1).every((o) => o === null)).toBe(true);
      expect(outputs.at(-1)).toEqual(message);
      expect(r.pendingBytes).toBe(0);
    }
  });

  it('rejects oversized, out-of-order and impossible frames', () => {
    const big = splitIntoFrames(new Uint8Array(3 * FRAME_PAYLOAD_BYTES), 1);
    expectProtocolError(() => new FrameReassembler({ maxMessageBytes: FRAME_PAYLOAD_BYTES }).push(big[0]), 'oversized', /announces 3 frames/);
    expectProtocolError(() => new FrameReassembler(limits).push(big[1]), 'malformed', /starts at frame 1/);
    const r = new FrameReassembler(limits);
    r.push(big[0]);
    expectProtocolError(() => r.push(big[2]), 'malformed', /expected frame 1 of 3, got 2 of 3/);
    expectProtocolError(() => new FrameReassembler(limits).push(new Uint8Array(FRAME_BYTES + 1)), 'oversized', /frame must be/);
    expectProtocolError(() => new FrameReassembler(limits).push(new Uint8Array(3)), 'malformed', /frame must be/);
    const zeroCount = new Uint8Array(8);
    expectProtocolError(() => new FrameReassembler(limits).push(zeroCount), 'malformed', /impossible/);
    const short = splitIntoFrames(new Uint8Array(2 * FRAME_PAYLOAD_BYTES), 9)[0].subarray(0, 100);
    expectProtocolError(() => new FrameReassembler(limits).push(short), 'malformed', /short .* but not the last/);
  });

  it('limits interleaved partial messages', () => {
    const r = new FrameReassembler({ maxMessageBytes: 1 << 20, maxPartialMessages: 2 });
    for (const id of [1, 2]) r.push(splitIntoFrames(new Uint8Array(2 * FRAME_PAYLOAD_BYTES), id)[0]);
    expectProtocolError(() => r.push(splitIntoFrames(new Uint8Array(2 * FRAME_PAYLOAD_BYTES), 3)[0]), 'malformed', /Too many interleaved/);
  });
});
