// The f64 layer table against PyTorch (float64) on the fixtures of scripts/torch-goldens.py:
// the same parameter layout (names, offsets), the same logits, loss and every parameter
// gradient. A tiny CNN (conv, relu, maxpool, a residual block, avgpool, flatten, linear,
// layernorm, gelu, dropout with our hashed mask), a tiny GELU MLP, and two tiny GPTs (token and
// position embeddings, causal attention against scaled_dot_product_attention(is_causal=True),
// per-position layernorm and MLP, a tied and an untied head). Needs no torch.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { forward, forwardBackward } from './reference.ts';
import { parseModelSpec, resolveModel } from './spec.ts';

interface Golden {
  model: unknown;
  batch: number;
  inputs: number[];
  labels: number[];
  dropout: { seed: number; positions: number[] };
  tensors: { name: string; offset: number; shape: number[] }[];
  total: number;
  params: number[];
  logits: number[];
  loss: number;
  gradient: number[];
}

const load = (name: string): Golden => JSON.parse(readFileSync(`test/fixtures/torch-goldens/${name}.json`, 'utf8'));

/** Both sides compute in f64 from the same doubles; only the summation order differs. */
const RTOL = 1e-10;
const ATOL = 1e-12;

describe.each(['cnn', 'mlp', 'gpt', 'gpt-untied'])('PyTorch goldens: %s', (name) => {
  const golden = load(name);
  const model = resolveModel(parseModelSpec(golden.model));
  const params = Float64Array.from(golden.params);

  it('has our layout: the same tensor names, offsets and shapes', () => {
    expect(model.total).toBe(golden.total);
    expect(model.tensors.map((t) => ({ name: t.name, offset: t.offset, shape: t.shape }))).toEqual(golden.tensors);
  });

  it('gives torch\'s logits, loss and every parameter gradient', () => {
    const result = forwardBackward(model, params, golden.inputs, golden.labels, { dropout: golden.dropout });
    golden.logits.forEach((v, i) => expect(Math.abs(result.logits[i] - v)).toBeLessThan(ATOL + RTOL * Math.abs(v)));
    expect(Math.abs(result.loss - golden.loss)).toBeLessThan(ATOL + RTOL * golden.loss);
    for (const t of model.tensors) {
      const size = t.shape.reduce((a, b) => a * b, 1);
      for (let i = 0; i < size; i++) {
        const k = t.offset + i;
        expect(Math.abs(result.gradient[k] - golden.gradient[k]), `${t.name}[${i}]: ours ${result.gradient[k]}, torch ${golden.gradient[k]}`)
          .toBeLessThan(ATOL + RTOL * Math.abs(golden.gradient[k]));
      }
    }
  });

  if (name === 'cnn') {
    it('drops units: the training logits are not the evaluation ones (the hash agrees across languages)', () => {
      const evaluation = forward(model, params, golden.inputs, golden.batch);
      expect(Array.from(evaluation)).not.toEqual(golden.logits);
    });
  }
});
