import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Random } from '../util/random.ts';
import {
  TextDatasetError, buildCharVocabulary, buildTextCorpus, decodeTokens, decodeUtf8, encodeText, firstInvalidUtf8,
  textBatch, textWindowsDataset, windowCount,
} from './text.ts';

const SHAKESPEARE = new URL('../../datasets/tinyshakespeare/input.txt', import.meta.url);
const utf8 = (s: string) => new TextEncoder().encode(s);

describe('Tiny Shakespeare as nanoGPT prepares it', () => {
  const bytes = new Uint8Array(readFileSync(SHAKESPEARE));
  const corpus = buildTextCorpus(bytes, { context: 64, maxVocabulary: 65, source: 'input.txt' });

  it('ships in the project, whole', () => {
    expect(bytes.length).toBe(1_115_394);
  });

  it("has nanoGPT's 65 characters, in its order, and its 1,003,854 / 111,540 split", () => {
    expect(corpus.vocabulary.chars.join('')).toBe("\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
    expect(corpus.characters).toBe(1_115_394);
    expect(corpus.train.tokens.length).toBe(1_003_854);
    expect(corpus.validation.tokens.length).toBe(111_540);
    // prepare.py's encode('First Citizen'): F = 18 (13 + 5), i = 47, r = 56, …
    expect([...corpus.train.tokens.subarray(0, 5)]).toEqual([18, 47, 56, 57, 58]);
    expect(decodeTokens(corpus.train.tokens.subarray(0, 13), corpus.vocabulary)).toBe('First Citizen');
  });

  it('tiles each split with windows of 64 and their next-character targets', () => {
    expect(corpus.train.sequences).toBe(Math.floor((1_003_854 - 65) / 64) + 1);
    expect(corpus.validation.sequences).toBe(Math.floor((111_540 - 65) / 64) + 1);
    const last = corpus.train.sequences - 1;
    const { inputs, targets } = textBatch(corpus.train, [0, last]);
    expect([...inputs.subarray(0, 64)]).toEqual([...corpus.train.tokens.subarray(0, 64)]);
    expect([...targets.subarray(0, 64)]).toEqual([...corpus.train.tokens.subarray(1, 65)]);
    // The last window's target is still inside the split.
    expect(last * 64 + 64).toBeLessThan(corpus.train.tokens.length);
    expect([...targets.subarray(64)]).toEqual([...corpus.train.tokens.subarray(last * 64 + 1, last * 64 + 65)]);
  });
});

describe('buildTextCorpus', () => {
  it('counts a character outside the BMP as one token and round-trips the text', () => {
    const text = 'a🎭b\nä🎭a';
    const vocabulary = buildCharVocabulary(text);
    expect(vocabulary.chars).toEqual(['\n', 'a', 'b', 'ä', '🎭']);
    const tokens = encodeText(text, vocabulary);
    expect([...tokens]).toEqual([1, 4, 2, 0, 3, 4, 1]);
    expect(decodeTokens(tokens, vocabulary)).toBe(text);
  });

  it('covers every position of a split exactly once per window set, for any stride', () => {
    for (const [n, T, stride] of [[20, 4, 4], [21, 4, 4], [20, 4, 3], [6, 5, 1], [6, 5, 7]]) {
      const count = windowCount(n, T, stride);
      // Brute force: starts s = k·stride with s + T + 1 ≤ n.
      let brute = 0;
      for (let s = 0; s + T + 1 <= n; s += stride) brute++;
      expect(count, `n ${n} T ${T} stride ${stride}`).toBe(brute);
    }
  });

  it('refuses a file that is not UTF-8, naming the first bad byte', () => {
    const bad = new Uint8Array([...utf8('To be, or '), 0xff, ...utf8('not')]);
    expect(() => buildTextCorpus(bad, { context: 2, maxVocabulary: 100, source: 'play.txt' })).toThrow(
      /play\.txt is not UTF-8: the first bad byte is at offset 10/,
    );
    // Latin-1 'é' (0xE9) followed by ASCII: an invalid continuation.
    expect(() => decodeUtf8(new Uint8Array([0x63, 0x61, 0x66, 0xe9, 0x20]), 'cafe.txt')).toThrow(/offset 3/);
  });

  it('finds the first invalid byte exactly where a strict decoder fails, on random bytes', () => {
    const random = new Random(11);
    const strict = new TextDecoder('utf-8', { fatal: true });
    for (let trial = 0; trial < 2000; trial++) {
      const bytes = new Uint8Array(1 + Math.floor(random.next() * 12));
      // Mostly valid text with a few raw bytes mixed in, so both outcomes come up.
      const source = utf8(['a', 'é', '€', '🎭', 'z'][Math.floor(random.next() * 5)].repeat(4));
      for (let i = 0; i < bytes.length; i++) bytes[i] = random.next() < 0.8 ? source[i % source.length] : Math.floor(random.next() * 256);
      const at = firstInvalidUtf8(bytes);
      let valid = true;
      try {
        strict.decode(bytes);
      } catch {
        valid = false;
      }
      expect(at === -1, `bytes ${[...bytes].map((b) => b.toString(16)).join(' ')}`).toBe(valid);
      if (at >= 0) {
        // The prefix before it decodes; the prefix through the offending character does not.
        expect(() => strict.decode(bytes.subarray(0, at))).not.toThrow();
      }
    }
    for (const [bytes, at] of [[[0xc0, 0x80], 0], [[0xed, 0xa0, 0x80], 0], [[0x41, 0xf4, 0x90, 0x80, 0x80], 1], [[0x41, 0xe2, 0x82], 1]] as const) {
      expect(firstInvalidUtf8(new Uint8Array(bytes)), `${bytes}`).toBe(at);
    }
  });

  it('refuses text too short for one sequence in either split, saying how long it must be', () => {
    const text = utf8('abcdefghij'.repeat(3)); // 30 characters: train 27, validation 3
    expect(() => buildTextCorpus(text, { context: 8, maxVocabulary: 100, source: 'tiny.txt' })).toThrow(
      /tiny\.txt: its validation split has 3 characters, fewer than one sequence needs \(context 8 \+ 1 target\)/,
    );
    expect(() => buildTextCorpus(utf8('abc'), { context: 8, maxVocabulary: 100 })).toThrow(/train split has 2 characters/);
    expect(() => buildTextCorpus(new Uint8Array(0), { context: 1, maxVocabulary: 100 })).toThrow(TextDatasetError);
  });

  it("refuses a vocabulary over the model's, naming both sizes", () => {
    const text = utf8('abcdefghijklmnopqrstuvwxyz'.repeat(10));
    expect(() => buildTextCorpus(text, { context: 4, maxVocabulary: 20, source: 'alphabet.txt' })).toThrow(
      /alphabet\.txt has 26 distinct characters, over the model's vocabulary of 20; raise the embedding's vocabulary to at least 26/,
    );
    expect(buildTextCorpus(text, { context: 4, maxVocabulary: 26 }).vocabulary.chars).toHaveLength(26);
  });

  it('refuses positions outside the split and ids outside the vocabulary', () => {
    const corpus = buildTextCorpus(utf8('hello world, hello again, and hello once more'), { context: 4, maxVocabulary: 100 });
    expect(() => textBatch(corpus.train, [0, corpus.train.sequences])).toThrow(/sequence position \d+ \(row 1 of the batch\) is outside the split's \d+ sequences/);
    expect(() => textBatch(corpus.train, [0.5])).toThrow(TextDatasetError);
    expect(() => decodeTokens([0, 99], corpus.vocabulary)).toThrow(/token 99 at 1 is outside the vocabulary/);
    expect(() => encodeText('hello?', corpus.vocabulary)).toThrow(/character "\?" \(U\+003F\) at character 5 is not in the vocabulary/);
  });
});

describe('textWindowsDataset', () => {
  it("holds every window's inputs and targets as bytes, a label per position", () => {
    const corpus = buildTextCorpus(utf8('the quick brown fox jumps over the lazy dog, '.repeat(5)), { context: 6, maxVocabulary: 64 });
    const ds = textWindowsDataset(corpus.train, corpus.vocabulary);
    expect(ds.count).toBe(corpus.train.sequences);
    expect(ds.features).toBe(6);
    expect(ds.tokens).toEqual({ labelsPerExample: 6 });
    expect(ds.classes).toBe(corpus.vocabulary.chars.length);
    const all = textBatch(corpus.train, Array.from({ length: ds.count }, (_, k) => k));
    expect([...ds.images]).toEqual([...all.inputs]);
    expect([...ds.labels]).toEqual([...all.targets]);
  });

  it('refuses a vocabulary a byte cannot hold', () => {
    const text = Array.from({ length: 300 }, (_, i) => String.fromCodePoint(0x4e00 + i)).join('').repeat(3);
    const corpus = buildTextCorpus(utf8(text), { context: 4, maxVocabulary: 1000 });
    expect(() => textWindowsDataset(corpus.train, corpus.vocabulary)).toThrow(/a vocabulary of 300 tokens does not fit the byte a resident window holds per token \(at most 256\)/);
  });
});
