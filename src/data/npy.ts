// NumPy's .npy format, the data a job owner brings: `np.save('train-x.npy', x)`.
//
// A file is the magic "\x93NUMPY", a major and a minor version byte, the header length
// (u16 little-endian in v1, u32 in v2 and v3), the header, then the array's bytes. The
// header is a Python dict literal, ASCII (v1, v2) or UTF-8 (v3), space-padded and ending in
// '\n': {'descr': '<f4', 'fortran_order': False, 'shape': (60000, 28, 28), }
// (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html).
//
// Read here: little-endian (or byte-sized) u1, i1, u2, i2, u4, i4, u8, i8, f4, f8 in C
// order. Everything else (big-endian, fortran_order True, structured or object dtypes,
// pickles) is refused with an error naming the file and what to do in NumPy.

import type { ImageDataset } from './dataset.ts';

export class NpyFormatError extends Error {
  override name = 'NpyFormatError';
}

export type NpyDtype = 'u1' | 'i1' | 'u2' | 'i2' | 'u4' | 'i4' | 'u8' | 'i8' | 'f4' | 'f8';

const ITEM_BYTES: Record<NpyDtype, number> = { u1: 1, i1: 1, u2: 2, i2: 2, u4: 4, i4: 4, u8: 8, i8: 8, f4: 4, f8: 8 };
const INTEGER_DTYPES: readonly NpyDtype[] = ['u1', 'i1', 'u2', 'i2', 'u4', 'i4', 'u8', 'i8'];

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  /**
   * The values in C order, little-endian whatever the host: a view into the input where it
   * can be (u1, i1, and the wider types when aligned on a little-endian host), else a copy. u8 and i8 come as Float64Array of exact
   * integers; a value beyond ±2⁵³ is an error.
   */
  data: Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array;
  /** Where it came from (a file path), for errors. */
  source: string;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Parses .npy bytes; `source` (the file's path) starts every error. */
export function parseNpy(bytes: Uint8Array, source = '.npy data'): NpyArray {
  const fail = (why: string): never => {
    throw new NpyFormatError(`${source}: ${why}`);
  };
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    const start = Array.from(bytes.subarray(0, 6), (b) => b.toString(16).padStart(2, '0')).join(' ');
    fail(`not a .npy file (it starts ${start || 'empty'}, a .npy starts 93 4e 55 4d 50 59, "\\x93NUMPY"); write it with numpy.save (a .npz is a zip of them: unzip it first)`);
  }
  const [major, minor] = [bytes[6], bytes[7]];
  if (major < 1 || major > 3) fail(`.npy format version ${major}.${minor} is not supported (1.0, 2.0 and 3.0 are)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lengthBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lengthBytes) fail(`the file ends inside the header length`);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = 8 + lengthBytes + headerLength;
  if (bytes.length < dataStart) fail(`the header declares ${headerLength} bytes but the file ends after ${bytes.length - 8 - lengthBytes} of them (truncated)`);
  const headerBytes = bytes.subarray(8 + lengthBytes, dataStart);
  if (major < 3 && headerBytes.some((b) => b > 0x7f)) fail(`a version ${major}.${minor} header must be ASCII`);
  const header = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);

  const dict = parseHeaderDict(header, fail);
  for (const key of Object.keys(dict)) {
    if (!['descr', 'fortran_order', 'shape'].includes(key)) fail(`unexpected header key ${JSON.stringify(key)} (a .npy header has descr, fortran_order and shape)`);
  }
  const { descr, fortran_order: fortranOrder, shape } = dict;
  if (typeof descr !== 'string') fail(`the header's descr is ${descr === undefined ? 'missing' : `${JSON.stringify(descr)}, not a simple dtype`}; save a plain numeric array (not a structured or record array)`);
  if (typeof fortranOrder !== 'boolean') fail(`the header's fortran_order is ${fortranOrder === undefined ? 'missing' : 'not True or False'}`);
  if (!Array.isArray(shape)) fail(`the header's shape is ${shape === undefined ? 'missing' : 'not a tuple'}`);
  const dims = shape as number[];

  const dtype = parseDescr(descr as string, fail);
  // A 0-D or 1-D array is laid out the same either way; beyond that Fortran order is transposed.
  if (fortranOrder && dims.length > 1) fail('fortran_order is True (column-major); save it in C order: np.save(path, np.ascontiguousarray(x))');
  const count = dims.reduce((a, b) => a * b, 1);
  const expected = count * ITEM_BYTES[dtype];
  const actual = bytes.length - dataStart;
  if (actual !== expected) {
    fail(`shape (${dims.join(', ')}) of ${dtype} needs ${expected} data bytes, the file has ${actual} (${actual < expected ? 'truncated' : 'trailing data'})`);
  }
  return { dtype, shape: dims, data: readValues(bytes.subarray(dataStart), dtype, count, fail), source };
}

type HeaderValue = string | boolean | number[];

/** The header's dict literal: string keys; values a string, True/False, or a tuple of non-negative integers. */
function parseHeaderDict(text: string, fail: (why: string) => never): Record<string, HeaderValue> {
  let i = 0;
  const where = () => `the header ${JSON.stringify(text.trim())} at character ${i}`;
  const skip = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const expect = (c: string) => {
    skip();
    if (text[i] !== c) fail(`cannot parse ${where()}: expected ${JSON.stringify(c)}`);
    i++;
  };
  const string = (): string => {
    skip();
    const quote = text[i];
    if (quote !== "'" && quote !== '"') fail(`cannot parse ${where()}: expected a quoted string`);
    const end = text.indexOf(quote, i + 1);
    if (end < 0) fail(`cannot parse ${where()}: unterminated string`);
    const s = text.slice(i + 1, end);
    i = end + 1;
    return s;
  };
  const value = (): HeaderValue => {
    skip();
    for (const [word, bool] of [['True', true], ['False', false]] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return bool;
      }
    }
    if (text[i] === "'" || text[i] === '"') return string();
    if (text[i] === '(') {
      i++;
      const dims: number[] = [];
      for (;;) {
        skip();
        if (text[i] === ')') break;
        const m = /^\d+/.exec(text.slice(i));
        if (!m) fail(`cannot parse ${where()}: a shape holds non-negative integers`);
        dims.push(Number(m[0]));
        i += m[0].length;
        skip();
        if (text[i] === ',') i++;
        else if (text[i] !== ')') fail(`cannot parse ${where()}: expected "," or ")" in the shape`);
      }
      i++;
      return dims;
    }
    // A structured dtype's descr is a list: say so instead of failing to parse it.
    if (text[i] === '[') fail('the array has a structured dtype (descr is a list of fields); save a plain numeric array');
    return fail(`cannot parse ${where()}: unexpected value`);
  };
  const dict: Record<string, HeaderValue> = {};
  expect('{');
  for (;;) {
    skip();
    if (text[i] === '}') break;
    const key = string();
    expect(':');
    dict[key] = value();
    skip();
    if (text[i] === ',') i++;
    else if (text[i] !== '}') fail(`cannot parse ${where()}: expected "," or "}"`);
  }
  i++;
  skip();
  if (i < text.length) fail(`cannot parse ${where()}: text after the dict`);
  return dict;
}

/** '<f4', '|u1' → 'f4', 'u1'; big-endian multi-byte types and other kinds are refused. */
function parseDescr(descr: string, fail: (why: string) => never): NpyDtype {
  const m = /^([<>|=]?)([a-zA-Z])(\d+)$/.exec(descr);
  const code = m ? `${m[2]}${m[3]}` : '';
  if (!m || !(code in ITEM_BYTES)) {
    const supported = Object.keys(ITEM_BYTES).join(', ');
    return fail(`dtype ${JSON.stringify(descr)} is not supported (${supported}, little-endian); convert it, e.g. x.astype(np.float32) or y.astype(np.int64)`);
  }
  const dtype = code as NpyDtype;
  // '=' is the writer's native order; numpy writes '<' or '>' explicitly, so only '>' is refused.
  if (m[1] === '>' && ITEM_BYTES[dtype] > 1) fail(`dtype ${JSON.stringify(descr)} is big-endian; save it little-endian: x.astype(x.dtype.newbyteorder('<'))`);
  return dtype;
}

/** Whether this host stores numbers little-endian (every browser and Node platform in practice). */
const LITTLE_ENDIAN_HOST = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

function readValues(raw: Uint8Array, dtype: NpyDtype, count: number, fail: (why: string) => never): NpyArray['data'] {
  if (dtype === 'u1') return raw;
  if (dtype === 'i1') return new Int8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  if (LITTLE_ENDIAN_HOST && dtype !== 'u8' && dtype !== 'i8') {
    // The fast path: a view of the input where the data is aligned (NumPy pads the header to
    // 64 bytes, so a whole file read into its own buffer is), else one aligned copy.
    const types = { u2: Uint16Array, i2: Int16Array, u4: Uint32Array, i4: Int32Array, f4: Float32Array, f8: Float64Array } as const;
    if (raw.byteOffset % ITEM_BYTES[dtype] === 0) return new types[dtype](raw.buffer as ArrayBuffer, raw.byteOffset, count);
    return new types[dtype](raw.slice().buffer, 0, count);
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const read = <T extends { [i: number]: number }>(out: T, bytes: number, get: (offset: number) => number): T => {
    for (let i = 0; i < count; i++) out[i] = get(i * bytes);
    return out;
  };
  switch (dtype) {
    case 'u2': return read(new Uint16Array(count), 2, (o) => view.getUint16(o, true));
    case 'i2': return read(new Int16Array(count), 2, (o) => view.getInt16(o, true));
    case 'u4': return read(new Uint32Array(count), 4, (o) => view.getUint32(o, true));
    case 'i4': return read(new Int32Array(count), 4, (o) => view.getInt32(o, true));
    case 'f4': return read(new Float32Array(count), 4, (o) => view.getFloat32(o, true));
    case 'f8': return read(new Float64Array(count), 8, (o) => view.getFloat64(o, true));
    case 'u8':
    case 'i8': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) {
        const v = dtype === 'u8' ? view.getBigUint64(i * 8, true) : view.getBigInt64(i * 8, true);
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) fail(`element ${i} (${v}) is beyond ±2^53`);
        out[i] = Number(v);
      }
      return out;
    }
  }
}

/** Writes a C-order little-endian .npy (fixtures, tests, exports); version 1.0 unless the header needs more. */
export function encodeNpy(dtype: NpyDtype, shape: readonly number[], values: ArrayLike<number>, version: 1 | 2 | 3 = 1): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (values.length !== count) throw new Error(`encodeNpy: shape (${shape.join(', ')}) holds ${count} values, got ${values.length}`);
  const order = ITEM_BYTES[dtype] === 1 ? '|' : '<';
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '${order}${dtype}', 'fortran_order': False, 'shape': ${tuple}, }`;
  const lengthBytes = version === 1 ? 2 : 4;
  // numpy pads the whole preamble to a multiple of 64 bytes, the header ending in '\n'.
  const preamble = Math.ceil((8 + lengthBytes + dict.length + 1) / 64) * 64;
  const headerLength = preamble - 8 - lengthBytes;
  if (version === 1 && headerLength > 0xffff) throw new Error('encodeNpy: the header needs version 2');
  const item = ITEM_BYTES[dtype];
  const out = new Uint8Array(preamble + count * item);
  const view = new DataView(out.buffer);
  out.set(MAGIC);
  out[6] = version;
  if (version === 1) view.setUint16(8, headerLength, true);
  else view.setUint32(8, headerLength, true);
  out.set(new TextEncoder().encode(dict.padEnd(headerLength - 1, ' ') + '\n'), 8 + lengthBytes);
  const put: Record<NpyDtype, (o: number, v: number) => void> = {
    u1: (o, v) => view.setUint8(o, v), i1: (o, v) => view.setInt8(o, v),
    u2: (o, v) => view.setUint16(o, v, true), i2: (o, v) => view.setInt16(o, v, true),
    u4: (o, v) => view.setUint32(o, v, true), i4: (o, v) => view.setInt32(o, v, true),
    u8: (o, v) => view.setBigUint64(o, BigInt(v), true), i8: (o, v) => view.setBigInt64(o, BigInt(v), true),
    f4: (o, v) => view.setFloat32(o, v, true), f8: (o, v) => view.setFloat64(o, v, true),
  };
  for (let i = 0; i < count; i++) put[dtype](preamble + i * item, values[i]);
  return out;
}

// ---------------------------------------------------------------------------------------
// From two arrays to the training data set

/** How the inputs became the dataset's bytes, for the job owner's log. */
export type InputConversion =
  | { kind: 'bytes' }
  | {
      kind: 'floats-to-bytes';
      dtype: 'f4' | 'f8';
      /** Every value is k/255 as that float type rounds it (float32(k/255) for f4): the bytes lose nothing. */
      exact: boolean;
      /** The largest |x − round(255·x)/255| over the inputs, in f64 (float32 rounding of k/255 included). */
      maxError: number;
      note: string;
    };

export interface NpyDataset extends ImageDataset {
  /** One example's shape as the .npy gives it (the inputs' shape without N): [C,H,W], [H,W] or [features]. */
  exampleShape: number[];
  inputConversion: InputConversion;
}

/**
 * Pairs an inputs array [N, ...] with a labels array [N] into the project's ImageDataset.
 *
 * Inputs: uint8 are taken as they are (pixels; the backends feed them as byte/255). float32
 * and float64 must be finite and in [0, 1] (pixels/255; a value outside is an error asking
 * to scale the data) and are rounded to the nearest byte, round(255·x): **the training
 * backends gather u8 inputs today, so they see round(255·x)/255, not x** (exact for data
 * that was bytes/255, an error of up to 1/510 otherwise; `inputConversion` says which and
 * how much). Other input dtypes are refused.
 *
 * Labels: an integer dtype, 1-D, one per example, in [0, classes); classes defaults to the
 * largest label + 1 and is at most 256 (labels are bytes). An empty split is an error.
 * `source` names the split in errors ('train'); each array's own file is named too.
 */
export function npyDataset(inputs: NpyArray, labels: NpyArray, source: string, classes?: number): NpyDataset {
  const fail = (why: string): never => {
    throw new NpyFormatError(`${source}: ${why}`);
  };
  const inName = inputs.source;
  const labelName = labels.source;
  if (inputs.shape.length < 2) fail(`the inputs ${inName} have shape (${inputs.shape.join(', ')}); they must be [N, ...features] (one example per row)`);
  const count = inputs.shape[0];
  const exampleShape = inputs.shape.slice(1);
  const features = exampleShape.reduce((a, b) => a * b, 1);
  if (count < 1) fail(`the inputs ${inName} hold no examples (shape (${inputs.shape.join(', ')})): an empty split cannot be trained or evaluated on`);
  if (features < 1) fail(`the inputs ${inName} have 0 features per example (shape (${inputs.shape.join(', ')}))`);

  let images: Uint8Array;
  let inputConversion: InputConversion;
  if (inputs.dtype === 'u1') {
    images = inputs.data as Uint8Array;
    inputConversion = { kind: 'bytes' };
  } else if (inputs.dtype === 'f4' || inputs.dtype === 'f8') {
    const x = inputs.data;
    images = new Uint8Array(x.length);
    let maxError = 0;
    let exact = true;
    const asStored = inputs.dtype === 'f4' ? Math.fround : (v: number) => v;
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      if (!Number.isFinite(v)) fail(`the inputs ${inName} hold ${v} at example ${Math.floor(i / features)} (feature ${i % features}); every input must be finite`);
      if (v < 0 || v > 1) {
        fail(`the inputs ${inName} hold ${v} at example ${Math.floor(i / features)} (feature ${i % features}), outside [0, 1]; float inputs are pixels/255: scale them to [0, 1] (x / 255 for pixels, or (x − min)/(max − min))`);
      }
      const b = Math.round(v * 255);
      images[i] = b;
      maxError = Math.max(maxError, Math.abs(v - b / 255));
      if (v !== asStored(b / 255)) exact = false;
    }
    const note =
      exact
        ? `the ${inputs.dtype} inputs are exact bytes/255, stored as bytes`
        : `the ${inputs.dtype} inputs are rounded to bytes: the backends see round(255·x)/255, up to ${maxError.toPrecision(3)} from x`;
    inputConversion = { kind: 'floats-to-bytes', dtype: inputs.dtype, exact, maxError, note };
  } else {
    return fail(`the inputs ${inName} are ${inputs.dtype}; inputs must be uint8 (pixels) or float32/float64 in [0, 1] (pixels/255)`);
  }

  if (!INTEGER_DTYPES.includes(labels.dtype)) fail(`the labels ${labelName} are ${labels.dtype}; labels must be integers (y.astype(np.int64))`);
  if (labels.shape.length !== 1) fail(`the labels ${labelName} have shape (${labels.shape.join(', ')}); they must be 1-D, one class index per example`);
  if (labels.shape[0] !== count) fail(`${count} inputs in ${inName} but ${labels.shape[0]} labels in ${labelName}; are the two files from the same split?`);
  if (classes !== undefined && (!Number.isInteger(classes) || classes < 1 || classes > 256)) fail(`classes must be an integer in [1, 256], got ${classes}`);
  const y = labels.data;
  let max = 0;
  for (let i = 0; i < count; i++) {
    if (y[i] < 0) fail(`the label of example ${i} in ${labelName} is ${y[i]}; labels are class indices ≥ 0`);
    if (classes !== undefined && y[i] >= classes) fail(`the label of example ${i} in ${labelName} is ${y[i]}, outside the ${classes} classes 0..${classes - 1}`);
    max = Math.max(max, y[i]);
  }
  if (max > 255) fail(`the labels in ${labelName} go up to ${max}; at most 256 classes (0..255) are supported`);
  return {
    images,
    labels: Uint8Array.from(y),
    count,
    features,
    classes: classes ?? max + 1,
    exampleShape,
    inputConversion,
  };
}

const showShape = (s: readonly number[]) => `[${s.join(', ')}]`;

/**
 * Checks a data set against the model it is to train: the inputs' per-example size is the
 * model's input size and, for a model with an image input [C,H,W], an [N,C,H,W] array has
 * exactly those dims and an [N,H,W] array is [1,H,W]; the class counts are equal.
 */
export function checkDatasetAgainstModel(
  ds: ImageDataset & { exampleShape?: readonly number[] },
  inputShape: readonly number[],
  classes: number,
  source: string,
): void {
  const fail = (why: string): never => {
    throw new Error(`${source}: ${why}`);
  };
  const inputSize = inputShape.reduce((a, b) => a * b, 1);
  const shape = ds.exampleShape ?? [ds.features];
  if (ds.features !== inputSize) {
    fail(`each example has ${ds.features} values (shape ${showShape(shape)}) but the model's input ${showShape(inputShape)} takes ${inputSize}; reshape the data or change model.input`);
  }
  if (inputShape.length === 3) {
    const [c, h, w] = inputShape;
    const got = shape.length === 2 ? [1, ...shape] : shape;
    if (got.length === 3 && (got[0] !== c || got[1] !== h || got[2] !== w)) {
      const channelsLast = got[2] === c && got[0] === h && got[1] === w;
      const hint = channelsLast
        ? ': it looks channels-last [N,H,W,C]; transpose it to [N,C,H,W] with np.transpose(x, (0, 3, 1, 2))'
        : '; reshape the data or change model.input';
      fail(`each example has shape ${showShape(shape)} but the model's input is [C,H,W] = ${showShape(inputShape)}${hint}`);
    }
  }
  const tooHigh = ds.labels.findIndex((label) => label >= classes);
  if (tooHigh >= 0) fail(`the label of example ${tooHigh} is ${ds.labels[tooHigh]} but the model has ${classes} outputs (classes 0..${classes - 1})`);
  if (ds.classes !== classes) {
    fail(`the data set has ${ds.classes} classes but the model has ${classes} outputs; if a split lacks the top labels, pass classes = ${classes} to npyDataset`);
  }
}
