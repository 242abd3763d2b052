// A text dataset for next-token models: a UTF-8 file, its character vocabulary, the 90/10
// train/validation split and the sequences a lease names. Pure (bytes in, tokens out), so the
// coordinator, the workers and the tests agree on every token.
//
// It follows nanoGPT's data/shakespeare_char/prepare.py where that is a choice: the vocabulary
// is every distinct character (Unicode code point) of the whole file, sorted by code point, so
// a token id here is the id nanoGPT's stoi gives; train is the first ⌊0.9·n⌋ tokens, validation
// the rest.
//
// Where nanoGPT samples random windows, a lease here names sequence positions, so coverage is
// exactly once per epoch: position k is the window starting at token k·stride, its inputs
// tokens[s, s + T) and its targets tokens[s + 1, s + T + 1) (the next character of each).
// A split of n tokens holds ⌊(n − T − 1)/stride⌋ + 1 such windows.

import type { ImageDataset } from './dataset.ts';

export class TextDatasetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TextDatasetError';
  }
}

export interface CharVocabulary {
  /** The characters, sorted by code point: id i is chars[i]. */
  chars: string[];
}

export interface TextSplit {
  tokens: Uint16Array;
  /** Window length T: the model's context. */
  context: number;
  /** Tokens between the starts of consecutive windows. */
  stride: number;
  /** How many windows the split holds: the positions a lease names are [0, sequences). */
  sequences: number;
}

export interface TextCorpus {
  vocabulary: CharVocabulary;
  train: TextSplit;
  validation: TextSplit;
  /** Characters in the file. */
  characters: number;
}

export interface TextCorpusOptions {
  /** The model's context T. */
  context: number;
  /** The training windows' stride (default T: windows tile the split without overlap); validation windows always tile. */
  stride?: number;
  /** Share of the tokens that train (default 0.9, as nanoGPT). */
  trainFraction?: number;
  /** The model's vocabulary size: a file with more distinct characters is refused. */
  maxVocabulary: number;
  /** Names the file in errors. */
  source?: string;
}

/** Token ids fit a Uint16Array; a vocabulary this large is far past any character model. */
export const MAX_VOCABULARY = 65536;

/** Decodes UTF-8 strictly: a byte sequence that is not UTF-8 is an error naming its offset. */
export function decodeUtf8(bytes: Uint8Array, source = 'the text file'): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new TextDatasetError(`${source} is not UTF-8: the first bad byte is at offset ${firstInvalidUtf8(bytes)}; save it as UTF-8 (e.g. iconv -t UTF-8)`);
  }
}

/** The offset of the first byte that breaks UTF-8 (RFC 3629: no overlongs, surrogates or > U+10FFFF). */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    // [length, lowest second byte, highest second byte] by lead byte (RFC 3629 table 4).
    const rule: [number, number, number] | null =
      b >= 0xc2 && b <= 0xdf ? [2, 0x80, 0xbf]
      : b === 0xe0 ? [3, 0xa0, 0xbf]
      : (b >= 0xe1 && b <= 0xec) || b === 0xee || b === 0xef ? [3, 0x80, 0xbf]
      : b === 0xed ? [3, 0x80, 0x9f]
      : b === 0xf0 ? [4, 0x90, 0xbf]
      : b >= 0xf1 && b <= 0xf3 ? [4, 0x80, 0xbf]
      : b === 0xf4 ? [4, 0x80, 0x8f]
      : null;
    if (rule === null) return i;
    const [length, low, high] = rule;
    if (i + length > bytes.length) return i;
    if (bytes[i + 1] < low || bytes[i + 1] > high) return i;
    for (let k = 2; k < length; k++) if ((bytes[i + k] & 0xc0) !== 0x80) return i;
    i += length;
  }
  return -1;
}

/** Every distinct code point of the text, sorted by code point (Python's sorted(set(text))). */
export function buildCharVocabulary(text: string): CharVocabulary {
  const seen = new Set<number>();
  for (const ch of text) seen.add(ch.codePointAt(0)!);
  const points = [...seen].sort((a, b) => a - b);
  if (points.length > MAX_VOCABULARY) throw new TextDatasetError(`the text has ${points.length} distinct characters, over the ${MAX_VOCABULARY} token ids a character model can have`);
  return { chars: points.map((p) => String.fromCodePoint(p)) };
}

/** The text as token ids; a character outside the vocabulary is an error naming it. */
export function encodeText(text: string, vocabulary: CharVocabulary): Uint16Array {
  const ids = new Map(vocabulary.chars.map((c, i) => [c, i]));
  const out = new Uint16Array(countCodePoints(text));
  let i = 0;
  for (const ch of text) {
    const id = ids.get(ch);
    if (id === undefined) throw new TextDatasetError(`character ${JSON.stringify(ch)} (U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}) at character ${i} is not in the vocabulary`);
    out[i++] = id;
  }
  return out;
}

/** Token ids back to text; an id outside the vocabulary is an error. */
export function decodeTokens(tokens: ArrayLike<number>, vocabulary: CharVocabulary): string {
  let out = '';
  for (let i = 0; i < tokens.length; i++) {
    const c = vocabulary.chars[tokens[i]];
    if (c === undefined) throw new TextDatasetError(`token ${tokens[i]} at ${i} is outside the vocabulary of ${vocabulary.chars.length}`);
    out += c;
  }
  return out;
}

function countCodePoints(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // A high surrogate followed by a low one is one code point.
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) i++;
    }
    n++;
  }
  return n;
}

/** Windows of length T (plus its next-token target) that fit n tokens at a stride. */
export function windowCount(tokens: number, context: number, stride: number): number {
  return tokens < context + 1 ? 0 : Math.floor((tokens - context - 1) / stride) + 1;
}

/**
 * Reads a text file into its vocabulary and splits, refusing what cannot train the model: not
 * UTF-8, a vocabulary over the model's, a split too short for one window.
 */
export function buildTextCorpus(bytes: Uint8Array, options: TextCorpusOptions): TextCorpus {
  const source = options.source ?? 'the text file';
  const { context, maxVocabulary } = options;
  const stride = options.stride ?? context;
  const trainFraction = options.trainFraction ?? 0.9;
  if (!Number.isInteger(context) || context < 1) throw new TextDatasetError(`the context must be a positive integer, got ${context}`);
  if (!Number.isInteger(stride) || stride < 1) throw new TextDatasetError(`the stride must be a positive integer, got ${stride}`);
  if (!(trainFraction > 0 && trainFraction < 1)) throw new TextDatasetError(`the train fraction must be in (0, 1), got ${trainFraction}`);
  const text = decodeUtf8(bytes, source);
  const vocabulary = buildCharVocabulary(text);
  if (vocabulary.chars.length > maxVocabulary) {
    throw new TextDatasetError(`${source} has ${vocabulary.chars.length} distinct characters, over the model's vocabulary of ${maxVocabulary}; raise the embedding's vocabulary to at least ${vocabulary.chars.length}`);
  }
  const tokens = encodeText(text, vocabulary);
  const n = tokens.length;
  const cut = Math.floor(n * trainFraction);
  // Validation windows always tile their split: its loss is then the mean over each token once.
  const split = (from: number, to: number, name: string): TextSplit => {
    const part = tokens.subarray(from, to);
    const step = name === 'train' ? stride : context;
    const sequences = windowCount(part.length, context, step);
    if (sequences === 0) {
      throw new TextDatasetError(`${source}: its ${name} split has ${part.length} characters, fewer than one sequence needs (context ${context} + 1 target); the file has ${n} characters in all, and the split needs at least ${Math.ceil((context + 1) / (name === 'train' ? trainFraction : 1 - trainFraction))}`);
    }
    return { tokens: part, context, stride: step, sequences };
  };
  return { vocabulary, train: split(0, cut, 'train'), validation: split(cut, n, 'validation'), characters: n };
}

/** Token ids held as bytes in the resident form (textWindowsDataset): a character vocabulary fits easily. */
export const MAX_RESIDENT_VOCABULARY = 256;

/**
 * A split's windows as the dataset every backend holds resident: example k's bytes are the
 * inputs of window k and its labels the targets, T each (what textBatch gives for k).
 */
export function textWindowsDataset(split: TextSplit, vocabulary: CharVocabulary): ImageDataset {
  const classes = vocabulary.chars.length;
  if (classes > MAX_RESIDENT_VOCABULARY) {
    throw new TextDatasetError(`a vocabulary of ${classes} tokens does not fit the byte a resident window holds per token (at most ${MAX_RESIDENT_VOCABULARY})`);
  }
  const { inputs, targets } = textBatch(split, Uint32Array.from({ length: split.sequences }, (_, k) => k));
  return {
    images: Uint8Array.from(inputs), labels: Uint8Array.from(targets), count: split.sequences, features: split.context, classes,
    tokens: { labelsPerExample: split.context },
  };
}

/**
 * The inputs and targets of the windows at `positions`, row-major (batch × T each): what one
 * inner step or one evaluation batch consumes.
 */
export function textBatch(split: TextSplit, positions: ArrayLike<number>): { inputs: Uint16Array; targets: Uint16Array } {
  const T = split.context;
  const inputs = new Uint16Array(positions.length * T);
  const targets = new Uint16Array(positions.length * T);
  for (let b = 0; b < positions.length; b++) {
    const k = positions[b];
    if (!Number.isInteger(k) || k < 0 || k >= split.sequences) {
      throw new TextDatasetError(`sequence position ${k} (row ${b} of the batch) is outside the split's ${split.sequences} sequences`);
    }
    const s = k * split.stride;
    inputs.set(split.tokens.subarray(s, s + T), b * T);
    targets.set(split.tokens.subarray(s + 1, s + T + 1), b * T);
  }
  return { inputs, targets };
}
