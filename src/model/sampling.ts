// Text from a next-token model: autoregressive sampling at a temperature, seeded, on any
// backend that gives logits for a window of T ids. Pure apart from the logits call.
//
// The model's input is always a full window of T ids. Attention is causal, so the logits at
// position p depend only on ids 0..p: the context is the last min(n, T) ids, placed at the
// start of the window (what nanoGPT does when it crops to block_size), the rest padded with id
// 0, and the next id is drawn from position (context length − 1).

import { Random } from '../util/random.ts';

export interface SampleOptions {
  /** The model's context T. */
  context: number;
  /** The model's vocabulary V (logits per position). */
  vocabulary: number;
  /** Ids to start from: at least one, each below the vocabulary. */
  prompt: ArrayLike<number>;
  /** New ids to draw. */
  length: number;
  /** Softmax temperature: > 0, or 0 for the most likely id every time. */
  temperature: number;
  seed: number;
}

/** Logits of one window (T ids as floats): T × V floats, row-major. */
export type WindowLogits = (window: Float32Array) => Float32Array | Promise<Float32Array>;

/** The prompt followed by `length` drawn ids. */
export async function sampleTokens(logits: WindowLogits, o: SampleOptions): Promise<number[]> {
  const { context: T, vocabulary: V } = o;
  if (!Number.isInteger(T) || T < 1 || !Number.isInteger(V) || V < 1) throw new Error(`sampleTokens: context and vocabulary must be positive integers, got ${T} and ${V}`);
  if (o.prompt.length < 1) throw new Error('sampleTokens: the prompt needs at least one token');
  for (let i = 0; i < o.prompt.length; i++) {
    const id = o.prompt[i];
    if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`sampleTokens: prompt token ${i} is ${id}, outside the vocabulary of ${V}`);
  }
  if (!Number.isInteger(o.length) || o.length < 0) throw new Error(`sampleTokens: length must be an integer ≥ 0, got ${o.length}`);
  if (!(o.temperature >= 0 && Number.isFinite(o.temperature))) throw new Error(`sampleTokens: temperature must be a finite number ≥ 0, got ${o.temperature}`);
  const random = new Random(o.seed);
  const ids = Array.from(o.prompt);
  const window = new Float32Array(T);
  const p = new Float64Array(V);
  for (let step = 0; step < o.length; step++) {
    const start = Math.max(0, ids.length - T);
    const n = ids.length - start;
    window.fill(0);
    for (let i = 0; i < n; i++) window[i] = ids[start + i];
    const out = await logits(window);
    if (out.length !== T * V) throw new Error(`sampleTokens: the model gave ${out.length} logits for one window, expected ${T}·${V}`);
    ids.push(draw(out.subarray((n - 1) * V, n * V), o.temperature, random, p));
  }
  return ids;
}

/** One id from a row of logits: softmax(logits / temperature), or the arg max at temperature 0. */
export function draw(row: ArrayLike<number>, temperature: number, random: Random, scratch = new Float64Array(row.length)): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  if (!Number.isFinite(row[best])) throw new Error(`sampleTokens: the model gave a logit of ${row[best]}`);
  if (temperature === 0) return best;
  let total = 0;
  for (let i = 0; i < row.length; i++) {
    const e = Math.exp((row[i] - row[best]) / temperature);
    if (Number.isNaN(e)) throw new Error(`sampleTokens: logit ${i} is ${row[i]}`);
    scratch[i] = e;
    total += e;
  }
  let u = random.next() * total;
  for (let i = 0; i < row.length; i++) {
    u -= scratch[i];
    if (u < 0) return i;
  }
  return best;
}
