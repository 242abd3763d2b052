// The .npy reader: files NumPy wrote (test/fixtures/npy, made once by make.py there; no
// Python at test time) read back value for value and byte for byte, every refusal from a
// hand-built buffer, and the two arrays of a split into an ImageDataset checked against a model.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DatasetUnavailableError } from './fashionMnistNode.ts';
import { type NpyArray, type NpyDtype, NpyFormatError, checkDatasetAgainstModel, encodeNpy, npyDataset, parseNpy } from './npy.ts';
import { loadNpyFile } from './npyNode.ts';

const FIXTURES = join(import.meta.dirname, '../../test/fixtures/npy');
const fixture = (name: string) => join(FIXTURES, name);
const readFixture = (name: string) => parseNpy(new Uint8Array(readFileSync(fixture(name))), name);

/** The fixture's pixels: (i·11) mod 256, shape [4, 1, 3, 2]. */
const PIXELS = Array.from({ length: 24 }, (_, i) => (i * 11) % 256);
const LABELS = [0, 2, 1, 2];

/** A .npy with any header text (padded to 64 bytes as NumPy does) and data bytes. */
function npyBytes(header: string, data: ArrayLike<number> = [], { major = 1, minor = 0, pad = true } = {}): Uint8Array {
  const lengthBytes = major === 1 ? 2 : 4;
  const text = pad ? header.padEnd(Math.ceil((8 + lengthBytes + header.length + 1) / 64) * 64 - 8 - lengthBytes - 1, ' ') + '\n' : header;
  const encoded = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + lengthBytes + encoded.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, minor]);
  const view = new DataView(out.buffer);
  if (lengthBytes === 2) view.setUint16(8, encoded.length, true);
  else view.setUint32(8, encoded.length, true);
  out.set(encoded, 8 + lengthBytes);
  out.set(data, 8 + lengthBytes + encoded.length);
  return out;
}

const header = (descr: string, shape: string, fortran = 'False') => `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }`;

describe('parseNpy reads what NumPy writes', () => {
  it('u1 images [4, 1, 3, 2] and i8 labels', () => {
    const images = readFixture('images-u1.npy');
    expect(images).toMatchObject({ dtype: 'u1', shape: [4, 1, 3, 2], source: 'images-u1.npy' });
    expect([...images.data]).toEqual(PIXELS);
    const labels = readFixture('labels-i8.npy');
    expect(labels.dtype).toBe('i8');
    expect(labels.shape).toEqual([4]);
    expect([...labels.data]).toEqual(LABELS);
  });

  it.each(['u1', 'i1', 'u2', 'i2', 'u4', 'i4'])('labels as %s', (dtype) => {
    const labels = readFixture(`labels-${dtype}.npy`);
    expect(labels.dtype).toBe(dtype);
    expect([...labels.data]).toEqual(LABELS);
  });

  it('format versions 2.0 and 3.0', () => {
    expect([...readFixture('labels-i8-v2.npy').data]).toEqual(LABELS);
    const v3 = readFixture('images-f4-v3.npy');
    expect(v3).toMatchObject({ dtype: 'f4', shape: [4, 1, 3, 2] });
    expect([...v3.data]).toEqual(PIXELS.map((p) => Math.fround(Math.fround(p) / 255)));
  });

  it('f4 and f8', () => {
    expect([...readFixture('images-f4.npy').data]).toEqual([...readFixture('images-f4-v3.npy').data]);
    const f8 = readFixture('inputs-f8.npy');
    expect(f8).toMatchObject({ dtype: 'f8', shape: [2, 3] });
    expect([...f8.data]).toEqual([0, 0.1, 0.5, 1, 0.25, 0.999]);
  });

  it('refuses NumPy’s Fortran-order and big-endian files, saying what to do', () => {
    expect(() => readFixture('fortran-f4.npy')).toThrow(/fortran-f4.npy: fortran_order is True .*np.ascontiguousarray/);
    expect(() => readFixture('big-endian-f4.npy')).toThrow(/big-endian-f4.npy: dtype ">f4" is big-endian; save it little-endian/);
  });

  it('encodeNpy writes NumPy’s bytes exactly, and reads back every dtype and version', () => {
    expect(encodeNpy('u1', [4, 1, 3, 2], PIXELS)).toEqual(new Uint8Array(readFileSync(fixture('images-u1.npy'))));
    expect(encodeNpy('i8', [4], LABELS)).toEqual(new Uint8Array(readFileSync(fixture('labels-i8.npy'))));
    expect(encodeNpy('i8', [4], LABELS, 2)).toEqual(new Uint8Array(readFileSync(fixture('labels-i8-v2.npy'))));
    const values: Record<NpyDtype, number[]> = {
      u1: [0, 255], i1: [-128, 127], u2: [0, 65535], i2: [-32768, 32767], u4: [0, 2 ** 32 - 1], i4: [-(2 ** 31), 2 ** 31 - 1],
      u8: [0, 2 ** 53 - 1], i8: [-(2 ** 53 - 1), 2 ** 53 - 1], f4: [-1.5, 0.25], f8: [Math.PI, -1e300],
    };
    for (const [dtype, v] of Object.entries(values) as [NpyDtype, number[]][]) {
      for (const version of [1, 2, 3] as const) {
        const parsed = parseNpy(encodeNpy(dtype, [1, 2], v, version));
        expect(parsed.dtype).toBe(dtype);
        expect(parsed.shape).toEqual([1, 2]);
        expect([...parsed.data]).toEqual(v);
      }
    }
    expect(parseNpy(encodeNpy('f4', [], [7])).shape).toEqual([]);
  });

  it('data is a view into the input where aligned, an aligned copy where not', () => {
    const inner = encodeNpy('f4', [3], [1, 2, 3]);
    const outer = new Uint8Array(inner.length + 3);
    outer.set(inner, 3);
    expect([...parseNpy(outer.subarray(3)).data]).toEqual([1, 2, 3]);
    expect(parseNpy(outer.subarray(3)).data.buffer).not.toBe(outer.buffer);
    const bytes = encodeNpy('u1', [2], [9, 8]);
    expect(parseNpy(bytes).data.buffer).toBe(bytes.buffer);
    expect(parseNpy(inner).data.buffer).toBe(inner.buffer);
  });
});

describe('parseNpy refuses, naming the file', () => {
  const f4 = header('<f4', '(2,)');
  const twoFloats = new Uint8Array(8);
  const cases: [string, Uint8Array, RegExp][] = [
    ['wrong magic', Uint8Array.from([0x50, 0x4b, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0]), /x.npy: not a .npy file \(it starts 50 4b 03 04 00 00, a .npy starts 93 4e 55 4d 50 59/],
    ['an empty file', new Uint8Array(0), /x.npy: not a .npy file \(it starts empty/],
    ['version 4.0', npyBytes(f4, twoFloats, { major: 4 }), /x.npy: .npy format version 4.0 is not supported \(1.0, 2.0 and 3.0 are\)/],
    ['version 0.1', npyBytes(f4, twoFloats, { major: 0, minor: 1 }), /version 0.1 is not supported/],
    ['fortran_order True', npyBytes(header('<f4', '(1, 2)', 'True'), twoFloats), /x.npy: fortran_order is True \(column-major\); save it in C order/],
    ['big-endian', npyBytes(header('>i4', '(2,)'), twoFloats), /x.npy: dtype ">i4" is big-endian/],
    ['complex', npyBytes(header('<c8', '(2,)'), new Uint8Array(16)), /x.npy: dtype "<c8" is not supported \(u1, i1, u2, i2, u4, i4, u8, i8, f4, f8, little-endian\); convert it/],
    ['bool', npyBytes(header('|b1', '(2,)'), new Uint8Array(2)), /dtype "\|b1" is not supported/],
    ['half', npyBytes(header('<f2', '(2,)'), new Uint8Array(4)), /dtype "<f2" is not supported/],
    ['object', npyBytes(header('|O', '(2,)'), new Uint8Array(16)), /dtype "\|O" is not supported/],
    ['structured', npyBytes("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", twoFloats), /x.npy: the array has a structured dtype/],
    ['truncated data', npyBytes(f4, new Uint8Array(7)), /x.npy: shape \(2\) of f4 needs 8 data bytes, the file has 7 \(truncated\)/],
    ['trailing data', npyBytes(f4, new Uint8Array(9)), /needs 8 data bytes, the file has 9 \(trailing data\)/],
    ['shape and data disagree', npyBytes(header('<f4', '(3, 4)'), new Uint8Array(44)), /shape \(3, 4\) of f4 needs 48 data bytes, the file has 44 \(truncated\)/],
    ['a truncated header', npyBytes(f4).subarray(0, 40), /x.npy: the header declares 118 bytes but the file ends after 30 of them \(truncated\)/],
    ['a missing key', npyBytes("{'descr': '<f4', 'fortran_order': False, }", twoFloats), /x.npy: the header's shape is missing/],
    ['an unknown key', npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", twoFloats), /cannot parse .*unexpected value/],
    ['an extra key', npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 'y'}", twoFloats), /unexpected header key "x"/],
    ['a negative dim', npyBytes(header('<f4', '(-2,)'), twoFloats), /a shape holds non-negative integers/],
    ['not a dict', npyBytes('[1, 2]', twoFloats), /cannot parse the header .*expected "\{"/],
    ['a non-ASCII v1 header', npyBytes(header('<f4', '(2,)') + ' é', twoFloats), /x.npy: a version 1.0 header must be ASCII/],
  ];
  it.each(cases)('%s', (_, bytes, message) => {
    expect(() => parseNpy(bytes, 'x.npy')).toThrow(NpyFormatError);
    expect(() => parseNpy(bytes, 'x.npy')).toThrow(message);
  });

  it('an i8 beyond 2^53', () => {
    const bytes = npyBytes(header('<i8', '(1,)'), new Uint8Array(8).fill(0x7f));
    expect(() => parseNpy(bytes, 'x.npy')).toThrow(/x.npy: element 0 \(9187201950435737471\) is beyond ±2\^53/);
  });

  it('accepts double quotes, a header without the trailing comma, and fortran_order True in 1-D', () => {
    expect(parseNpy(npyBytes('{"descr": "<f4", "shape": (2,), "fortran_order": False}', twoFloats)).shape).toEqual([2]);
    expect(parseNpy(npyBytes(header('<f4', '(2,)', 'True'), twoFloats)).shape).toEqual([2]);
  });
});

describe('loadNpyFile', () => {
  it('reads a file and names it in errors', async () => {
    const labels = await loadNpyFile(fixture('labels-u2.npy'));
    expect(labels.source).toBe(fixture('labels-u2.npy'));
    expect([...labels.data]).toEqual(LABELS);
    await expect(loadNpyFile(fixture('fortran-f4.npy'))).rejects.toThrow(`${fixture('fortran-f4.npy')}: fortran_order is True`);
  });

  it('says a missing file is missing', async () => {
    const missing = fixture('no-such.npy');
    await expect(loadNpyFile(missing)).rejects.toThrow(DatasetUnavailableError);
    await expect(loadNpyFile(missing)).rejects.toThrow(`${missing} is missing`);
    await expect(loadNpyFile(FIXTURES)).rejects.toThrow(`${FIXTURES} is a directory, not a .npy file`);
  });
});

// ---------------------------------------------------------------------------------------

const arr = (dtype: NpyDtype, shape: number[], values: ArrayLike<number>, source = `${dtype}.npy`): NpyArray => ({
  ...parseNpy(encodeNpy(dtype, shape, values)),
  source,
});

describe('npyDataset', () => {
  it('takes u8 images as they are, with i8 labels (the fixture round trip)', () => {
    const ds = npyDataset(readFixture('images-u1.npy'), readFixture('labels-i8.npy'), 'train');
    expect([...ds.images]).toEqual(PIXELS);
    expect([...ds.labels]).toEqual(LABELS);
    expect(ds).toMatchObject({ count: 4, features: 6, classes: 3, exampleShape: [1, 3, 2], inputConversion: { kind: 'bytes' } });
  });

  it('turns float pixels/255 into the same bytes, exactly', () => {
    const ds = npyDataset(readFixture('images-f4.npy'), readFixture('labels-u1.npy'), 'train', 10);
    expect([...ds.images]).toEqual(PIXELS);
    expect(ds.classes).toBe(10);
    expect(ds.inputConversion).toMatchObject({ kind: 'floats-to-bytes', dtype: 'f4', exact: true });
    if (ds.inputConversion.kind === 'floats-to-bytes') expect(ds.inputConversion.maxError).toBeLessThan(1e-7);
  });

  it('rounds other floats in [0, 1] to the nearest byte and says how far', () => {
    const ds = npyDataset(readFixture('inputs-f8.npy'), arr('i4', [2], [1, 0]), 'train');
    expect([...ds.images]).toEqual([0, 26, 128, 255, 64, 255]);
    expect(ds.inputConversion.kind).toBe('floats-to-bytes');
    if (ds.inputConversion.kind !== 'floats-to-bytes') return;
    expect(ds.inputConversion.exact).toBe(false);
    // 0.5 → 128/255 is 0.00196 off, the largest of these.
    expect(ds.inputConversion.maxError).toBeCloseTo(Math.abs(0.5 - 128 / 255), 12);
    expect(ds.inputConversion.note).toMatch(/the backends see round\(255·x\)\/255, up to 0.00196 from x/);
  });

  const x = arr('f4', [2, 3], [0, 0.5, 1, 0.25, 0.75, 1], 'x.npy');
  const y = arr('i8', [2], [1, 0], 'y.npy');
  const cases: [string, () => unknown, RegExp][] = [
    ['1-D inputs', () => npyDataset(arr('u1', [3], [1, 2, 3], 'x.npy'), y, 'train'), /train: the inputs x.npy have shape \(3\); they must be \[N, ...features\]/],
    ['an empty split', () => npyDataset(arr('u1', [0, 3], [], 'x.npy'), arr('i8', [0], []), 'test'), /test: the inputs x.npy hold no examples \(shape \(0, 3\)\): an empty split/],
    ['NaN', () => npyDataset(arr('f4', [2, 3], [0, 0, 0, 0, NaN, 0], 'x.npy'), y, 'train'), /train: the inputs x.npy hold NaN at example 1 \(feature 1\); every input must be finite/],
    ['Infinity', () => npyDataset(arr('f8', [2, 3], [Infinity, 0, 0, 0, 0, 0], 'x.npy'), y, 'train'), /hold Infinity at example 0 \(feature 0\)/],
    ['floats above 1', () => npyDataset(arr('f4', [2, 3], [0, 0, 0, 0, 0, 37], 'x.npy'), y, 'train'), /hold 37 at example 1 \(feature 2\), outside \[0, 1\]; .*scale them to \[0, 1\] \(x \/ 255/],
    ['negative floats', () => npyDataset(arr('f4', [2, 3], [0, -0.5, 0, 0, 0, 0], 'x.npy'), y, 'train'), /hold -0.5 at example 0/],
    ['int16 inputs', () => npyDataset(arr('i2', [2, 3], [0, 0, 0, 0, 0, 0], 'x.npy'), y, 'train'), /the inputs x.npy are i2; inputs must be uint8 \(pixels\) or float32\/float64/],
    ['float labels', () => npyDataset(x, arr('f4', [2], [1, 0], 'y.npy'), 'train'), /the labels y.npy are f4; labels must be integers/],
    ['2-D labels', () => npyDataset(x, arr('i8', [2, 1], [1, 0], 'y.npy'), 'train'), /the labels y.npy have shape \(2, 1\); they must be 1-D/],
    ['a count mismatch', () => npyDataset(x, arr('i8', [3], [1, 0, 1], 'y.npy'), 'train'), /train: 2 inputs in x.npy but 3 labels in y.npy; are the two files from the same split\?/],
    ['a negative label', () => npyDataset(x, arr('i8', [2], [1, -1], 'y.npy'), 'train'), /the label of example 1 in y.npy is -1; labels are class indices ≥ 0/],
    ['a label ≥ classes', () => npyDataset(x, arr('i8', [2], [1, 10], 'y.npy'), 'train', 10), /the label of example 1 in y.npy is 10, outside the 10 classes 0..9/],
    ['a label above 255', () => npyDataset(x, arr('i8', [2], [300, 0], 'y.npy'), 'train'), /the labels in y.npy go up to 300; at most 256 classes/],
    ['classes out of range', () => npyDataset(x, y, 'train', 257), /classes must be an integer in \[1, 256\], got 257/],
  ];
  it.each(cases)('refuses %s', (_, make, message) => {
    expect(make).toThrow(message);
  });
});

describe('checkDatasetAgainstModel', () => {
  const images = (shape: number[], source = 'x.npy') => {
    const n = shape.reduce((a, b) => a * b, 1);
    return npyDataset(arr('u1', shape, new Uint8Array(n), source), arr('u1', [shape[0]], [0, 1]), 'train', 10);
  };

  it('accepts [N,C,H,W] and [N,H,W] for a [C,H,W] model (C = 1), and any shape of the right size for a flat model', () => {
    expect(() => checkDatasetAgainstModel(images([2, 3, 4, 5]), [3, 4, 5], 10, 'train')).not.toThrow();
    expect(() => checkDatasetAgainstModel(images([2, 4, 5]), [1, 4, 5], 10, 'train')).not.toThrow();
    expect(() => checkDatasetAgainstModel(images([2, 20]), [1, 4, 5], 10, 'train')).not.toThrow();
    expect(() => checkDatasetAgainstModel(images([2, 4, 5]), [20], 10, 'train')).not.toThrow();
  });

  it('refuses a size, a shape or a class count that is not the model’s', () => {
    expect(() => checkDatasetAgainstModel(images([2, 28, 28]), [1, 32, 32], 10, 'train')).toThrow(
      "train: each example has 784 values (shape [28, 28]) but the model's input [1, 32, 32] takes 1024; reshape the data or change model.input",
    );
    expect(() => checkDatasetAgainstModel(images([2, 3, 5, 4]), [3, 4, 5], 10, 'train')).toThrow(
      "train: each example has shape [3, 5, 4] but the model's input is [C,H,W] = [3, 4, 5]; reshape",
    );
    expect(() => checkDatasetAgainstModel(images([2, 4, 5, 3]), [3, 4, 5], 10, 'train')).toThrow(
      /it looks channels-last \[N,H,W,C\]; transpose it to \[N,C,H,W\] with np.transpose\(x, \(0, 3, 1, 2\)\)/,
    );
    const labelled = { ...images([2, 20]), labels: Uint8Array.of(3, 7) };
    expect(() => checkDatasetAgainstModel(labelled, [20], 5, 'train')).toThrow('train: the label of example 1 is 7 but the model has 5 outputs (classes 0..4)');
    expect(() => checkDatasetAgainstModel(images([2, 20]), [20], 12, 'train')).toThrow(
      'train: the data set has 10 classes but the model has 12 outputs; if a split lacks the top labels, pass classes = 12 to npyDataset',
    );
  });
});
