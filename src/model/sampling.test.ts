import { describe, expect, it } from 'vitest';
import { Random } from '../util/random.ts';
import { initModelParameters, resolveModel } from './layers/spec.ts';
import { forward } from './layers/reference.ts';
import { draw, sampleTokens } from './sampling.ts';
import { CpuModel } from '../cpu/cpuModel.ts';

/** A causal "model" whose position p says: the id after window[p] is window[p] + 1 (mod V). */
function successor(T: number, V: number, seen: number[][] = []) {
  return (window: Float32Array) => {
    seen.push(Array.from(window));
    const out = new Float32Array(T * V);
    for (let p = 0; p < T; p++) out[p * V + ((window[p] + 1) % V)] = 60;
    return out;
  };
}

describe('sampleTokens', () => {
  it('reads the logits at the last position of the context and crops the context to the last T ids', async () => {
    const seen: number[][] = [];
    const ids = await sampleTokens(successor(4, 7, seen), { context: 4, vocabulary: 7, prompt: [5], length: 9, temperature: 0.8, seed: 1 });
    expect(ids).toEqual([5, 6, 0, 1, 2, 3, 4, 5, 6, 0]);
    expect(seen[0]).toEqual([5, 0, 0, 0]); // the prompt at the start, padded
    expect(seen[2]).toEqual([5, 6, 0, 0]);
    expect(seen[3]).toEqual([5, 6, 0, 1]);
    expect(seen[4]).toEqual([6, 0, 1, 2]); // past T: the last four ids
    expect(seen.length).toBe(9);
  });

  it('draws from softmax(logits / temperature): frequencies within 4σ of the probabilities', () => {
    const row = [0, Math.log(2), Math.log(4)];
    for (const [temperature, p] of [
      [1, [1 / 7, 2 / 7, 4 / 7]],
      [0.5, [1 / 21, 4 / 21, 16 / 21]],
    ] as const) {
      const random = new Random(11);
      const n = 20000;
      const counts = [0, 0, 0];
      for (let i = 0; i < n; i++) counts[draw(row, temperature, random)]++;
      counts.forEach((c, i) => expect(Math.abs(c / n - p[i])).toBeLessThan(4 * Math.sqrt((p[i] * (1 - p[i])) / n)));
    }
    expect(draw([0.1, 3, -2], 0, new Random(1))).toBe(1);
  });

  it('is reproducible from its seed, and another seed gives another text', async () => {
    const flat = (window: Float32Array) => new Float32Array(window.length * 5).fill(0.5);
    const o = { context: 8, vocabulary: 5, prompt: [0, 1], length: 40, temperature: 0.8, seed: 7 };
    const a = await sampleTokens(flat, o);
    expect(await sampleTokens(flat, o)).toEqual(a);
    expect(await sampleTokens(flat, { ...o, seed: 8 })).not.toEqual(a);
    expect(new Set(a.slice(2)).size).toBe(5);
  });

  it('refuses a bad prompt, length, temperature or logits with a message naming it', async () => {
    const f = successor(4, 7);
    const o = { context: 4, vocabulary: 7, prompt: [1], length: 3, temperature: 0.8, seed: 1 };
    await expect(sampleTokens(f, { ...o, prompt: [] })).rejects.toThrow(/at least one token/);
    await expect(sampleTokens(f, { ...o, prompt: [1, 7] })).rejects.toThrow(/prompt token 1 is 7, outside the vocabulary of 7/);
    await expect(sampleTokens(f, { ...o, length: -1 })).rejects.toThrow(/length/);
    await expect(sampleTokens(f, { ...o, temperature: -0.1 })).rejects.toThrow(/temperature/);
    await expect(sampleTokens(() => new Float32Array(3), o)).rejects.toThrow(/gave 3 logits for one window, expected 4·7/);
    await expect(sampleTokens(() => new Float32Array(28).fill(NaN), o)).rejects.toThrow(/logit of NaN/);
  });

  it('gives the same text from the CPU layer table as from the f64 reference (a small GPT, temperature 0.8)', async () => {
    const model = resolveModel({
      input: [12],
      layers: [
        { kind: 'embedding', vocabulary: 11, features: 16 },
        { kind: 'position-embedding' },
        { kind: 'residual', layers: [{ kind: 'layernorm' }, { kind: 'attention', heads: 2 }] },
        { kind: 'layernorm' },
        { kind: 'lm-head' },
        { kind: 'softmax-cross-entropy' },
      ],
    });
    const params = initModelParameters(model, 5);
    const o = { context: 12, vocabulary: 11, prompt: [3, 1, 4], length: 30, temperature: 0.8, seed: 3 };
    const reference = await sampleTokens((w) => Float32Array.from(forward(model, params, w, 1)), o);
    const cpu = (await CpuModel.create(model, { threads: 1 })).inline;
    cpu.setParameters(params);
    expect(await sampleTokens((w) => cpu.logits(w, 1), o)).toEqual(reference);
    expect(reference.length).toBe(33);
  });
});
