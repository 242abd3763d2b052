// A checkpoint as bytes, and back. Layout (little-endian):
//   u32 magic "SGCK" · u16 format · u16 reserved (0) · u32 header length
//   header: UTF-8 JSON (records.ts CheckpointHeader + array lengths), padded to 4 bytes
//   f32 arrays: params, moment1, moment2 (SGD: none)
//   32-byte SHA-256 of everything before it
// Reading checks all of it, so a truncated or corrupt file is refused with a clear error
// instead of resuming a damaged run. Writing to disk is in checkpointStore.ts.

import { createHash } from 'node:crypto';
import { z } from 'zod';
import { CheckpointHeader, type CheckpointState } from './records.ts';

const MAGIC = 0x4b434753; // "SGCK" read as a little-endian u32
const FORMAT = 1;
const PREFIX_BYTES = 12;
const DIGEST_BYTES = 32;

export class CheckpointError extends Error {
  override name = 'CheckpointError';
  constructor(
    /** corrupt: damaged or truncated bytes (an older file may do); incompatible: intact, but for another job or model. */
    readonly kind: 'corrupt' | 'incompatible',
    message: string,
  ) {
    super(message);
  }
}

/** What the run that loads a checkpoint expects of it. */
export interface CheckpointExpectation {
  jobId: string;
  /** layout.total of the job's model. */
  parameterCount: number;
  optimizer: 'adamw' | 'sgd' | 'outer-nesterov';
}

const StoredHeader = z.strictObject({
  state: CheckpointHeader,
  arrays: z.strictObject({ params: z.number().int(), moment1: z.number().int(), moment2: z.number().int().nullable() }),
});

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

export function serializeCheckpoint(state: CheckpointState): Uint8Array {
  const { params, moment1, moment2, ...header } = state;
  const arrays = [params, moment1, ...(moment2 ? [moment2] : [])];
  const json = encoder.encode(
    JSON.stringify({ state: header, arrays: { params: params.length, moment1: moment1.length, moment2: moment2?.length ?? null } }),
  );
  const headerPadded = Math.ceil(json.length / 4) * 4;
  const arrayBytes = arrays.reduce((n, a) => n + a.byteLength, 0);
  const out = new Uint8Array(PREFIX_BYTES + headerPadded + arrayBytes + DIGEST_BYTES);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint16(4, FORMAT, true);
  view.setUint16(6, 0, true);
  view.setUint32(8, json.length, true);
  out.set(json, PREFIX_BYTES);
  let offset = PREFIX_BYTES + headerPadded;
  for (const a of arrays) {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), offset);
    offset += a.byteLength;
  }
  out.set(sha256(out.subarray(0, offset)), offset);
  return out;
}

/** Parse and validate checkpoint bytes; `source` names the file in errors. */
export function deserializeCheckpoint(bytes: Uint8Array, expect: CheckpointExpectation, source: string): CheckpointState {
  const fail = (what: string, kind: CheckpointError['kind'] = 'corrupt'): never => {
    throw new CheckpointError(kind, `${source}: ${what}`);
  };
  if (bytes.length < PREFIX_BYTES + DIGEST_BYTES) fail(`only ${bytes.length} bytes: truncated (a checkpoint has at least ${PREFIX_BYTES + DIGEST_BYTES})`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) fail('not a swarmgrad checkpoint (bad magic number)');
  const format = view.getUint16(4, true);
  if (format !== FORMAT) fail(`checkpoint format ${format} is not supported (this coordinator reads format ${FORMAT})`);
  const body = bytes.subarray(0, bytes.length - DIGEST_BYTES);
  const digest = bytes.subarray(bytes.length - DIGEST_BYTES);
  const actual = sha256(body);
  if (!actual.every((b, i) => b === digest[i])) fail('checksum mismatch: the file is truncated or corrupt');

  const headerLength = view.getUint32(8, true);
  const headerEnd = PREFIX_BYTES + headerLength;
  if (headerEnd > body.length) fail(`header of ${headerLength} bytes runs past the end of the file`);
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(body.subarray(PREFIX_BYTES, headerEnd)));
  } catch (error) {
    fail(`header is not valid UTF-8 JSON: ${(error as Error).message}`);
  }
  const parsed = StoredHeader.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    fail(`header field ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const { state, arrays } = parsed.data!;

  if (state.jobId !== expect.jobId) {
    fail(`it belongs to job ${state.jobId}, this run is job ${expect.jobId}; start with the job file it was written for, or use another checkpoint directory`, 'incompatible');
  }
  if (state.optimizer.kind !== expect.optimizer) fail(`it holds ${state.optimizer.kind} state, the job uses ${expect.optimizer}`, 'incompatible');
  const n = expect.parameterCount;
  if (arrays.params !== n || arrays.moment1 !== n) fail(`it holds ${arrays.params} parameters, the job's model has ${n}`, 'incompatible');
  if ((expect.optimizer === 'adamw') !== (arrays.moment2 !== null) || (arrays.moment2 !== null && arrays.moment2 !== n)) {
    fail(`its second moment has ${arrays.moment2 ?? 'no'} values; ${expect.optimizer} needs ${expect.optimizer === 'adamw' ? n : 'none'}`, 'incompatible');
  }
  const counts = [arrays.params, arrays.moment1, ...(arrays.moment2 !== null ? [arrays.moment2] : [])];
  let offset = PREFIX_BYTES + Math.ceil(headerLength / 4) * 4;
  const expectedEnd = offset + 4 * counts.reduce((a, b) => a + b, 0);
  if (expectedEnd !== body.length) fail(`the arrays need ${expectedEnd - offset} bytes, the file has ${body.length - offset}`);
  const read = (count: number): Float32Array => {
    const copy = body.slice(offset, offset + 4 * count); // aligned copy
    offset += 4 * count;
    const array = new Float32Array(copy.buffer);
    const bad = array.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) fail(`value ${bad} of an optimizer array is ${array[bad]}; a checkpoint holds finite values only`);
    return array;
  };
  const params = read(arrays.params);
  const moment1 = read(arrays.moment1);
  const moment2 = arrays.moment2 !== null ? read(arrays.moment2) : null;

  if (state.history.length !== state.round) fail(`it records ${state.history.length} closed rounds but says round ${state.round} is next`);
  if (state.optimizer.step !== state.round) fail(`optimizer step ${state.optimizer.step} does not match the ${state.round} closed rounds`);
  return { ...state, params, moment1, moment2 };
}
