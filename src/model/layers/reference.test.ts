// The f64 layer table: the MLP it builds is src/model/reference.ts's to ~1e-12; central
// finite differences in f64 agree with its gradient through every layer kind on tiny, odd
// shapes; dropout's mask is a function of (seed, position) only and vanishes in evaluation.

import { describe, expect, it } from 'vitest';
import { initParameters, mlpLayout, type MlpSpec } from '../mlp.ts';
import { mlpForwardRef, mlpLossAndGradientRef } from '../reference.ts';
import { Random } from '../../util/random.ts';
import { dropoutHash, dropoutThreshold } from './dropout.ts';
import { evaluate, forward, forwardBackward, referenceTable, type DropoutContext, type LayerRule } from './reference.ts';
import { initModelParameters, resolveModel, type LayerKind, type LayerModelSpec, type LayerSpec, type ResolvedModel } from './spec.ts';

// A table without a kind does not compile: the mapped type asks for every LayerKind.
const { gelu: _gelu, ...withoutGelu } = referenceTable;
// @ts-expect-error 'gelu' is missing
const incomplete: { [K in LayerKind]: LayerRule<K> } = withoutGelu;
void incomplete;

const SCE = { kind: 'softmax-cross-entropy' } as const;

/** Normal inputs, or token ids for a token model; a label per example, or per position of a sequence. */
function randomBatch(model: ResolvedModel, batch: number, seed: number): { inputs: Float64Array; labels: Int32Array } {
  const rng = new Random(seed);
  const vocabulary = model.tokens?.vocabulary;
  const inputs = new Float64Array(batch * model.inputSize).map(() => (vocabulary ? rng.int(vocabulary) : rng.normal()));
  const labels = new Int32Array(batch * model.labelsPerExample).map(() => rng.int(model.classes));
  return { inputs, labels };
}

/** Initial parameters with every real entry moved a little, so no bias is exactly 0 and no gain exactly 1. */
function jitteredParams(model: ResolvedModel, seed: number): Float64Array {
  const rng = new Random(seed + 1);
  const params = Float64Array.from(initModelParameters(model, seed));
  for (const t of model.tensors) for (let i = 0; i < t.length; i++) params[t.offset + i] += rng.uniform(-0.2, 0.2);
  return params;
}

describe('the MLP from the table is the MLP of src/model/reference.ts', () => {
  const cases: [MlpSpec, number][] = [
    [{ widths: [20, 13, 9, 4], activation: 'relu' }, 5],
    [{ widths: [20, 13, 9, 4], activation: 'gelu' }, 3],
    [{ widths: [7, 3], activation: 'gelu' }, 1],
    [{ widths: [784, 256, 128, 10], activation: 'relu' }, 2],
  ];
  it.each(cases)('%j, batch %i', (spec, batch) => {
    const model = resolveModel(spec);
    const layout = mlpLayout(spec);
    const params = initParameters(layout, 99);
    const { inputs, labels } = randomBatch(model, batch, 5);
    const ours = forwardBackward(model, params, inputs, labels);
    const theirs = mlpLossAndGradientRef(layout, params, inputs, labels, batch);
    expect(Math.abs(ours.loss - theirs.loss)).toBeLessThan(1e-12);
    expect(ours.correct).toBe(theirs.correct);
    expect(ours.gradient.length).toBe(theirs.gradient.length);
    let worst = 0;
    for (let i = 0; i < ours.gradient.length; i++) worst = Math.max(worst, Math.abs(ours.gradient[i] - theirs.gradient[i]));
    expect(worst).toBeLessThan(1e-12);
    const logits = forward(model, params, inputs, batch);
    const reference = mlpForwardRef(layout, params, inputs, batch).logits;
    for (let i = 0; i < logits.length; i++) expect(Math.abs(logits[i] - reference[i])).toBeLessThan(1e-12);
    const evaluation = evaluate(model, params, inputs, labels);
    expect(Math.abs(evaluation.loss - theirs.loss)).toBeLessThan(1e-12);
    expect(evaluation.correct).toBe(theirs.correct);
  });
});

// ---------------------------------------------------------------------------------------
// Finite differences: every kind, with a parameterised layer before it (so its dx is
// exercised) and after it; batch 1 and 3; 1 and 3 channels; odd, non-square sizes.

const DROPOUT = { seed: 2024, positions: [17, 4, 40000] } satisfies DropoutContext;

const FD_CASES: [string, LayerModelSpec][] = [
  ['linear', { input: [5], layers: [{ kind: 'linear', outFeatures: 4 }, { kind: 'linear', outFeatures: 3 }, SCE] }],
  ['conv2d, 3 channels, 3×2 kernel, stride 2, padding 1', {
    input: [3, 7, 5],
    layers: [
      { kind: 'conv2d', outChannels: 2, kernel: [3, 2], stride: 2, padding: 1 },
      { kind: 'conv2d', outChannels: 3, kernel: 3, padding: 1 },
      { kind: 'flatten' }, { kind: 'linear', outFeatures: 3 }, SCE,
    ],
  }],
  ['conv2d, 1 channel, stride 1×2', {
    input: [1, 5, 5],
    layers: [
      { kind: 'conv2d', outChannels: 1, kernel: 3 },
      { kind: 'conv2d', outChannels: 3, kernel: 2, stride: [1, 2] },
      { kind: 'flatten' }, { kind: 'linear', outFeatures: 2 }, SCE,
    ],
  }],
  ['maxpool2d, overlapping 3×3 windows, stride 2', {
    input: [2, 7, 7],
    layers: [{ kind: 'conv2d', outChannels: 3, kernel: 3 }, { kind: 'maxpool2d', kernel: 3, stride: 2 }, { kind: 'flatten' }, { kind: 'linear', outFeatures: 3 }, SCE],
  }],
  ['maxpool2d, 2×2, odd input (the last row and column unused)', {
    input: [1, 5, 7],
    layers: [{ kind: 'conv2d', outChannels: 3, kernel: 1 }, { kind: 'maxpool2d', kernel: 2 }, { kind: 'flatten' }, { kind: 'linear', outFeatures: 3 }, SCE],
  }],
  ['avgpool2d, 2×3 window, stride 1', {
    input: [1, 6, 5],
    layers: [{ kind: 'conv2d', outChannels: 2, kernel: 2 }, { kind: 'avgpool2d', kernel: [2, 3], stride: 1 }, { kind: 'flatten' }, { kind: 'linear', outFeatures: 3 }, SCE],
  }],
  ['flatten', {
    input: [3, 3, 3],
    layers: [{ kind: 'conv2d', outChannels: 2, kernel: 1 }, { kind: 'flatten' }, { kind: 'linear', outFeatures: 4 }, SCE],
  }],
  ['relu', { input: [6], layers: [{ kind: 'linear', outFeatures: 7 }, { kind: 'relu' }, { kind: 'linear', outFeatures: 3 }, SCE] }],
  ['gelu', { input: [6], layers: [{ kind: 'linear', outFeatures: 7 }, { kind: 'gelu' }, { kind: 'linear', outFeatures: 3 }, SCE] }],
  ['layernorm, flat', { input: [6], layers: [{ kind: 'linear', outFeatures: 5 }, { kind: 'layernorm' }, { kind: 'linear', outFeatures: 3 }, SCE] }],
  ['layernorm over [C,H,W], eps 1e-3', {
    input: [3, 3, 5],
    layers: [{ kind: 'conv2d', outChannels: 2, kernel: 3, padding: 1 }, { kind: 'layernorm', eps: 1e-3 }, { kind: 'flatten' }, { kind: 'linear', outFeatures: 3 }, SCE],
  }],
  ['dropout p = 0.4 (training, a fixed mask)', {
    input: [6], layers: [{ kind: 'linear', outFeatures: 9 }, { kind: 'dropout', p: 0.4 }, { kind: 'linear', outFeatures: 3 }, SCE],
  }],
  ['residual over convs', {
    input: [2, 5, 5],
    layers: [
      { kind: 'conv2d', outChannels: 2, kernel: 3, padding: 1 },
      { kind: 'residual', layers: [{ kind: 'conv2d', outChannels: 3, kernel: 3, padding: 1 }, { kind: 'relu' }, { kind: 'conv2d', outChannels: 2, kernel: 1 }] },
      { kind: 'flatten' }, { kind: 'linear', outFeatures: 3 }, SCE,
    ],
  }],
  ['residual, flat, nested', {
    input: [4],
    layers: [
      { kind: 'linear', outFeatures: 5 },
      { kind: 'residual', layers: [{ kind: 'layernorm' }, { kind: 'linear', outFeatures: 5 }, { kind: 'gelu' }, { kind: 'residual', layers: [{ kind: 'linear', outFeatures: 5 }] }] },
      { kind: 'linear', outFeatures: 3 }, SCE,
    ],
  }],
  ['embedding, position-embedding and a tied lm-head, context 1', {
    input: [1],
    layers: [{ kind: 'embedding', vocabulary: 5, features: 4 }, { kind: 'position-embedding' }, { kind: 'lm-head' }, SCE],
  }],
  ['attention, 1 head of 5, context 7, an untied head', {
    input: [7],
    layers: [
      { kind: 'embedding', vocabulary: 6, features: 5 }, { kind: 'position-embedding' },
      { kind: 'attention', heads: 1 }, { kind: 'lm-head', tied: false }, SCE,
    ],
  }],
  ['a GPT block: attention, 3 heads of 3, layernorm, linear and dropout per position, context 7', {
    input: [7],
    layers: [
      { kind: 'embedding', vocabulary: 7, features: 9 }, { kind: 'position-embedding' },
      { kind: 'residual', layers: [{ kind: 'layernorm' }, { kind: 'attention', heads: 3 }] },
      { kind: 'residual', layers: [{ kind: 'layernorm' }, { kind: 'linear', outFeatures: 10 }, { kind: 'gelu' }, { kind: 'linear', outFeatures: 9 }, { kind: 'dropout', p: 0.3 }] },
      { kind: 'layernorm' }, { kind: 'lm-head' }, SCE,
    ],
  }],
  ['attention, 2 heads of 3, context 33', {
    input: [33],
    layers: [{ kind: 'embedding', vocabulary: 4, features: 6 }, { kind: 'attention', heads: 2 }, { kind: 'lm-head' }, SCE],
  }],
];

describe('central finite differences in f64 agree with the gradient', () => {
  it('cover every layer kind', () => {
    const kinds = new Set<string>();
    const visit = (layers: LayerSpec[]) => layers.forEach((l) => (kinds.add(l.kind), l.kind === 'residual' && visit(l.layers)));
    for (const [, spec] of FD_CASES) visit(spec.layers);
    expect([...kinds].sort()).toEqual(Object.keys(referenceTable).sort());
  });

  for (const [name, spec] of FD_CASES) {
    for (const batch of [1, 3]) {
      it(`${name}, batch ${batch}`, () => {
        const model = resolveModel(spec);
        const params = jitteredParams(model, 3 + batch);
        const { inputs, labels } = randomBatch(model, batch, 11 * batch);
        const options = { dropout: { seed: DROPOUT.seed, positions: DROPOUT.positions.slice(0, batch) } };
        const loss = (p: Float64Array) => forwardBackward(model, p, inputs, labels, options).loss;
        const { gradient } = forwardBackward(model, params, inputs, labels, options);
        const h = 1e-5;
        for (const t of model.tensors) {
          // Every tensor gets a gradient: a zero one would make the comparison vacuous.
          expect(gradient.subarray(t.offset, t.offset + t.length).some((g) => g !== 0), t.name).toBe(true);
          for (let i = 0; i < t.length; i++) {
            const k = t.offset + i;
            const saved = params[k];
            params[k] = saved + h;
            const up = loss(params);
            params[k] = saved - h;
            const down = loss(params);
            params[k] = saved;
            // (L(p + h) − L(p − h)) / 2h: error O(h²) from the series, O(ε·L/h) ≈ 1e-11 from rounding.
            const fd = (up - down) / (2 * h);
            expect(Math.abs(fd - gradient[k]), `${t.name}[${i}]: finite difference ${fd}, gradient ${gradient[k]}`)
              .toBeLessThan(1e-9 + 1e-6 * Math.abs(gradient[k]));
          }
        }
        // Padding between tensors gets no gradient.
        const real = new Set(model.tensors.flatMap((t) => Array.from({ length: t.length }, (_, i) => t.offset + i)));
        for (let k = 0; k < model.total; k++) if (!real.has(k)) expect(gradient[k]).toBe(0);
      });
    }
  }
});

describe('dropout', () => {
  const spec: LayerModelSpec = {
    input: [40],
    layers: [{ kind: 'linear', outFeatures: 200 }, { kind: 'dropout', p: 0.3 }, { kind: 'linear', outFeatures: 4 }, SCE],
  };
  const model = resolveModel(spec);
  const params = initModelParameters(model, 1);
  const { inputs, labels } = randomBatch(model, 3, 2);
  const run = (seed: number, positions: number[], x = inputs, y: ArrayLike<number> = labels) =>
    forwardBackward(model, params, x, y, { dropout: { seed, positions } });

  it('gives the same bits for the same seed and positions', () => {
    const a = run(5, [10, 11, 12]);
    const b = run(5, [10, 11, 12]);
    expect(b.loss).toBe(a.loss);
    expect(b.gradient).toEqual(a.gradient);
  });

  it('depends on the example\'s position, not its place in the batch: a recomputation alone gets the same logits', () => {
    const batch = run(5, [10, 11, 12]);
    const alone = run(5, [11], inputs.subarray(40, 80), labels.subarray(1, 2));
    expect(alone.logits).toEqual(batch.logits.subarray(4, 8));
  });

  it('differs for another seed or another position', () => {
    const a = run(5, [10, 11, 12]);
    expect(run(6, [10, 11, 12]).logits).not.toEqual(a.logits);
    const moved = run(5, [10, 99, 12]).logits;
    expect(moved.subarray(0, 4)).toEqual(a.logits.subarray(0, 4));
    expect(moved.subarray(4, 8)).not.toEqual(a.logits.subarray(4, 8));
  });

  it('drops a fraction p of the units, and two dropout layers draw different masks', () => {
    const threshold = dropoutThreshold(0.3);
    let dropped = 0;
    let differ = 0;
    const units = 20000;
    for (let u = 0; u < units; u++) {
      const first = dropoutHash(5, 123, 1, u) < threshold;
      if (first) dropped++;
      if (first !== dropoutHash(5, 123, 4, u) < threshold) differ++;
    }
    expect(dropped / units).toBeGreaterThan(0.29);
    expect(dropped / units).toBeLessThan(0.31);
    // Independent masks disagree on 2·p·(1 − p) = 42% of units.
    expect(differ / units).toBeGreaterThan(0.4);
    expect(differ / units).toBeLessThan(0.44);
    expect(dropoutThreshold(0)).toBe(0);
  });

  it('is the identity in evaluation', () => {
    const plain = resolveModel({ input: [40], layers: [{ kind: 'linear', outFeatures: 200 }, { kind: 'linear', outFeatures: 4 }, SCE] });
    expect(plain.total).toBe(model.total);
    expect(forward(model, params, inputs, 3)).toEqual(forward(plain, params, inputs, 3));
    expect(evaluate(model, params, inputs, labels)).toEqual(evaluate(plain, params, inputs, labels));
  });

  it('asks for a seed and positions in training', () => {
    expect(() => forwardBackward(model, params, inputs, labels)).toThrow(
      'forwardBackward: dropout at layer 1 (p = 0.3) needs options.dropout = { seed, positions } in training',
    );
    expect(() => run(5, [1, 2])).toThrow(/dropout.positions has 2 entries, one per example \(3\)/);
    expect(() => run(-1, [1, 2, 3])).toThrow(/dropout seed must be an integer in \[0, 2\^32\)/);
  });
});

describe('argument checks', () => {
  const model = resolveModel({ widths: [4, 3], activation: 'relu' });
  const params = new Float32Array(model.total);
  it('name the argument and what was expected', () => {
    expect(() => forwardBackward(model, new Float32Array(3), new Float32Array(4), [0])).toThrow('forwardBackward: params has 3 floats, the model\'s layout has 128');
    expect(() => forwardBackward(model, params, new Float32Array(5), [0])).toThrow('inputs has 5 values, expected batch·inputSize = 1·4 = 4');
    expect(() => forwardBackward(model, params, new Float32Array(4), [3])).toThrow('labels[0] = 3 is not a class index in [0, 3)');
    expect(() => forward(model, params, new Float32Array(4), 0)).toThrow('forward: batch must be a positive integer, got 0');
  });
});

describe('a next-token model over sequences', () => {
  const spec: LayerModelSpec = {
    input: [6],
    layers: [
      { kind: 'embedding', vocabulary: 8, features: 6 }, { kind: 'position-embedding' },
      { kind: 'residual', layers: [{ kind: 'layernorm' }, { kind: 'attention', heads: 2 }] },
      { kind: 'residual', layers: [{ kind: 'layernorm' }, { kind: 'linear', outFeatures: 12 }, { kind: 'gelu' }, { kind: 'linear', outFeatures: 6 }] },
      { kind: 'layernorm' }, { kind: 'lm-head' }, SCE,
    ],
  };
  const model = resolveModel(spec);
  const params = jitteredParams(model, 7);
  const { inputs, labels } = randomBatch(model, 3, 4);
  const logitsAt = (logits: Float64Array, example: number, position: number) =>
    Array.from(logits.subarray((example * 6 + position) * 8, (example * 6 + position + 1) * 8));

  it('is causal: a token changes the logits at its position and after, never before', () => {
    const base = forward(model, params, inputs, 3);
    for (const j of [0, 3, 5]) {
      const changed = inputs.slice();
      changed[6 + j] = (changed[6 + j] + 1) % 8; // example 1, position j
      const moved = forward(model, params, changed, 3);
      for (let t = 0; t < 6; t++) {
        if (t < j) expect(logitsAt(moved, 1, t), `position ${t} < ${j}`).toEqual(logitsAt(base, 1, t));
        else if (t === j) expect(logitsAt(moved, 1, t)).not.toEqual(logitsAt(base, 1, t));
      }
      // The other examples of the batch do not see it at all.
      expect(logitsAt(moved, 0, 5)).toEqual(logitsAt(base, 0, 5));
      expect(logitsAt(moved, 2, 5)).toEqual(logitsAt(base, 2, 5));
    }
  });

  it('takes the mean loss over every position, as cross_entropy over B·T', () => {
    const { loss, logits, correct } = forwardBackward(model, params, inputs, labels);
    let sum = 0;
    let right = 0;
    for (let r = 0; r < 18; r++) {
      const row = logits.subarray(r * 8, (r + 1) * 8);
      const max = Math.max(...row);
      const lse = Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0)) + max;
      sum += lse - row[labels[r]];
      if (row.indexOf(max) === labels[r]) right++;
    }
    expect(Math.abs(loss - sum / 18)).toBeLessThan(1e-12);
    expect(correct).toBe(right);
    expect(evaluate(model, params, inputs, labels)).toEqual({ loss, correct });
  });

  it('gives bit-identical results on a repeat', () => {
    const a = forwardBackward(model, params, inputs, labels);
    const b = forwardBackward(model, params, inputs, labels);
    expect(b.loss).toBe(a.loss);
    expect(b.gradient).toEqual(a.gradient);
  });

  it('ties the head to the embedding: one table, whose gradient has both uses', () => {
    expect(model.tensors.filter((t) => t.name.includes('embedding.weight')).map((t) => t.name)).toEqual(['0.embedding.weight', '1.position-embedding.weight']);
    const untied = resolveModel({ ...spec, layers: spec.layers.map((l) => (l.kind === 'lm-head' ? { kind: 'lm-head', tied: false } : l)) });
    expect(untied.parameterCount - model.parameterCount).toBe(6 * 8);
  });

  it('refuses token ids outside the vocabulary and labels that are not one per position', () => {
    const bad = inputs.slice();
    bad[4] = 8;
    expect(() => forwardBackward(model, params, bad, labels)).toThrow('forwardBackward: inputs[4] = 8 is not a token id in [0, 8)');
    bad[4] = 1.5;
    expect(() => forward(model, params, bad, 3)).toThrow('forward: inputs[4] = 1.5 is not a token id in [0, 8)');
    expect(() => forwardBackward(model, params, inputs, labels.subarray(0, 17))).toThrow(
      'forwardBackward: labels has 17 values, not a multiple of the 6 labels (one per position) of an example',
    );
    expect(() => evaluate(model, params, inputs, labels.subarray(0, 12))).toThrow(/inputs has 18 values, expected batch·inputSize = 2·6 = 12/);
  });
});
